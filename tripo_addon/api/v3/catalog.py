"""The v3 task catalogue (tripo-api-v3.md §6): the task types Tripo's live API offers, with its model versions.

v3 keeps 14 of v2's 16 task types (refine and stylize are retired) and adds four views from one image and their
editing, splats, depth images and Smart UV. Where a parameter means the same as in v2 its spec is v2's, adjusted
here; only the differences are spelled out.
"""

from __future__ import annotations

from dataclasses import replace

from ..params import MAX_PROMPT, Param, TaskType
from ..v2 import catalog as v2

DEFAULT_MODEL_VERSION = "v2.5-20250123"   # what Tripo's SDK sends when the caller does not choose
#: 3D generation model versions and their family (§6.1). P2 is a preview.
MODEL_VERSIONS: dict[str, str] = {
    "v3.1-20260211": "H3",
    "v3.0-20250812": "H3",
    "v2.5-20250123": "H2",
    "P1-20260311": "P1",
    "P2-20260801": "P2",
}
RETIRED_MODEL_VERSIONS = ("Turbo-v1.0-20250506", "v2.0-20240919", "v1.4-20240625", "v1.3-20240522")
P_SERIES = ("P1", "P2")
#: Options P-series models must not receive at all (even false): §6.1.
P_FORBIDDEN = ("smart_low_poly", "generate_parts", "geometry_quality")
#: Version-gated options (tripo-api-v3.md §18 R4, Medium-high): they need model v3.0-20250812 or newer; v2.5 takes
#: none of them; P1 takes only texture_quality, auto_size and compress (P2, a preview, takes what P1 takes, and quad).
GATED = ("texture_quality", "geometry_quality", "auto_size", "quad", "smart_low_poly", "generate_parts", "compress")
GATED_FAMILIES: dict[str, tuple[str, ...]] = {
    "texture_quality": ("H3", "P1", "P2"), "geometry_quality": ("H3",), "auto_size": ("H3", "P1", "P2"),
    "quad": ("H3", "P2"), "smart_low_poly": ("H3",), "generate_parts": ("H3",), "compress": ("H3", "P1", "P2"),
}
TEXTURE_VERSIONS = ("v3.0-20250812", "v3.5-20260815", "v2.5-20250123")
TEXTURE_V35 = "v3.5-20260815"
TEXT_IMAGE_MODELS = ("seedream_v4", "seedream_v5", "banana", "banana_pro", "banana2", "chat_image_2",
                     "chat_image_2.5_flare", "chat_image_2.5_sunburst")
EDIT_IMAGE_MODELS = tuple(m for m in TEXT_IMAGE_MODELS if m != "seedream_v4")
#: Most reference images per image model family (§6.5).
IMAGE_INPUT_CAP = {"seedream": 4, "banana": 10, "chat_image": 16}
TEXT_IMAGE_TEMPLATES = ("t_pose", "character_completion", "asset_extraction", "variants", "figure")
EDIT_IMAGE_TEMPLATES = ("t_pose", "character_completion", "3d_enhance", "variants", "figure")
SEGMENT_VERSIONS = ("v1.0-20250506", "v2.0-20260430")
SEGMENT_V2 = "v2.0-20260430"
DECIMATE_VERSIONS = ("v2.0", "v1.0", "v3.0")
#: v2 low-poly version names Tripo's SDK rewrites to v3 ones.
LEGACY_DECIMATE = {"P-v1.0-20250506": "v1.0", "P-v2.0-20251225": "v2.0", "P-v2.0-20251226": "v2.0",
                   "P-v3.0-20260909": "v3.0"}
RIG_VERSIONS = ("v1.0-20240301", "v2.5-20260210", "v3.0-20260909")
#: Retired rig versions and what Tripo's SDK sends instead (with a warning).
LEGACY_RIG = {"v2.0-20250506": "v2.5-20260210"}
RIG_SPECS = ("tripo", "mixamo", "actorcore", "unity", "unreal", "vrm")
ENGINE_SPECS = ("unity", "unreal", "vrm")   # need rig v2.5 or v3.0
CONVERT_FORMATS = ("GLTF", "USDZ", "FBX", "OBJ", "STL", "3MF")


