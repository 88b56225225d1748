"""Smart Segment results (tripo-api-v3.md §18 R9): the segmented model with its parts named from Tripo's ``prompt``,
the mask as an image datablock, and the ``seg_task_id`` on the objects so later steps take them as a segmentation."""

from __future__ import annotations

import re

from .. import scene_io

#: The custom properties a Smart Segment result carries (besides the usual provenance).
PARTS = "tripo_parts"              # Tripo's text naming the parts
PART = "tripo_part_name"           # the part an object is, when the names could be matched
MASK = "tripo_mask"                # the mask image's name
SMART_TASK = "tripo_smart_segment_task"


def part_names(prompt: str | None, limit: int = 64) -> list[str]:
    """The part names in Tripo's ``prompt`` ("head, torso; left arm and right arm" -> head, torso, left arm, ...)."""
    if not isinstance(prompt, str):
        return []
    text = re.sub(r"^[^:\n]{0,40}:\s*", "", prompt.strip()) if ":" in prompt[:42] else prompt.strip()
    names = []
    for chunk in re.split(r"[,;\n]|\band\b|\|", text):
        name = " ".join(chunk.strip(" .\t-*\u2022").split())[:48]
        if name and name.lower() not in (n.lower() for n in names):
            names.append(name)
        if len(names) >= limit:
            break
    return names


def _step(snap: dict) -> dict:
    for step in reversed(snap.get("steps") or []):
        if step.get("task_type") == "smart_segment":
            return step
    return {}


def import_smart_segment(context, snap: dict, files: list[str], *, title: str, provenance: dict,
                         options: scene_io.ImportOptions) -> scene_io.ImportResult:
    """Import the segmented model, name its parts, load the mask; raises ImportFailed."""
    from . import show_image

    step = _step(snap)
    out = step.get("output") or {}
    seg_task = out.get("seg_task_id")
    prov = dict(provenance)
    if isinstance(seg_task, str) and seg_task:  # the next steps chain from the segmentation, like any other
        prov.update(tripo_task_id=seg_task, tripo_task_type="mesh_segmentation")
    models = [f for f in files if not scene_io.is_image(f)]
    masks = [f for f in files if scene_io.is_image(f)]
    result = scene_io.import_files(context, models, title=title, provenance=prov, options=options,
                                   undo=not masks)
    prompt = out.get("parts_prompt") if isinstance(out.get("parts_prompt"), str) else ""
    names = part_names(prompt)
    meshes = sorted((bpy_obj for bpy_obj in result.objects if bpy_obj.type == 'MESH'), key=lambda o: o.name)
    by_name = {n.lower().replace(" ", "_"): n for n in names}
    unmatched = [n for n in names]
    for obj in meshes:  # parts whose node names already say which part they are keep them
        key = obj.name.lower().split(".")[0].replace(" ", "_")
        if key in by_name:
            obj[PART] = by_name[key]
            unmatched = [n for n in unmatched if n != by_name[key]]
    rest = [o for o in meshes if PART not in o]
    if names and len(rest) == len(unmatched):  # as many parts as names: named in Tripo's order
        for obj, name in zip(rest, unmatched, strict=True):
            obj[PART] = name
    for obj in result.objects:
        if prompt:
            obj[PARTS] = prompt[:2000]
        if step.get("task_id"):
            obj[SMART_TASK] = step["task_id"]
        if PART in obj:
            obj.name = f"{obj[PART]}"
    for path in masks:
        img = scene_io.load_image(path, f"{title} mask", prov)
        img[MASK] = True
        img.use_fake_user = True  # kept with the file: the result's panel shows it
        result.images.append(img.name)
        for obj in result.objects:
            obj[MASK] = img.name
        show_image(context, img)
    if masks:
        scene_io.push_undo(f"Import Tripo result: {title}")
    return result
