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
    "mesh/smartsegment": "smart_segment",   # (the type name is the emulator's: no source names it)
}
# Retired by Tripo (SDK 1.0.0 raises without a request): answered 404/4001 with an explanation.
RETIRED_ROUTES = {"models/refine": "refine_model", "models/stylize": "stylize_model"}

# 3D generation `model` (required) -> family
MODELS: dict[str, str] = {"v3.1-20260211": "H3", "v3.0-20250812": "H3", "v2.5-20250123": "H2",
                          "P1-20260311": "P1", "P2-20260801": "P2"}
DEFAULT_MODEL = "v3.1-20260211"   # when a 3D generation names none (§18 C2)
# P-series: these options must be left out entirely (even false is refused)
P_FORBIDDEN = {"P1": ("quad", "smart_low_poly", "generate_parts", "geometry_quality"),
               "P2": ("smart_low_poly", "generate_parts", "geometry_quality")}
# Version-gated options (§18 R4, trust Medium-high: ComfyUI's gated-parameter table and the price page agree): they
# need model >= v3.0-20250812; v2.5 takes none of them (refused here when turned on: 1004, no credit); P1 takes only
# texture_quality, auto_size and compress (the others are P_FORBIDDEN above).
GATED_OPTIONS = ("texture_quality", "geometry_quality", "auto_size", "quad", "smart_low_poly", "generate_parts",
                 "compress")
# face_limit ranges (§18 R5, trust Medium): Tripo clamps out-of-range values silently, so does the emulator.
# (min, max, max with geometry_quality detailed) per model; quad caps at 150,000; smart_low_poly is 500-20,000
# triangles / 500-10,000 quads whatever the model.
FACE_RANGES = {"v3.1-20260211": (1, 1_500_000, 2_000_000), "v3.0-20250812": (1, 1_000_000, 2_000_000),
               "v2.5-20250123": (1, 500_000, 500_000), "P1-20260311": (50, 20_000, 20_000)}
QUAD_FACE_MAX = 150_000
SMART_LOW_POLY_FACES = (500, 20_000, 10_000)   # min, max triangles, max quads
P2_FACES = (48, 50_000, 25_000)   # min, max (triangles), max (quads)
TEXTURE_VERSIONS = ("v3.5-20260815", "v3.0-20250812", "v2.5-20250123")
DELIGHT_TEXTURE = "v3.5-20260815"
ORIENTATIONS = ("+x", "-x", "+y", "-y")

IMAGE_MODELS = ("seedream_v4", "seedream_v5", "banana", "banana_pro", "banana2", "chat_image_2",
                "chat_image_2.5_flare", "chat_image_2.5_sunburst")
# Image-model options (tripo-api-v3.md §6.5, the JS SDK's docs, §18 C8): `quality` only on the chat_image models
# (low/medium/high on chat_image_2, + xhigh/max on the 2.5 ones); `background` only on the 2.5 ones, transparent only
# as png; `aspect_ratio` only on the banana family, from a fixed list.
IMAGE_QUALITY = {"chat_image_2": ("low", "medium", "high"),
                 "chat_image_2.5_flare": ("low", "medium", "high", "xhigh", "max"),
                 "chat_image_2.5_sunburst": ("low", "medium", "high", "xhigh", "max")}
IMAGE_BACKGROUND = ("auto", "opaque", "transparent")
BACKGROUND_MODELS = ("chat_image_2.5_flare", "chat_image_2.5_sunburst")
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
IMAGE_INPUT_CAPS = {"seedream": 4, "banana": 10, "chat_image": 16}
T2I_TEMPLATES = ("t_pose", "character_completion", "asset_extraction", "variants", "figure")
I2I_TEMPLATES = ("t_pose", "character_completion", "3d_enhance", "variants", "figure")

RIG_MODELS = ("v1.0-20240301", "v2.5-20260210", "v3.0-20260909")
RIG_SPECS = ("tripo", "mixamo", "actorcore", "unity", "unreal", "vrm")
RIG_SPECS_V25 = ("unity", "unreal", "vrm")       # need rig v2.5 or v3.0
# Retarget presets by rig model (tripo-api-v3.md §6.11, §17, §18 R12): v2.5 / v3.0 rigs take the plain names (+ the
# per-body-type walks); v1.0 rigs name theirs preset:biped:<name> (list from tripo-api.md §5, [COMFY2] agrees).
V25_PRESETS = tuple(f"preset:{n}" for n in ("idle", "walk", "run", "dive", "climb", "jump", "slash", "shoot", "hurt",
                                           "fall", "turn", "chop")) + (
    "preset:quadruped:walk", "preset:hexapod:walk", "preset:octopod:walk", "preset:serpentine:march",
    "preset:aquatic:march")


