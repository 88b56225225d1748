"""The sidebar stays cheap with a big file: redraws do not walk every image, and result previews are bounded."""

from __future__ import annotations

import importlib
import struct
import zlib

import bpy
from blender_helpers import MODULE
from recorder import draw


def _png(path, shade: int) -> None:
    raw = b"".join(b"\x00" + bytes((shade, 255 - shade, 128)) * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_image_edit_redraws_do_not_walk_all_images(ext, monkeypatch):
    panels_v3 = importlib.import_module(f"{MODULE}.blender.panels_v3")
    made = [bpy.data.images.new(f"bg_{i}", 4, 4) for i in range(400)]  # a big file's images, none from Tripo
    made[-1]["tripo_task_type"] = "generate_image"
    builds = []
    real = panels_v3._cached
    monkeypatch.setattr(panels_v3, "_cached", lambda key, build: real(key, lambda: builds.append(key) or build()))
    panels_v3._cache.clear()
    bpy.context.scene.tripo.mode = 'IMAGE_TO_IMAGE'
    try:
        for _ in range(30):  # a second of redraws while the mouse moves
            text = draw(bpy.types.TRIPO_PT_image_to_image).text()
        assert made[-1].name in text  # the Tripo image is offered as a result
        assert builds.count("results") == 1, builds  # the 400 images were walked once, not per redraw
        bpy.data.images.new("one_more", 4, 4)
        draw(bpy.types.TRIPO_PT_image_to_image)
        assert builds.count("results") == 2  # a new image is seen at once
    finally:
        for img in made:
            bpy.data.images.remove(img)
        bpy.data.images.remove(bpy.data.images["one_more"])
        bpy.context.scene.tripo.mode = 'TEXT'


def test_result_previews_are_bounded_and_freed(ext, tmp_path):
    previews = ext.previews
    paths = []
    for i in range(previews.MAX_PREVIEWS + 12):
        p = tmp_path / f"preview_{i}.png"
        _png(p, i % 256)
        paths.append(str(p))
        previews.icon_id(str(p))
    assert len(previews._order) == previews.MAX_PREVIEWS  # the oldest were freed
    assert paths[0] not in previews._order and paths[-1] in previews._order
    assert len(previews._collection) <= previews.MAX_PREVIEWS
    previews.free(paths[-1])
    assert paths[-1] not in previews._order and paths[-1] not in previews._collection
