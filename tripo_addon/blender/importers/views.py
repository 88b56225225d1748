"""Four views (v3 image-to-multiview and its edits) as Blender images, tagged so the sidebar can show them.

Each view image carries ``tripo_task_id`` (the views task), ``tripo_task_type`` and ``tripo_view`` (front, left, back,
right) and a fake user (it stays with the .blend file: the sidebar's view sets are these images). The newest set is
the scene's current one (``Scene.tripo_v3.views_task``).
"""

from __future__ import annotations

import time
from pathlib import Path

import bpy

from .. import previews, scene_io

TYPES = ("generate_multiview_image", "edit_multiview_image")
VIEWS = ("front", "left", "back", "right")


def view_of(path: str | Path, index: int) -> str:
    """Which view a downloaded file is (by its name, else by its place in the download order)."""
    stem = Path(path).stem.lower()
    for view in VIEWS:
        if stem.startswith(view) or f"{view}_view" in stem:
            return view
    return VIEWS[index % 4]


def import_views(context, step: dict, title: str, *, make_current: bool = True) -> scene_io.ImportResult:
    """Load one step's view files as Blender images (again: the existing images are reused)."""
    result = scene_io.ImportResult()
    task_id = step.get("task_id") or ""
    base = " ".join(str(title).split())[:48]
    for i, path in enumerate(step.get("files") or []):
        if not scene_io.is_image(path):
            continue
        view = view_of(path, i)
        img = bpy.data.images.load(str(path), check_existing=True)
        img.name = f"{base} \u00b7 {view}"
        img["tripo_task_id"] = task_id
        img["tripo_task_type"] = step.get("task_type") or ""
        img["tripo_view"] = view
        img["tripo_loaded"] = time.time()  # the sidebar lists view sets in the order they came
        img.use_fake_user = True
        previews.icon_id(str(path))  # the sidebar's thumbnail
        result.images.append(img.name)
    scene = getattr(context, "scene", None)
    settings = getattr(scene, "tripo_v3", None)
    if make_current and settings is not None and task_id and result.images:
        settings.views_task = task_id
    return result


def view_images(task_id: str) -> dict[str, object]:
    """{view: Blender image} of a views task (the images loaded by :func:`import_views`)."""
    out: dict[str, object] = {}
    for img in bpy.data.images:
        if task_id and img.get("tripo_task_id") == task_id and img.get("tripo_view") in VIEWS:
            out[img["tripo_view"]] = img
    return out


def view_sets() -> list[tuple[str, str]]:
    """(task id, label) of every views task with images in this file, oldest first (in the order they came)."""
    seen: dict[str, tuple[float, str]] = {}
    for img in bpy.data.images:
        tid = img.get("tripo_task_id")
        if img.get("tripo_view") in VIEWS and isinstance(tid, str) and tid and tid not in seen:
            seen[tid] = (float(img.get("tripo_loaded", 0.0)), img.name.rsplit(" \u00b7 ", 1)[0])
    return [(tid, label) for tid, (_t, label) in sorted(seen.items(), key=lambda kv: kv[1][0])]


def image_path(img) -> str:
    """The file an image was loaded from (absolute), or ""."""
    raw = img.filepath_raw or img.filepath
    return bpy.path.abspath(raw) if raw else ""
