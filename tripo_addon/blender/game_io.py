"""Game-ready imports (main thread): several clip files as one armature with one action per clip, and a LOD chain
as ``<name>_LOD0``... in one collection, optionally exported as one FBX. Built on :mod:`scene_io`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import bpy

from .scene_io import (
    ImportFailed,
    ImportOptions,
    ImportResult,
    _run_importer,
    import_files,
    kind_of,
    push_undo,
    tag,
)
from .scene_names import unique_collection_name


def clip_name(preset: str) -> str:
    """The action name of an animation preset: ``preset:walk`` -> ``walk``, ``preset:biped:run`` -> ``run``."""
    return str(preset).rsplit(":", 1)[-1] or str(preset)


def _new_actions(before) -> list:
    return [a for a in bpy.data.actions if a not in before]


def _remove_objects(objects) -> None:
    """Delete objects and their meshes/armatures when nothing else uses them."""
    data = [o.data for o in objects if o.data is not None]
    for obj in objects:
        bpy.data.objects.remove(obj)
    for d in data:
        if d.users:
            continue
        if isinstance(d, bpy.types.Mesh):
            bpy.data.meshes.remove(d)
        elif isinstance(d, bpy.types.Armature):
            bpy.data.armatures.remove(d)


def import_clips(context, files: list[str], names: list[str], *, title: str, provenance: dict | None = None,
                 options: ImportOptions | None = None) -> ImportResult:
    """One file per animation clip (v3 retarget with several presets) as ONE armature with one action per clip.

    The first file is imported as the result (armature and meshes); the actions of the others are taken onto that
    armature, each named after its preset, one NLA track per clip (the first one playing, the others muted: unmute
    or push one to try it; all stay in the action list). Raises ImportFailed."""
    options = options or ImportOptions()
    before_actions = set(bpy.data.actions)
    result = import_files(context, files[:1], title=title, provenance=provenance, options=options, undo=False)
    arm = next((o for o in result.objects if o.type == 'ARMATURE'), None)
    if arm is None:
        raise ImportFailed(f"{Path(files[0]).name} has no armature: it is not an animated result.")
    def name_of(i: int, action) -> str:
        return clip_name(names[i]) if i < len(names) else action.name

    clips: list[tuple[str, object]] = []  # (the clip's own name, its action): a clip without one names no other
    missing: list[str] = []
    first = _new_actions(before_actions)
    if first:
        clips.append((name_of(0, first[0]), first[0]))
    elif names:
        missing.append(clip_name(names[0]))
    coll = bpy.data.collections.get(result.collection_name) if result.collection_name else None
    for i, path in enumerate(files[1:], start=1):
        kind = kind_of(path)
        if kind is None:
            if i < len(names):
                missing.append(clip_name(names[i]))
            continue
        objs, acts = set(bpy.data.objects), set(bpy.data.actions)
        _run_importer(kind, Path(path), options)
        new_objects = [o for o in bpy.data.objects if o not in objs]
        got = _new_actions(acts)
        _remove_objects(new_objects)
        for c in [c for c in bpy.data.collections if not c.objects and not c.children and c is not coll
                  and c.name not in context.scene.collection.children]:
            bpy.data.collections.remove(c)
        if got:
            clips.append((name_of(i, got[0]), got[0]))
            for extra in got[1:]:
                bpy.data.actions.remove(extra)
        elif i < len(names):
            missing.append(clip_name(names[i]))
    ad = arm.animation_data or arm.animation_data_create()
    ad.action = None
    for track in list(ad.nla_tracks):  # the importer's own tracks: replaced by one per clip
        ad.nla_tracks.remove(track)
    for i, (name, action) in enumerate(clips):
        action.name = name
        action.use_fake_user = True  # kept with the file even while no strip uses it
        tag([action], provenance or {})
        track = ad.nla_tracks.new()
        track.name = name
        strip = track.strips.new(name, 1, action)
        slots = getattr(action, "slots", None)
        if slots is not None and len(slots) and getattr(strip, "action_slot", None) is None:
            strip.action_slot = slots[0]
        track.mute = i > 0
    arm["tripo_clips"] = [name for name, _action in clips]
    if missing:
        arm["tripo_clips_missing"] = missing  # their files held no animation: said, never named after another
    _select_result(context, result, arm)
    push_undo(f"Import Tripo clips: {title}")
    return result


def _select_result(context, result: ImportResult, arm) -> None:
    """The clip files' throw-away copies took the selection with them: the result is selected again and its
    armature active (``bpy.context.active_object`` is the armature after ``animate_retarget(wait=True)``)."""
    context.view_layer.update()  # the removed copies' bases go (until then they read as None)
    layer_objects = context.view_layer.objects
    for obj in layer_objects:
        if obj is not None and obj.select_get():
            obj.select_set(False)
    for obj in result.objects:
        if obj.name in bpy.data.objects and obj.name in layer_objects:
            obj.select_set(True)
    if arm.name in layer_objects:
        layer_objects.active = arm
        arm.select_set(True)


def _join(context, objects):
    """Join meshes into the first one (a LOD level is one object); returns it."""
    meshes = [o for o in objects if o.type == 'MESH']
    if len(meshes) < 2:
        return meshes[0] if meshes else None
    with context.temp_override(active_object=meshes[0], selected_editable_objects=meshes,
                               selected_objects=meshes):
        bpy.ops.object.join()
    return meshes[0]


def import_lods(context, levels: list[tuple[list[str], dict]], name: str, *,
                options: ImportOptions | None = None, fbx_path: str = "") -> ImportResult:
    """LOD0..LODn (``levels``: each level's files and provenance) into one collection ``<name>_LODs``, each level
    one mesh ``<name>_LOD<i>`` at the same place (LOD1+ hidden in the viewport); with ``fbx_path``, also exported
    there as one FBX (Unity and Unreal make a LOD group of ``_LOD<i>`` meshes). Raises ImportFailed."""
    options = options or ImportOptions()
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "Tripo"
    coll = bpy.data.collections.new(unique_collection_name(f"{base}_LODs"))
    context.scene.collection.children.link(coll)
    out = ImportResult(collection_name=coll.name)
    level_opts = ImportOptions(**{**options.__dict__, "collection_per_task": False, "hide": []})
    for i, (files, prov) in enumerate(levels):
        got = import_files(context, files, title=f"{base}_LOD{i}", provenance=prov, options=level_opts, undo=False)
        for obj in got.objects:
            for c in list(obj.users_collection):
                c.objects.unlink(obj)
            coll.objects.link(obj)
        main = _join(context, got.objects) or (got.objects[0] if got.objects else None)
        if main is None:
            continue
        for obj in [o for o in got.objects if o.name in bpy.data.objects and o is not main and o.type == 'EMPTY'
                    and not o.children]:
            bpy.data.objects.remove(obj)
        main.name = f"{base}_LOD{i}"
        main.data.name = main.name
        main["tripo_lod"] = i
        out.objects.append(main)
    tag([coll], dict(levels[-1][1]) if levels else {})
    coll["tripo_lods"] = len(out.objects)
    for obj in context.view_layer.objects:
        obj.select_set(False)
    for i, obj in enumerate(out.objects):
        if i == 0:
            obj.select_set(True)
            context.view_layer.objects.active = obj
        else:
            obj.hide_set(True)
    for hidden in options.hide:
        src = bpy.data.objects.get(hidden)
        if src is not None and src not in out.objects and src.name in context.view_layer.objects:
            src.hide_set(True)
    if fbx_path:
        out.saved.append(export_lods_fbx(context, coll, fbx_path))
    push_undo(f"Import Tripo LODs: {base}")
    return out


def export_lods_fbx(context, coll, path: str | os.PathLike) -> str:
    """Export a LOD collection's meshes (hidden ones too) as one FBX for Unity/Unreal; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layer = _find_layer_collection(context.view_layer.layer_collection, coll)
    if layer is None:
        raise ImportFailed(f"The collection {coll.name} is not in this view layer: cannot export it.")
    previous = context.view_layer.active_layer_collection
    context.view_layer.active_layer_collection = layer
    try:
        result = bpy.ops.export_scene.fbx(filepath=str(path), use_active_collection=True, object_types={'MESH'},
                                          apply_unit_scale=True, bake_space_transform=False, use_mesh_modifiers=True,
                                          mesh_smooth_type='FACE', add_leaf_bones=False)
    finally:
        context.view_layer.active_layer_collection = previous
    if 'FINISHED' not in result or not path.exists():
        raise ImportFailed(f"Blender could not export {coll.name} to {path}.")
    return str(path)


def _find_layer_collection(layer, coll):
    if layer.collection == coll:
        return layer
    for child in layer.children:
        found = _find_layer_collection(child, coll)
        if found is not None:
            return found
    return None


def import_special(context, snap: dict, provenance: dict, options: ImportOptions) -> ImportResult | None:
    """Jobs whose result is more than one import (``meta["import_as"]``: "clips" or "lods"), else None."""
    meta = snap.get("meta") or {}
    how = meta.get("import_as")
    title = snap.get("title") or "Tripo"
    if how == "clips" and snap.get("result_files"):
        return import_clips(context, list(snap["result_files"]), list(meta.get("clip_names") or []), title=title,
                            provenance=provenance, options=options)
    if how == "lods":
        levels = []
        for step in snap.get("steps") or []:
            if step.get("task_type") == "highpoly_to_lowpoly" and step.get("files"):
                prov = {**provenance, "tripo_task_id": step.get("task_id") or "",
                        "tripo_task_type": "highpoly_to_lowpoly"}
                levels.append((list(step["files"]), prov))
        if not levels:
            return None
        return import_lods(context, levels, str(meta.get("lod_name") or title), options=options,
                           fbx_path=str(meta.get("lod_fbx") or ""))
    return None
