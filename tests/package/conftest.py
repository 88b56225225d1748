"""Fixtures for the packaging tier: one zip built per session by scripts/build_extension.py (the real CLI)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def build_mod():
    import build_extension  # scripts/ is on sys.path (tests/conftest.py)

    return build_extension


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory, build_mod) -> Path:
    """Build through the command line, as CI and the README do; wheels come from dist/wheels-cache."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--out-dir", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zpath = out / build_mod.zip_name()
    assert zpath.is_file(), proc.stdout
    return zpath


# A tiny valid GLB (one tetrahedron) written with the standard library only.

def tetrahedron_glb() -> bytes:
    positions = [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
    indices = [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3]
    pos = b"".join(struct.pack("<3f", *p) for p in positions)
    idx = b"".join(struct.pack("<H", i) for i in indices)
    idx += b"\0" * (-len(idx) % 4)
    binary = pos + idx
    doc = {
        "asset": {"version": "2.0", "generator": "tripo_addon tests"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "Tetra"}],
        "meshes": [{"name": "Tetra", "primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(pos), "target": 34962},
            {"buffer": 0, "byteOffset": len(pos), "byteLength": len(indices) * 2, "target": 34963},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3",
             "min": [0.0, 0.0, 0.0], "max": [1.0, 1.0, 1.0]},
            {"bufferView": 1, "componentType": 5123, "count": len(indices), "type": "SCALAR"},
        ],
    }
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<I4s", len(js), b"JSON") + js + struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


@pytest.fixture(scope="session")
def write_glb():
    """write_glb(path) -> path: a small valid GLB to upload."""

    def write(path: Path | str) -> Path:
        path = Path(path)
        path.write_bytes(tetrahedron_glb())
        return path

    return write
