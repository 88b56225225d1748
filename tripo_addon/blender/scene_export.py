"""Exporting the selection for sending it back to Tripo (one GLB, modifiers applied), and where a replacement goes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import bpy

from .scene_io import ImportFailed, ensure_object_mode, slug, world_bounds


def selected_meshes(context) -> list:
    objs = [o for o in context.selected_objects if o.type == 'MESH']
    active = context.active_object
    if not objs and active is not None and active.type == 'MESH':
        objs = [active]
    return objs


def export_selection_glb(context, directory: str | os.PathLike, name: str = "") -> Path:
    """Export the selected meshes (modifiers applied) to one GLB in ``directory``; returns its path."""
    meshes = selected_meshes(context)
    if not meshes:
        raise ImportFailed("No mesh is selected: select one or more meshes to send to Tripo.")
    ensure_object_mode(context)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{slug(name or meshes[0].name)}-{int(time.time() * 1000)}.glb"
    view_objects = context.view_layer.objects
    previous = [o for o in view_objects if o.select_get()]
    active = view_objects.active
    from .importers import glb  # Blender's glTF exporter needs numpy; Debian's Blender has none

    if not glb.gltf_importer_works():
        try:
            glb.export_glb(context, meshes, path)
        except ValueError as exc:
            raise ImportFailed(f"Blender could not export the selection to GLB: {exc}.") from None
        return path
    try:
        for o in previous:
            o.select_set(False)
        for o in meshes:
            o.select_set(True)
        result = bpy.ops.export_scene.gltf(
            filepath=str(path), export_format='GLB', use_selection=True, export_apply=True
        )
    finally:
        for o in view_objects:
            o.select_set(o in previous)
        view_objects.active = active
    if 'FINISHED' not in result or not path.exists():
        raise ImportFailed("Blender could not export the selection to GLB.")
    return path


def source_location(objects) -> tuple[float, float, float] | None:
    """Bottom centre of the objects' world bounding box (where a replacement goes)."""
    bounds = world_bounds(objects)
    if bounds is None:
        return None
    lo, hi = bounds
    return ((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z)