def _numbered(name: str, lo: int, hi: int) -> tuple[str, ...]:
    return tuple(f"{name}_{i:02d}" for i in range(lo, hi + 1))


#: Clips a v1.0 rig takes, named ``preset:biped:<name>`` (tripo-api.md §5 from developers.tripo3d.ai; §17 [SKILL],
#: [NOTES-A]; §18 R12 [COMFY2] agrees); v2.5 / v3.0 rigs take the plain ``preset:<name>``.
V10_BIPED = frozenset((
    "afraid", "agree", *_numbered("angry", 1, 3), "basketball_shot", "bow", *_numbered("box", 1, 3), "cast_a_spell",
    "cheer", "chop", "clap", "climb", *_numbered("complain", 1, 2), "cross_body_crunch", "crossover_dribble", "cry",
    *_numbered("dance", 1, 6), *_numbered("defeat", 2, 3), "depressed", "dig", "dive", "dribble", "fall", "fire",
    *_numbered("flee", 1, 2), "flip", "fold_arms", "football_catch", "football_save", "football_pass", "freaky",
    "frightened", *_numbered("front_kick", 1, 2), *_numbered("frustrated", 1, 2), "golf", *_numbered("greet", 1, 4),
    "heart_pose", *_numbered("hit_to_body", 1, 2), "hit_to_head", "hit_to_side", "hit_to_stomach", "hug", "hurt",
    "idle", "jump_down", "jump", *_numbered("jump_rope", 1, 2), *_numbered("laugh", 1, 2), "lift_heavy",
    "look_around", *_numbered("make_a_call", 1, 2), "pitch_baseball", "play_mobile_game", "play_video_game",
    "press-up", "run_upstairs", "run", *_numbered("scared", 1, 2), "scratch", "shoot", "shovel",
    *_numbered("sing", 1, 4), "sit", "slash", "sob", "standing_relax", "surf", "swagger", "swim", "turn",
    "victory_celebration", "volleyball", "wait", "walk", "warm_up", *_numbered("wave_goodbye", 1, 2)))
RETIRED = {
    "refine_model": "Refine Model is no longer offered: Tripo retired it in API v3 (nothing was sent). Generate "
    "with a current model version instead; they need no refining.",
    "stylize_model": "Stylize Model is no longer offered: Tripo retired it in API v3 (nothing was sent). Remove the "
    "step, or use Smart Low Poly / Convert for a game-ready version.",
}
GENERATION = v2.GENERATION
IMAGE_TYPES = frozenset({"text_to_image", "generate_image", "generate_multiview_image", "edit_multiview_image"})
MULTIVIEW_TYPES = frozenset({"generate_multiview_image", "edit_multiview_image"})
MODEL_TASKS = (v2.MODEL_TASKS - {"refine_model", "stylize_model"}) | {"mesh_uv"}
RIGGED_TASKS = v2.RIGGED_TASKS


def model_family(version: str | None) -> str:
    """"H3" | "H2" | "P1" | "P2" for a v3 generation model version (None: the default)."""
    v = version or DEFAULT_MODEL_VERSION
    if v in MODEL_VERSIONS:
        return MODEL_VERSIONS[v]
    low = v.lower()
    for prefix, fam in (("p2", "P2"), ("p1", "P1"), ("v3", "H3")):
        if low.startswith(prefix):
            return fam
    return "H2"


def _P(name: str, kind: str, doc: str, **kw) -> Param:
    return Param(name, kind, doc=doc, **kw)


_ALL = ("H3", "H2", "P1", "P2")
_GATED_DOC = {
    "geometry_quality": "Geometry quality: detailed = Ultra (+20 credits).",
    "smart_low_poly": "Hand-made style low-poly topology (+10 credits).",
    "generate_parts": "Split into parts (+20 credits); needs texture, pbr and quad off.",
}
_H = ("H3", "H2")


