"""Helpers of the v3-SDK tests: run the SDK's coroutines, wait for tasks, make inputs, read the request log."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from pathlib import Path

WAIT = 120.0


def run(coro):
    """Run one SDK coroutine to completion (the SDK opens a session per operation, so loops may differ)."""
    return asyncio.run(coro)


def finish(client, task_id: str):
    """The SDK's own wait_for_task, polling fast (the emulator runs at time_scale 0.01)."""
    task = run(client.wait_for_task(task_id, polling_interval=0.1, timeout=WAIT))
    assert task.status.value == "success", (task.status, task.raw)
    return task


def image_file(path: Path, seed: int = 0, size: int = 96) -> Path:
    """A small PNG photo-like image (PIL) at `path`."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), ((seed * 70) % 256, 120, 200))
    ImageDraw.Draw(img).ellipse((size // 4, size // 8, 3 * size // 4, 7 * size // 8), fill=(240, 200, 40 + seed))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


def glb_json(data: bytes) -> dict:
    """The JSON chunk of a GLB, checking the container."""
    assert data[:4] == b"glTF", data[:16]
    _, version, length = struct.unpack("<4sII", data[:12])
    assert version == 2 and length == len(data)
    clen = struct.unpack("<I", data[12:16])[0]
    return json.loads(data[20:20 + clen])


def created(emu, key: str, task_id: str) -> dict:
    """The logged create request (body as received) of a task."""
    for r in emu.requests(route="create", api="v3", key=key):
        if r["status"] == 200 and r.get("task_id") == task_id:
            return r
    raise AssertionError(f"no logged create for {task_id}")
