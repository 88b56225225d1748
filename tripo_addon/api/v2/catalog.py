"""The v2 task catalogue: the 16 task types of Tripo's retired v2 API with every documented parameter, default,
choice and range (tripo-api.md §5), as :class:`~tripo_addon.api.params.TaskType` specs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..params import MAX_NEGATIVE, MAX_PROMPT, Param, TaskType

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

ALIASES = {"model": "model_version", "rough_model_task_id": "draft_model_task_id", "text_seed": "image_seed"}


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
           "v1.4 (legacy).", default=DEFAULT_MODEL_VERSION, choices=versions,
           retired=DEPRECATED_MODEL_VERSIONS),
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
        None, frozenset(), ("image",), False,
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
        None, frozenset(), ("image",), False,
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
        None, frozenset(), ("model", "preview"), True,
    ),
    TaskType(
        "image_to_model", "Image to Model", "Generate a 3D model from one image.",
        (
            _P("file", "file", "The image (PNG, JPEG or WEBP, 20-6000 px per side, up to 20 MB).", required=True),
            *_IMAGE_OPTIONS,
            *_generation_params("image_to_model"),
            _STYLE,
        ),
        None, frozenset(), ("model", "preview"), True,
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
        None, frozenset(), ("model", "preview"), True,
    ),
    TaskType(
        "refine_model", "Refine Model", "Refine a draft model made with a model version before v2.0.",
        (_P("draft_model_task_id", "task_id", "Id of the successful draft task (model version < v2.0).",
            required=True),),
        "draft_model_task_id", GENERATION, ("model", "preview"), True,
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
        ("model", "preview"), True,
    ),
    TaskType(
        "import_model", "Import Model", "Bring your own model (GLB, OBJ, FBX or STL, under 150 MB) into Tripo "
        "(free).",
        (_P("file", "file", "The model uploaded through STS ({object: {bucket, key}}).", required=True),),
        None, frozenset(), ("model", "preview"), True,
    ),
    TaskType(
        "mesh_segmentation", "Segment Mesh", "Split a model into named parts (40 credits).",
        (_ORIG, _P("model_version", "enum", "Segmentation model version.", default="v1.0-20250506",
                   choices=SEGMENTATION_VERSIONS)),
        "original_model_task_id", GENERATION | {"texture_model", "import_model", "refine_model",
                                                "highpoly_to_lowpoly"},
        ("model", "preview"), True,
    ),
    TaskType(
        "mesh_completion", "Complete Mesh", "Complete missing geometry of segmented parts (50 credits).",
        (
            _ORIG,
            _P("model_version", "enum", "Completion model version.", default="v1.0-20250506",
               choices=SEGMENTATION_VERSIONS),
            _P("part_names", "str_list", "Parts to complete (from segmentation); default all."),
        ),
        "original_model_task_id", frozenset({"mesh_segmentation"}), ("model", "preview"), True,
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
        ("model", "preview"), True,
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
        "original_model_task_id", MODEL_TASKS, ("model", "preview"), True,
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
        "original_model_task_id", RIGGED_TASKS - {"animate_retarget"}, ("model", "preview"), True,
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
        ("model", "preview"), True,
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
        ("model", "preview"), True,
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
