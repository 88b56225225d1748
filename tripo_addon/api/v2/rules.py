"""The v2 rules: checks across parameters per task type, the chain rules (tripo-api.md §6) and prices (§7)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..params import Catalog, TaskType, check_compress, differs, eff, fail, multiview_sources
from .catalog import (
    ALIASES,
    CONVERT_ADVANCED,
    DEFAULT_MODEL_VERSION,
    GENERATION,
    IMAGE_MODELS_10,
    IMAGE_MODELS_NO_INPUT,
    IMAGE_TYPES,
    MAX_ANIMATIONS,
    MESH_TYPES,
    NEEDS_V2_SOURCE,
    NO_RIG_FORMATS,
    RIGGED_TASKS,
    TASK_TYPES,
    UPSCALE_ONLY_VERSION,
    model_family,
)

_FACE_MAX = {"H2": 500_000, "Turbo": 50_000, "P1": 20_000}
_FACE_MAX_H3 = {"standard": 1_500_000, "detailed": 2_000_000}
P1_FORBIDDEN = ("quad", "smart_low_poly", "generate_parts", "geometry_quality")


def parts_and_orientation(tt: TaskType, v: dict[str, Any], texture: bool) -> None:
    """Rules both APIs share: parts need texture, pbr and quad off; align_image needs a textured model."""
    if v.get("generate_parts"):
        on = [n for n in ("texture", "pbr", "quad") if eff(tt, v, n)]
        if on:
            raise fail(f"`generate_parts` needs texture, pbr and quad off; turn off {', '.join(on)}.",
                       "generate_parts")
    if eff(tt, v, "orientation") == "align_image" and not texture:
        raise fail("`orientation` align_image only works on textured models; turn texture on or use default.",
                   "orientation")


def _generation_rules(tt: TaskType, v: dict[str, Any]) -> None:
    mv = eff(tt, v, "model_version")
    fam = model_family(mv)
    sent = {k: x for k, x in v.items() if differs(tt.param(k), x)}  # type: ignore[arg-type]
    # options the family does not take (only when actually sent: defaults are never sent)
    for name in sent:
        p = tt.param(name)
        if p is not None and p.families and fam not in p.families:
            if fam == "P1" and name in P1_FORBIDDEN:
                raise fail(f"`{name}` is not supported by P1 model versions ({mv}); leave it unset or choose an "
                            "H2/H3 model version.", name)
            if fam == "v1":
                takes = {"text_to_model": "prompt and model_seed (and the legacy style)",
                         "image_to_model": "the image, model_seed and enable_image_autofix (and the legacy style)",
                         }.get(tt.name, "model_seed")
                raise fail(f"`{name}` is not supported by {mv}: it takes only {takes}. Leave `{name}` unset or "
                            "choose a newer model version.", name)
            where = {"H3": "v3.x", "H2": "v2.x"}
            allowed = ", ".join(where.get(f, f) for f in p.families)
            raise fail(f"`{name}` is not supported by {mv}; leave it unset or choose a model version from: "
                        f"{allowed}.", name)
    if fam == "P1" and tt.name == "multiview_to_model" and v.get("enable_image_autofix"):
        raise fail(f"`enable_image_autofix` is not supported by {mv} for multiview; leave it off.",
                    "enable_image_autofix")
    if fam == "v1":
        return
    check_compress(v)
    texture, pbr = eff(tt, v, "texture"), eff(tt, v, "pbr")
    if "texture" in v and not v["texture"] and "pbr" not in v:
        v["pbr"] = pbr = False  # no texture means no PBR either (pbr=true would force texture back on)
    if pbr and not texture:
        raise fail("`pbr` needs a texture: set texture on, or pbr off for an untextured model.", "pbr")
    tq = eff(tt, v, "texture_quality")
    if not texture and not pbr and tq != "standard" and mv != UPSCALE_ONLY_VERSION:
        raise fail(f"`texture_quality` {tq} without texture and pbr (4K upscale) needs model_version "
                    f"{UPSCALE_ONLY_VERSION}; turn texture on or set texture_quality to standard.", "texture_quality")
    parts_and_orientation(tt, v, texture)
    fl = v.get("face_limit")
    if fl is not None:
        gq = eff(tt, v, "geometry_quality")
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
            raise fail(f"`face_limit` {fl:,} is out of range for {why}: use {lo:,}-{hi:,}, or leave it unset for an "
                        "adaptive face count.", "face_limit")


def _rules_generate_image(tt: TaskType, v: dict[str, Any]) -> None:
    mv = eff(tt, v, "model_version")
    if "files" in v:
        v["files"] = [f for f in v["files"] if f]  # no view slots here: empty entries are dropped
        if not v["files"]:
            del v["files"]
    images = ([v["file"]] if "file" in v else []) + list(v.get("files", []))
    if images and mv in IMAGE_MODELS_NO_INPUT:
        raise fail(f"{mv} does not take reference images; remove them or choose another model_version.",
                    "model_version")
    cap = 4 if mv in ("flux.1_kontext_pro", "flux.1_dev") else 10
    if len(images) > cap:
        raise fail(f"{mv} takes at most {cap} reference images; you gave {len(images)}.", "files")
    if mv in ("flux.1_kontext_pro", "flux.1_dev") and any(f.ext == "webp" for f in images):
        raise fail(f"{mv} does not accept WEBP reference images; use PNG or JPEG, or another model_version.",
                    "files")
    if "prompt" not in v and not (v.get("template") and images):
        raise fail("generate_image needs `prompt` (it is optional only with a template and a reference image).",
                    "prompt")


def _rules_image_to_model(tt: TaskType, v: dict[str, Any]) -> None:
    _generation_rules(tt, v)


def _rules_multiview(tt: TaskType, v: dict[str, Any]) -> None:
    multiview_sources(tt, v, "a generate_multiview_image task")
    _generation_rules(tt, v)


def _rules_texture_model(tt: TaskType, v: dict[str, Any]) -> None:
    check_compress(v)
    texture, pbr, tq = eff(tt, v, "texture"), eff(tt, v, "pbr"), eff(tt, v, "texture_quality")
    mv = eff(tt, v, "model_version")
    if not texture and not pbr:
        if tq == "standard":
            raise fail("With texture and pbr both off, texture_model does nothing at standard quality; turn one on, "
                        "or choose texture_quality detailed/extreme to upscale.", "texture")
        if mv != UPSCALE_ONLY_VERSION:
            raise fail(f"Upscaling (texture and pbr off, texture_quality {tq}) needs model_version "
                        f"{UPSCALE_ONLY_VERSION}.", "model_version")


def _rules_import(tt: TaskType, v: dict[str, Any]) -> None:
    f = v["file"]
    if f.kind == "token":
        raise fail("import_model needs the model uploaded through STS (TripoClient.upload_sts gives "
                    "{object: {bucket, key}}); direct-upload tokens are for images only.", "file")
    if f.ext not in MESH_TYPES:
        raise fail(f"import_model takes GLB, OBJ, FBX or STL models; the file is {f.ext!r}.", "file")


def _rules_lowpoly(tt: TaskType, v: dict[str, Any]) -> None:
    fl = v.get("face_limit")
    if fl is not None and v.get("quad") and fl > 10_000:
        raise fail(f"`face_limit` {fl:,} is too high with quad: use 500-10,000.", "face_limit")


def _rules_retarget(tt: TaskType, v: dict[str, Any]) -> None:
    if "animation" in v and "animations" in v:
        raise fail("Give `animation` (one preset) or `animations` (up to 5), not both.", "animations")
    if "animations" in v and not v["animations"]:
        raise fail("`animations` is empty; pick at least one preset.", "animations")
    if "animation" not in v and not v.get("animations"):
        raise fail("animate_retarget needs `animation` or `animations` (e.g. preset:walk).", "animations")


def _rules_stylize(tt: TaskType, v: dict[str, Any]) -> None:
    if "block_size" in v and differs(tt.param("block_size"), v["block_size"]) and v["style"] != "minecraft":  # type: ignore[arg-type]
        raise fail(f"`block_size` only applies to the minecraft style (style is {v['style']}); leave it unset.",
                    "block_size")


def _rules_convert(tt: TaskType, v: dict[str, Any]) -> None:
    fmt = v["format"]
    if v.get("force_symmetry") and not v.get("quad"):
        raise fail("`force_symmetry` only works with quad; turn quad on or force_symmetry off.", "force_symmetry")
    if "flatten_bottom_threshold" in v and differs(tt.param("flatten_bottom_threshold"),  # type: ignore[arg-type]
                                                    v["flatten_bottom_threshold"]) and not v.get("flatten_bottom"):
        raise fail("`flatten_bottom_threshold` only applies with flatten_bottom on.", "flatten_bottom_threshold")
    if v.get("export_vertex_colors") and fmt not in ("OBJ", "GLTF"):
        raise fail(f"`export_vertex_colors` works only for OBJ and GLTF, not {fmt}.", "export_vertex_colors")
    if "fbx_preset" in v and differs(tt.param("fbx_preset"), v["fbx_preset"]) and fmt != "FBX":  # type: ignore[arg-type]
        raise fail(f"`fbx_preset` only applies to FBX, not {fmt}; leave it unset.", "fbx_preset")


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
            raise fail(f"{fmt} cannot hold a rig or animation, and this model comes from {source_type}; convert it "
                        "to FBX, GLTF or USDZ instead.", "format")
        if source_type == "convert_model":
            extra = [k for k in v if k not in ("format", "original_model_task_id", "priority")
                     and differs(tt.param(k), v[k])]  # type: ignore[arg-type]
            if extra:
                raise fail("Re-converting a converted model only changes its format; leave "
                            f"{', '.join(extra)} unset (or convert the original model).", extra[0])
        if (v.get("texture_size") or 0) > 2048 and source_model_version and model_family(source_model_version) == "v1":
            raise fail("`texture_size` is at most 2048 for models made before v2.0.", "texture_size")


# ============================================================================================== chain rules
def check_chain(task_type: str, source_type: str, source_model_version: str | None = None) -> None:
    """Raise TripoValidationError unless ``task_type`` can take a ``source_type`` task as its source (§6).

    ``source_model_version`` is the model version the source was generated with (None: the server default,
    v2.5-20250123). Refine takes only drafts < v2.0; texture, segmentation, prerigcheck and rig refuse v1.x
    generations. Images (text_to_image, generate_image) are linked by URL (``file.url``), not by task id.
    """
    tt = TASK_TYPES[task_type]
    src = source_type if isinstance(source_type, str) else ""
    if tt.name == "multiview_to_model" and src in ("generate_multiview_image", "edit_multiview_image"):
        return
    if src in IMAGE_TYPES:
        if tt.name in ("image_to_model", "generate_image", "texture_model"):
            raise fail(f"An image from {src} is linked by its URL, not its task id: pass its generated_image URL as "
                        f"`file` ({{type, url}}) to {tt.name}.", "file")
        raise fail(f"{tt.name} needs a 3D model, and {src} makes an image. Turn the image into a model first "
                    "(image_to_model with the generated_image URL).", tt.source_field)
    if tt.source_field is None:
        raise fail(f"{tt.name} does not start from an earlier task; it takes its own inputs.", None)
    if src not in TASK_TYPES and src not in ("generate_multiview_image", "edit_multiview_image"):
        raise fail(f"Unknown source task type {source_type!r}.", tt.source_field)
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
        raise fail(msg, tt.source_field)
    family = model_family(source_model_version) if src in GENERATION else None
    if tt.name == "refine_model" and family != "v1":
        shown = source_model_version or f"{DEFAULT_MODEL_VERSION} (the default)"
        raise fail(f"refine_model only refines drafts made with a model version before v2.0 (e.g. v1.4-20240625); "
                    f"this model used {shown}. Newer versions need no refining.", "draft_model_task_id")
    if tt.name in NEEDS_V2_SOURCE and family == "v1":
        raise fail(f"{tt.name} needs a model made with Turbo or v2.0 and newer; this one used {source_model_version}. "
                    "Refine it first or generate it again with a newer model version.", tt.source_field)



# ============================================================================================== credits
QUALITY_SURCHARGE = {"standard": 10, "detailed": 20, "extreme": 30}
_GEN_BASE = {"text_to_model": (10, 30), "image_to_model": (20, 40), "multiview_to_model": (20, 40)}  # (H2/H3, P1)
_FLAT = {"text_to_image": 5, "refine_model": 30, "import_model": 0, "mesh_segmentation": 40, "mesh_completion": 50,
         "highpoly_to_lowpoly": 30, "animate_prerigcheck": 0, "animate_rig": 25, "stylize_model": 20}


def price_kind(task_type: str, params: Mapping[str, Any]) -> str:
    """"published" for 3D generation with v2.x/v3.x models (the price table, tripo-api-v3.md §18 R2), else
    "approximate" (P1, Turbo, v1.4 and every other task type: badges or older snapshots)."""
    mv = (params or {}).get("model_version")
    if task_type in GENERATION and model_family(mv if isinstance(mv, str) else None) in ("H2", "H3"):
        return "published"
    return "approximate"


def estimate_credits(task_type: str, params: Mapping[str, Any]) -> int:
    """Credits Tripo will freeze for this task (§7 snapshot; an estimate: the price list can change).

    Lenient: never validates, unknown values count as defaults.
    """
    tt = TASK_TYPES[task_type]
    p = {k: v for k, v in (params or {}).items() if v is not None}

    def get(name: str) -> Any:
        return p.get(name, eff(tt, {}, name))

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
                if prm is not None and differs(prm, p[name]):
                    advanced = True
        return 10 if advanced else 5
    return _FLAT.get(tt.name, 0)




CATALOG = Catalog(
    api="v2", types=TASK_TYPES, rules=_RULES, source_rules=_source_rules, chain=check_chain,
    credits=estimate_credits, aliases=ALIASES, price_kind=price_kind,
)
