"""Server-side validation of POST /task bodies (reference §5-§6): types, ranges, lengths, version families,
option combinations and chain rules.

validate() turns a request body into a Plan (normalized parameters, resolved input files, price, concurrency
group) or raises ApiError with the code the real service uses."""

from __future__ import annotations

from typing import Any

from . import catalog as C
from .body import (  # noqa: F401 - re-exported: v3/validation.py and v3/smartsegment.py read them from here
    MAX_NEGATIVE,
    MAX_PROMPT,
    Plan,
    _bool,
    _enum,
    _int,
    _num,
    _parts,
    _source,
    _str_list,
    _text,
)
from .errors import ApiError, invalid
from .inputs import VIEWS, Context, SourceTask, image_slots, resolve_file
from .pricing import price

# ------------------------------------------------------------------------------------------------------ entry
ALIASES = {"model": "model_version", "rough_model_task_id": "draft_model_task_id", "text_seed": "image_seed"}


def validate(body: Any, ctx: Context, *, dialect: str = "v2") -> Plan:
    if not isinstance(body, dict):
        raise ApiError(1003, "The body must be a JSON object.")
    b = dict(body)
    for old, new in ALIASES.items():
        if old in b and new not in b:
            b[new] = b.pop(old)
    if "topology" in b and "rig_type" not in b:
        b["rig_type"] = {"bip": "biped", "quad": "quadruped"}.get(b["topology"], b.pop("topology"))
    t = b.get("type")
    if not isinstance(t, str) or not t:
        raise invalid("`type` is required.")
    if t in C.DEPRECATED_TYPES:
        raise ApiError(2016, f"`{t}` is deprecated; use animate_rig + animate_retarget.")
    if t not in C.TASK_TYPES:
        raise ApiError(2002, f"Unknown task type {t!r}.")
    plan = Plan(t, {}, {k: v for k, v in body.items() if k != "type"}, dialect=dialect)
    _priority(b, ctx, plan)
    _VALIDATORS[t](b, ctx, plan)
    plan.price = price(t, plan.params, plan.family)
    plan.group = C.concurrency_group(t, plan.family)
    return plan


def _priority(b: dict, ctx: Context, plan: Plan) -> None:
    """Optional `priority` on every task type (§5): 1-3, only for entitled accounts (403/2013 otherwise)."""
    pr = _int(b, "priority", 1, 3)
    if pr is None:
        return
    if not getattr(ctx, "priority_entitled", False):
        raise ApiError(2013, "This account is not entitled to task priorities; leave `priority` out.")
    plan.params["priority"] = pr


def _text_to_image(b: dict, ctx: Context, plan: Plan) -> None:
    plan.params["prompt"] = _text(b, "prompt", ctx, required=True)
    plan.params["negative_prompt"] = _text(b, "negative_prompt", ctx, max_len=MAX_NEGATIVE)


def _generate_image(b: dict, ctx: Context, plan: Plan) -> None:
    p = plan.params
    mv = _enum(b, "model_version", C.IMAGE_MODELS_5 + C.IMAGE_MODELS_10, "flux.1_kontext_pro", code=2017)
    files = []
    if b.get("file") is not None:
        files.append(resolve_file(b["file"], ctx, "file"))
    if b.get("files") is not None:
        if not isinstance(b["files"], list) or not b["files"]:
            raise invalid("`files` must be a non-empty list of file objects.")
        files += [resolve_file(f, ctx, f"files[{i}]") for i, f in enumerate(b["files"])]
    if files and mv == "flux.1_dev":
        mv = "flux.1_kontext_pro"  # silently upgraded, as the service does (then capped like it)
    cap = 4 if mv == "flux.1_kontext_pro" else 10
    if len(files) > cap:
        raise invalid(f"{mv} takes at most {cap} reference images.")
    if files and mv in C.IMAGE_MODELS_NO_INPUT:
        raise invalid(f"{mv} does not take reference images.")
    if mv == "flux.1_kontext_pro" and any(f.kind == "webp" for f in files):
        raise ApiError(2004, "flux.1_kontext_pro does not accept WEBP input.")
    template = b.get("template")
    if template is not None and not isinstance(template, str):
        raise invalid("`template` must be a string.")
    p["prompt"] = _text(b, "prompt", ctx, required=not (template and files))
    p.update(model_version=mv, template=template, t_pose=_bool(b, "t_pose", False),
             sketch_to_render=_bool(b, "sketch_to_render", False))
    plan.files.update({f"ref{i}": f for i, f in enumerate(files)})


