"""`POST /v3/mesh/smartsegment` bodies -> Plans (tripo-api-v3.md §6.12, §18 R9); the producer is
producers/segment.py."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ApiError, invalid
from ..inputs import resolve_file
from ..validation import Plan, _enum, _text
from . import catalog as V
from .inputs import classify


def _choice(b: dict, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    return _enum(b, name, choices, default)


def plan_smartsegment(b: dict, ctx: Any) -> Plan:
    """§6.12 / §18 R9: seg_type image -> `input` a file token; seg_type model -> `input` the model's GLB URL +
    `transform` (16 numbers, column-major); `granularity` coarse/medium/fine, `hint`. No task ids (not in any SDK)."""
    seg_type = _choice(b, "seg_type", V.SMART_SEG_TYPES)
    if seg_type is None:
        raise invalid("`seg_type` is required: image or model.")
    if b.get("input") in (None, ""):
        raise invalid("`input` is required: a file token (seg_type image) or the model's GLB URL (seg_type model).")
    ref = classify(b["input"], "input")
    plan = Plan("smart_segment", {"seg_type": seg_type,
                                  "granularity": _choice(b, "granularity", V.SMART_SEG_GRANULARITY, "medium"),
                                  "hint": _text(b, "hint", ctx, max_len=1024)}, {})
    if seg_type == "image":
        if ref.kind != "file" or "file_token" not in ref.obj:
            raise invalid("seg_type image takes `input` = a file token: upload the image with POST /v3/files.")
        plan.files["image"] = resolve_file(ref.obj, ctx, "input")
        return plan
    if ref.kind != "file" or "url" not in ref.obj:
        raise invalid("seg_type model takes `input` = the model's GLB URL (an http(s) URL), with `transform`.")
    t = b.get("transform")
    if not isinstance(t, list) or len(t) != 16 or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in t):
        raise invalid("`transform` is required with seg_type model: 16 numbers, a column-major 4x4 matrix "
                      "(identity: [1,0,0,0, 0,1,0,0, 0,0,1,0, 0,0,0,1]).")
    f = resolve_file(ref.obj, ctx, "input", mesh=True)
    if f.kind != "glb":
        raise ApiError(2004, f"smartsegment takes GLB models only; the URL holds {f.kind.upper()}.")
    plan.files["model"] = f
    plan.params["transform"] = [float(x) for x in t]
    return plan
