"""Dialect-neutral task outputs: what a finished task gives, by meaning.

Each dialect maps its wire keys onto these names when it reads a task (``Task.output``); everything above the
dialects uses only these. URLs are signed and short-lived; non-file outputs (``riggable``, ``rig_type``) are values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MODEL = "model"            # the model file (GLB, or FBX for quad/FBX results)
PREVIEW = "preview"        # a rendered preview image of the model
IMAGE = "image"            # the generated image (image tasks)
IMAGES = "images"          # several generated images (list of URLs)
FRONT, LEFT, BACK, RIGHT = "front_view", "left_view", "back_view", "right_view"
VIEWS = (FRONT, LEFT, BACK, RIGHT)
RIGGABLE = "riggable"      # rig check: bool
RIG_TYPE = "rig_type"      # rig check: biped, quadruped, ...
UV_RENDER = "uv_render"    # Smart UV: the UV atlas render
CLIPS = "clips"            # retarget with several animations: one model URL per clip (list, in request order)
DEPTH = "depth_image"      # image to depth
SPLAT = "splat"            # image to splat (.splat file)
VIDEO = "video"            # a rendered turntable video
MASK = "mask"              # Smart Segment: the part mask image
SEG_TASK_ID = "seg_task_id"  # Smart Segment: its mesh_segmentation task (complete / decimate / texture / convert)
PARTS_PROMPT = "parts_prompt"  # Smart Segment: Tripo's text naming the parts (its ``prompt``)

VALUES = (RIGGABLE, RIG_TYPE, SEG_TASK_ID, PARTS_PROMPT)
ALL = (MODEL, PREVIEW, IMAGE, IMAGES, *VIEWS, RIGGABLE, RIG_TYPE, UV_RENDER, CLIPS, DEPTH, SPLAT, VIDEO, MASK,
       SEG_TASK_ID, PARTS_PROMPT)
#: What a job downloads by default for a task's main result, in order of preference.
MAIN = (MODEL, IMAGE, SPLAT, DEPTH)


def main_key(output: Mapping[str, Any] | None) -> str | None:
    """The key of the task's main downloadable result (model > image > splat > depth), or None."""
    if not isinstance(output, Mapping):
        return None
    for key in MAIN:
        if isinstance(output.get(key), str) and output[key]:
            return key
    return None


def file_keys(output: Mapping[str, Any] | None) -> list[str]:
    """Every key holding a URL (list outputs as ``clips.0``, ``clips.1``...)."""
    keys: list[str] = []
    for k, v in (output or {}).items():
        if isinstance(v, str) and v.startswith(("http://", "https://")):
            keys.append(k)
        elif isinstance(v, list):
            keys.extend(f"{k}.{i}" for i, x in enumerate(v) if isinstance(x, str) and x)
    return keys


def get(output: Mapping[str, Any] | None, key: str) -> Any:
    """``output[key]``; ``"clips.1"`` reaches the second item of a list output."""
    if not isinstance(output, Mapping):
        return None
    if key in output:
        return output[key]
    name, _, idx = key.rpartition(".")
    if name and idx.isdigit() and isinstance(output.get(name), list):
        items = output[name]
        i = int(idx)
        return items[i] if i < len(items) else None
    return None
