"""The 16 Tripo task types: parameter specs, local validation, chain rules (§6), outputs (§3) and prices (§7).

:data:`TASK_TYPES` drives the UI (labels, descriptions, every documented parameter with its kind, default, choices
and range) and :func:`build_request` turns parameters into a validated v2 ``POST /task`` body: values equal to the
documented default are left out (the server applies it, like the official SDK) unless the sources disagree on that
default (then whatever the caller set is sent), options the chosen model version
does not take are refused with a sentence naming the parameter and what to do, and nothing is sent when anything is
wrong. One typed builder per task type (``text_to_model(prompt, *, ...)``) wraps it.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

from .errors import TripoValidationError

# ============================================================================================== specs


@dataclass(frozen=True)
class Param:
    """One request parameter.

    ``kind``: "str" "int" "float" "bool" "enum" "file" "files" "task_id" "str_list" "enum_list" "texture_prompt".
    ``default`` is the documented server default (None: the server decides); a value equal to it is not sent.
    ``disputed``: the sources disagree on the server default (tripo-api.md §12), so for omission it counts as "the
    server decides": any value the caller sets is sent. ``default`` then holds the likely default (for display).
    ``always``: sent even when unset (as ``default``), for parameters OD lists as required.
    ``min_exclusive``: the value must be greater than ``min`` (not equal).
    ``families``: the model-version families (H3, H2, Turbo, P1, v1) the option applies to; empty = all.
    ``max_items``: longest list for list kinds.
    """

    name: str
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_len: int | None = None
    doc: str = ""
    families: tuple[str, ...] = ()
    max_items: int | None = None
    disputed: bool = False
    always: bool = False
    min_exclusive: bool = False


@dataclass(frozen=True)
class TaskType:
    """A task type: its parameters, where its source task goes, what it accepts as a source and what it returns."""

    name: str
    label: str
    description: str
    params: tuple[Param, ...]
    source_field: str | None           # "original_model_task_id" | "draft_model_task_id" | None
    sources: frozenset[str]            # accepted source task types (empty: no source)
    outputs: tuple[str, ...]           # output keys on success
    model_output: bool                 # has a model URL (False for images and prerigcheck)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)


# ---------------------------------------------------------------------------------------------- catalogue
DEFAULT_MODEL_VERSION = "v2.5-20250123"
#: 3D generation model versions and their family (tripo-api.md §5.1).
MODEL_VERSIONS: dict[str, str] = {
    "v3.1-20260211": "H3",
    "v3.0-20250812": "H3",
    "v2.5-20250123": "H2",
    "v2.0-20240919": "H2",
    "P1-20260311": "P1",
    "Turbo-v1.0-20250506": "Turbo",
    "v1.4-20240625": "v1",
}
DEPRECATED_MODEL_VERSIONS = ("v1.3-20240522",)
MULTIVIEW_MODEL_VERSIONS = tuple(v for v, f in MODEL_VERSIONS.items() if f in ("H3", "H2", "P1"))
UPSCALE_ONLY_VERSION = "v3.0-20250812"  # texture_quality detailed/extreme without texture and pbr

IMAGE_MODELS_5 = ("flux.1_kontext_pro", "flux.1_dev", "gpt_4o", "gemini_2.5_flash_image_preview", "z_image",
                  "seedream_v4", "seedream_v5")
IMAGE_MODELS_10 = ("gpt_image_1.5", "gpt_image_2", "midjourney", "gemini_3_pro_image_preview",
                   "gemini_3.1_flash_image_preview")
IMAGE_MODELS_NO_INPUT = ("midjourney", "z_image")  # flux.1_dev is silently upgraded when given an image

TEXTURE_MODEL_VERSIONS = ("v2.5-20250123", "v3.0-20250812", "v2.0-20240919")
SEGMENTATION_VERSIONS = ("v1.0-20250506",)
LOWPOLY_VERSIONS = ("P-v2.0-20251225", "P-v1.0-20250506")
PRERIG_VERSIONS = ("v1.0-20240301", "v2.0-20250506")
RIG_VERSIONS = ("v1.0-20240301", "v2.5-20260210", "v2.0-20250506")
RIG_TYPES = ("biped", "quadruped", "hexapod", "octopod", "avian", "serpentine", "aquatic", "others")
RIG_SPECS = ("tripo", "mixamo")
ANIMATIONS = (
    "preset:idle", "preset:walk", "preset:run", "preset:dive", "preset:climb", "preset:jump", "preset:slash",
    "preset:shoot", "preset:hurt", "preset:fall", "preset:turn", "preset:quadruped:walk", "preset:hexapod:walk",
    "preset:octopod:walk", "preset:serpentine:march", "preset:aquatic:march",
)
MAX_ANIMATIONS = 5
STYLIZE_STYLES = ("lego", "voxel", "voronoi", "minecraft")
LEGACY_STYLES = ("person:person2cartoon", "animal:venom", "object:clay", "object:steampunk", "object:christmas",
                 "object:barbie", "gold", "ancient_bronze")
CONVERT_FORMATS = ("GLTF", "USDZ", "FBX", "OBJ", "STL", "3MF")
NO_RIG_FORMATS = ("OBJ", "STL", "3MF")
TEXTURE_FORMATS = ("BMP", "DPX", "HDR", "JPEG", "OPEN_EXR", "PNG", "TARGA", "TIFF", "WEBP")
MESH_TYPES = ("glb", "obj", "fbx", "stl")
VIEWS = ("front", "left", "back", "right")
MAX_PROMPT, MAX_NEGATIVE = 1024, 255
#: Whole-number parameters are 32-bit (seeds take any int in this range, negatives included: tripo-api.md §5.2).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

GENERATION = frozenset({"text_to_model", "image_to_model", "multiview_to_model"})
IMAGE_TYPES = frozenset({"text_to_image", "generate_image"})
#: Task types whose result is a model (what prerigcheck / rig accept).
MODEL_TASKS = GENERATION | {"refine_model", "texture_model", "import_model", "mesh_segmentation", "mesh_completion",
                            "highpoly_to_lowpoly", "animate_rig", "animate_retarget", "stylize_model",
                            "convert_model"}
RIGGED_TASKS = frozenset({"animate_rig", "animate_retarget"})
#: Targets that refuse sources generated with a v1.x model version (Turbo or >= v2.0 only): texture_model and
#: mesh_segmentation (tripo-api.md §5.3.7, §5.3.9), prerigcheck and rig (§6). highpoly_to_lowpoly has no such rule.
NEEDS_V2_SOURCE = frozenset({"texture_model", "mesh_segmentation", "animate_prerigcheck", "animate_rig"})

_ALIASES = {"model": "model_version", "rough_model_task_id": "draft_model_task_id", "text_seed": "image_seed"}


def model_family(version: str | None) -> str:
    """"H3" | "H2" | "Turbo" | "P1" | "v1" for a 3D generation model version (None: the server default, H2)."""
    if not version or version == "default":
        return MODEL_VERSIONS[DEFAULT_MODEL_VERSION]
    if version in MODEL_VERSIONS:
        return MODEL_VERSIONS[version]
    v = version.lower()
    if v.startswith("p1"):
        return "P1"
    if v.startswith("turbo"):
        return "Turbo"
    if v.startswith("v3"):
        return "H3"
    if v.startswith("v2"):
        return "H2"
    if v.startswith("v1"):
        return "v1"
    return "H2"


# ---------------------------------------------------------------------------------------------- param helpers
def _P(name: str, kind: str, doc: str, **kw: Any) -> Param:
    return Param(name, kind, doc=doc, **kw)


_ORIG = _P("original_model_task_id", "task_id", "Id of the successful task whose model is used.", required=True)


_NOT_V1 = ("H3", "H2", "Turbo", "P1")


def _generation_params(task_type: str) -> tuple[Param, ...]:
    versions = MULTIVIEW_MODEL_VERSIONS if task_type == "multiview_to_model" else tuple(MODEL_VERSIONS)
    not_v1 = _NOT_V1
    out = [
        _P("model_version", "enum", "Model version: H3 (v3.x, best), H2 (v2.x), P1 (low-poly), Turbo (fast), "
           "v1.4 (legacy).", default=DEFAULT_MODEL_VERSION, choices=versions),
        _P("model_seed", "int", "Seed for the geometry (same seed, same shape on v2.0+ and Turbo; any 32-bit "
           "integer)."),
        _P("texture", "bool", "Make a textured model (off: base mesh only, 10 credits less).", default=True,
           families=not_v1),
        _P("pbr", "bool", "Make PBR materials (forces texture on).", default=True, families=not_v1),
        _P("texture_seed", "int", "Seed for the texture (same model_seed, new texture_seed: new textures).",
           families=not_v1),
        _P("texture_quality", "enum", "Texture quality: detailed (+10 credits) or extreme (+20) give sharper "
           "textures.", default="standard", choices=("standard", "detailed", "extreme"), families=not_v1),
        _P("geometry_quality", "enum", "Geometry quality (v3.x only): detailed = Ultra (+20 credits).",
           default="standard", choices=("standard", "detailed"), families=("H3",)),
        _P("face_limit", "int", "Maximum face count (unset: adaptive). H3 up to 1.5M (2M detailed), H2 500k, "
           "Turbo 50k, P1 48-20,000, smart low poly 1,000-20,000 (quad 500-10,000).", min=1, max=2_000_000,
           families=not_v1),
        _P("quad", "bool", "Quad mesh (FBX output, face_limit defaults to 10,000; +5 credits). Not with P1.",
           default=False, families=("H3", "H2", "Turbo")),
        _P("smart_low_poly", "bool", "Hand-made style low-poly topology (+10 credits; H2/H3 only).", default=False,
           families=("H3", "H2")),
        _P("generate_parts", "bool", "Split into parts (+20 credits); needs texture, pbr and quad off. Not with P1.",
           default=False, families=("H3", "H2", "Turbo")),
        _P("auto_size", "bool", "Scale the model to real-world size in metres (textured models).", default=False,
           families=not_v1),
        _P("compress", "enum", "Compress the geometry (meshopt).", choices=("geometry",), families=not_v1),
        _P("export_uv", "bool", "Unwrap UVs now (off: faster; UVs are made when texturing).", default=True,
           families=not_v1),
    ]
    return tuple(out)


_IMAGE_OPTIONS = (
    _P("enable_image_autofix", "bool", "Clean up the input image first (slower).", default=False),
    _P("texture_alignment", "enum", "Align the texture to the original image or to the geometry.",
       default="original_image", choices=("original_image", "geometry"), families=("H3", "H2", "P1")),
    _P("orientation", "enum", "align_image rotates the model to match the image (textured models only).",
       default="default", choices=("default", "align_image"), families=("H3", "H2", "Turbo", "P1")),
)
_STYLE = _P("style", "enum", "Legacy style preset (older model versions).", choices=LEGACY_STYLES,
            families=("H3", "H2", "Turbo", "v1"))

_TT: list[TaskType] = [
    TaskType(
        "text_to_image", "Text to Image", "Generate an image from a text prompt (5 credits).",
        (
            _P("prompt", "str", "What the image shows (up to 1024 characters, no emoji).", required=True,
               max_len=MAX_PROMPT),
            _P("negative_prompt", "str", "What the image should not show (up to 255 characters).",
               max_len=MAX_NEGATIVE),
        ),
        None, frozenset(), ("generated_image",), False,
    ),
    TaskType(
        "generate_image", "Generate Image", "Advanced image generation from a prompt and reference images "
        "(5 or 10 credits by model).",
        (
            _P("prompt", "str", "What the image shows; image[N] refers to the N-th reference image. Optional with a "
               "template and an image.", required=False, max_len=MAX_PROMPT),
            _P("model_version", "enum", "Image model.", default="flux.1_kontext_pro",
               choices=IMAGE_MODELS_5 + IMAGE_MODELS_10),
            _P("file", "file", "One reference image."),
            _P("files", "files", "Reference images (up to 4 for flux, 10 for the others).", max_items=10),
            _P("template", "str", "Preset style template slug (e.g. t-pose, 3d-enhance).", max_len=128),
            _P("t_pose", "bool", "Put the character in a T-pose.", default=False),
            _P("sketch_to_render", "bool", "Render a sketch as a finished image.", default=False),
        ),
        None, frozenset(), ("generated_image",), False,
    ),
    TaskType(
        "text_to_model", "Text to Model", "Generate a 3D model from a text prompt.",
        (
            _P("prompt", "str", "What to generate (up to 1024 characters, no emoji).", required=True,
               max_len=MAX_PROMPT),
            _P("negative_prompt", "str", "What to avoid (up to 255 characters). Not with v1.4.", max_len=MAX_NEGATIVE,
               families=_NOT_V1),
            _P("image_seed", "int", "Seed for the intermediate image. Not with v1.4.", families=_NOT_V1),
            *_generation_params("text_to_model"),
            _STYLE,
        ),
        None, frozenset(), ("model", "base_model", "pbr_model", "rendered_image"), True,
    ),
    TaskType(
        "image_to_model", "Image to Model", "Generate a 3D model from one image.",
        (
            _P("file", "file", "The image (PNG, JPEG or WEBP, 20-6000 px per side, up to 20 MB).", required=True),
            *_IMAGE_OPTIONS,
            *_generation_params("image_to_model"),
            _STYLE,
        ),
        None, frozenset(), ("model", "base_model", "pbr_model", "rendered_image"), True,
    ),
    TaskType(
        "multiview_to_model", "Multiview to Model", "Generate a 3D model from up to four views "
        "[front, left, back, right].",
        (
            _P("files", "files", "Exactly 4 slots [front, left, back, right]; {} or None for a missing view; front "
               "required, at least 2 images.", max_items=4),
            _P("original_task_id", "task_id", "Instead of files: a successful generate_multiview_image task."),
            *_IMAGE_OPTIONS,
            *_generation_params("multiview_to_model"),
            _P("mode", "enum", "Legacy (v1.4): which side view is given.", choices=("LEFT", "RIGHT")),
            _P("orthographic_projection", "bool", "Legacy (v1.4): the views are orthographic.", default=False),
        ),
        None, frozenset(), ("model", "base_model", "pbr_model", "rendered_image"), True,
    ),
    TaskType(
        "refine_model", "Refine Model", "Refine a draft model made with a model version before v2.0.",
        (_P("draft_model_task_id", "task_id", "Id of the successful draft task (model version < v2.0).",
            required=True),),
        "draft_model_task_id", GENERATION, ("model", "rendered_image"), True,
    ),
    TaskType(
        "texture_model", "Texture Model", "Texture or re-texture a model (10 credits + texture quality).",
        (
            _ORIG,
            _P("texture_prompt", "texture_prompt", "Guide the texture: one of text, image or images (4 views), "
               "plus an optional style_image."),
            _P("model_version", "enum", "Texturing model version.", default="v2.5-20250123",
               choices=TEXTURE_MODEL_VERSIONS),
            _P("texture", "bool", "Make the base texture.", default=True),
            _P("pbr", "bool", "Make PBR maps (with texture off: update only the PBR maps).", default=True),
            _P("texture_seed", "int", "Seed for the texture."),
            _P("texture_alignment", "enum", "Align the texture to the original image or to the geometry.",
               default="original_image", choices=("original_image", "geometry")),
            _P("texture_quality", "enum", "Texture quality (detailed +10 credits, extreme +20).", default="standard",
               choices=("standard", "detailed", "extreme")),
            _P("part_names", "str_list", "Only texture these parts (from segmentation); default all."),
            _P("compress", "enum", "Compress the geometry (meshopt).", choices=("geometry",)),
            _P("bake", "bool", "Bake normal and AO detail into the base textures.", default=True),
            _P("model_seed", "int", "Seed for the model."),
        ),
        "original_model_task_id", GENERATION | {"texture_model", "import_model"},
        ("model", "pbr_model", "rendered_image"), True,
    ),
    TaskType(
        "import_model", "Import Model", "Bring your own model (GLB, OBJ, FBX or STL, under 150 MB) into Tripo "
        "(free).",
        (_P("file", "file", "The model uploaded through STS ({object: {bucket, key}}).", required=True),),
        None, frozenset(), ("model", "rendered_image"), True,
    ),
    TaskType(
        "mesh_segmentation", "Segment Mesh", "Split a model into named parts (40 credits).",
        (_ORIG, _P("model_version", "enum", "Segmentation model version.", default="v1.0-20250506",
                   choices=SEGMENTATION_VERSIONS)),
        "original_model_task_id", GENERATION | {"texture_model", "import_model", "refine_model",
                                                "highpoly_to_lowpoly"},
        ("model", "rendered_image"), True,
    ),
    TaskType(
        "mesh_completion", "Complete Mesh", "Complete missing geometry of segmented parts (50 credits).",
        (
            _ORIG,
            _P("model_version", "enum", "Completion model version.", default="v1.0-20250506",
               choices=SEGMENTATION_VERSIONS),
            _P("part_names", "str_list", "Parts to complete (from segmentation); default all."),
        ),
        "original_model_task_id", frozenset({"mesh_segmentation"}), ("model", "rendered_image"), True,
    ),
    TaskType(
        "highpoly_to_lowpoly", "Smart Low Poly", "Make a clean low-poly version of a model (30 credits).",
        (
            _ORIG,
            _P("model_version", "enum", "Low-poly model version.", default="P-v2.0-20251225",
               choices=LOWPOLY_VERSIONS),
            _P("quad", "bool", "Quad faces (FBX output; face_limit up to 10,000). Always sent (OD lists it as "
               "required).", default=False, always=True),
            _P("face_limit", "int", "Target face count: 500-20,000 (quad: 500-10,000).", min=500, max=20_000),
            _P("part_names", "str_list", "Only these parts (from segmentation); default all."),
            _P("bake", "bool", "Bake the high-poly detail into the textures.", default=True),
        ),
        "original_model_task_id", GENERATION | {"texture_model", "refine_model", "import_model",
                                                "mesh_segmentation", "mesh_completion"},
        ("model", "rendered_image"), True,
    ),
    TaskType(
        "animate_prerigcheck", "Check Riggable", "Check whether a model can be rigged and which rig fits (free).",
        (_ORIG, _P("model_version", "enum", "Rig-check model version.", choices=PRERIG_VERSIONS)),
        "original_model_task_id", MODEL_TASKS, ("riggable", "rig_type"), False,
    ),
    TaskType(
        "animate_rig", "Rig Model", "Add a skeleton to a model (25 credits).",
        (
            _ORIG,
            _P("out_format", "enum", "File format of the rigged model.", default="glb", choices=("glb", "fbx")),
            _P("model_version", "enum", "Rigging model version (v2.5-20260210 recommended).",
               default="v1.0-20240301", choices=RIG_VERSIONS),
            _P("rig_type", "enum", "Skeleton type (animate_prerigcheck suggests one).", default="biped",
               choices=RIG_TYPES),
            _P("spec", "enum", "Skeleton naming: tripo (works with animations) or mixamo.", default="tripo",
               choices=RIG_SPECS),
        ),
        "original_model_task_id", MODEL_TASKS, ("model", "rendered_image"), True,
    ),
    TaskType(
        "animate_retarget", "Animate", "Apply preset animations to a rigged model (10 credits per animation).",
        (
            _P("original_model_task_id", "task_id", "Id of the successful animate_rig task.", required=True),
            _P("animation", "enum", "One animation preset.", choices=ANIMATIONS),
            _P("animations", "enum_list", "Up to 5 animation presets.", choices=ANIMATIONS,
               max_items=MAX_ANIMATIONS),
            _P("out_format", "enum", "File format.", default="glb", choices=("glb", "fbx")),
            _P("bake_animation", "bool", "Bake the animation (GLB only).", default=True),
            _P("export_with_geometry", "bool", "Include the mesh (off: skeleton and animation only). Default on "
               "per OD (the SDK assumes off), so a value you set is always sent.", default=True, disputed=True),
            _P("animate_in_place", "bool", "Keep the character in place (no root motion).", default=False),
        ),
        "original_model_task_id", RIGGED_TASKS - {"animate_retarget"}, ("model", "rendered_image"), True,
    ),
    TaskType(
        "stylize_model", "Stylize Model", "Rebuild a model as LEGO, voxels, Voronoi or Minecraft blocks.",
        (
            _ORIG,
            _P("style", "enum", "The style.", required=True, choices=STYLIZE_STYLES),
            _P("block_size", "int", "Block size for minecraft (32-128).", default=80, min=32, max=128),
        ),
        "original_model_task_id", GENERATION | {"texture_model", "refine_model", "import_model", "animate_rig",
                                                "animate_retarget"},
        ("model", "rendered_image"), True,
    ),
    TaskType(
        "convert_model", "Convert Model", "Convert a model to GLTF, USDZ, FBX, OBJ, STL or 3MF (5 credits, +5 with "
        "mesh or texture options).",
        (
            _ORIG,
            _P("format", "enum", "Target format (OBJ, STL and 3MF cannot hold a rig or animation).", required=True,
               choices=CONVERT_FORMATS),
            _P("quad", "bool", "Remesh to quads (GLTF and STL still store triangles).", default=False),
            _P("force_symmetry", "bool", "Symmetric quad remesh (with quad only).", default=False),
            _P("face_limit", "int", "Face count (quads with quad, else triangles).", default=10_000, min=1,
               max=2_000_000),
            _P("flatten_bottom", "bool", "Flatten the bottom of the model.", default=False),
            _P("flatten_bottom_threshold", "float", "How much of the bottom is flattened (with flatten_bottom).",
               default=0.01, min=0.0, max=1.0),
            _P("texture_size", "int", "Texture size in pixels (at most 4096; 2048 for pre-v2.0 models).", min=1,
               max=4096),
            _P("texture_format", "enum", "Texture image format (default JPEG, PNG for FBX).",
               choices=TEXTURE_FORMATS),
            _P("pivot_to_center_bottom", "bool", "Move the pivot to the bottom centre.", default=False),
            _P("scale_factor", "float", "Scale the model (greater than 0).", default=1.0, min=0.0,
               min_exclusive=True),
            _P("with_animation", "bool", "Keep the skeleton and animation. Default on per OD (the old schema says "
               "off), so a value you set is always sent.", default=True, disputed=True),
            _P("pack_uv", "bool", "One UV layout and one texture.", default=False),
            _P("bake", "bool", "Bake normal and AO detail into the base textures. Default on per OD (the old "
               "schema says off), so a value you set is always sent.", default=True, disputed=True),
            _P("part_names", "str_list", "Only these parts (from segmentation)."),
            _P("animate_in_place", "bool", "Keep the character in place (no root motion).", default=False),
            _P("export_vertex_colors", "bool", "Export vertex colours (OBJ and GLTF only).", default=False),
            _P("export_orientation", "enum", "Which axis the model faces.", default="+x",
               choices=("+x", "-x", "+y", "-y")),
            _P("fbx_preset", "enum", "FBX flavour (FBX only).", default="blender",
               choices=("blender", "3dsmax", "mixamo")),
        ),
        # highpoly_to_lowpoly is not in the chain table (tripo-api.md §6) but the skill's pipeline 7 converts the
        # low-poly result; we follow the documented pipeline (a server refusal would be a free 2006).
        "original_model_task_id", GENERATION | {"texture_model", "refine_model", "import_model", "highpoly_to_lowpoly",
                                                "animate_rig", "animate_retarget", "convert_model"},
        ("model", "rendered_image"), True,
    ),
]

#: Every task type takes an optional ``priority`` (tripo-api.md §5, X-MIG + the OD error table): 1-3, and only for
#: accounts entitled to it; others get 403/2013.
PRIORITY = _P("priority", "int", "Task priority 1-3; only for accounts entitled to it (others get error 2013).",
              min=1, max=3)
_TT = [replace(t, params=(*t.params, PRIORITY)) for t in _TT]

#: All 16 task types, in the skill's order.
TASK_TYPES: dict[str, TaskType] = {t.name: t for t in _TT}
#: Options convert_model charges +5 credits for when present in the body, whatever the value (§5.3.16).
CONVERT_ADVANCED = ("quad", "face_limit", "flatten_bottom", "flatten_bottom_threshold", "texture_size",
                    "texture_format", "pivot_to_center_bottom", "scale_factor")


# ============================================================================================== validation
def _fail(message: str, param: str | None = None) -> TripoValidationError:
    return TripoValidationError(message, param=param)


def _task_type(name: str) -> TaskType:
    tt = TASK_TYPES.get(name) if isinstance(name, str) else None
    if tt is None:
        hint = difflib.get_close_matches(str(name), list(TASK_TYPES), n=1)
        extra = f" Did you mean {hint[0]!r}?" if hint else ""
        raise _fail(f"Unknown task type {name!r}.{extra} Known types: {', '.join(TASK_TYPES)}.")
    return tt


_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x1F1E6, 0x1F1FF), (0xE0000, 0xE007F))


#: Bidirectional embedding, override and isolate controls: they make a prompt display differently from what is sent.
_BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))


def prompt_problem(text: str) -> str | None:
    """Why this text must not be sent (a NUL, emoji, control or bidi characters, only invisible characters), or None.

    The answer reads after the field name, e.g. "`prompt` contains a NUL character (...); remove it"."""
    for i, ch in enumerate(text):
        o = ord(ch)
        if o == 0:
            return (f"contains a NUL character (U+0000 at position {i + 1}); Blender would cut the text there and "
                    "send only the part before it. Remove it")
        if o in _BIDI_CONTROLS:
            return (f"contains a bidirectional control character (U+{o:04X} at position {i + 1}), which makes the "
                    "text display differently from what would be sent. Remove it")
        bad = any(lo <= o <= hi for lo, hi in _EMOJI_RANGES) or o in (0xFE0F, 0x200D, 0x20E3)
        bad = bad or 0xD800 <= o <= 0xDFFF or (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
        if bad:
            what = "an emoji" if unicodedata.category(ch) not in ("Cc", "Cs") else "a control character"
            return (f"contains {what} (U+{o:04X} at position {i + 1}); remove it: Tripo does not accept emoji or "
                    "control characters")
    if text and not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text):
        return ("holds only invisible characters (spaces or zero-width characters such as U+200B); enter visible "
                "text")
    return None


def _check_text(p: Param, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"`{where}` must be text, got {type(value).__name__}.", p.name)
    if p.required and not value.strip():
        raise _fail(f"`{where}` is empty; enter some text.", p.name)
    if p.max_len is not None and len(value) > p.max_len:
        raise _fail(f"`{where}` is {len(value)} characters long; Tripo accepts at most {p.max_len}. Shorten it.",
                    p.name)
    problem = prompt_problem(value)
    if problem:
        raise _fail(f"`{where}` {problem}.", p.name)
    return value


def _check_number(p: Param, value: Any, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(f"`{where}` must be a number, got {value!r}.", p.name)
    if p.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise _fail(f"`{where}` must be a whole number, got {value!r}.", p.name)
            value = int(value)
        if not INT32_MIN <= value <= INT32_MAX:
            raise _fail(f"`{where}` is {value}; it must be a 32-bit whole number ({INT32_MIN:,} to {INT32_MAX:,}).",
                        p.name)
    elif not math.isfinite(float(value)):
        raise _fail(f"`{where}` must be a finite number.", p.name)
    if p.name == "face_limit" and value <= 0:
        raise _fail(f"`{where}` must be a positive face count; leave it unset for an adaptive face count.", p.name)
    if p.min is not None and p.min_exclusive and value <= p.min:
        raise _fail(f"`{where}` is {value}; it must be greater than {_fmt(p.min)}.", p.name)
    if p.min is not None and value < p.min:
        raise _fail(f"`{where}` is {value}; it must be at least {_fmt(p.min)}.", p.name)
    if p.max is not None and value > p.max:
        raise _fail(f"`{where}` is {value}; it must be at most {_fmt(p.max)}.", p.name)
    return value


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else str(x)


def _check_enum(p: Param, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"`{where}` must be one of {', '.join(p.choices)}; got {value!r}.", p.name)
    if value in p.choices:
        return value
    folded = {c.lower(): c for c in p.choices}
    if value.lower() in folded:
        return folded[value.lower()]
    if p.name == "model_version" and value in DEPRECATED_MODEL_VERSIONS:
        raise _fail(f"`{where}` {value} is deprecated; choose a newer model version ({', '.join(p.choices)}).",
                    p.name)
    hint = difflib.get_close_matches(value, p.choices, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise _fail(f"`{where}` {value!r} is not valid.{extra} Choose one of: {', '.join(p.choices)}.", p.name)


_UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_TASK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def check_task_id(value: Any, param: str = "task_id") -> str:
    """A task id as Tripo writes them (UUIDs; letters, digits, '-' and '_'); raises TripoValidationError."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"`{param}` needs a task id (the id of an earlier successful task).", param)
    v = value.strip()
    if not _TASK_ID_RE.match(v):
        raise _fail(f"`{param}` {v[:80]!r} is not a valid task id; copy the id of the task exactly.", param)
    return v


