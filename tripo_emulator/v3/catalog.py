"""Static facts of the v3 dialect (tripo-api-v3.md §4, §6, §13): routes -> task types, model catalogues, pools."""

from __future__ import annotations

# POST route (after /v3/) -> the task type v3 reports (v2-style names; the SDK's _CREATE_TASK_ROUTES uses the same).
CREATE_ROUTES: dict[str, str] = {
    "generation/text-to-model": "text_to_model",
    "generation/image-to-model": "image_to_model",
    "generation/multiview-to-model": "multiview_to_model",
    "generation/text-to-image": "text_to_image",
    "generation/image-to-image": "generate_image",
    "generation/image-to-multiview": "generate_multiview_image",
    "generation/edit-multiview": "edit_multiview_image",
    "generation/image-to-splat": "image_to_splat",
    "generation/image-to-depth": "image_to_depth",
    "models/import": "import_model",
    "models/texture": "texture_model",
    "models/convert": "convert_model",
    "animations/rig-check": "animate_prerigcheck",
    "animations/rig": "animate_rig",
    "animations/retarget": "animate_retarget",
    "mesh/segment": "mesh_segmentation",
    "mesh/complete": "mesh_completion",
    "mesh/decimate": "highpoly_to_lowpoly",
    "mesh/uv": "mesh_uv",
}
# Retired by Tripo (SDK 1.0.0 raises without a request): answered 404/4001 with an explanation.
RETIRED_ROUTES = {"models/refine": "refine_model", "models/stylize": "stylize_model"}

# 3D generation `model` (required) -> family
MODELS: dict[str, str] = {"v3.1-20260211": "H3", "v3.0-20250812": "H3", "v2.5-20250123": "H2",
                          "P1-20260311": "P1", "P2-20260801": "P2"}
# P-series: these options must be left out entirely (even false is refused)
P_FORBIDDEN = {"P1": ("quad", "smart_low_poly", "generate_parts", "geometry_quality"),
               "P2": ("smart_low_poly", "generate_parts", "geometry_quality")}
P2_FACES = (48, 50_000, 25_000)   # min, max (triangles), max (quads)
TEXTURE_VERSIONS = ("v3.5-20260815", "v3.0-20250812", "v2.5-20250123")
DELIGHT_TEXTURE = "v3.5-20260815"
ORIENTATIONS = ("+x", "-x", "+y", "-y")

IMAGE_MODELS = ("seedream_v4", "seedream_v5", "banana", "banana_pro", "banana2", "chat_image_2",
                "chat_image_2.5_flare", "chat_image_2.5_sunburst")
IMAGE_INPUT_CAPS = {"seedream": 4, "banana": 10, "chat_image": 16}
T2I_TEMPLATES = ("t_pose", "character_completion", "asset_extraction", "variants", "figure")
I2I_TEMPLATES = ("t_pose", "character_completion", "3d_enhance", "variants", "figure")

RIG_MODELS = ("v1.0-20240301", "v2.5-20260210", "v3.0-20260909")
RIG_SPECS = ("tripo", "mixamo", "actorcore", "unity", "unreal", "vrm")
RIG_SPECS_V25 = ("unity", "unreal", "vrm")       # need rig v2.5 or v3.0
SEGMENT_MODELS = ("v1.0-20250506", "v2.0-20260430")
SEGMENT_GRANULARITY = ("simple", "balanced", "detailed")
COMPLETION_MODES = ("ai_completion", "quick_cap")
DECIMATE_MODELS = ("v1.0", "v2.0", "v3.0")
CONVERT_FORMATS = ("GLTF", "GLB", "USDZ", "FBX", "OBJ", "STL", "3MF")
DEPTH_KINDS = ("gray", "color")
UPLOAD_FORMATS = ("jpeg", "jpg", "png", "webp", "glb", "fbx", "obj", "stl")
MAX_UPLOAD = 50 * 1024 * 1024
MAX_TASK_IDS = 100

# Concurrency pools (§13), per account; names are catalog.GROUP_LIMITS keys.
_POOLS = {
    "text_to_image": "v3_image", "generate_image": "v3_image", "generate_multiview_image": "v3_image",
    "edit_multiview_image": "v3_image",
    "texture_model": "v3_processing", "convert_model": "v3_processing", "import_model": "v3_processing",
    "animate_prerigcheck": "v3_animation", "animate_rig": "v3_animation", "animate_retarget": "v3_animation",
    "mesh_segmentation": "v3_mesh", "mesh_completion": "v3_mesh", "highpoly_to_lowpoly": "v3_mesh",
    "mesh_uv": "v3_mesh", "image_to_splat": "v3_generation", "image_to_depth": "v3_other",
}


def pool(task_type: str, model: str | None) -> str:
    """The v3 concurrency pool of a task."""
    if task_type in ("text_to_model", "image_to_model", "multiview_to_model"):
        return "v3_p_series" if MODELS.get(model or "") in ("P1", "P2") else "v3_generation"
    return _POOLS.get(task_type, "v3_other")