def _generate_multiview_image(b: dict, ctx: Context, plan: Plan) -> None:
    if b.get("file") is None:
        raise invalid("`file` is required.")
    plan.files["file"] = resolve_file(b["file"], ctx, "file")


def _edit_multiview_image(b: dict, ctx: Context, plan: Plan) -> None:
    plan.source = _source(b, "original_task_id", ctx, {"generate_multiview_image", "edit_multiview_image"})
    prompts = b.get("prompts")
    if not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
        raise invalid("`prompts` must be a list of 1-4 {view, prompt} objects.")
    seen = set()
    for i, item in enumerate(prompts):
        if not isinstance(item, dict):
            raise invalid(f"`prompts[{i}]` must be an object.")
        view = _enum(item, "view", VIEWS)
        if view is None or view in seen:
            raise invalid(f"`prompts[{i}].view` is missing or repeated.")
        seen.add(view)
        _text(item, "prompt", ctx, required=True)
    plan.params["prompts"] = prompts


def _model_version(b: dict, allowed_families: tuple[str, ...] | None = None) -> tuple[str, str]:
    mv = b.get("model_version", C.DEFAULT_MODEL_VERSION)
    if mv in (None, "default"):
        mv = C.DEFAULT_MODEL_VERSION
    if not isinstance(mv, str):
        raise invalid("`model_version` must be a string.")
    if mv in C.DEPRECATED_VERSIONS:
        raise ApiError(2015, f"{mv} is deprecated.")
    if mv not in C.MODEL_VERSIONS:
        raise ApiError(2017, f"Unknown model_version {mv!r}.")
    family = C.MODEL_VERSIONS[mv]
    if allowed_families is not None and family not in allowed_families:
        if family == "v1":
            raise ApiError(2015, f"{mv} is deprecated for this task type.")
        raise ApiError(2017, f"{mv} is not available for this task type.")
    return mv, family


def _family_options(b: dict, mv: str, family: str) -> None:
    """1004 for shared generation options the version's family does not take (catalog.FAMILY_OPTIONS)."""
    allowed = C.FAMILY_OPTIONS[family]
    if family in C.STRICT_FAMILIES:  # P1 / v1.4: refused even as false or null (§5.2, §12)
        bad = [k for k in sorted(C.GENERATION_OPTIONS - allowed) if k in b]
    else:  # H3 / H2 / Turbo: refused only when turned on
        bad = [k for k in sorted(C.GENERATION_OPTIONS - allowed) if b.get(k) not in (None, False, "standard")]
    if bad:
        raise invalid(f"{', '.join(bad)} not supported by {mv}; leave {'it' if len(bad) == 1 else 'them'} out.")


def _generation_options(b: dict, ctx: Context, plan: Plan, allowed_families: tuple[str, ...] | None = None) -> None:
    mv, family = _model_version(b, allowed_families)
    p = plan.params
    plan.family = family
    p["model_version"] = mv
    plan.echo.setdefault("model_version", mv)
    p["model_seed"] = _int(b, "model_seed")
    _family_options(b, mv, family)
    if family == "v1":  # v1.4: only model_seed (+ enable_image_autofix); textured draft
        p.update(texture=True, pbr=False, texture_quality="standard", legacy=True)
        return
    texture = _bool(b, "texture", True)
    pbr = _bool(b, "pbr", None)
    if pbr is None:
        pbr = bool(texture)  # texture=false alone means an untextured base mesh
    if pbr:
        texture = True
    tq = _enum(b, "texture_quality", ("standard", "detailed", "extreme"), "standard")
    gq = _enum(b, "geometry_quality", ("standard", "detailed"), "standard")
    quad = _bool(b, "quad", False)
    slp = _bool(b, "smart_low_poly", False)
    parts = _bool(b, "generate_parts", False)
    if parts and (texture or pbr or quad):
        raise invalid("generate_parts needs texture=false, pbr=false and quad=false.")
    if not texture and not pbr and tq != "standard" and mv != "v3.0-20250812":
        raise invalid("texture_quality detailed/extreme without texture and pbr needs v3.0-20250812.")
    if slp:
        lo, hi = (500, 10_000) if quad else (1_000, 20_000)
    elif family == "P1":
        lo, hi = C.P1_FACE_MIN, C.FACE_LIMIT_MAX["P1"]
    elif family == "H3":
        lo, hi = 1, C.FACE_LIMIT_H3[gq]
    else:
        lo, hi = 1, C.FACE_LIMIT_MAX[family]
    face_limit = _int(b, "face_limit", lo, hi)
    compress = b.get("compress") or None   # "" = no compression
    if compress not in (None, "geometry"):
        raise invalid('`compress` must be "geometry" (or "" for none).')
    p.update(texture=texture, pbr=pbr, texture_quality=tq, geometry_quality=gq, quad=quad, smart_low_poly=slp,
             generate_parts=parts, face_limit=face_limit, texture_seed=_int(b, "texture_seed"),
             auto_size=_bool(b, "auto_size", False), compress=compress, export_uv=_bool(b, "export_uv", True),
             style=b.get("style") if isinstance(b.get("style"), str) else None)
    plan.echo.setdefault("texture", texture)
    plan.echo.setdefault("pbr", pbr)