def _ext_of(text: str) -> str:
    path = urlparse(text).path if "://" in text else text
    _, ext = os.path.splitext(path)
    return ext.lower().lstrip(".")


def file_object(value: Any, where: str = "file", *, mesh: bool = False) -> dict[str, Any]:
    """A normalized file input object ``{type, file_token | url | object}``.

    Accepts such a dict, an ``http(s)://`` URL (becomes ``url``) or an uploaded image token (a UUID, becomes
    ``file_token``). A local path is refused: upload it first (``TripoClient.upload_image`` / ``upload_sts``, or let
    ``TripoClient.submit`` do it).
    """
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        v = value.strip()
        if v.startswith(("http://", "https://")):
            ext = _ext_of(v)
            ext = "jpg" if ext == "jpeg" else ext
            default = "glb" if mesh else "png"
            return {"type": ext if ext in ("png", "jpg", "webp", *MESH_TYPES) else default, "url": v}
        if _UUIDISH.match(v) and not os.path.exists(v):
            return {"type": "jpg", "file_token": v}
        raise _fail(
            f"`{where}` is a local file ({os.path.basename(v) or v}); upload it first with "
            "TripoClient.upload_image (images) or upload_sts (models), or send it with TripoClient.submit.",
            where.split(".")[0].split("[")[0],
        )
    if not isinstance(value, Mapping):
        raise _fail(f"`{where}` must be a file object {{type, file_token | url | object}}, got {value!r}.",
                    where.split(".")[0].split("[")[0])
    pname = where.split(".")[0].split("[")[0]
    unknown = set(value) - {"type", "file_token", "url", "object"}
    if unknown:
        raise _fail(f"`{where}` has unknown fields {sorted(unknown)}; use type and one of file_token, url, object.",
                    pname)
    given = [k for k in ("file_token", "url", "object") if value.get(k) not in (None, "", {})]
    if len(given) != 1:
        raise _fail(f"`{where}` needs exactly one of file_token, url or object (got "
                    f"{', '.join(given) if given else 'none'}).", pname)
    how = given[0]
    out: dict[str, Any] = {}
    if how == "file_token":
        tok = value["file_token"]
        if not isinstance(tok, str) or not tok.strip():
            raise _fail(f"`{where}.file_token` must be the image_token string from an upload.", pname)
        out["file_token"] = tok.strip()
        guess = "jpg"
    elif how == "url":
        url = value["url"]
        if not isinstance(url, str) or not url.strip().startswith(("http://", "https://")):
            raise _fail(f"`{where}.url` must be an http(s) URL.", pname)
        out["url"] = url.strip()
        guess = _ext_of(url) or ("glb" if mesh else "png")
    else:
        obj = value["object"]
        if (not isinstance(obj, Mapping) or not isinstance(obj.get("bucket"), str) or not obj.get("bucket")
                or not isinstance(obj.get("key"), str) or not obj.get("key")):
            raise _fail(f"`{where}.object` must be {{bucket, key}} from an STS upload.", pname)
        out["object"] = {"bucket": obj["bucket"], "key": obj["key"]}
        guess = _ext_of(obj["key"]) or ("glb" if mesh else "png")
    ftype = value.get("type")
    if ftype is None or ftype == "":
        ftype = guess
    if not isinstance(ftype, str):
        raise _fail(f"`{where}.type` must be a file extension such as png or glb.", pname)
    ftype = ftype.lower().lstrip(".")
    ftype = "jpg" if ftype == "jpeg" and not mesh else ftype
    return {"type": ftype, **out}


