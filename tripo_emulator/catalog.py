"""Static facts about the v2 task types: model versions, chaining, concurrency groups, durations (reference §5-§8)."""

from __future__ import annotations

GENERATION = ("text_to_model", "image_to_model", "multiview_to_model")
IMAGE_TYPES = ("text_to_image", "generate_image", "generate_multiview_image", "edit_multiview_image")

TASK_TYPES = (
    "text_to_image", "generate_image", "generate_multiview_image", "edit_multiview_image",
    "text_to_model", "image_to_model", "multiview_to_model", "refine_model", "texture_model", "import_model",
    "mesh_segmentation", "mesh_completion", "highpoly_to_lowpoly", "animate_prerigcheck", "animate_rig",
    "animate_retarget", "stylize_model", "convert_model",
)
DEPRECATED_TYPES = ("animate_model",)

# model_version -> family. "default" is the old schema's alias of the server default.
MODEL_VERSIONS: dict[str, str] = {
    "v3.1-20260211": "H3",
    "v3.0-20250812": "H3",
    "v2.5-20250123": "H2",
    "v2.0-20240919": "H2",
    "P1-20260311": "P1",
    "Turbo-v1.0-20250506": "Turbo",
    "v1.4-20240625": "v1",
}
DEPRECATED_VERSIONS = ("v1.3-20240522",)
DEFAULT_MODEL_VERSION = "v2.5-20250123"
MULTIVIEW_FAMILIES = ("H3", "H2", "P1")

# Which families accept which shared generation options (§5.2 / §5.3.3): validation refuses the others (P1 and v1.4
# even when sent as false or null, §5.2 / §12; H3/H2/Turbo only when turned on).
FAMILY_OPTIONS: dict[str, set[str]] = {
    "H3": {"texture", "pbr", "texture_seed", "texture_quality", "geometry_quality", "face_limit", "quad",
           "smart_low_poly", "generate_parts", "auto_size", "compress", "export_uv"},
    "H2": {"texture", "pbr", "texture_seed", "texture_quality", "face_limit", "quad", "smart_low_poly",
           "generate_parts", "auto_size", "compress", "export_uv"},
    "Turbo": {"texture", "pbr", "texture_seed", "texture_quality", "face_limit", "quad", "generate_parts",
              "auto_size", "compress", "export_uv"},
    "P1": {"texture", "pbr", "texture_seed", "texture_quality", "face_limit", "auto_size", "compress", "export_uv"},
    "v1": set(),
}
GENERATION_OPTIONS = frozenset().union(*FAMILY_OPTIONS.values())
# Families whose unsupported options are refused whenever present (restricted versions).
STRICT_FAMILIES = ("P1", "v1")
# text_to_model options besides the shared ones; v1.4 takes only prompt and model_seed (§5.3.3).
TEXT_ONLY_OPTIONS = ("negative_prompt", "image_seed")
FACE_LIMIT_MAX = {"H2": 500_000, "Turbo": 50_000, "P1": 20_000}
FACE_LIMIT_H3 = {"standard": 1_500_000, "detailed": 2_000_000}
P1_FACE_MIN = 48

TEXTURE_MODEL_VERSIONS = ("v2.5-20250123", "v3.0-20250812", "v2.0-20240919")
SEGMENTATION_VERSIONS = ("v1.0-20250506",)
COMPLETION_VERSIONS = ("v1.0-20250506",)
LOWPOLY_VERSIONS = ("P-v2.0-20251225", "P-v2.0-20251226", "P-v1.0-20250506")
PRERIG_VERSIONS = ("v1.0-20240301", "v2.0-20250506")
RIG_VERSIONS = ("v1.0-20240301", "v2.5-20260210", "v2.0-20250506")

IMAGE_MODELS_5 = ("flux.1_kontext_pro", "flux.1_dev", "gpt_4o", "gemini_2.5_flash_image_preview", "z_image",
                  "seedream_v4", "seedream_v5")
IMAGE_MODELS_10 = ("gpt_image_1.5", "gpt_image_2", "midjourney", "gemini_3_pro_image_preview",
                   "gemini_3.1_flash_image_preview")
IMAGE_MODELS_NO_INPUT = ("flux.1_dev", "midjourney", "z_image")