def _generation(tt: TaskType) -> TaskType:
    """A v2 generation spec with the v3 catalogue: model required, P-series rules, texture v3.5."""
    out: list[Param] = []
    for p in tt.params:
        if p.name in ("style", "mode"):
            continue                                  # v1.4-only options: gone with v1.4
        if p.name == "model_version":
            p = replace(p, doc="Model version: v3.1 / v3.0 (best detail), v2.5 (Tripo's default), P1 / P2 "
                        "(clean low-poly topology; P2 is a preview).", choices=tuple(MODEL_VERSIONS),
                        default=DEFAULT_MODEL_VERSION, always=True, retired=RETIRED_MODEL_VERSIONS)
        elif p.name == "quad":
            p = replace(p, doc="Quad mesh (FBX output; +5 credits). Needs model v3.0 or newer (not v2.5 or P1).",
                        families=GATED_FAMILIES["quad"])
        elif p.name in ("smart_low_poly", "generate_parts", "geometry_quality"):
            p = replace(p, doc=_GATED_DOC[p.name] + " Needs model v3.0 or newer (not v2.5 or the P-series).",
                        families=GATED_FAMILIES[p.name])
        elif p.name == "texture_quality":
            p = replace(p, doc="Texture quality: detailed (HD, +10 credits) or extreme (8K, +20) give sharper "
                        "textures; fast needs texture v3.5. Not with model v2.5.",
                        choices=("standard", "detailed", "extreme", "fast"), families=GATED_FAMILIES[p.name])
        elif p.name in ("auto_size", "compress"):
            p = replace(p, doc=p.doc.rstrip(".") + ". Not with model v2.5.", families=GATED_FAMILIES[p.name])
        elif p.name == "face_limit":
            p = replace(p, doc="Maximum face count (unset: adaptive). H3 up to 1.5M (2M detailed), v2.5 500k, "
                        "P1 48-20,000, P2 48-50,000 (quad 25,000).", families=_ALL)
        elif p.families:  # v2's Turbo and v1 families are gone; P2 takes what P1 takes
            fams = [f for f in p.families if f not in ("Turbo", "v1")]
            p = replace(p, families=tuple(dict.fromkeys(fams + (["P2"] if "P1" in fams or "Turbo" in p.families
                                                                   else []))))
        out.append(p)
        if p.name == "texture_seed":
            out.append(_P("texture_version", "enum", "Texturing model: v3.0 (default), v3.5 (newest; allows "
                          "de-lighting) or v2.5.", choices=TEXTURE_VERSIONS, default=None))
            out.append(_P("delight", "bool", "Remove baked-in lighting from the texture (texture v3.5 only).",
                          default=True))
    out.append(_P("export_orientation", "enum", "Which axis the model faces (+x by default).", default="+x",
                  choices=("+x", "-x", "+y", "-y")))
    return replace(tt, params=tuple(out))


def _version(tt: TaskType, versions: tuple[str, ...], default: str | None, doc: str, *,
             retired: tuple[str, ...] = ()) -> TaskType:
    params = tuple(replace(p, choices=versions, default=default, doc=doc, retired=retired)
                   if p.name == "model_version" else p for p in tt.params)
    return replace(tt, params=params)


def _drop(tt: TaskType, *names: str) -> TaskType:
    return replace(tt, params=tuple(p for p in tt.params if p.name not in names))


def _add(tt: TaskType, *params: Param) -> TaskType:
    pri = [p for p in tt.params if p.name == "priority"]
    return replace(tt, params=tuple(p for p in tt.params if p.name != "priority") + params + tuple(pri))


def _sources(tt: TaskType, sources: frozenset[str]) -> TaskType:
    return replace(tt, sources=sources)


_T = v2.TASK_TYPES