def _image_slots(p: Param, value: Any, where: str) -> list[dict[str, Any]]:
    """Exactly 4 slots [front, left, back, right]; {} (or None) skips a view; front required; >= 2 images."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        n = len(value) if isinstance(value, list | tuple) else "not a list"
        raise _fail(f"`{where}` needs exactly 4 entries [front, left, back, right] (use {{}} or None for a missing "
                    f"view); got {n}.", p.name)
    slots = [{} if v in (None, {}, "") else file_object(v, f"{where}[{VIEWS[i]}]") for i, v in enumerate(value)]
    if not slots[0]:
        raise _fail(f"Multiview needs the front view: `{where}` has no first entry. Set the front image (Front Image "
                    "in Blender); left, back and right are optional.", p.name)
    if sum(1 for s in slots if s) < 2:
        raise _fail(f"Multiview needs at least 2 images: `{where}` has only the front view. Add a left, back or right "
                    "view (Left, Back or Right Image in Blender).", p.name)
    return slots


def _check_texture_prompt(p: Param, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail("`texture_prompt` must be an object with one of text, image or images (plus style_image).",
                    p.name)
    unknown = set(value) - {"text", "image", "images", "style_image"}
    if unknown:
        raise _fail(f"`texture_prompt` has unknown fields {sorted(unknown)}; use text, image, images or style_image.",
                    p.name)
    kinds = [k for k in ("text", "image", "images") if value.get(k) not in (None, "", [], {})]
    if len(kinds) > 1:
        raise _fail(f"`texture_prompt` takes only one of text, image or images (got {', '.join(kinds)}).", p.name)
    out: dict[str, Any] = {}
    if "text" in kinds:
        out["text"] = _check_text(Param("texture_prompt", "str", required=True, max_len=MAX_PROMPT),
                                  value["text"], "texture_prompt.text")
    if "image" in kinds:
        out["image"] = file_object(value["image"], "texture_prompt.image")
    if "images" in kinds:
        out["images"] = _image_slots(p, value["images"], "texture_prompt.images")
    if value.get("style_image") not in (None, "", {}):
        out["style_image"] = file_object(value["style_image"], "texture_prompt.style_image")
    if not out:
        raise _fail("`texture_prompt` is empty; give text, an image or 4 views, or leave it unset.", p.name)
    return out


def _check_value(p: Param, value: Any, *, mesh: bool = False) -> Any:
    k = p.kind
    if k == "str":
        return _check_text(p, value, p.name)
    if k in ("int", "float"):
        return _check_number(p, value, p.name)
    if k == "bool":
        if not isinstance(value, bool):
            raise _fail(f"`{p.name}` must be true or false, got {value!r}.", p.name)
        return value
    if k == "enum":
        return _check_enum(p, value, p.name)
    if k == "task_id":
        return check_task_id(value, p.name)
    if k == "file":
        return file_object(value, p.name, mesh=mesh)
    if k == "files":
        if not isinstance(value, list | tuple) or not value:
            raise _fail(f"`{p.name}` must be a non-empty list of file objects.", p.name)
        if p.max_items is not None and len(value) > p.max_items:
            raise _fail(f"`{p.name}` has {len(value)} entries; at most {p.max_items} are allowed.", p.name)
        return [{} if v in (None, {}, "") else file_object(v, f"{p.name}[{i}]") for i, v in enumerate(value)]
    if k in ("str_list", "enum_list"):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise _fail(f"`{p.name}` must be a list.", p.name)
        items = []
        for i, v in enumerate(value):
            if k == "enum_list":
                v = _check_enum(p, v, f"{p.name}[{i}]")
            elif not isinstance(v, str) or not v.strip():
                raise _fail(f"`{p.name}[{i}]` must be a non-empty name.", p.name)
            if v not in items:
                items.append(v)
        if p.max_items is not None and len(items) > p.max_items:
            raise _fail(f"`{p.name}` has {len(items)} entries; at most {p.max_items} are allowed. Remove some.",
                        p.name)
        return items
    if k == "texture_prompt":
        return _check_texture_prompt(p, value)
    raise _fail(f"`{p.name}` has an unsupported kind {k!r}.", p.name)  # pragma: no cover - spec error


def _normalize(tt: TaskType, params: Mapping[str, Any]) -> dict[str, Any]:
    """Checked values of the given (non-None) parameters, aliases resolved; required ones present."""
    if not isinstance(params, Mapping):
        raise _fail(f"Parameters for {tt.name} must be a mapping, got {type(params).__name__}.")
    raw = {k: v for k, v in params.items() if v is not None}
    for p in tt.params:  # an empty optional text (e.g. a blank UI field) means "not set"
        if p.kind == "str" and not p.required and isinstance(raw.get(p.name), str) and not raw[p.name].strip():
            del raw[p.name]
    if "type" in raw:
        if raw.pop("type") != tt.name:
            raise _fail(f"`type` in the parameters does not match {tt.name!r}; leave it out.", "type")
    for old, new in _ALIASES.items():
        if old in raw and tt.param(new) is not None:
            if new in raw:
                raise _fail(f"`{old}` is the old name of `{new}`; give only `{new}`.", new)
            raw[new] = raw.pop(old)
    if "topology" in raw and tt.param("rig_type") is not None and "rig_type" not in raw:
        topo = raw.pop("topology")
        raw["rig_type"] = {"bip": "biped", "quad": "quadruped"}.get(topo, topo)
    names = {p.name for p in tt.params}
    unknown = [k for k in raw if k not in names]
    if unknown:
        k = unknown[0]
        hint = difflib.get_close_matches(str(k), list(names), n=1)
        extra = f" Did you mean `{hint[0]}`?" if hint else ""
        raise _fail(f"{tt.name} has no parameter `{k}`.{extra} Its parameters: {', '.join(sorted(names))}.", str(k))
    out: dict[str, Any] = {}
    for p in tt.params:
        if p.name in raw:
            out[p.name] = _check_value(p, raw[p.name], mesh=tt.name == "import_model")
    for p in tt.params:
        if p.required and p.name not in out:
            raise _fail(f"{tt.name} needs `{p.name}`: {p.doc}", p.name)
    return out


def _eff(tt: TaskType, values: Mapping[str, Any], name: str) -> Any:
    """The effective value: given, else the documented default."""
    if name in values:
        return values[name]
    p = tt.param(name)
    return p.default if p is not None else None


def _differs(p: Param, value: Any) -> bool:
    """True when an explicitly given value is sent (not equal to an undisputed documented default)."""
    if p.default is None or p.disputed:
        return True
    if isinstance(p.default, bool) or isinstance(value, bool):
        return value is not p.default
    return value != p.default


# ---------------------------------------------------------------------------------------------- per type rules
_FACE_MAX = {"H2": 500_000, "Turbo": 50_000, "P1": 20_000}
_FACE_MAX_H3 = {"standard": 1_500_000, "detailed": 2_000_000}
P1_FORBIDDEN = ("quad", "smart_low_poly", "generate_parts", "geometry_quality")


def _generation_rules(tt: TaskType, v: dict[str, Any]) -> None:
    mv = _eff(tt, v, "model_version")
    fam = model_family(mv)
    sent = {k: x for k, x in v.items() if _differs(tt.param(k), x)}  # type: ignore[arg-type]
    # options the family does not take (only when actually sent: defaults are never sent)
    for name in sent:
        p = tt.param(name)
        if p is not None and p.families and fam not in p.families:
            if fam == "P1" and name in P1_FORBIDDEN:
                raise _fail(f"`{name}` is not supported by P1 model versions ({mv}); leave it unset or choose an "
                            "H2/H3 model version.", name)
            if fam == "v1":
                takes = {"text_to_model": "prompt and model_seed (and the legacy style)",
                         "image_to_model": "the image, model_seed and enable_image_autofix (and the legacy style)",
                         }.get(tt.name, "model_seed")
                raise _fail(f"`{name}` is not supported by {mv}: it takes only {takes}. Leave `{name}` unset or "
                            "choose a newer model version.", name)
            where = {"H3": "v3.x", "H2": "v2.x"}
            allowed = ", ".join(where.get(f, f) for f in p.families)
            raise _fail(f"`{name}` is not supported by {mv}; leave it unset or choose a model version from: "
                        f"{allowed}.", name)
    if fam == "P1" and tt.name == "multiview_to_model" and v.get("enable_image_autofix"):
        raise _fail(f"`enable_image_autofix` is not supported by {mv} for multiview; leave it off.",
                    "enable_image_autofix")
    if fam == "v1":
        return
    texture, pbr = _eff(tt, v, "texture"), _eff(tt, v, "pbr")
    if "texture" in v and not v["texture"] and "pbr" not in v:
        v["pbr"] = pbr = False  # no texture means no PBR either (pbr=true would force texture back on)
    if pbr and not texture:
        raise _fail("`pbr` needs a texture: set texture on, or pbr off for an untextured model.", "pbr")
    tq = _eff(tt, v, "texture_quality")
    if not texture and not pbr and tq != "standard" and mv != UPSCALE_ONLY_VERSION:
        raise _fail(f"`texture_quality` {tq} without texture and pbr (4K upscale) needs model_version "
                    f"{UPSCALE_ONLY_VERSION}; turn texture on or set texture_quality to standard.", "texture_quality")
    if v.get("generate_parts"):
        on = [n for n in ("texture", "pbr", "quad") if _eff(tt, v, n)]
        if on:
            raise _fail(f"`generate_parts` needs texture, pbr and quad off; turn off {', '.join(on)}.",
                        "generate_parts")
    if _eff(tt, v, "orientation") == "align_image" and not texture:
        raise _fail("`orientation` align_image only works on textured models; turn texture on or use default.",
                    "orientation")
    fl = v.get("face_limit")
    if fl is not None:
        gq = _eff(tt, v, "geometry_quality")
        if v.get("smart_low_poly"):
            lo, hi, why = (500, 10_000, "smart_low_poly with quad") if v.get("quad") else (1_000, 20_000,
                                                                                          "smart_low_poly")
        elif fam == "P1":
            lo, hi, why = 48, _FACE_MAX["P1"], "P1"
        elif fam == "H3":
            lo, hi, why = 1, _FACE_MAX_H3[gq], f"v3.x with geometry_quality {gq}"
        else:
            lo, hi, why = 1, _FACE_MAX[fam], {"H2": "v2.x", "Turbo": "Turbo"}[fam]
        if not lo <= fl <= hi:
            raise _fail(f"`face_limit` {fl:,} is out of range for {why}: use {lo:,}-{hi:,}, or leave it unset for an "
                        "adaptive face count.", "face_limit")


def _rules_generate_image(tt: TaskType, v: dict[str, Any]) -> None:
    mv = _eff(tt, v, "model_version")
    if "files" in v:
        v["files"] = [f for f in v["files"] if f]  # no view slots here: empty entries are dropped
        if not v["files"]:
            del v["files"]
    images = ([v["file"]] if "file" in v else []) + list(v.get("files", []))
    if images and mv in IMAGE_MODELS_NO_INPUT:
        raise _fail(f"{mv} does not take reference images; remove them or choose another model_version.",
                    "model_version")
    cap = 4 if mv in ("flux.1_kontext_pro", "flux.1_dev") else 10
    if len(images) > cap:
        raise _fail(f"{mv} takes at most {cap} reference images; you gave {len(images)}.", "files")
    if mv in ("flux.1_kontext_pro", "flux.1_dev") and any(f.get("type") == "webp" for f in images):
        raise _fail(f"{mv} does not accept WEBP reference images; use PNG or JPEG, or another model_version.",
                    "files")
    if "prompt" not in v and not (v.get("template") and images):
        raise _fail("generate_image needs `prompt` (it is optional only with a template and a reference image).",
                    "prompt")


def _rules_image_to_model(tt: TaskType, v: dict[str, Any]) -> None:
    _generation_rules(tt, v)


def _rules_multiview(tt: TaskType, v: dict[str, Any]) -> None:
    has_files, has_ref = "files" in v, "original_task_id" in v
    if has_files == has_ref:
        raise _fail("multiview_to_model needs either `files` (4 views) or `original_task_id` (a "
                    "generate_multiview_image task), not both and not neither.", "files")
    if has_files:
        v["files"] = _image_slots(tt.param("files"), v["files"], "files")  # type: ignore[arg-type]
    _generation_rules(tt, v)


def _rules_texture_model(tt: TaskType, v: dict[str, Any]) -> None:
    texture, pbr, tq = _eff(tt, v, "texture"), _eff(tt, v, "pbr"), _eff(tt, v, "texture_quality")
    mv = _eff(tt, v, "model_version")
    if not texture and not pbr:
        if tq == "standard":
            raise _fail("With texture and pbr both off, texture_model does nothing at standard quality; turn one on, "
                        "or choose texture_quality detailed/extreme to upscale.", "texture")
        if mv != UPSCALE_ONLY_VERSION:
            raise _fail(f"Upscaling (texture and pbr off, texture_quality {tq}) needs model_version "
                        f"{UPSCALE_ONLY_VERSION}.", "model_version")


def _rules_import(tt: TaskType, v: dict[str, Any]) -> None:
    f = v["file"]
    if "file_token" in f:
        raise _fail("import_model needs the model uploaded through STS (TripoClient.upload_sts gives "
                    "{object: {bucket, key}}); direct-upload tokens are for images only.", "file")
    if f.get("type") not in MESH_TYPES:
        raise _fail(f"import_model takes GLB, OBJ, FBX or STL models; `file.type` is {f.get('type')!r}.", "file")


def _rules_lowpoly(tt: TaskType, v: dict[str, Any]) -> None:
    fl = v.get("face_limit")
    if fl is not None and v.get("quad") and fl > 10_000:
        raise _fail(f"`face_limit` {fl:,} is too high with quad: use 500-10,000.", "face_limit")


def _rules_retarget(tt: TaskType, v: dict[str, Any]) -> None:
    if "animation" in v and "animations" in v:
        raise _fail("Give `animation` (one preset) or `animations` (up to 5), not both.", "animations")
    if "animations" in v and not v["animations"]:
        raise _fail("`animations` is empty; pick at least one preset.", "animations")
    if "animation" not in v and not v.get("animations"):
        raise _fail("animate_retarget needs `animation` or `animations` (e.g. preset:walk).", "animations")


def _rules_stylize(tt: TaskType, v: dict[str, Any]) -> None:
    if "block_size" in v and _differs(tt.param("block_size"), v["block_size"]) and v["style"] != "minecraft":  # type: ignore[arg-type]
        raise _fail(f"`block_size` only applies to the minecraft style (style is {v['style']}); leave it unset.",
                    "block_size")


def _rules_convert(tt: TaskType, v: dict[str, Any]) -> None:
    fmt = v["format"]
    if v.get("force_symmetry") and not v.get("quad"):
        raise _fail("`force_symmetry` only works with quad; turn quad on or force_symmetry off.", "force_symmetry")
    if "flatten_bottom_threshold" in v and _differs(tt.param("flatten_bottom_threshold"),  # type: ignore[arg-type]
                                                    v["flatten_bottom_threshold"]) and not v.get("flatten_bottom"):
        raise _fail("`flatten_bottom_threshold` only applies with flatten_bottom on.", "flatten_bottom_threshold")
    if v.get("export_vertex_colors") and fmt not in ("OBJ", "GLTF"):
        raise _fail(f"`export_vertex_colors` works only for OBJ and GLTF, not {fmt}.", "export_vertex_colors")
    if "fbx_preset" in v and _differs(tt.param("fbx_preset"), v["fbx_preset"]) and fmt != "FBX":  # type: ignore[arg-type]
        raise _fail(f"`fbx_preset` only applies to FBX, not {fmt}; leave it unset.", "fbx_preset")


_RULES: dict[str, Callable[[TaskType, dict[str, Any]], None]] = {
    "generate_image": _rules_generate_image,
    "text_to_model": _generation_rules,
    "image_to_model": _rules_image_to_model,
    "multiview_to_model": _rules_multiview,
    "texture_model": _rules_texture_model,
    "import_model": _rules_import,
    "highpoly_to_lowpoly": _rules_lowpoly,
    "animate_retarget": _rules_retarget,
    "stylize_model": _rules_stylize,
    "convert_model": _rules_convert,
}


def _source_rules(tt: TaskType, v: dict[str, Any], source_type: str, source_model_version: str | None) -> None:
    check_chain(tt.name, source_type, source_model_version)
    if tt.name == "convert_model":
        fmt = v["format"]
        if fmt in NO_RIG_FORMATS and source_type in RIGGED_TASKS:
            raise _fail(f"{fmt} cannot hold a rig or animation, and this model comes from {source_type}; convert it "
                        "to FBX, GLTF or USDZ instead.", "format")
        if source_type == "convert_model":
            extra = [k for k in v if k not in ("format", "original_model_task_id", "priority")
                     and _differs(tt.param(k), v[k])]  # type: ignore[arg-type]
            if extra:
                raise _fail("Re-converting a converted model only changes its format; leave "
                            f"{', '.join(extra)} unset (or convert the original model).", extra[0])
        if (v.get("texture_size") or 0) > 2048 and source_model_version and model_family(source_model_version) == "v1":
            raise _fail("`texture_size` is at most 2048 for models made before v2.0.", "texture_size")


def build_request(
    task_type: str,
    params: Mapping[str, Any],
    *,
    source_type: str | None = None,
    source_model_version: str | None = None,
) -> dict[str, Any]:
    """The validated ``POST /task`` body ``{"type": task_type, ...}`` for these parameters.

    ``None`` values mean "not set". Values equal to the documented default are not sent, except for parameters whose
    default is disputed (sent whenever set) and ``always`` ones (sent even when unset). ``source_type`` (the task
    type of ``original_model_task_id``/``draft_model_task_id``) and ``source_model_version`` are optional hints that
    enable the chain rules (§6) and source-dependent checks (e.g. no OBJ/STL/3MF for rigged sources).
    Raises :class:`TripoValidationError` naming the parameter and what to do; never touches the network.
    """
    tt = _task_type(task_type)
    values = _normalize(tt, params)
    rule = _RULES.get(tt.name)
    if rule is not None:
        rule(tt, values)
    if source_type is not None:
        _source_rules(tt, values, source_type, source_model_version)
    body: dict[str, Any] = {"type": tt.name}
    for p in tt.params:
        if p.name in values and _differs(p, values[p.name]):
            body[p.name] = values[p.name]
        elif p.always:
            body[p.name] = values.get(p.name, p.default)
    return body


# ============================================================================================== chain rules
def check_chain(task_type: str, source_type: str, source_model_version: str | None = None) -> None:
    """Raise TripoValidationError unless ``task_type`` can take a ``source_type`` task as its source (§6).

    ``source_model_version`` is the model version the source was generated with (None: the server default,
    v2.5-20250123). Refine takes only drafts < v2.0; texture, segmentation, prerigcheck and rig refuse v1.x
    generations. Images (text_to_image, generate_image) are linked by URL (``file.url``), not by task id.
    """
    tt = _task_type(task_type)
    src = source_type if isinstance(source_type, str) else ""
    if tt.name == "multiview_to_model" and src in ("generate_multiview_image", "edit_multiview_image"):
        return
    if src in IMAGE_TYPES:
        if tt.name in ("image_to_model", "generate_image", "texture_model"):
            raise _fail(f"An image from {src} is linked by its URL, not its task id: pass its generated_image URL as "
                        f"`file` ({{type, url}}) to {tt.name}.", "file")
        raise _fail(f"{tt.name} needs a 3D model, and {src} makes an image. Turn the image into a model first "
                    "(image_to_model with the generated_image URL).", tt.source_field)
    if tt.source_field is None:
        raise _fail(f"{tt.name} does not start from an earlier task; it takes its own inputs.", None)
    if src not in TASK_TYPES and src not in ("generate_multiview_image", "edit_multiview_image"):
        raise _fail(f"Unknown source task type {source_type!r}.", tt.source_field)
    if src not in tt.sources:
        accepted = ", ".join(t for t in TASK_TYPES if t in tt.sources)
        if tt.name == "mesh_completion":
            msg = f"mesh_completion only works on a mesh_segmentation result (this is {src}); segment the model first."
        elif tt.name == "animate_retarget":
            msg = f"Animations need a rigged model (animate_rig), and this is {src}; rig the model first."
        elif tt.name == "refine_model":
            msg = (f"refine_model refines drafts from text/image/multiview_to_model, not {src}.")
        elif tt.name in ("animate_prerigcheck", "animate_rig"):
            msg = f"{tt.name} needs a task with a 3D model; {src} has none."
        else:
            msg = f"{tt.name} cannot be applied to a {src} result. It accepts: {accepted}."
        raise _fail(msg, tt.source_field)
    family = model_family(source_model_version) if src in GENERATION else None
    if tt.name == "refine_model" and family != "v1":
        shown = source_model_version or f"{DEFAULT_MODEL_VERSION} (the default)"
        raise _fail(f"refine_model only refines drafts made with a model version before v2.0 (e.g. v1.4-20240625); "
                    f"this model used {shown}. Newer versions need no refining.", "draft_model_task_id")
    if tt.name in NEEDS_V2_SOURCE and family == "v1":
        raise _fail(f"{tt.name} needs a model made with Turbo or v2.0 and newer; this one used {source_model_version}. "
                    "Refine it first or generate it again with a newer model version.", tt.source_field)


# ============================================================================================== outputs
def model_output_key(output: Mapping[str, Any] | None) -> str | None:
    """The output key holding the model URL: pbr_model > model > base_model (None when there is none)."""
    if not isinstance(output, Mapping):
        return None
    for key in ("pbr_model", "model", "base_model"):
        if isinstance(output.get(key), str) and output[key]:
            return key
    return None


def output_keys(task_type: str) -> tuple[str, ...]:
    return _task_type(task_type).outputs


# ============================================================================================== credits
QUALITY_SURCHARGE = {"standard": 10, "detailed": 20, "extreme": 30}
_GEN_BASE = {"text_to_model": (10, 30), "image_to_model": (20, 40), "multiview_to_model": (20, 40)}  # (H2/H3, P1)
_FLAT = {"text_to_image": 5, "refine_model": 30, "import_model": 0, "mesh_segmentation": 40, "mesh_completion": 50,
         "highpoly_to_lowpoly": 30, "animate_prerigcheck": 0, "animate_rig": 25, "stylize_model": 20}


def estimate_credits(task_type: str, params: Mapping[str, Any]) -> int:
    """Credits Tripo will freeze for this task (§7 snapshot; an estimate: the price list can change).

    Lenient: never validates, unknown values count as defaults.
    """
    tt = _task_type(task_type)
    p = {k: v for k, v in (params or {}).items() if v is not None}

    def get(name: str) -> Any:
        return p.get(name, _eff(tt, {}, name))

    if tt.name in _GEN_BASE:
        fam = model_family(get("model_version") if isinstance(get("model_version"), str) else None)
        base_h, base_p1 = _GEN_BASE[tt.name]
        total = base_p1 if fam == "P1" else base_h
        tq = get("texture_quality") if get("texture_quality") in QUALITY_SURCHARGE else "standard"
        texture = bool(get("texture"))
        pbr = bool(p.get("pbr", texture))
        if fam == "v1" or texture or pbr or tq != "standard":
            total += QUALITY_SURCHARGE["standard" if fam == "v1" else tq]
        total += 5 if p.get("quad") is True else 0
        total += 10 if p.get("smart_low_poly") is True else 0
        total += 20 if p.get("generate_parts") is True else 0
        total += 20 if p.get("geometry_quality") == "detailed" else 0
        return total
    if tt.name == "texture_model":
        tq = get("texture_quality")
        return 10 + QUALITY_SURCHARGE.get(tq if isinstance(tq, str) else "standard", 10)
    if tt.name == "generate_image":
        return 10 if get("model_version") in IMAGE_MODELS_10 else 5
    if tt.name == "animate_retarget":
        anims = p.get("animations")
        n = len(set(anims)) if isinstance(anims, list | tuple) and anims else 1
        return 10 * min(n, MAX_ANIMATIONS) if isinstance(anims, list | tuple) else 10
    if tt.name == "convert_model":  # +5 when one of CONVERT_ADVANCED is in the body (values equal to an undisputed
        advanced = False            # default are left out by build_request, so they cost nothing)
        for name in CONVERT_ADVANCED:
            if name in p:
                prm = tt.param(name)
                if prm is not None and _differs(prm, p[name]):
                    advanced = True
        return 10 if advanced else 5
    return _FLAT.get(tt.name, 0)


# ============================================================================================== builders
def _build(task_type: str, args: dict[str, Any]) -> dict[str, Any]:
    source_type = args.pop("source_type", None)
    source_model_version = args.pop("source_model_version", None)
    return build_request(task_type, args, source_type=source_type, source_model_version=source_model_version)


def text_to_image(prompt: str, *, negative_prompt: str | None = None, priority: int | None = None) -> dict[str, Any]:
    """Body for ``text_to_image``."""
    return _build("text_to_image", dict(locals()))


def generate_image(
    prompt: str | None = None, *, model_version: str | None = None, file: Any = None, files: list | None = None,
    template: str | None = None, t_pose: bool | None = None, sketch_to_render: bool | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``generate_image``."""
    return _build("generate_image", dict(locals()))