RIG_TYPES = ("biped", "quadruped", "hexapod", "octopod", "avian", "serpentine", "aquatic", "others")
RIG_SPECS = ("tripo", "mixamo")
ANIMATIONS = (
    "preset:idle", "preset:walk", "preset:run", "preset:dive", "preset:climb", "preset:jump", "preset:slash",
    "preset:shoot", "preset:hurt", "preset:fall", "preset:turn", "preset:quadruped:walk", "preset:hexapod:walk",
    "preset:octopod:walk", "preset:serpentine:march", "preset:aquatic:march",
)
STYLES = ("lego", "voxel", "voronoi", "minecraft")
CONVERT_FORMATS = ("GLTF", "USDZ", "FBX", "OBJ", "STL", "3MF")
TEXTURE_FORMATS = ("BMP", "DPX", "HDR", "JPEG", "OPEN_EXR", "PNG", "TARGA", "TIFF", "WEBP")
STS_FORMATS = ("webp", "jpeg", "png", "glb", "obj", "fbx", "stl")
MESH_FORMATS = ("glb", "obj", "fbx", "stl")

# Chain table (§6): target -> accepted source task types.
_MODEL_GEN = {"text_to_model", "image_to_model", "multiview_to_model"}
SOURCES: dict[str, set[str]] = {
    "texture_model": _MODEL_GEN | {"texture_model", "import_model"},
    "mesh_segmentation": _MODEL_GEN | {"texture_model", "import_model", "refine_model", "highpoly_to_lowpoly"},
    "mesh_completion": {"mesh_segmentation"},
    "highpoly_to_lowpoly": _MODEL_GEN | {"texture_model", "refine_model", "import_model", "mesh_segmentation",
                                         "mesh_completion"},
    "stylize_model": _MODEL_GEN | {"texture_model", "refine_model", "import_model", "animate_rig",
                                   "animate_retarget"},
    # Pipeline 7 of the skill converts a low-poly result, though the chain table omits it: accepted.
    "convert_model": _MODEL_GEN | {"texture_model", "refine_model", "import_model", "highpoly_to_lowpoly",
                                   "animate_rig", "animate_retarget", "convert_model"},
    "refine_model": set(_MODEL_GEN),
    "animate_retarget": {"animate_rig"},
}
# Tasks whose output is a model (anything rig/prerigcheck can take).
MODEL_TASKS = _MODEL_GEN | {"refine_model", "texture_model", "import_model", "mesh_segmentation", "mesh_completion",
                            "highpoly_to_lowpoly", "animate_rig", "animate_retarget", "stylize_model",
                            "convert_model", "mesh_uv"}
for _t in ("texture_model", "mesh_segmentation", "highpoly_to_lowpoly", "convert_model"):
    SOURCES[_t] = SOURCES[_t] | {"mesh_uv"}   # v3's mesh/uv makes a model like the others
for _t in ("animate_prerigcheck", "animate_rig"):
    SOURCES[_t] = set(MODEL_TASKS)

# Durations in seconds at time_scale 1: (queued, running).
DURATIONS: dict[str, tuple[float, float]] = {
    "text_to_image": (2, 10), "generate_image": (2, 15), "generate_multiview_image": (3, 30),
    "edit_multiview_image": (3, 25), "text_to_model": (4, 40), "image_to_model": (4, 45),
    "multiview_to_model": (5, 55), "refine_model": (10, 120), "texture_model": (4, 40), "import_model": (1, 10),
    "mesh_segmentation": (5, 90), "mesh_completion": (5, 90), "highpoly_to_lowpoly": (5, 60),
    "animate_prerigcheck": (1, 5), "animate_rig": (5, 60), "animate_retarget": (3, 30), "stylize_model": (4, 40),
    "convert_model": (2, 15), "image_to_splat": (4, 60), "image_to_depth": (2, 10), "mesh_uv": (3, 30),
    "smart_segment": (5, 60),
}

# Concurrency groups (§8) and their limits; counted over queued + running tasks of one account.
GROUP_LIMITS: dict[str, int] = {
    "generation_p1": 5, "generation": 10, "refine": 5, "animate_prerigcheck": 10, "animate_rig": 10,
    "animate_retarget": 10, "generate_multiview_image": 1, "edit_multiview_image": 1, "other": 10,
    # v3 pools (tripo-api-v3.md §13), per account: tasks created through /v3 count in these
    "v3_image": 1, "v3_p_series": 5, "v3_processing": 5, "v3_generation": 10, "v3_animation": 10, "v3_mesh": 10,
    "v3_other": 10,
}


def concurrency_group(task_type: str, family: str | None) -> str:
    if task_type in GENERATION:
        return "generation_p1" if family == "P1" else "generation"
    if task_type == "refine_model":
        return "refine"
    if task_type in ("animate_prerigcheck", "animate_rig", "animate_retarget", "generate_multiview_image",
                     "edit_multiview_image"):
        return task_type
    return "other"


def version_ge_2(task_type: str, family: str | None) -> bool:
    """True when a source task's version may feed texture/segmentation/rig (Turbo or >= v2.0)."""
    return family != "v1"