def _text_to_model(b: dict, ctx: Context, plan: Plan) -> None:
    plan.params["prompt"] = _text(b, "prompt", ctx, required=True)
    plan.params["negative_prompt"] = _text(b, "negative_prompt", ctx, max_len=MAX_NEGATIVE)
    plan.params["image_seed"] = _int(b, "image_seed")
    _generation_options(b, ctx, plan)
    bad = [k for k in C.TEXT_ONLY_OPTIONS if k in b] if plan.family == "v1" else []
    if bad:
        raise invalid(f"{plan.params['model_version']} takes only prompt and model_seed; leave {', '.join(bad)} "
                      "out.")


def _image_options(b: dict, plan: Plan) -> None:
    plan.params.update(
        enable_image_autofix=_bool(b, "enable_image_autofix", False),
        texture_alignment=_enum(b, "texture_alignment", ("original_image", "geometry"), "original_image"),
        orientation=_enum(b, "orientation", ("default", "align_image"), "default"))


def _image_to_model(b: dict, ctx: Context, plan: Plan) -> None:
    if b.get("file") is None:
        raise invalid("`file` is required.")
    _generation_options(b, ctx, plan)
    _image_options(b, plan)
    plan.files["file"] = resolve_file(b["file"], ctx, "file")


def _multiview_to_model(b: dict, ctx: Context, plan: Plan) -> None:
    has_files, has_ref = b.get("files") is not None, b.get("original_task_id") is not None
    if has_files == has_ref:
        raise invalid("Send either `files` (4 slots) or `original_task_id`.")
    _generation_options(b, ctx, plan, C.MULTIVIEW_FAMILIES)
    _image_options(b, plan)
    if plan.family == "P1" and plan.params["enable_image_autofix"]:  # §5.3.5: no autofix on P1
        raise invalid(f"enable_image_autofix is not supported by {plan.params['model_version']} for "
                      "multiview_to_model; leave it off.")
    if has_ref:
        plan.source = _source(b, "original_task_id", ctx, {"generate_multiview_image", "edit_multiview_image"})
    else:
        for view, f in zip(VIEWS, image_slots(b["files"], ctx, "files"), strict=True):
            if f is not None:
                plan.files[view] = f


def _model_source(b: dict, ctx: Context, plan: Plan, target: str, field_name: str = "original_model_task_id"):
    allowed = C.SOURCES[target]
    if plan.dialect == "v3":
        from .v3.catalog import V3_EXTRA_SOURCES

        allowed = allowed | V3_EXTRA_SOURCES.get(target, set())
    src = _source(b, field_name, ctx, allowed)
    # Turbo or >= v2.0 only: texture_model, mesh_segmentation (§5.3.7, §5.3.9), prerigcheck and rig (§6)
    if src.meta.get("family") == "v1" and target in ("texture_model", "mesh_segmentation", "animate_prerigcheck",
                                                     "animate_rig"):
        raise ApiError(2006, "The original model must come from Turbo or v2.0+.")
    plan.source = src
    return src


