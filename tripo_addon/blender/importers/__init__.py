"""Results Blender shows in their own way (API v3): four views, depth images, Gaussian splats, Smart UV renders.

``import_result`` replaces ``scene_io.import_files`` for a finished job (main thread): it picks the importer by the
task type of the job's last step and falls back to ``scene_io`` for everything else. Views made by an earlier step of
a pipeline (image -> views -> model) are loaded too, so the sidebar shows what the model was made from.
"""

from __future__ import annotations

import time
from array import array
from pathlib import Path

import bpy

from .. import scene_io
from . import depth, splat, views

V3_TYPES = frozenset({*views.TYPES, "image_to_depth", "image_to_splat", "mesh_uv"})


def _last_step(snap: dict) -> dict:
    for step in reversed(snap.get("steps") or []):
        if step.get("files"):
            return step
    return {}


def import_result(context, snap: dict, files: list[str], *, title: str, provenance: dict,
                  options: scene_io.ImportOptions) -> scene_io.ImportResult:
    """Import a finished job's files the way its task type needs. Raises ImportFailed."""
    step = _last_step(snap)
    task_type = step.get("task_type") or ""
    meta = snap.get("meta") or {}
    from .formats import prepare

    files, options = prepare(context, snap, files, options, provenance)  # OBJ ZIPs, auto_size (formats.py)
    if task_type in views.TYPES:
        result = views.import_views(context, step, title)
        scene_io.push_undo(f"Import Tripo views: {title}")
    elif task_type == "image_to_depth":
        result = depth.import_depth(context, snap, files, title=title, provenance=provenance, options=options,
                                    plane=meta.get("depth_plane"), strength=meta.get("depth_strength"))
        scene_io.place_result(context, result.objects, options)  # (ui: placed like every other result)
    elif task_type == "image_to_splat":
        result = splat.import_splat(context, files, title=title, provenance=provenance, options=options)
        scene_io.place_result(context, result.objects, options)
    elif task_type == "mesh_uv":
        result = import_uv(context, files, title=title, provenance=provenance, options=options)
    elif task_type == "smart_segment":  # named parts, mask image, seg_task_id (importers/segment.py)
        from .segment import import_smart_segment

        result = import_smart_segment(context, snap, files, title=title, provenance=provenance, options=options)
    else:
        result = scene_io.import_files(context, files, title=title, provenance=provenance, options=options)
    for earlier in snap.get("steps") or []:  # a pipeline's views, before its model
        if earlier is not step and earlier.get("task_type") in views.TYPES and earlier.get("files"):
            views.import_views(context, earlier, title, make_current=True)
    return result


def import_uv(context, files: list[str], *, title: str, provenance: dict,
              options: scene_io.ImportOptions) -> scene_io.ImportResult:
    """Smart UV: the model with its new UVs, and the UV layout render as a Blender image shown beside it."""
    models = [f for f in files if not scene_io.is_image(f)]
    renders = [f for f in files if scene_io.is_image(f)]
    result = scene_io.import_files(context, models, title=title, provenance=provenance, options=options,
                                   undo=not renders)
    for path in renders:
        img = scene_io.load_image(path, f"{title} UV layout", provenance)
        img["tripo_uv_render"] = True
        img.use_fake_user = True  # kept with the file: the result's panel shows it
        result.images.append(img.name)
        for obj in result.objects:
            obj["tripo_uv_render"] = img.name
        show_image(context, img)
    if renders:
        scene_io.push_undo(f"Import Tripo result: {title}")
    return result


def show_image(context, img) -> bool:
    """Show ``img`` in the open Image Editors of the window (none open: nothing happens). Returns True if shown."""
    shown = False
    screen = getattr(context, "screen", None) or getattr(getattr(context, "window", None), "screen", None)
    for area in getattr(screen, "areas", ()) or ():
        if area.type == 'IMAGE_EDITOR':
            area.spaces.active.image = img
            area.tag_redraw()
            shown = True
    return shown


def image_file(img, directory: Path) -> Path:
    """A PNG (or the image's own file) holding what a Blender image shows now: packed, generated or edited images
    are saved to ``directory`` first, so they can be uploaded."""
    path = Path(bpy.path.abspath(img.filepath_raw or img.filepath)) if (img.filepath_raw or img.filepath) else None
    on_disk = path is not None and path.is_file() and img.packed_file is None and img.source == 'FILE'
    if on_disk and not img.is_dirty and path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        return path
    if img.size[0] == 0 or img.size[1] == 0:
        raise scene_io.ImportFailed(f"The image \u201c{img.name}\u201d has no pixels to send: load or paint it first.")
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{scene_io.slug(img.name)}-{time.time_ns()}.png"
    w, h = img.size[:]
    pixels = array("f", bytes(16 * w * h))  # 4 float32 per pixel (no numpy: Debian's Blender has none)
    img.pixels.foreach_get(pixels)
    tmp = bpy.data.images.new("tripo-upload", w, h, alpha=True, float_buffer=False)
    try:
        tmp.pixels.foreach_set(pixels)
        tmp.filepath_raw = str(out)
        tmp.file_format = 'PNG'
        tmp.save()
    except RuntimeError as exc:
        raise scene_io.ImportFailed(f"Blender could not save the image \u201c{img.name}\u201d to send it ({exc}).")
    finally:
        bpy.data.images.remove(tmp)
    return out
