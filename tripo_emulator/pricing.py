"""Credit prices (reference §5.3 headings and §7). Called with validated, normalized parameters."""

from __future__ import annotations

from typing import Any

from .catalog import IMAGE_MODELS_10

QUALITY_SURCHARGE = {"standard": 10, "detailed": 20, "extreme": 30, "fast": 10}   # fast: v3.5 textures (v3 only)
GENERATION_BASE = {  # untextured base price by task type and family (P1 has its own line)
    "text_to_model": {"P1": 30, None: 10},
    "image_to_model": {"P1": 40, None: 20},
    "multiview_to_model": {"P1": 40, None: 20},
}
FLAT = {
    "text_to_image": 5, "generate_multiview_image": 10, "refine_model": 30, "import_model": 0,
    "mesh_segmentation": 40, "mesh_completion": 50, "highpoly_to_lowpoly": 30, "animate_prerigcheck": 0,
    "animate_rig": 25, "stylize_model": 20,
    "image_to_splat": 30, "image_to_depth": 5, "mesh_uv": 10,   # v3 only
}
# convert_model options that cost +5 when set, i.e. present in the request body with any value (§5.3.16).
CONVERT_ADVANCED = ("quad", "face_limit", "flatten_bottom", "flatten_bottom_threshold", "texture_size",
                    "texture_format", "pivot_to_center_bottom", "scale_factor")


def price(task_type: str, p: dict[str, Any], family: str | None = None, dialect: str = "v2") -> int:
    """Credits frozen when the task is created. v3 follows Tripo's published table (tripo-api-v3.md §18 R2, R3) where
    it differs from the v2 reference: texture 10 / 20 / 30 by quality."""
    if task_type in GENERATION_BASE:
        table = GENERATION_BASE[task_type]
        total = table["P1"] if family == "P1" else table[None]
        textured = p.get("texture") or p.get("pbr") or p.get("texture_quality", "standard") != "standard"
        if family == "v1" or textured:
            total += QUALITY_SURCHARGE[p.get("texture_quality", "standard")]
        total += 5 if p.get("quad") else 0
        total += 10 if p.get("smart_low_poly") else 0
        total += 20 if p.get("generate_parts") else 0
        total += 20 if p.get("geometry_quality") == "detailed" else 0
        return total
    if task_type == "texture_model":
        surcharge = QUALITY_SURCHARGE[p.get("texture_quality", "standard")]
        return surcharge if dialect == "v3" else 10 + surcharge
    if task_type == "generate_image":
        return 10 if p.get("model_version") in IMAGE_MODELS_10 else 5
    if task_type == "edit_multiview_image":
        return 5 * len(p.get("prompts") or [])
    if task_type == "animate_retarget":
        return 10 * len(p.get("animations") or [])
    if task_type == "smart_segment":   # v3 only (tripo-api-v3.md §18 R3)
        return 85 if p.get("seg_type") == "image" else 55
    if task_type == "convert_model":
        sent = p.get("_sent") or {}  # what the body held (validation records it)
        return 10 if any(sent.get(k) is not None for k in CONVERT_ADVANCED) else 5
    return FLAT.get(task_type, 0)