def _numbered(name: str, lo: int, hi: int) -> tuple[str, ...]:
    return tuple(f"{name}_{i:02d}" for i in range(lo, hi + 1))


V10_BIPED = ("afraid", "agree", *_numbered("angry", 1, 3), "basketball_shot", "bow", *_numbered("box", 1, 3),
             "cast_a_spell", "cheer", "chop", "clap", "climb", *_numbered("complain", 1, 2), "cross_body_crunch",
             "crossover_dribble", "cry", *_numbered("dance", 1, 6), *_numbered("defeat", 2, 3), "depressed", "dig",
             "dive", "dribble", "fall", "fire", *_numbered("flee", 1, 2), "flip", "fold_arms", "football_catch",
             "football_save", "football_pass", "freaky", "frightened", *_numbered("front_kick", 1, 2),
             *_numbered("frustrated", 1, 2), "golf", *_numbered("greet", 1, 4), "heart_pose",
             *_numbered("hit_to_body", 1, 2), "hit_to_head", "hit_to_side", "hit_to_stomach", "hug", "hurt", "idle",
             "jump_down", "jump", *_numbered("jump_rope", 1, 2), *_numbered("laugh", 1, 2), "lift_heavy",
             "look_around", *_numbered("make_a_call", 1, 2), "pitch_baseball", "play_mobile_game",
             "play_video_game", "press-up", "run_upstairs", "run", *_numbered("scared", 1, 2), "scratch", "shoot",
             "shovel", *_numbered("sing", 1, 4), "sit", "slash", "sob", "standing_relax", "surf", "swagger", "swim",
             "turn", "victory_celebration", "volleyball", "wait", "walk", "warm_up", *_numbered("wave_goodbye", 1, 2))
V10_PRESETS = tuple(f"preset:biped:{n}" for n in V10_BIPED)
SEGMENT_MODELS = ("v1.0-20250506", "v2.0-20260430")
SEGMENT_GRANULARITY = ("simple", "balanced", "detailed")
COMPLETION_MODES = ("ai_completion", "quick_cap")
DECIMATE_MODELS = ("v1.0", "v2.0", "v3.0")
SMART_SEG_TYPES = ("image", "model")
SMART_SEG_GRANULARITY = ("coarse", "medium", "fine")
# Sources v3 takes beyond v2's chain table: texture and convert work on segmented, completed and decimated models
# too (§18 R7, R9: a smartsegment's seg_task_id goes on to complete / decimate / texture / convert).
V3_EXTRA_SOURCES = {"texture_model": {"mesh_segmentation", "mesh_completion", "highpoly_to_lowpoly"},
                    "convert_model": {"mesh_segmentation", "mesh_completion"}}
CONVERT_FORMATS = ("GLTF", "GLB", "USDZ", "FBX", "OBJ", "STL", "3MF")
DEPTH_KINDS = ("gray", "color")
UPLOAD_FORMATS = ("jpeg", "jpg", "png", "webp", "glb", "gltf", "fbx", "obj", "stl")
MAX_UPLOAD = 50 * 1024 * 1024
MAX_TASK_IDS = 100

# Concurrency pools (§13), per account; names are catalog.GROUP_LIMITS keys.
_POOLS = {
    "text_to_image": "v3_image", "generate_image": "v3_image", "generate_multiview_image": "v3_image",
    "edit_multiview_image": "v3_image",
    "texture_model": "v3_processing", "convert_model": "v3_processing", "import_model": "v3_processing",
    "animate_prerigcheck": "v3_animation", "animate_rig": "v3_animation", "animate_retarget": "v3_animation",
    "mesh_segmentation": "v3_mesh", "mesh_completion": "v3_mesh", "highpoly_to_lowpoly": "v3_mesh",
    "mesh_uv": "v3_mesh", "smart_segment": "v3_mesh", "image_to_splat": "v3_generation", "image_to_depth": "v3_other",
}


def pool(task_type: str, model: str | None) -> str:
    """The v3 concurrency pool of a task."""
    if task_type in ("text_to_model", "image_to_model", "multiview_to_model"):
        return "v3_p_series" if MODELS.get(model or "") in ("P1", "P2") else "v3_generation"
    return _POOLS.get(task_type, "v3_other")