def _texture_model(b: dict, ctx: Context, plan: Plan) -> None:
    src = _model_source(b, ctx, plan, "texture_model")
    p = plan.params
    mv = _enum(b, "model_version", C.TEXTURE_MODEL_VERSIONS, "v2.5-20250123", code=2017)
    texture, pbr = _bool(b, "texture", True), _bool(b, "pbr", True)
    tq = _enum(b, "texture_quality", ("standard", "detailed", "extreme"), "standard")
    if not texture and not pbr:
        if tq == "standard":
            raise invalid("texture=false and pbr=false with texture_quality=standard does nothing.")
        if mv != "v3.0-20250812":
            raise invalid("texture_quality detailed/extreme without texture and pbr needs model_version "
                          "v3.0-20250812.")
    tp = b.get("texture_prompt")
    if tp is not None:
        if not isinstance(tp, dict):
            raise invalid("`texture_prompt` must be an object.")
        kinds = [k for k in ("text", "image", "images") if tp.get(k) not in (None, "", [])]
        if len(kinds) > 1:
            raise invalid("texture_prompt takes one of text, image or images.")
        if "text" in kinds:
            p["text"] = _text(tp, "text", ctx, required=True)
        if "image" in kinds:
            plan.files["image"] = resolve_file(tp["image"], ctx, "texture_prompt.image")
        if "images" in kinds:
            for view, f in zip(VIEWS, image_slots(tp["images"], ctx, "texture_prompt.images"), strict=True):
                if f is not None:
                    plan.files[view] = f
        if tp.get("style_image") is not None:
            plan.files["style_image"] = resolve_file(tp["style_image"], ctx, "texture_prompt.style_image")
    compress = b.get("compress") or None   # "" = no compression
    if compress not in (None, "geometry"):
        raise invalid('`compress` must be "geometry" (or "" for none).')
    p.update(compress=compress, model_version=mv, texture=texture, pbr=pbr, texture_quality=tq,
             texture_seed=_int(b, "texture_seed"),
             model_seed=_int(b, "model_seed"), part_names=_parts(b, src), bake=_bool(b, "bake", True),
             texture_alignment=_enum(b, "texture_alignment", ("original_image", "geometry"), "original_image"))


def _refine_model(b: dict, ctx: Context, plan: Plan) -> None:
    src = _source(b, "draft_model_task_id", ctx, C.SOURCES["refine_model"], not_success_code=2005)
    if src.meta.get("family") != "v1":
        raise ApiError(2006, "Only drafts from model versions before v2.0 can be refined.")
    plan.source = src


def _import_model(b: dict, ctx: Context, plan: Plan) -> None:
    if b.get("file") is None:
        raise invalid("`file` is required.")
    plan.files["model"] = resolve_file(b["file"], ctx, "file", mesh=True)


def _mesh_segmentation(b: dict, ctx: Context, plan: Plan) -> None:
    _model_source(b, ctx, plan, "mesh_segmentation")
    plan.params["model_version"] = _enum(b, "model_version", C.SEGMENTATION_VERSIONS, "v1.0-20250506", code=2017)


def _mesh_completion(b: dict, ctx: Context, plan: Plan) -> None:
    src = _model_source(b, ctx, plan, "mesh_completion")
    plan.params["model_version"] = _enum(b, "model_version", C.COMPLETION_VERSIONS, "v1.0-20250506", code=2017)
    plan.params["part_names"] = _parts(b, src)


def _highpoly_to_lowpoly(b: dict, ctx: Context, plan: Plan) -> None:
    src = _model_source(b, ctx, plan, "highpoly_to_lowpoly")
    p = plan.params
    p["model_version"] = _enum(b, "model_version", C.LOWPOLY_VERSIONS, "P-v2.0-20251225", code=2017)
    p["quad"] = _bool(b, "quad", False)
    p["face_limit"] = _int(b, "face_limit", 500, 10_000 if p["quad"] else 20_000)
    p["part_names"] = _parts(b, src)
    p["bake"] = _bool(b, "bake", True)
    if src.meta.get("too_complex"):
        raise ApiError(2018)


def _animate_prerigcheck(b: dict, ctx: Context, plan: Plan) -> None:
    _model_source_or_2011(b, ctx, plan, "animate_prerigcheck")
    plan.params["model_version"] = _enum(b, "model_version", C.PRERIG_VERSIONS, "v1.0-20240301", code=2017)


def _model_source_or_2011(b: dict, ctx: Context, plan: Plan, target: str) -> SourceTask:
    try:
        return _model_source(b, ctx, plan, target)
    except ApiError as e:
        if e.code == 2006 and target == "animate_prerigcheck":
            raise ApiError(2011) from None
        raise


def _animate_rig(b: dict, ctx: Context, plan: Plan) -> None:
    _model_source(b, ctx, plan, "animate_rig")
    p = plan.params
    mv = _enum(b, "model_version", C.RIG_VERSIONS, "v1.0-20240301", code=2017)
    p.update(model_version="v2.5-20260210" if mv == "v2.0-20250506" else mv,
             out_format=_enum(b, "out_format", ("glb", "fbx"), "glb"),
             rig_type=_enum(b, "rig_type", C.RIG_TYPES, "biped"), spec=_enum(b, "spec", C.RIG_SPECS, "tripo"))