def text_to_model(
    prompt: str, *, negative_prompt: str | None = None, image_seed: int | None = None,
    model_version: str | None = None, model_seed: int | None = None, texture: bool | None = None,
    pbr: bool | None = None, texture_seed: int | None = None, texture_quality: str | None = None,
    geometry_quality: str | None = None, face_limit: int | None = None, quad: bool | None = None,
    smart_low_poly: bool | None = None, generate_parts: bool | None = None, auto_size: bool | None = None,
    compress: str | None = None, export_uv: bool | None = None, style: str | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``text_to_model``."""
    return _build("text_to_model", dict(locals()))


def image_to_model(
    file: Any, *, enable_image_autofix: bool | None = None, texture_alignment: str | None = None,
    orientation: str | None = None, model_version: str | None = None, model_seed: int | None = None,
    texture: bool | None = None, pbr: bool | None = None, texture_seed: int | None = None,
    texture_quality: str | None = None, geometry_quality: str | None = None, face_limit: int | None = None,
    quad: bool | None = None, smart_low_poly: bool | None = None, generate_parts: bool | None = None,
    auto_size: bool | None = None, compress: str | None = None, export_uv: bool | None = None,
    style: str | None = None, priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``image_to_model`` (``file``: a file object, an image URL or an image token)."""
    return _build("image_to_model", dict(locals()))


def multiview_to_model(
    files: list | None = None, *, original_task_id: str | None = None, enable_image_autofix: bool | None = None,
    texture_alignment: str | None = None, orientation: str | None = None, model_version: str | None = None,
    model_seed: int | None = None, texture: bool | None = None, pbr: bool | None = None,
    texture_seed: int | None = None, texture_quality: str | None = None, geometry_quality: str | None = None,
    face_limit: int | None = None, quad: bool | None = None, smart_low_poly: bool | None = None,
    generate_parts: bool | None = None, auto_size: bool | None = None, compress: str | None = None,
    export_uv: bool | None = None, mode: str | None = None, orthographic_projection: bool | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``multiview_to_model`` (``files``: 4 slots [front, left, back, right], None for a missing view)."""
    return _build("multiview_to_model", dict(locals()))


def refine_model(draft_model_task_id: str, *, source_type: str | None = None,
                 source_model_version: str | None = None, priority: int | None = None) -> dict[str, Any]:
    """Body for ``refine_model``."""
    return _build("refine_model", dict(locals()))


def texture_model(
    original_model_task_id: str, *, texture_prompt: Mapping[str, Any] | None = None,
    model_version: str | None = None, texture: bool | None = None, pbr: bool | None = None,
    texture_seed: int | None = None, texture_alignment: str | None = None, texture_quality: str | None = None,
    part_names: list[str] | None = None, compress: str | None = None, bake: bool | None = None,
    model_seed: int | None = None, source_type: str | None = None, source_model_version: str | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``texture_model``."""
    return _build("texture_model", dict(locals()))


def import_model(file: Any, *, priority: int | None = None) -> dict[str, Any]:
    """Body for ``import_model`` (``file``: the object from ``TripoClient.upload_sts``)."""
    return _build("import_model", dict(locals()))


def mesh_segmentation(original_model_task_id: str, *, model_version: str | None = None,
                      source_type: str | None = None, source_model_version: str | None = None,
                      priority: int | None = None) -> dict[str, Any]:
    """Body for ``mesh_segmentation``."""
    return _build("mesh_segmentation", dict(locals()))


def mesh_completion(original_model_task_id: str, *, model_version: str | None = None,
                    part_names: list[str] | None = None, source_type: str | None = None,
                    source_model_version: str | None = None, priority: int | None = None) -> dict[str, Any]:
    """Body for ``mesh_completion``."""
    return _build("mesh_completion", dict(locals()))


def highpoly_to_lowpoly(
    original_model_task_id: str, *, model_version: str | None = None, quad: bool | None = None,
    face_limit: int | None = None, part_names: list[str] | None = None, bake: bool | None = None,
    source_type: str | None = None, source_model_version: str | None = None, priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``highpoly_to_lowpoly``."""
    return _build("highpoly_to_lowpoly", dict(locals()))


def animate_prerigcheck(original_model_task_id: str, *, model_version: str | None = None,
                        source_type: str | None = None, source_model_version: str | None = None,
                        priority: int | None = None) -> dict[str, Any]:
    """Body for ``animate_prerigcheck``."""
    return _build("animate_prerigcheck", dict(locals()))


def animate_rig(
    original_model_task_id: str, *, out_format: str | None = None, model_version: str | None = None,
    rig_type: str | None = None, spec: str | None = None, source_type: str | None = None,
    source_model_version: str | None = None, priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``animate_rig``."""
    return _build("animate_rig", dict(locals()))


def animate_retarget(
    original_model_task_id: str, *, animation: str | None = None, animations: list[str] | None = None,
    out_format: str | None = None, bake_animation: bool | None = None, export_with_geometry: bool | None = None,
    animate_in_place: bool | None = None, source_type: str | None = None, source_model_version: str | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``animate_retarget``."""
    return _build("animate_retarget", dict(locals()))


def stylize_model(original_model_task_id: str, style: str, *, block_size: int | None = None,
                  source_type: str | None = None, source_model_version: str | None = None,
                  priority: int | None = None) -> dict[str, Any]:
    """Body for ``stylize_model``."""
    return _build("stylize_model", dict(locals()))


def convert_model(
    original_model_task_id: str, format: str, *, quad: bool | None = None, force_symmetry: bool | None = None,
    face_limit: int | None = None, flatten_bottom: bool | None = None,
    flatten_bottom_threshold: float | None = None, texture_size: int | None = None,
    texture_format: str | None = None, pivot_to_center_bottom: bool | None = None,
    scale_factor: float | None = None, with_animation: bool | None = None, pack_uv: bool | None = None,
    bake: bool | None = None, part_names: list[str] | None = None, animate_in_place: bool | None = None,
    export_vertex_colors: bool | None = None, export_orientation: str | None = None,
    fbx_preset: str | None = None, source_type: str | None = None, source_model_version: str | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``convert_model`` (``source_type``: e.g. "animate_rig" to refuse OBJ/STL/3MF early)."""
    return _build("convert_model", dict(locals()))


#: Builder function per task type.
BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "text_to_image": text_to_image, "generate_image": generate_image, "text_to_model": text_to_model,
    "image_to_model": image_to_model, "multiview_to_model": multiview_to_model, "refine_model": refine_model,
    "texture_model": texture_model, "import_model": import_model, "mesh_segmentation": mesh_segmentation,
    "mesh_completion": mesh_completion, "highpoly_to_lowpoly": highpoly_to_lowpoly,
    "animate_prerigcheck": animate_prerigcheck, "animate_rig": animate_rig, "animate_retarget": animate_retarget,
    "stylize_model": stylize_model, "convert_model": convert_model,
}
