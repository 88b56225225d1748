"""Shared helpers for the emulator tests: HTTP calls, waiting for tasks, file checks."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib
from pathlib import Path

import requests

WAIT = 60.0


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def create(emu, key: str, body: dict, expect: int = 200) -> dict:
    r = requests.post(emu.base_url + "/task", json=body, headers=auth(key), timeout=30)
    assert r.status_code == expect, (r.status_code, r.text)
    return r.json()


def create_id(emu, key: str, body: dict) -> str:
    return create(emu, key, body)["data"]["task_id"]


def get(emu, key: str, task_id: str) -> dict:
    r = requests.get(f"{emu.base_url}/task/{task_id}", headers=auth(key), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def wait(emu, key: str, task_id: str, timeout: float = WAIT) -> dict:
    end = time.monotonic() + timeout
    while True:
        d = get(emu, key, task_id)
        if d["status"] in ("success", "failed", "banned", "expired", "cancelled"):
            return d
        assert time.monotonic() < end, f"task {task_id} still {d['status']}"
        time.sleep(0.05)


def run(emu, key: str, body: dict, timeout: float = WAIT) -> dict:
    d = wait(emu, key, create_id(emu, key, body), timeout)
    assert d["status"] == "success", d
    return d


def run_many(emu, key: str, bodies: list[dict], timeout: float = WAIT) -> list[dict]:
    """Create all tasks first, then wait for each (they run concurrently)."""
    ids = [create_id(emu, key, b) for b in bodies]
    out = [wait(emu, key, i, timeout) for i in ids]
    assert all(d["status"] == "success" for d in out), [d for d in out if d["status"] != "success"]
    return out


def error(r: requests.Response) -> tuple[int, int]:
    return r.status_code, r.json()["code"]


def png_bytes(w: int = 64, h: int = 64, seed: int = 0) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(v for x in range(w) for v in ((x * 4 + seed) % 256, (y * 4) % 256, 128))
                   for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def parse_glb(data: bytes) -> dict:
    """The JSON chunk of a GLB (asserting the container is well formed)."""
    assert data[:4] == b"glTF", data[:16]
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert version == 2 and length == len(data)
    clen, ctype = struct.unpack("<I4s", data[12:20])
    assert ctype == b"JSON"
    return json.loads(data[20:20 + clen])


def glb_vertex_count(data: bytes) -> int:
    g = parse_glb(data)
    return sum(g["accessors"][p["attributes"]["POSITION"]]["count"] for m in g.get("meshes", [])
               for p in m["primitives"])


def download(url: str) -> bytes:
    r = requests.get(url, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    assert int(r.headers["Content-Length"]) == len(r.content)
    return r.content


def zip_names(data: bytes) -> list[str]:
    import zipfile

    return zipfile.ZipFile(io.BytesIO(data)).namelist()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