def _decimate() -> TaskType:
    params: list[Param] = []
    for p in _T["highpoly_to_lowpoly"].params:
        if p.name == "model_version":
            p = replace(p, choices=DECIMATE_VERSIONS, default="v2.0", doc="Decimation: v2.0 (default), v1.0 (up to "
                        "2M faces) or v3.0 (can unwrap UVs too).")
        elif p.name == "quad":
            p = replace(p, always=False, doc="Quad faces (FBX output; face_limit up to 10,000).")
        elif p.name == "face_limit":
            p = replace(p, max=2_000_000, doc="Target face count: 500-20,000 (quad 500-10,000; v1.0 up to 2M).")
        params.append(p)
    tt = replace(_T["highpoly_to_lowpoly"], label="Decimate (Smart Low Poly)", params=tuple(params))
    return _add(tt, _P("smart_uv", "bool", "Unwrap new UVs while decimating (v3.0 only).", default=False))

_SRC = _P("original_model_task_id", "task_id", "Id of the successful task whose model is used.", required=True)
_IMAGE = _P("file", "file", "The image (PNG, JPEG or WEBP, at least 256 px, up to 20 MB).", required=True)

_TYPES: list[TaskType] = [
    replace(_T["text_to_image"], params=(
        _P("prompt", "str", "What the image shows (up to 1024 characters, no emoji). Optional with a template.",
           max_len=MAX_PROMPT),
        _T["text_to_image"].params[1],
        _P("model_version", "enum", "Image model.", default="seedream_v4", choices=TEXT_IMAGE_MODELS),
        _P("template", "enum", "A preset template (t_pose, character_completion, ...).",
           choices=TEXT_IMAGE_TEMPLATES),
        v2.PRIORITY)),
    replace(_T["generate_image"], label="Image to Image", description="Generate an image from a prompt and up to "
            "16 reference images (image[1], image[2]... in the prompt), or apply a template.", params=(
                _P("prompt", "str", "What the image shows; image[N] refers to the N-th reference image. Optional "
                   "with a template.", max_len=MAX_PROMPT),
                _P("model_version", "enum", "Image model (seedream up to 4 references, banana 10, chat_image 16).",
                   default="seedream_v5", choices=EDIT_IMAGE_MODELS),
                _P("file", "file", "One reference image."),
                _P("files", "files", "Reference images.", max_items=16),
                _P("template", "enum", "A preset template.", choices=EDIT_IMAGE_TEMPLATES),
                _P("t_pose", "bool", "Put the character in a T-pose.", default=False),
                _P("sketch_to_render", "bool", "Render a sketch as a finished image.", default=False),
                v2.PRIORITY)),
    _generation(_T["text_to_model"]),
    _generation(_T["image_to_model"]),
    _generation(replace(_T["multiview_to_model"], params=tuple(
        replace(p, doc="Instead of files: a successful Four Views task (image to multiview or its edit).")
        if p.name == "original_task_id" else p for p in _T["multiview_to_model"].params))),
    _add(_version(_T["texture_model"], TEXTURE_VERSIONS, "v3.0-20250812",
                  "Texturing model: v3.0 (default), v3.5 (newest; allows de-lighting) or v2.5."),
         _P("delight", "bool", "Remove baked-in lighting (v3.5 only).", default=True)),
    replace(_T["import_model"], params=(
        _P("file", "file", "The model (GLB, OBJ, FBX or STL, under 150 MB), uploaded.", required=True),
        v2.PRIORITY)),
    _add(_version(_T["mesh_segmentation"], SEGMENT_VERSIONS, "v1.0-20250506",
                  "Segmentation: v1.0 (geometry) or v2.0 (semantic parts, beta)."),
         _P("segmentation_granularity", "enum", "How finely v2.0 splits (v2.0 only).",
            choices=("simple", "balanced", "detailed")),
         _P("split_by_connectivity", "bool", "Also split disconnected pieces (v2.0 only).", default=False)),
    _add(_version(_T["mesh_completion"], SEGMENT_VERSIONS[:1], "v1.0-20250506", "Completion model version."),
         _P("completion_mode", "enum", "ai_completion rebuilds hidden geometry; quick_cap only closes holes.",
            default="ai_completion", choices=("ai_completion", "quick_cap"))),
    _decimate(),
    _drop(_T["animate_prerigcheck"], "model_version"),
    replace(_T["animate_rig"], params=tuple(
        replace(p, choices=RIG_VERSIONS, doc="Rigging: v1.0 (bipeds, 90+ clips), v2.5 (every body type) or v3.0.",
                retired=tuple(LEGACY_RIG)) if p.name == "model_version"
        else replace(p, choices=RIG_SPECS, doc="Skeleton naming: tripo, mixamo, actorcore; unity, unreal and vrm "
                     "need rig v2.5 or v3.0.") if p.name == "spec" else p
        for p in _T["animate_rig"].params)),
    _drop(_T["animate_retarget"], "bake_animation"),
    replace(_T["convert_model"], params=tuple(
        replace(p, disputed=False, default=True) if p.name in ("with_animation", "bake") else p
        for p in _T["convert_model"].params)),
    TaskType("generate_multiview_image", "Four Views", "Turn one image into front, left, back and right views "
             "(image tasks run one at a time per account).",
             (replace(_IMAGE, doc="The image to turn into four views."), v2.PRIORITY),
             None, frozenset(), ("front_view", "left_view", "back_view", "right_view"), False),
    TaskType("edit_multiview_image", "Edit Views", "Change some of the four views with a prompt per view.",
             (_P("original_task_id", "task_id", "The Four Views task (or an earlier edit) to change.",
                 required=True),
              _P("prompts", "view_prompts", "A prompt per view to change: {front|left|back|right: text}.",
                 required=True),
              v2.PRIORITY),
             "original_task_id", MULTIVIEW_TYPES, ("front_view", "left_view", "back_view", "right_view"), False),
    TaskType("image_to_splat", "Image to Splat", "Make a Gaussian splat from one image (about 30 credits).",
             (_IMAGE, _P("model_seed", "int", "Seed."), v2.PRIORITY),
             None, frozenset(), ("splat",), False),
    TaskType("image_to_depth", "Image to Depth", "Estimate a depth image from one image.",
             (_IMAGE,
              _P("kind", "enum", "gray (default) or color depth image.", default="gray", choices=("gray", "color")),
              _P("process_res", "int", "Processing resolution (126-2016; default 504).", default=504, min=126,
                 max=2016),
              v2.PRIORITY),
             None, frozenset(), ("depth_image",), False),
    TaskType("smart_segment", "Smart Segment", "Split a model (or the object in an image) into parts guided by a "
             "hint; the parts come back named, with a mask (about 55 credits for a model, 85 for an image).",
             (_P("seg_type", "enum", "model: segment a 3D model (given as a GLB URL and its transform); image: "
                 "segment the object in an image (an uploaded file).", required=True, choices=("model", "image")),
              _P("file", "file", "The model's GLB (a URL; a local GLB is uploaded) or the image.", required=True),
              _P("transform", "floats", "The model's 4x4 transform, 16 numbers column-major (identity by default).",
                 max_items=16),
              _P("granularity", "enum", "How finely to split: coarse, medium or fine.",
                 choices=("coarse", "medium", "fine")),
              _P("hint", "str", "What the parts are, in words (e.g. 'head, body, legs').", max_len=MAX_PROMPT),
              v2.PRIORITY),
             None, frozenset(), ("model", "mask", "seg_task_id", "parts_prompt"), True),
    TaskType("mesh_uv", "Smart UV", "Unwrap clean UVs for a model (the UV layout render comes back too).",
             (_SRC, _P("export_orientation", "enum", "Which axis the model faces.", default="+x",
                       choices=("+x", "-x", "+y", "-y")), v2.PRIORITY),
             "original_model_task_id", MODEL_TASKS, ("model", "uv_render"), True),
]

#: The task types v3 offers, by name.
TASK_TYPES: dict[str, TaskType] = {t.name: t for t in _TYPES}
ALIASES = {**v2.ALIASES, "model": "model_version", "input": "file", "inputs": "files"}
#: Old values Tripo's SDK rewrites rather than refuses: {(task type, parameter): {old: new}}.
REWRITES: dict[tuple[str, str], dict[str, str]] = {
    ("animate_rig", "model_version"): LEGACY_RIG,
    ("highpoly_to_lowpoly", "model_version"): LEGACY_DECIMATE,
}