def _animate_retarget(b: dict, ctx: Context, plan: Plan) -> None:
    src = _source(b, "original_model_task_id", ctx, C.SOURCES["animate_retarget"], wrong_type_code=2012)
    plan.source = src
    anims: list = []
    if b.get("animation") is not None and b.get("animations") is not None:
        raise invalid("Send `animation` or `animations`, not both.")
    if b.get("animation") is not None:
        anims = [b["animation"]]
    elif b.get("animations") is not None:
        anims = b["animations"]
        if not isinstance(anims, list):
            raise invalid("`animations` must be a list.")
    if not anims:
        raise invalid("`animation` or `animations` is required.")
    if len(anims) > 5:
        raise invalid("At most 5 animations per task.")
    rig_type = src.meta.get("rig_type", "biped")
    for a in anims:
        if not isinstance(a, str) or (a not in C.ANIMATIONS and plan.dialect == "v2"):
            raise invalid(f"Unknown animation {a!r}.")   # (v3 checks its names per rig model first)
        topo = a.split(":")[1] if a.count(":") == 2 else None
        if topo and topo != rig_type:
            raise invalid(f"{a} needs a {topo} rig; this rig is {rig_type}.")
    if src.meta.get("spec") == "mixamo" and plan.dialect == "v2":   # v2's own rule (tripo-api.md, the v2.5 page);
        raise invalid("Only rigs with spec=tripo can be retargeted.")  # v3 refuses only v1.0 + mixamo (§18 R12)
    plan.params.update(animations=list(dict.fromkeys(anims)), out_format=_enum(b, "out_format", ("glb", "fbx"), "glb"),
                       bake_animation=_bool(b, "bake_animation", True),
                       export_with_geometry=_bool(b, "export_with_geometry", True),
                       animate_in_place=_bool(b, "animate_in_place", False))


def _stylize_model(b: dict, ctx: Context, plan: Plan) -> None:
    _model_source(b, ctx, plan, "stylize_model")
    style = _enum(b, "style", C.STYLES)
    if style is None:
        raise invalid("`style` is required.")
    plan.params.update(style=style, block_size=_int(b, "block_size", 32, 128, 80))


def _convert_model(b: dict, ctx: Context, plan: Plan) -> None:
    src = _model_source(b, ctx, plan, "convert_model")
    p = plan.params
    fmt = _enum(b, "format", C.CONVERT_FORMATS, upper=True)
    if fmt is None:
        raise invalid("`format` is required.")
    if fmt in ("OBJ", "STL", "3MF") and src.meta.get("rigged"):
        raise invalid(f"{fmt} cannot hold a rigged model; use FBX, GLTF or USDZ.")
    tex_default = 2048 if src.meta.get("family") == "v1" else 4096
    p.update(format=fmt, quad=_bool(b, "quad", False), force_symmetry=_bool(b, "force_symmetry", False),
             face_limit=_int(b, "face_limit", 1, 2_000_000),
             flatten_bottom=_bool(b, "flatten_bottom", False),
             flatten_bottom_threshold=_num(b, "flatten_bottom_threshold", 0.0, 0.01),
             texture_size=_int(b, "texture_size", 1, tex_default),
             texture_format=_enum(b, "texture_format", C.TEXTURE_FORMATS, "PNG" if fmt == "FBX" else "JPEG"),
             pivot_to_center_bottom=_bool(b, "pivot_to_center_bottom", False),
             scale_factor=_num(b, "scale_factor", 0.0, 1, strict_lo=True),
             with_animation=_bool(b, "with_animation", True), pack_uv=_bool(b, "pack_uv", False),
             bake=_bool(b, "bake", True), part_names=_parts(b, src),
             animate_in_place=_bool(b, "animate_in_place", False),
             export_vertex_colors=_bool(b, "export_vertex_colors", False),
             export_orientation=_enum(b, "export_orientation", ("+x", "-x", "+y", "-y"), "+x"),
             fbx_preset=_enum(b, "fbx_preset", ("blender", "3dsmax", "mixamo"), "blender"))
    if p["quad"] and src.meta.get("too_complex"):
        raise ApiError(2018)
    # what was actually sent (for the +5 surcharge)
    p["_sent"] = {k: b[k] for k in b if k in p}


_VALIDATORS = {
    "text_to_image": _text_to_image, "generate_image": _generate_image,
    "generate_multiview_image": _generate_multiview_image, "edit_multiview_image": _edit_multiview_image,
    "text_to_model": _text_to_model, "image_to_model": _image_to_model, "multiview_to_model": _multiview_to_model,
    "refine_model": _refine_model, "texture_model": _texture_model, "import_model": _import_model,
    "mesh_segmentation": _mesh_segmentation, "mesh_completion": _mesh_completion,
    "highpoly_to_lowpoly": _highpoly_to_lowpoly, "animate_prerigcheck": _animate_prerigcheck,
    "animate_rig": _animate_rig, "animate_retarget": _animate_retarget, "stylize_model": _stylize_model,
    "convert_model": _convert_model,
}
