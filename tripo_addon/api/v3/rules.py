"""The v3 rules: checks across parameters (tripo-api-v3.md §6), which sources each task takes, and prices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..inputs import ext_of
from ..params import Catalog, TaskType, check_compress, differs, eff, fail, multiview_sources
from ..v2 import rules as v2rules
from .catalog import (
    ALIASES,
    ENGINE_SPECS,
    GATED,
    GATED_FAMILIES,
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
    V10_BIPED,
    model_family,
)

_GATED_TAKES = {"H2": "none", "P1": "only texture_quality, auto_size and compress",
                "P2": "only texture_quality, auto_size, compress and quad"}


def _gated_message(name: str, mv: str, fam: str) -> str:
    """R4: a version-gated option the model does not take, naming both and the way out."""
    return (f"`{name}` needs generation model v3.0-20250812 or newer, and {mv} takes {_GATED_TAKES.get(fam, 'none')} "
            f"of the version-gated options ({', '.join(GATED)}). Leave {name} unset or choose model v3.0 or v3.1.")


def face_limit_range(tt: TaskType, v: dict[str, Any]) -> tuple[int, int, int, int, str]:
    """R5 (tripo-api-v3.md §18): (refuse_below, refuse_above, clamp_low, clamp_high, what) for ``face_limit``.

    Outside [refuse_below, refuse_above] two sources agree the value is wrong: refused before sending. Between
    those and [clamp_low, clamp_high] the sources differ: sent, and Tripo clamps it silently (said in a notice)."""
    mv = eff(tt, v, "model_version")
    fam = model_family(mv)
    quad, slp = bool(v.get("quad")), bool(v.get("smart_low_poly"))
    if slp and quad:
        return 500, 10_000, 500, 10_000, "smart_low_poly with quad"
    if slp:
        return 500, 20_000, 1_000, 20_000, "smart_low_poly"   # 500 ([COMFY2]) vs 1,000 (v2 docs)
    if fam == "P1":
        return 48, 20_000, 50, 20_000, "P1"                   # 48 ([MIG] intl) vs 50 ([SKILL], [COMFY2])
    if fam == "P2":
        hi = 25_000 if quad else 50_000                       # one source ([SKILL]): not refused
        return 1, 2_000_000, 48, hi, "P2" + (" with quad" if quad else "")
    if quad:
        return 1, 2_000_000, 1, 150_000, "quad"               # one source ([COMFY2])
    if fam == "H3":
        detailed = eff(tt, v, "geometry_quality") == "detailed"
        if detailed:
            return 1, 2_000_000, 1, 2_000_000, "v3.x with geometry_quality detailed"
        if str(mv).startswith("v3.0"):                        # 1M ([COMFY2]) vs 1.5M (v2 docs)
            return 1, 1_500_000, 1, 1_000_000, f"{mv} with geometry_quality standard"
        return 1, 1_500_000, 1, 1_500_000, f"{mv} with geometry_quality standard"
    return 1, 500_000, 1, 500_000, str(mv)                    # v2.5: [COMFY2] and the v2 docs agree


def _generation_rules(tt: TaskType, v: dict[str, Any]) -> None:
    mv = eff(tt, v, "model_version")
    fam = model_family(mv)
    for name, value in list(v.items()):
        p = tt.param(name)
        if p is None or not p.families or fam in p.families or not differs(p, value):
            continue
        if name in GATED_FAMILIES:
            raise fail(_gated_message(name, mv, fam), name)
        if fam in P_SERIES and (name in P_FORBIDDEN or name == "quad"):
            raise fail(f"`{name}` is not supported by the P-series model {mv}; leave it unset or choose a v2.5/v3.x "
                       "model version.", name)
        raise fail(f"`{name}` is not supported by {mv}; leave it unset or choose another model version.", name)
    if fam in P_SERIES:  # Tripo refuses these keys even when false: never send them for P-series
        for name in P_FORBIDDEN + (("quad",) if fam == "P1" else ()):
            v.pop(name, None)
    if fam == "H2":  # nor the gated ones to v2.5 (their defaults are not sent anyway)
        for name in GATED:
            if name in v and not differs(tt.param(name), v[name]):  # type: ignore[arg-type]
                v.pop(name)
    check_compress(v)
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
    v2rules.parts_and_orientation(tt, v, texture)
    fl = v.get("face_limit")
    if fl is not None:
        lo, hi, _clo, _chi, why = face_limit_range(tt, v)
        if not lo <= fl <= hi:
            raise fail(f"`face_limit` {fl:,} is out of range for {why}: use {lo:,}-{hi:,}, or leave it unset for an "
                       "adaptive face count.", "face_limit")


def _generation_notes(tt: TaskType, v: dict[str, Any], source_type: str | None) -> list[str]:
    """What Tripo does with a face limit it accepts but clamps (R5: silently), and auto_size without texture (R6)."""
    out = []
    fl = v.get("face_limit")
    if isinstance(fl, int | float):
        _lo, _hi, clo, chi, why = face_limit_range(tt, v)
        if fl > chi:
            out.append(f"face_limit {fl:,} is above {chi:,} for {why}: Tripo clamps it to {chi:,} without saying "
                       "so (the sources differ on this ceiling, so it is sent and Tripo decides).")
        elif fl < clo:
            out.append(f"face_limit {fl:,} is below {clo:,} for {why}: Tripo may raise it to {clo:,} without "
                       "saying so.")
    if v.get("auto_size") and not eff(tt, v, "texture"):
        out.append("auto_size applies to textured models only: Tripo ignores it when texture is off.")
    return out


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


def _rules_text_to_image(tt: TaskType, v: dict[str, Any]) -> None:
    if "prompt" not in v and not v.get("template"):  # C4: every SDK allows a template alone
        raise fail("Text to Image needs a `prompt` (or a template).", "prompt")


#: Sources that carry no image Tripo generated them from (R7: texture references are for generated models only).
_NO_SOURCE_IMAGE = frozenset({"import_model", "mesh_segmentation", "mesh_completion", "highpoly_to_lowpoly",
                              "smart_segment"})


def _texture_notes(tt: TaskType, v: dict[str, Any], source_type: str | None) -> list[str]:
    """R7 (one source, [COMFY2]): sent, with what Tripo is likely to do."""
    tp = v.get("texture_prompt") or {}
    out = []
    if source_type in _NO_SOURCE_IMAGE:
        if tp.get("image") or tp.get("images"):
            out.append(f"reference images are reported to work only on models Tripo generated; this one comes from "
                       f"{source_type}, so Tripo may refuse them (a refusal costs nothing): a text prompt is safer.")
        elif not tp.get("text"):
            out.append(f"a model from {source_type} has no source image: Tripo is reported to need a texture "
                       "prompt text for it (a refusal costs nothing).")
    if tp.get("style_image") and not tp.get("text"):
        out.append("a style image is reported to need a texture prompt text as well; Tripo decides.")
    if v.get("quad") or source_type == "import_model":
        out.append("the textured result may come back as FBX (quad meshes and FBX imports); it is imported as such.")
    return out


def _rules_texture(tt: TaskType, v: dict[str, Any]) -> None:
    check_compress(v)
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
    if f.ext == "gltf" or (f.kind == "url" and ext_of(f.value) == "gltf"):  # R11: Tripo refuses .gltf
        raise fail("import_model refuses .gltf files: their buffers and textures are separate files Tripo cannot "
                   "fetch. Export the model as a single-file GLB (glTF Binary) and import that.", "file")
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


RIG_V1 = "v1.0-20240301"


def retarget_problem(rig_version: str | None, rig_spec: str | None) -> str | None:
    """R12 + the v2 rule (two sources agree for v1.0 rigs): a v1.0 rig with the Mixamo skeleton cannot be animated
    with presets. v2.5 / v3.0 Mixamo rigs are the server's to decide (C3: Tripo's SDK examples animate them)."""
    if (rig_version or RIG_V1) == RIG_V1 and rig_spec == "mixamo":
        return ("This rig was made with rig model v1.0 and the Mixamo skeleton, which Tripo cannot animate with "
                "presets. Rig the model again with rig model v2.5 (Mixamo or Tripo skeleton) or with the Tripo "
                "skeleton, then animate that rig.")
    return None


def _biped_names(v: dict[str, Any]) -> None:
    """A v1.0 rig names its clips preset:biped:<name> (three sources agree): preset:walk becomes preset:biped:walk."""
    def one(a: Any) -> Any:
        name = a.removeprefix("preset:") if isinstance(a, str) and a.startswith("preset:") else None
        return f"preset:biped:{name}" if name in V10_BIPED else a
    if "animation" in v:
        v["animation"] = one(v["animation"])
    if isinstance(v.get("animations"), list):
        v["animations"] = [one(a) for a in v["animations"]]


def _rules_smart_segment(tt: TaskType, v: dict[str, Any]) -> None:
    """R9: image mode takes an uploaded file; model mode the model's GLB by URL and its 4x4 transform."""
    f = v["file"]
    if v["seg_type"] == "model":
        if f.kind not in ("url", "task") or (f.kind == "task" and not f.url):
            raise fail("Smart Segment on a model takes the model's GLB by URL (an uploaded file token is not "
                       "accepted): import the model into Tripo first (Import Model) and segment its result.", "file")
        if f.kind == "url" and f.ext != "glb":  # an earlier task's model: Tripo's own GLB
            raise fail(f"Smart Segment takes GLB models only; this file is {f.ext!r}. Convert or export it as GLB.",
                       "file")
        v.setdefault("transform", [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    else:
        if f.is_mesh:
            raise fail("Smart Segment with seg_type image takes a picture; for a model use seg_type model.", "file")
        if "transform" in v:
            raise fail("`transform` only applies to seg_type model; leave it unset for an image.", "transform")


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
    "text_to_image": _rules_text_to_image,
    "smart_segment": _rules_smart_segment,
}
_NOTES = {
    "text_to_model": _generation_notes,
    "image_to_model": _generation_notes,
    "multiview_to_model": _generation_notes,
    "texture_model": _texture_notes,
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
    if tt.name == "animate_retarget" and source_type == "animate_rig" and source_model_version == RIG_V1:
        _biped_names(v)
    if tt.name == "convert_model" and source_type in v2rules.TASK_TYPES:
        v2rules._source_rules(tt, v, source_type, None)   # the format rules are v2's


_FLAT = {"generate_multiview_image": 10, "image_to_splat": 30, "image_to_depth": 5, "mesh_uv": 10}
#: R3 (tripo-api-v3.md §18, approximate): texture by quality, Smart Segment by mode.
_TEXTURE_PRICE = {"standard": 10, "detailed": 20, "extreme": 30, "fast": 10}
_SMART_SEGMENT_PRICE = {"model": 55, "image": 85}


def price_kind(task_type: str, params: Mapping[str, Any]) -> str:
    """"published" when the estimate comes from Tripo's price table (R2: text/image/multiview to model with v2.5 or
    v3.x, and their add-ons), "approximate" otherwise (R3's badges, or no published price at all)."""
    mv = (params or {}).get("model_version")
    if task_type in GENERATION and model_family(mv if isinstance(mv, str) else None) not in P_SERIES:
        return "published"
    return "approximate"


def estimate_credits(task_type: str, params: Mapping[str, Any]) -> float:
    """Credits Tripo will freeze for this task: R2's published table for 3D generation, R3's approximate prices for
    the rest (tripo-api-v3.md §18; P2 priced like P1)."""
    p = dict(params or {})
    if task_type == "smart_segment":
        return _SMART_SEGMENT_PRICE.get(str(p.get("seg_type") or "model"), 55)
    if task_type == "texture_model":
        tq = p.get("texture_quality")
        return _TEXTURE_PRICE.get(tq if isinstance(tq, str) else "standard", 10)
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
    credits=estimate_credits, retired=RETIRED, aliases=ALIASES, rewrites=REWRITES, notes=_NOTES,
    price_kind=price_kind,
)
assert not (set(MODEL_TASKS) - set(TASK_TYPES)), "every model task is a v3 task type"
assert RIGGED_TASKS <= set(TASK_TYPES)
