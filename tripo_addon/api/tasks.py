"""Task types, dialect-neutrally: which catalogue applies, validation, chain rules and prices.

Each API dialect has its catalogue (``api/v2``: Tripo's retired v2 API, 16 task types; ``api/v3``: the live API,
14 of them plus four views, splats, depth and Smart UV). ``api=`` picks one ("v3" by default).
:func:`build_request` returns the validated values to send (files as :class:`~tripo_addon.api.inputs.Input`); the
dialect turns them into its wire body. One typed builder per task type (``text_to_model(prompt, *, ...)``) wraps it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .params import CAPS, MAX_NEGATIVE, MAX_PROMPT, VIEWS, Catalog, Param, TaskType, check_task_id, prompt_problem
from .v2 import catalog as _v2
from .v2.rules import CATALOG as V2
from .v3 import catalog as _v3
from .v3.rules import CATALOG as V3
from .v3.rules import retarget_problem as _retarget_problem

__all__ = [
    "API_VERSIONS", "DEFAULT_API", "GENERATION", "IMAGE_TYPES", "MAX_NEGATIVE", "MAX_PROMPT", "MODEL_TASKS",
    "RIGGED_TASKS", "TASK_TYPES", "VIEWS", "Catalog", "Param", "TaskType", "build_request", "catalog",
    "check_chain", "check_task_id", "estimate_credits", "notes", "price_kind", "prompt_problem", "retarget_problem",
    "retired_reason", "set_compress_support",
]

API_VERSIONS = ("v3", "v2")
DEFAULT_API = "v3"
CATALOGS: dict[str, Catalog] = {"v2": V2, "v3": V3}
#: Every task type any dialect knows, by name (labels and parameter specs for the UI; v3's where both have it).
TASK_TYPES: dict[str, TaskType] = {**_v2.TASK_TYPES, **_v3.TASK_TYPES}
GENERATION = _v2.GENERATION
IMAGE_TYPES = _v3.IMAGE_TYPES
MODEL_TASKS = _v2.MODEL_TASKS | _v3.MODEL_TASKS
RIGGED_TASKS = _v2.RIGGED_TASKS


def catalog(api: str = DEFAULT_API) -> Catalog:
    """The catalogue of an API version ("v3" or "v2")."""
    try:
        return CATALOGS[api]
    except KeyError:
        raise ValueError(f"unknown API version {api!r}; use one of {', '.join(API_VERSIONS)}") from None


def retired_reason(task_type: str, api: str = DEFAULT_API) -> str | None:
    """Why ``task_type`` cannot run on this API version (retired, or new in v3), or None when it can."""
    cat = catalog(api)
    if task_type in cat.retired:
        return cat.retired[task_type]
    if task_type not in cat.types and task_type in TASK_TYPES:
        return (f"{TASK_TYPES[task_type].label} needs Tripo's API v3; this API address speaks the retired v2. Use "
                "the default API address (Preferences > Tripo).")
    return None


def build_request(task_type: str, params: Mapping[str, Any], *, api: str = DEFAULT_API,
                  source_type: str | None = None, source_model_version: str | None = None,
                  notices: list[str] | None = None) -> dict[str, Any]:
    """The validated values to send (see :meth:`Catalog.build`); raises TripoValidationError before any request."""
    reason = retired_reason(task_type, api)
    if reason:
        from .errors import TripoValidationError

        raise TripoValidationError(reason, param=None)
    return catalog(api).build(task_type, params, source_type=source_type, source_model_version=source_model_version,
                              notices=notices)


def check_chain(task_type: str, source_type: str, source_model_version: str | None = None, *,
                api: str = DEFAULT_API) -> None:
    """Raise TripoValidationError unless ``task_type`` can take a ``source_type`` task as its source."""
    catalog(api).check_chain(task_type, source_type, source_model_version)


def estimate_credits(task_type: str, params: Mapping[str, Any], *, api: str = DEFAULT_API) -> float:
    """Credits Tripo will freeze for this task (an estimate: the price list can change). Lenient: never validates."""
    cat = catalog(api)
    if task_type not in cat.types:
        return 0.0
    return cat.estimate(task_type, params)


def price_kind(task_type: str, params: Mapping[str, Any] | None = None, *, api: str = DEFAULT_API) -> str:
    """"published" when the estimate comes from Tripo's published price table, "approximate" otherwise (shown with
    "≈"; tripo-api-v3.md §18 R2/R3)."""
    cat = catalog(api)
    if cat.price_kind is None or task_type not in cat.types:
        return "approximate"
    try:
        return cat.price_kind(task_type, dict(params or {}))
    except Exception:  # noqa: BLE001 - a price label never breaks a dialog
        return "approximate"


def notes(task_type: str, params: Mapping[str, Any], *, api: str = DEFAULT_API, source_type: str | None = None,
          source_model_version: str | None = None) -> list[str]:
    """What Tripo will do with these parameters beyond taking them (a face limit it clamps silently, an option it
    ignores, a combination it may refuse): sentences for a dialog. Lenient: [] when the parameters are refused."""
    out: list[str] = []
    try:
        build_request(task_type, params, api=api, source_type=source_type,
                      source_model_version=source_model_version, notices=out)
    except Exception:  # noqa: BLE001 - the refusal itself is shown elsewhere
        return []
    return out


def retarget_problem(rig_version: str | None, rig_spec: str | None) -> str | None:
    """Why a rig made with this rig model and skeleton cannot be animated with presets (only v1.0 + Mixamo, where
    the sources agree), or None: Tripo decides the rest."""
    return _retarget_problem(rig_version, rig_spec)


def retarget_source_problem(rig_params: Mapping[str, Any], api: str = DEFAULT_API) -> str | None:
    """:func:`retarget_problem` for a rig step of the same job, from its parameters (the rig model Tripo will use:
    the one given, else v2.5 where the add-on picks it, else Tripo's default v1.0). Unknown values: None."""
    if api != "v3" or not isinstance(rig_params, Mapping):
        return None
    spec, rig_type, mv = rig_params.get("spec"), rig_params.get("rig_type", "biped"), rig_params.get("model_version")
    if not isinstance(spec, str) or not isinstance(rig_type, str) or (mv is not None and not isinstance(mv, str)):
        return None
    if mv is None and rig_type != "biped":
        return None  # the add-on sends rig v2.5 for non-bipeds
    return _retarget_problem(mv, spec)


def set_compress_support(supported: bool, reason: str = "") -> None:
    """Whether results compressed with EXT_meshopt_compression (``compress: geometry``) can be opened here; when
    not, ``compress`` is refused before any request with ``reason`` (the Blender layer detects it at start-up)."""
    CAPS.compress = bool(supported)
    CAPS.compress_reason = "" if supported else str(reason)


def compress_support() -> tuple[bool, str]:
    """(supported, reason) as last set by :func:`set_compress_support`."""
    return CAPS.compress, CAPS.compress_reason


def output_keys(task_type: str) -> tuple[str, ...]:
    """The semantic outputs (:mod:`~tripo_addon.api.outputs`) a successful task of this type gives."""
    tt = TASK_TYPES.get(task_type)
    return tt.outputs if tt is not None else ()


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


def smart_segment(
    seg_type: str, file: Any, *, transform: list[float] | None = None, granularity: str | None = None,
    hint: str | None = None, priority: int | None = None,
) -> dict[str, Any]:
    """Body for ``smart_segment`` (v3 only; ``file``: the model's GLB URL for seg_type model, the image otherwise)."""
    return _build("smart_segment", dict(locals()))


#: Builder function per task type.
BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "text_to_image": text_to_image, "generate_image": generate_image, "text_to_model": text_to_model,
    "image_to_model": image_to_model, "multiview_to_model": multiview_to_model, "refine_model": refine_model,
    "texture_model": texture_model, "import_model": import_model, "mesh_segmentation": mesh_segmentation,
    "mesh_completion": mesh_completion, "highpoly_to_lowpoly": highpoly_to_lowpoly,
    "animate_prerigcheck": animate_prerigcheck, "animate_rig": animate_rig, "animate_retarget": animate_retarget,
    "stylize_model": stylize_model, "convert_model": convert_model, "smart_segment": smart_segment,
}
