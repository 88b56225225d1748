"""v3 request bodies -> Plans (tripo-api-v3.md §5-§6).

Each route first checks what is v3's own (required `model`, the v3 catalogues, P-series rules, v3-only options,
`input` references), then rewrites the body into the v2 task body and runs the v2 validators (validation.py) for
everything the dialects share (ranges, chain rules, prompts, files), and finally puts the v3 values back into the
plan. Task types only v3 has (image_to_splat, image_to_depth, mesh_uv) are planned here directly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import catalog as C
from ..errors import ApiError, invalid
from ..pricing import price
from ..producers import TaskFailure
from ..validation import Plan, _bool, _enum, _int, _source, _text, validate
from . import catalog as V
from .inputs import Ref, classify, four_views, not_a_task, refuse_inline, single

MAX_IMAGE_PROMPT = 1800


def plan_for(task_type: str, body: Any, ctx: Any) -> Plan:
    """The Plan of a v3 create request (ApiError on anything invalid)."""
    if not isinstance(body, dict):
        raise ApiError(1003, "The body must be a JSON object.")
    refuse_inline(body)
    plan = _ROUTES[task_type](dict(body), ctx)
    plan.echo = dict(body)
    plan.price = price(plan.type, plan.params, plan.family, dialect="v3")
    plan.group = V.pool(plan.type, plan.params.get("v3_model"))
    return plan


# ------------------------------------------------------------------------------------------------------ references
def image_file(ref: Ref, ctx: Any, where: str) -> dict:
    """A v2 file object for an image input; a task id stands for that task's image output (a signed URL)."""
    if ref.kind == "file":
        return ref.obj
    task = ctx.source(ref.task_id)
    if task.status != "success":
        raise ApiError(2007, f"`{where}`: task {ref.task_id} is {task.status}.")
    views = task.outputs.get("generate_multiview_image") or {}
    name = next((task.outputs[k] for k in V_IMAGE_KEYS if isinstance(task.outputs.get(k), str)),
                views.get("front_view_url"))
    if not name:
        raise ApiError(2006, f"`{where}`: a {task.type} task has no image output.")
    return {"url": ctx.emu.sign(task.id, name)}


V_IMAGE_KEYS = ("generated_image", "depth_image", "rendered_image")


def task_of(ref: Ref | None, where: str = "input") -> str:
    if ref is None or ref.kind != "task":
        raise invalid(f"`{where}` must be the task id of an earlier task (import a file first with "
                      "POST /v3/models/import).")
    return ref.task_id


def _model_input(b: dict, ctx: Any = None) -> str:
    """The model task a route works on; given a file (token or URL) instead and a ctx, the file is imported first
    (a free, hidden import_model task made at once: v3 model routes take files directly)."""
    ref = single(b, legacy=(), task_legacy=("original_model_task_id", "original_task_id"))
    if ctx is None or ref.kind == "task":
        return task_of(ref)
    plan = _import({"input": ref.obj}, ctx)
    try:
        return ctx.emu.store.add_done(ctx.acc, plan).id
    except TaskFailure as e:
        raise ApiError(2004, f"`input`: the model file could not be read ({e.msg}).") from None


def _v2(b: dict, task_type: str, ctx: Any, drop: tuple[str, ...] = (), **fields: Any) -> Plan:
    body = {k: v for k, v in b.items() if k not in ("input", "inputs", "model", "model_version") + drop}
    body.update({k: v for k, v in fields.items() if v is not None}, type=task_type)
    return validate(body, ctx, dialect="v3")


