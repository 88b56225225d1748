"""Small valid input files for tests of every tier (no Pillow, no bpy): PNGs and a one-triangle GLB."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def make_png(path: Path, w: int = 64, h: int = 64, *, pad: int = 0) -> Path:
    """A valid RGB PNG (no Pillow). ``pad`` bytes of an ancillary chunk make it as large as wanted."""
    row = lambda y: b"\x00" + b"".join(bytes((x * 4 % 256, y * 4 % 256, 128)) for x in range(w))
    raw = b"".join(row(y) for y in range(h))
    extra = _chunk(b"tEXt", b"pad\x00" + b"x" * pad) if pad else b""
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + extra
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))
    path.write_bytes(data)
    return path


def make_png_header_only(path: Path, w: int, h: int) -> Path:
    """A PNG whose header claims w x h (what a size check reads) with a tiny body: for the 7000 px case."""
    raw = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + _chunk(b"IDAT", raw) + _chunk(b"IEND", b""))
    return path


def make_glb(path: Path) -> Path:
    """A minimal valid GLB with one triangle."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    gltf = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]}],
    }
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<I4s", len(js), b"JSON") + js + struct.pack("<I4s", len(positions), b"BIN\x00") + positions
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)
    return path
