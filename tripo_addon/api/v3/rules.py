"""The v3 rules: checks across parameters (tripo-api-v3.md §6), which sources each task takes, and prices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..params import Catalog, TaskType, differs, eff, fail, multiview_sources
from ..v2 import rules as v2rules
from .catalog import (
    ALIASES,
    ENGINE_SPECS,
    GENERATION,
    IMAGE_INPUT_CAP,
    IMAGE_TYPES,
    MODEL_TASKS,
    MULTIVIEW_TYPES,
    P_FORBIDDEN,
    P_SERIES,
    RETIRED,
    REWRITES,
    RIGGED_TASKS,
    SEGMENT_V2,
    TASK_TYPES,
    TEXTURE_V35,
    model_family,
)

_FACE_MAX = {"H2": 500_000, "P1": 20_000, "P2": 50_000}
_FACE_MAX_H3 = {"standard": 1_500_000, "detailed": 2_000_000}


def _generation_rules(tt: TaskType, v: dict[str, Any]) -> None:
    mv = eff(tt, v, "model_version")
    fam = model_family(mv)
    for name, value in list(v.items()):
        p = tt.param(name)
        if p is None or not p.families or fam in p.families or not differs(p, value):
            continue
        if fam in P_SERIES and (name in P_FORBIDDEN or name == "quad"):
            raise fail(f"`{name}` is not supported by the P-series model {mv}; leave it unset or choose a v2.5/v3.x "
                       "model version.", name)
        raise fail(f"`{name}` is not supported by {mv}; leave it unset or choose another model version.", name)
    if fam in P_SERIES:  # Tripo refuses these keys even when false: never send them for P-series
        for name in P_FORBIDDEN + (("quad",) if fam == "P1" else ()):
            v.pop(name, None)
    texture, pbr = eff(tt, v, "texture"), eff(tt, v, "pbr")
    if "texture" in v and not v["texture"] and "pbr" not in v:
        v["pbr"] = pbr = False
    if pbr and not texture:
        raise fail("`pbr` needs a texture: set texture on, or pbr off for an untextured model.", "pbr")
    tv = v.get("texture_version")
    if v.get("texture_quality") == "fast" and tv != TEXTURE_V35:
        raise fail(f"`texture_quality` fast needs texture_version {TEXTURE_V35}; choose it or another quality.",
                   "texture_quality")
    if "delight" in v and differs(tt.param("delight"), v["delight"]) and tv != TEXTURE_V35:  # type: ignore[arg-type]
        raise fail(f"`delight` only applies to texture_version {TEXTURE_V35}; choose it or leave delight unset.",
                   "delight")
    if v.get("generate_parts"):
        on = [n for n in ("texture", "pbr", "quad") if eff(tt, v, n)]
        if on:
            raise fail(f"`generate_parts` needs texture, pbr and quad off; turn off {', '.join(on)}.",
                       "generate_parts")
    if eff(tt, v, "orientation") == "align_image" and not texture:
        raise fail("`orientation` align_image only works on textured models; turn texture on or use default.",
                   "orientation")
    fl = v.get("face_limit")
    if fl is not None:
        if v.get("smart_low_poly"):
            lo, hi, why = (500, 10_000, "smart_low_poly with quad") if v.get("quad") else (1_000, 20_000,
                                                                                          "smart_low_poly")
        elif fam == "P2":
            lo, hi, why = 48, 25_000 if v.get("quad") else _FACE_MAX["P2"], "P2" + (" with quad" if v.get("quad")
                                                                                   else "")
        elif fam == "P1":
            lo, hi, why = 48, _FACE_MAX["P1"], "P1"
        elif fam == "H3":
            gq = eff(tt, v, "geometry_quality")
            lo, hi, why = 1, _FACE_MAX_H3.get(gq, 1_500_000), f"v3.x with geometry_quality {gq}"
        else:
            lo, hi, why = 1, _FACE_MAX["H2"], "v2.5"
        if not lo <= fl <= hi:
            raise fail(f"`face_limit` {fl:,} is out of range for {why}: use {lo:,}-{hi:,}, or leave it unset for an "
                       "adaptive face count.", "face_limit")


def _rules_multiview(tt: TaskType, v: dict[str, Any]) -> None:
    multiview_sources(tt, v, "a Four Views task")
    _generation_rules(tt, v)


def _rules_generate_image(tt: TaskType, v: dict[str, Any]) -> None:
    mv = eff(tt, v, "model_version")
    if "files" in v:
        v["files"] = [f for f in v["files"] if f is not None]
        if not v["files"]:
            del v["files"]
    if "file" in v and "files" in v:
        v["files"] = [v.pop("file"), *v["files"]]
    images = ([v["file"]] if "file" in v else []) + list(v.get("files", []))
    cap = next((n for fam, n in IMAGE_INPUT_CAP.items() if str(mv).startswith(fam)), 4)
    if len(images) > cap:
        raise fail(f"{mv} takes at most {cap} reference images; you gave {len(images)}. Remove some or choose "
                   "another image model.", "files")
    if "prompt" not in v and not v.get("template"):
        raise fail("Image to Image needs a `prompt` (or a template).", "prompt")
    if not images:
        raise fail("Image to Image needs at least one reference image (`file` or `files`); for a picture from "
                   "text alone use Text to Image.", "file")


def _rules_texture(tt: TaskType, v: dict[str, Any]) -> None:
    texture, pbr, tq = eff(tt, v, "texture"), eff(tt, v, "pbr"), eff(tt, v, "texture_quality")
    if not texture and not pbr and tq == "standard":
        raise fail("With texture and pbr both off, texture_model does nothing at standard quality; turn one on.",
                   "texture")
    if "delight" in v and differs(tt.param("delight"), v["delight"]) and eff(tt, v, "model_version") != TEXTURE_V35:  # type: ignore[arg-type]
        raise fail(f"`delight` only applies to texture model {TEXTURE_V35}; choose it or leave delight unset.",
                   "delight")


def _rules_import(tt: TaskType, v: dict[str, Any]) -> None:
    f = v["file"]
    if f.kind == "object":
        raise fail("Tripo's v3 import takes an uploaded file or a URL, not a storage object; upload the model again.",
                   "file")
    if f.kind == "token" and not f.is_mesh:
        f = v["file"] = type(f)(f.kind, f.value, "glb", f.url)
    if not f.is_mesh:
        raise fail(f"import_model takes GLB, OBJ, FBX or STL models; the file is {f.ext!r}.", "file")


def _rules_decimate(tt: TaskType, v: dict[str, Any]) -> None:
    mv = eff(tt, v, "model_version")
    fl = v.get("face_limit")
    if v.get("smart_uv") and mv != "v3.0":
        raise fail("`smart_uv` needs decimation model v3.0; choose it or turn Smart UV off.", "smart_uv")
    if fl is not None and v.get("quad") and fl > 10_000:
        raise fail(f"`face_limit` {fl:,} is too high with quad: use 500-10,000.", "face_limit")
    if fl is not None and fl > 20_000 and mv != "v1.0":
        raise fail(f"`face_limit` {fl:,} is above 20,000: only decimation model v1.0 goes higher (up to 2M).",
                   "face_limit")
    if mv == "v1.0" and fl is None:
        raise fail("Decimation v1.0 needs a face_limit (500-2,000,000).", "face_limit")


RIG_ALL_BODIES = "v2.5-20260210"


def _rules_rig(tt: TaskType, v: dict[str, Any]) -> None:
    rig_type = eff(tt, v, "rig_type")
    if (rig_type != "biped" or eff(tt, v, "spec") in ENGINE_SPECS) and "model_version" not in v:
        v["model_version"] = RIG_ALL_BODIES  # Tripo's default rig model (v1.0) rigs bipeds in its own specs only
    spec, mv = eff(tt, v, "spec"), eff(tt, v, "model_version")
    if rig_type != "biped" and mv == "v1.0-20240301":
        raise fail(f"Rig model v1.0 rigs bipeds only, and this model's rig type is {rig_type}; choose rig model "
                   "v2.5 or v3.0 (or leave the model unset).", "model_version")
    if spec in ENGINE_SPECS and mv == "v1.0-20240301":
        raise fail(f"The {spec} skeleton needs rig model v2.5 or v3.0; choose one of them (v1.0 makes Tripo, "
                   "Mixamo and ActorCore skeletons only).", "spec")


def _rules_segment(tt: TaskType, v: dict[str, Any]) -> None:
    if eff(tt, v, "model_version") != SEGMENT_V2:
        for name in ("segmentation_granularity", "split_by_connectivity"):
            if name in v and differs(tt.param(name), v[name]):  # type: ignore[arg-type]
                raise fail(f"`{name}` needs segmentation model {SEGMENT_V2}; choose it or leave {name} unset.",
                           name)


_RULES = {
    "text_to_model": _generation_rules,
    "image_to_model": _generation_rules,
    "multiview_to_model": _rules_multiview,
    "generate_image": _rules_generate_image,
    "texture_model": _rules_texture,
    "import_model": _rules_import,
    "highpoly_to_lowpoly": _rules_decimate,
    "animate_rig": _rules_rig,
    "animate_retarget": v2rules._RULES["animate_retarget"],
    "convert_model": v2rules._RULES["convert_model"],
    "mesh_segmentation": _rules_segment,
}


def check_chain(task_type: str, source_type: str, source_model_version: str | None = None) -> None:
    """Raise TripoValidationError unless ``task_type`` can take a ``source_type`` task as its source."""
    tt = TASK_TYPES[task_type]
    src = source_type if isinstance(source_type, str) else ""
    src_ok = src in tt.sources
    if tt.name == "multiview_to_model" and src in MULTIVIEW_TYPES:
        return
    if tt.source_field is None:
        raise fail(f"{tt.name} does not start from an earlier task; it takes its own inputs.", None)
    if src in IMAGE_TYPES and tt.name not in ("edit_multiview_image",):
        raise fail(f"{tt.name} needs a 3D model, and {src} makes images. Turn the image into a model first "
                   "(Image to Model).", tt.source_field)
    if not src_ok:
        if tt.name == "mesh_completion":
            msg = f"mesh_completion only works on a mesh_segmentation result (this is {src}); segment the model first."
        elif tt.name == "animate_retarget":
            msg = f"Animations need a rigged model (animate_rig), and this is {src}; rig the model first."
        elif tt.name == "edit_multiview_image":
            msg = f"Edit Views changes a Four Views result, and this is {src}."
        elif src in ("image_to_splat", "image_to_depth"):
            msg = f"{tt.name} needs a 3D model; a {src} result cannot be processed further."
        else:
            accepted = ", ".join(t for t in TASK_TYPES if t in tt.sources)
            msg = f"{tt.name} cannot be applied to a {src or 'unknown'} result. It accepts: {accepted}."
        raise fail(msg, tt.source_field)


def _source_rules(tt: TaskType, v: dict[str, Any], source_type: str, source_model_version: str | None) -> None:
    check_chain(tt.name, source_type, source_model_version)
    if tt.name == "convert_model" and source_type in v2rules.TASK_TYPES:
        v2rules._source_rules(tt, v, source_type, None)   # the format rules are v2's


_FLAT = {"generate_multiview_image": 10, "image_to_splat": 30, "image_to_depth": 5, "mesh_uv": 10}


def estimate_credits(task_type: str, params: Mapping[str, Any]) -> float:
    """Credits Tripo will freeze for this task (the v2 price list, which v3 kept; P2 priced like P1)."""
    p = dict(params or {})
    if task_type in GENERATION and model_family(p.get("model_version")) in P_SERIES:
        p["model_version"] = "P1-20260311"
    if task_type in _FLAT:
        return _FLAT[task_type]
    if task_type == "edit_multiview_image":
        prompts = p.get("prompts")
        return 5 * max(1, len(prompts)) if isinstance(prompts, Mapping | list | tuple) else 5
    if task_type == "generate_image":
        return 10 if str(p.get("model_version") or "").startswith(("banana", "chat_image")) else 5
    if task_type in ("text_to_image",):
        return 5
    for name in ("texture_version", "delight", "export_orientation", "segmentation_granularity",
                 "split_by_connectivity", "completion_mode", "smart_uv", "template"):
        p.pop(name, None)
    if task_type == "highpoly_to_lowpoly" or task_type == "mesh_segmentation":
        p.pop("model_version", None)
    if task_type == "texture_model":
        p.pop("model_version", None)
    if task_type == "animate_rig" and p.get("spec") not in (None, "tripo", "mixamo"):
        p.pop("spec")
    return v2rules.estimate_credits(task_type, p)


CATALOG = Catalog(
    api="v3", types=TASK_TYPES, rules=_RULES, source_rules=_source_rules, chain=check_chain,
    credits=estimate_credits, retired=RETIRED, aliases=ALIASES, rewrites=REWRITES,
)
assert not (set(MODEL_TASKS) - set(TASK_TYPES)), "every model task is a v3 task type"
assert RIGGED_TASKS <= set(TASK_TYPES)