def _choice(b: dict, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    return _enum(b, name, choices, default)


# ------------------------------------------------------------------------------------------------------ 3D generation
def _generation(b: dict, ctx: Any, task_type: str, **fields: Any) -> Plan:
    model = b.get("model", b.get("model_version"))
    if model is None:   # Tripo's JS/Go/Rust SDKs omit it and call v3.1 the default (§18 C2)
        model = V.DEFAULT_MODEL
    if not isinstance(model, str) or model not in V.MODELS:
        raise invalid(f"Unknown model {model!r}: use one of {', '.join(V.MODELS)}.")
    family = V.MODELS[model]
    bad = [k for k in V.P_FORBIDDEN.get(family, ()) if k in b]
    if bad:
        raise invalid(f"{', '.join(bad)} not supported by {model}; leave {'it' if len(bad) == 1 else 'them'} out "
                      "entirely (even false is refused).")
    tv = _choice(b, "texture_version", V.TEXTURE_VERSIONS)
    if b.get("delight") is not None and tv != V.DELIGHT_TEXTURE:
        raise invalid(f"`delight` needs texture_version {V.DELIGHT_TEXTURE}.")
    fast = b.get("texture_quality") == "fast"
    if fast and tv != V.DELIGHT_TEXTURE:
        raise invalid(f"texture_quality fast needs texture_version {V.DELIGHT_TEXTURE}.")
    orient = _choice(b, "export_orientation", V.ORIENTATIONS)
    if "image_autofix" in b and "enable_image_autofix" not in b:
        b["enable_image_autofix"] = b.pop("image_autofix")
    if family == "H2":   # R4: v2.5 takes none of the gated options
        gated = [k for k in V.GATED_OPTIONS if b.get(k) not in (None, False, "", "standard")]
        if gated:
            raise invalid(f"{', '.join(gated)} need{'s' if len(gated) == 1 else ''} model v3.0-20250812 or newer; "
                          f"{model} takes none of {', '.join(V.GATED_OPTIONS)}.")
    drop: tuple[str, ...] = ("texture_quality", "face_limit") if fast else ("face_limit",)
    stand_in, p2 = model, {}
    if family == "P2":   # validated as P1, then P2's own quad put back
        stand_in = "P1-20260311"
        p2 = {"quad": _bool(b, "quad", False)}
        drop += ("quad",)
    plan = _v2(b, task_type, ctx, drop, model_version=stand_in, **fields)
    plan.params.update(p2, model_version=model, v3_model=model, texture_version=tv, export_orientation=orient,
                       delight=_bool(b, "delight"), face_limit=_face_limit(b, model, family))
    if fast:
        plan.params["texture_quality"] = "fast"
    return plan


def _face_limit(b: dict, model: str, family: str) -> int | None:
    """`face_limit` clamped silently into the model's range (§18 R5), as Tripo does; None = adaptive."""
    fl = _int(b, "face_limit")
    if fl is None:
        return None
    quad, detailed = b.get("quad") is True, b.get("geometry_quality") == "detailed"
    if b.get("smart_low_poly") is True:
        lo, hi_tri, hi_quad = V.SMART_LOW_POLY_FACES
        lo, hi = lo, hi_quad if quad else hi_tri
    elif family == "P2":
        lo, hi = V.P2_FACES[0], V.P2_FACES[2 if quad else 1]
    else:
        lo, hi, hi_detailed = V.FACE_RANGES[model]
        hi = hi_detailed if detailed else hi
        if quad:
            hi = min(hi, V.QUAD_FACE_MAX)
    return max(lo, min(hi, fl))


def _text_to_model(b: dict, ctx: Any) -> Plan:
    return _generation(b, ctx, "text_to_model")


def _image_to_model(b: dict, ctx: Any) -> Plan:
    file = image_file(single(b), ctx, "input")
    return _generation(b, ctx, "image_to_model", file=file)


def _multiview_to_model(b: dict, ctx: Any) -> Plan:
    if b.get("inputs") is not None:
        slots = four_views(b["inputs"])
        if isinstance(slots, str):
            return _generation(b, ctx, "multiview_to_model", original_task_id=slots)
        files = [{} if s is None else image_file(classify(s, f"inputs[{i}]"), ctx, f"inputs[{i}]")
                 for i, s in enumerate(slots)]
        return _generation(b, ctx, "multiview_to_model", files=files)
    if b.get("original_model_task_id") is not None:
        return _generation(b, ctx, "multiview_to_model", original_task_id=b.pop("original_model_task_id"))
    if b.get("files") is not None:
        return _generation(b, ctx, "multiview_to_model")
    raise invalid("`inputs` is required: 4 slots [front, left, back, right] or [{\"task_id\": ...}].")


def _image_to_splat(b: dict, ctx: Any) -> Plan:
    plan = _v2({"file": image_file(single(b), ctx, "input")}, "generate_multiview_image", ctx)
    plan.type = "image_to_splat"
    plan.params["model_seed"] = _int(b, "model_seed")
    return plan


def _image_to_depth(b: dict, ctx: Any) -> Plan:
    plan = _v2({"file": image_file(single(b), ctx, "input")}, "generate_multiview_image", ctx)
    plan.type = "image_to_depth"
    plan.params.update(kind=_choice(b, "kind", V.DEPTH_KINDS, "gray"),
                       process_res=_int(b, "process_res", 126, 2016, 504))
    return plan


# ------------------------------------------------------------------------------------------------------ images
def _image_model(b: dict, default: str, refused: tuple[str, ...] = ()) -> str:
    model = b.get("model", b.get("model_version"))
    if model in (None, ""):
        return default
    if isinstance(model, str) and model in V.MODELS:
        raise invalid(f"{model} is a 3D model version; image routes take {', '.join(V.IMAGE_MODELS)}.")
    if not isinstance(model, str) or model not in V.IMAGE_MODELS or model in refused:
        raise invalid(f"Unknown image model {model!r}: use one of "
                      f"{', '.join(m for m in V.IMAGE_MODELS if m not in refused)}.")
    return model


def _image_common(b: dict, ctx: Any, plan: Plan, templates: tuple[str, ...]) -> None:
    plan.params.update(size=b.get("size") if isinstance(b.get("size"), str) else None,
                       output_format=_choice(b, "output_format", ("png", "jpeg"), "png"),
                       template=_choice(b, "template", templates), watermark=_bool(b, "watermark", False))
    model = plan.params["model_version"]
    if b.get("aspect_ratio") is not None:
        if not model.startswith("banana"):
            raise invalid("`aspect_ratio` is only for the banana models.")
        plan.params["aspect_ratio"] = _choice(b, "aspect_ratio", V.ASPECT_RATIOS)
    if b.get("quality") is not None:
        if model not in V.IMAGE_QUALITY:
            raise invalid(f"`quality` is not supported by {model} (only {', '.join(V.IMAGE_QUALITY)}).")
        plan.params["quality"] = _choice(b, "quality", V.IMAGE_QUALITY[model])
    if b.get("background") is not None:
        if model not in V.BACKGROUND_MODELS:
            raise invalid(f"`background` is not supported by {model} (only {', '.join(V.BACKGROUND_MODELS)}).")
        plan.params["background"] = _choice(b, "background", V.IMAGE_BACKGROUND)
        if plan.params["background"] == "transparent" and plan.params["output_format"] != "png":
            raise invalid("A transparent background needs output_format png (jpeg has no transparency).")


def _text_to_image(b: dict, ctx: Any) -> Plan:
    model = _image_model(b, "seedream_v4")
    template = _choice(b, "template", V.T2I_TEMPLATES)   # a template alone is a request (every SDK allows it, C4)
    plan = Plan("text_to_image", {"prompt": _text(b, "prompt", ctx, required=template is None,
                                                  max_len=MAX_IMAGE_PROMPT),
                                  "negative_prompt": _text(b, "negative_prompt", ctx, max_len=255),
                                  "model_version": model}, {})
    _image_common(b, ctx, plan, V.T2I_TEMPLATES)
    return plan


def _image_to_image(b: dict, ctx: Any) -> Plan:
    from ..inputs import resolve_file

    model = _image_model(b, "seedream_v5", refused=("seedream_v4",))
    if (b.get("input") is None) == (b.get("inputs") is None):
        raise invalid("Send `input` or `inputs` (one of them).")
    raw = [b["input"]] if b.get("input") is not None else b["inputs"]
    if not isinstance(raw, list) or not raw:
        raise invalid("`inputs` must be a non-empty list.")
    cap = next(n for prefix, n in V.IMAGE_INPUT_CAPS.items() if model.startswith(prefix))
    if len(raw) > cap:
        raise invalid(f"{model} takes at most {cap} input images.")
    files = [resolve_file(image_file(classify(x, f"inputs[{i}]"), ctx, f"inputs[{i}]"), ctx, f"inputs[{i}]")
             for i, x in enumerate(raw)]
    template = _choice(b, "template", V.I2I_TEMPLATES)
    plan = Plan("generate_image", {"prompt": _text(b, "prompt", ctx, required=template is None,
                                                   max_len=MAX_IMAGE_PROMPT), "model_version": model}, {})
    plan.files.update({f"ref{i}": f for i, f in enumerate(files)})
    _image_common(b, ctx, plan, V.I2I_TEMPLATES)
    return plan


def _image_to_multiview(b: dict, ctx: Any) -> Plan:
    return _v2(b, "generate_multiview_image", ctx, file=image_file(single(b), ctx, "input"))


def _edit_multiview(b: dict, ctx: Any) -> Plan:
    ref = single(b, legacy=(), task_legacy=("original_task_id",))
    if ref.kind != "task":
        raise invalid("`input` must be the task id of a finished image-to-multiview or edit-multiview task.")
    return _v2(b, "edit_multiview_image", ctx, ("original_task_id",), original_task_id=ref.task_id)


# ------------------------------------------------------------------------------------------------------ models/*
def _import(b: dict, ctx: Any) -> Plan:
    ref = single(b)
    if ref.kind == "task":
        raise not_a_task("input")
    if "object" in ref.obj:
        raise invalid("v3 import takes a file token or a URL; storage `object` references are gone.")
    return _v2(b, "import_model", ctx, ("file",), file=ref.obj)


def _texture(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b, ctx)
    model = _choice(b, "model", V.TEXTURE_VERSIONS) or _choice(b, "model_version", V.TEXTURE_VERSIONS) \
        or "v3.0-20250812"
    if b.get("delight") is not None and model != V.DELIGHT_TEXTURE:
        raise invalid(f"`delight` needs model {V.DELIGHT_TEXTURE}.")
    tp = dict(b.get("texture_prompt") or {}) if isinstance(b.get("texture_prompt"), dict) else b.get("texture_prompt")
    for top, key in (("text_prompt", "text"), ("image_prompt", "image"), ("style_image", "style_image")):
        if b.get(top) is not None:   # the JS SDK's top-level spelling
            tp = dict(tp or {})
            tp[key] = b[top]
    if isinstance(tp, dict):
        for key in ("image", "style_image"):
            if isinstance(tp.get(key), str | dict):
                tp[key] = image_file(classify(tp[key], f"texture_prompt.{key}"), ctx, f"texture_prompt.{key}")
        if isinstance(tp.get("images"), list):
            tp["images"] = [{} if x in (None, "", {}) else image_file(classify(x, "texture_prompt.images"), ctx,
                                                                       "texture_prompt.images") for x in tp["images"]]
    plan = _v2(b, "texture_model", ctx, ("original_model_task_id", "text_prompt", "image_prompt", "style_image"),
               original_model_task_id=tid, texture_prompt=tp,
               model_version="v3.0-20250812" if model == V.DELIGHT_TEXTURE else model)
    plan.params.update(model_version=model, delight=_bool(b, "delight", model == V.DELIGHT_TEXTURE))
    return plan


def _convert(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b, ctx)
    fmt = _enum(b, "format", V.CONVERT_FORMATS, upper=True)
    if fmt is None:
        raise invalid("`format` is required.")
    if fmt == "GLTF" and b.get("quad"):
        raise invalid("quad cannot be exported as GLTF; use FBX or GLB.")
    plan = _v2(b, "convert_model", ctx, ("original_model_task_id",), original_model_task_id=tid,
               format="GLTF" if fmt == "GLB" else fmt)
    plan.params["format"] = fmt
    return plan


# ------------------------------------------------------------------------------------------------------ animations/*
def _rig_check(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b, ctx)
    return _v2(b, "animate_prerigcheck", ctx, ("original_model_task_id",), original_model_task_id=tid)


def _rig(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b, ctx)
    model = b.get("model", b.get("model_version")) or V.RIG_MODELS[0]
    if model not in V.RIG_MODELS:
        hint = " (v2.0-20250506 is retired: use v2.5-20260210)" if model == "v2.0-20250506" else ""
        raise invalid(f"Unknown rig model {model!r}{hint}: use one of {', '.join(V.RIG_MODELS)}.")
    spec = _choice(b, "spec", V.RIG_SPECS, "tripo")
    if spec in V.RIG_SPECS_V25 and model == V.RIG_MODELS[0]:
        raise invalid(f"spec {spec} needs rig model v2.5-20260210 or v3.0-20260909.")
    rig_type = _choice(b, "rig_type", C.RIG_TYPES, "biped")
    if model == V.RIG_MODELS[0] and rig_type != "biped":
        raise invalid(f"Rig model {model} rigs bipeds only; use v2.5-20260210 for {rig_type}.")
    plan = _v2(b, "animate_rig", ctx, ("original_model_task_id", "spec"), original_model_task_id=tid,
               model_version=model if model == V.RIG_MODELS[0] else "v2.5-20260210",
               spec="mixamo" if spec == "mixamo" else "tripo")
    plan.params.update(model_version=model, spec=spec)
    return plan


def _retarget(b: dict, ctx: Any) -> Plan:
    """Presets by rig model (§18 R12): v1.0 rigs take preset:biped:<name>, v2.5 / v3.0 rigs the plain names; only a
    v1.0 rig made with spec mixamo cannot be retargeted (v2.5 / v3.0 mixamo rigs can: Tripo's SDK examples, C3)."""
    tid = _model_input(b)
    src = _source({"t": tid}, "t", ctx, C.SOURCES["animate_retarget"], wrong_type_code=2012)
    rig_model = src.plan.params.get("model_version") or V.RIG_MODELS[0]
    v10 = rig_model == V.RIG_MODELS[0]
    if v10 and src.meta.get("spec") == "mixamo":
        raise invalid("A v1.0 rig made with spec mixamo cannot be retargeted with presets: rig again with model "
                      "v2.5-20260210 (or spec tripo).")
    names = [b[k] for k in ("animation",) if b.get(k) is not None]
    if isinstance(b.get("animations"), list):
        names += b["animations"]
    allowed = V.V10_PRESETS if v10 else V.V25_PRESETS
    for a in names:
        # Disputed (§17): a v1.0 rig's clips are preset:biped:<name> ([SKILL], [NOTES-A], [COMFY2]); whether the
        # plain preset:<name> is refused there is one third-party report only, so it is taken as the same clip.
        if v10 and isinstance(a, str) and "preset:biped:" + a.removeprefix("preset:") in allowed:
            continue
        if not isinstance(a, str) or a not in allowed:
            if not v10 and isinstance(a, str) and a.startswith("preset:biped:"):
                hint = f"a {rig_model} rig names it {'preset:' + a.removeprefix('preset:biped:')}"
            else:
                hint = f"a {rig_model} rig takes {', '.join(allowed[:12])}{', ...' if len(allowed) > 12 else ''}"
            raise invalid(f"Unknown animation {a!r} for this rig: {hint}.")
    plain = {k: ([_unbiped(a) for a in b[k]] if isinstance(b[k], list) else _unbiped(b[k]))
             for k in ("animation", "animations") if b.get(k) is not None}
    plan = _v2({**b, **plain}, "animate_retarget", ctx, ("original_model_task_id",), original_model_task_id=tid)
    plan.params["per_clip"] = True
    return plan


def _unbiped(a: Any) -> Any:
    """v1.0 rigs name their presets preset:biped:<name>: the clip is named <name>, as for the other rigs."""
    return "preset:" + a[len("preset:biped:"):] if isinstance(a, str) and a.startswith("preset:biped:") else a


# ------------------------------------------------------------------------------------------------------ mesh/*
def _segment(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b, ctx)
    model = (_choice(b, "model", V.SEGMENT_MODELS) or _choice(b, "model_version", V.SEGMENT_MODELS)
             or V.SEGMENT_MODELS[0])
    v2_only = [k for k in ("segmentation_granularity", "split_by_connectivity", "ref_image") if b.get(k) is not None]
    if v2_only and model != V.SEGMENT_MODELS[1]:
        raise invalid(f"{', '.join(v2_only)} need model {V.SEGMENT_MODELS[1]}.")
    ref = b.get("ref_image")
    plan = _v2(b, "mesh_segmentation", ctx, ("original_model_task_id", "ref_image"), original_model_task_id=tid,
               model_version=V.SEGMENT_MODELS[0])
    if ref is not None:
        from ..inputs import resolve_file

        plan.files["ref_image"] = resolve_file(image_file(classify(ref, "ref_image"), ctx, "ref_image"), ctx,
                                               "ref_image")
    plan.params.update(model_version=model, segmentation_granularity=_choice(b, "segmentation_granularity",
                                                                              V.SEGMENT_GRANULARITY),
                       split_by_connectivity=_bool(b, "split_by_connectivity"))
    return plan


def _complete(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b)
    mode = _choice(b, "completion_mode", V.COMPLETION_MODES, "ai_completion")
    plan = _v2(b, "mesh_completion", ctx, ("original_model_task_id",), original_model_task_id=tid)
    plan.params["completion_mode"] = mode
    return plan


def _decimate(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b, ctx)
    model = b.get("model", b.get("model_version")) or "v2.0"
    if model not in V.DECIMATE_MODELS:
        raise invalid(f"Unknown decimate model {model!r}: use v1.0, v2.0 or v3.0.")
    if b.get("smart_uv") is not None and model != "v3.0":
        raise invalid("`smart_uv` needs model v3.0.")
    if model == "v1.0":
        if b.get("face_limit") is None:
            raise invalid("Decimate v1.0 needs `face_limit`.")
        bad = [k for k in ("bake", "part_names") if b.get(k) is not None]
        if bad:
            raise invalid(f"Decimate v1.0 takes no {', '.join(bad)}.")
    plan = _v2(b, "highpoly_to_lowpoly", ctx, ("original_model_task_id",), original_model_task_id=tid)
    plan.params.update(model_version=model, smart_uv=_bool(b, "smart_uv", False))
    return plan


def _uv(b: dict, ctx: Any) -> Plan:
    tid = _model_input(b, ctx)
    src = _source({"t": tid}, "t", ctx, C.MODEL_TASKS)
    plan = Plan("mesh_uv", {"model_version": b.get("model") if isinstance(b.get("model"), str) else None,
                            "export_orientation": _choice(b, "export_orientation", V.ORIENTATIONS, "+x")}, {})
    plan.source = src
    return plan


def _smartsegment(b: dict, ctx: Any) -> Plan:
    """§6.12 / §18 R9: seg_type image -> `input` a file token; seg_type model -> `input` the model's GLB URL +
    `transform` (16 numbers, column-major); `granularity` coarse/medium/fine, `hint`. No task ids (not in any SDK)."""
    import math

    from ..inputs import resolve_file

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


_ROUTES: dict[str, Callable[[dict, Any], Plan]] = {
    "text_to_model": _text_to_model, "image_to_model": _image_to_model, "multiview_to_model": _multiview_to_model,
    "text_to_image": _text_to_image, "generate_image": _image_to_image,
    "generate_multiview_image": _image_to_multiview, "edit_multiview_image": _edit_multiview,
    "image_to_splat": _image_to_splat, "image_to_depth": _image_to_depth, "import_model": _import,
    "texture_model": _texture, "convert_model": _convert, "animate_prerigcheck": _rig_check, "animate_rig": _rig,
    "animate_retarget": _retarget, "mesh_segmentation": _segment, "mesh_completion": _complete,
    "highpoly_to_lowpoly": _decimate, "mesh_uv": _uv, "smart_segment": _smartsegment,
}
