"""Job builders: one per task type, the seven pipelines of the Tripo skill, and send-back jobs.

Builders only assemble :class:`Job` objects; nothing is validated or sent until ``Engine.submit``. Only the results the
user wants are downloaded: the last step's result (the model, or the image of an image task) and, for a generation
that is followed by other steps, just its preview image. Outputs are named by meaning (:mod:`tripo_addon.api.outputs`),
whatever the API version.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..api import outputs as out
from .job import Job, Ref, Step

PREVIEW = [out.PREVIEW]
#: Task types whose result is several files: what a step of that type downloads when it does not say.
DEFAULT_OUTPUTS: dict[str, tuple[str, ...]] = {
    "generate_multiview_image": out.VIEWS,
    "edit_multiview_image": out.VIEWS,
    "mesh_uv": (out.MODEL, out.UV_RENDER),
}


def default_outputs(task_type: str) -> list[str] | None:
    """The outputs a step of ``task_type`` downloads by default (None: its main result only)."""
    keys = DEFAULT_OUTPUTS.get(task_type)
    return list(keys) if keys else None


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    """Drop None values: unset means "server default"."""
    return {k: v for k, v in params.items() if v is not None}


def _short(text: str, n: int = 48) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _name(path: str | os.PathLike) -> str:
    return os.path.basename(os.fspath(path))


# ==================================================================================================== single tasks
def single(
    task_type: str,
    params: dict[str, Any] | None = None,
    *,
    title: str = "",
    download: bool = True,
    outputs: list[str] | None = None,
) -> Job:
    """A one-step job of any task type (``params`` as the task's request fields, minus ``type``)."""
    params = _clean(dict(params or {}))
    if outputs is None:
        outputs = default_outputs(task_type)
    if not title:
        hint = params.get("prompt") or params.get("file")
        if isinstance(hint, str) and hint:
            title = f"{task_type}: {_short(_name(hint) if os.path.exists(hint) else hint)}"
        else:
            title = task_type
    return Job(title=title, kind=task_type, steps=[Step(task_type, params, download=download, outputs=outputs)])


def text_to_image(prompt: str, **params: Any) -> Job:
    return single("text_to_image", {"prompt": prompt, **params})


def generate_image(prompt: str | None = None, **params: Any) -> Job:
    return single("generate_image", {"prompt": prompt, **params})


def text_to_model(prompt: str, **params: Any) -> Job:
    return single("text_to_model", {"prompt": prompt, **params})


def image_to_model(image: str | os.PathLike | dict, **params: Any) -> Job:
    """``image``: a local image (uploaded first), an http(s) URL or a file object."""
    return single("image_to_model", {"file": _path(image), **params})


def multiview_to_model(images: list[Any] | None = None, **params: Any) -> Job:
    """``images``: 4 slots [front, left, back, right]; ``None`` for a missing view. Or ``original_task_id=``."""
    if images is not None:
        params["files"] = [{} if im is None else _path(im) for im in images]
    return single("multiview_to_model", params)


def refine_model(draft_model_task_id: str, **params: Any) -> Job:
    return single(
        "refine_model",
        {"draft_model_task_id": draft_model_task_id, **params},
        title=f"refine_model: {draft_model_task_id[:8]}",
    )


def import_model(mesh_path: str | os.PathLike, **params: Any) -> Job:
    """Upload a local glb/fbx/obj/stl and import it into Tripo."""
    return single("import_model", {"file": _path(mesh_path), **params}, title=f"import_model: {_name(mesh_path)}")


def _post(task_type: str, original_model_task_id: str, params: dict[str, Any]) -> Job:
    return single(
        task_type,
        {"original_model_task_id": original_model_task_id, **params},
        title=f"{task_type}: {original_model_task_id[:8]}",
    )


def texture_model(original_model_task_id: str, **params: Any) -> Job:
    return _post("texture_model", original_model_task_id, params)


def mesh_segmentation(original_model_task_id: str, **params: Any) -> Job:
    return _post("mesh_segmentation", original_model_task_id, params)


def mesh_completion(original_model_task_id: str, **params: Any) -> Job:
    return _post("mesh_completion", original_model_task_id, params)


def highpoly_to_lowpoly(original_model_task_id: str, **params: Any) -> Job:
    return _post("highpoly_to_lowpoly", original_model_task_id, params)


def animate_prerigcheck(original_model_task_id: str, **params: Any) -> Job:
    return _post("animate_prerigcheck", original_model_task_id, params)


def animate_rig(original_model_task_id: str, **params: Any) -> Job:
    return _post("animate_rig", original_model_task_id, params)


def animate_retarget(original_model_task_id: str, **params: Any) -> Job:
    return _post("animate_retarget", original_model_task_id, params)


def stylize_model(original_model_task_id: str, **params: Any) -> Job:
    return _post("stylize_model", original_model_task_id, params)


def convert_model(original_model_task_id: str, **params: Any) -> Job:
    return _post("convert_model", original_model_task_id, params)


def generate_multiview_image(image: str | os.PathLike | dict, **params: Any) -> Job:
    """Four views (front, left, back, right) from one image (v3)."""
    return single("generate_multiview_image", {"file": _path(image), **params},
                  title=f"four views: {_name(image) if not isinstance(image, dict) else 'image'}",
                  outputs=list(out.VIEWS))


def edit_multiview_image(original_task_id: str, prompts: dict[str, str], **params: Any) -> Job:
    """Change some of the four views of a Four Views task, one prompt per view (v3)."""
    return single("edit_multiview_image", {"original_task_id": original_task_id, "prompts": prompts, **params},
                  title=f"edit views: {', '.join(prompts)}", outputs=list(out.VIEWS))


def image_to_splat(image: str | os.PathLike | dict, **params: Any) -> Job:
    return single("image_to_splat", {"file": _path(image), **params})


def image_to_depth(image: str | os.PathLike | dict, **params: Any) -> Job:
    return single("image_to_depth", {"file": _path(image), **params})


def mesh_uv(original_model_task_id: str, **params: Any) -> Job:
    job = _post("mesh_uv", original_model_task_id, params)
    job.steps[0].outputs = [out.MODEL, out.UV_RENDER]
    return job


def smart_segment(file: str | os.PathLike | dict, **params: Any) -> Job:
    """Smart Segment (v3): parts of a model (a GLB URL or file token; ``seg_type="image"`` for an image), guided by
    an optional ``prompt``."""
    name = _name(file) if not isinstance(file, dict) else "model"
    return single("smart_segment", {"file": _path(file), **params}, title=f"{name} \u2192 Smart Segment",
                  outputs=[out.MODEL, out.MASK])


#: Builders by task type (every type of api.tasks.TASK_TYPES).
SINGLE_BUILDERS = {
    "text_to_image": text_to_image,
    "generate_image": generate_image,
    "text_to_model": text_to_model,
    "image_to_model": image_to_model,
    "multiview_to_model": multiview_to_model,
    "refine_model": refine_model,
    "texture_model": texture_model,
    "import_model": import_model,
    "mesh_segmentation": mesh_segmentation,
    "mesh_completion": mesh_completion,
    "highpoly_to_lowpoly": highpoly_to_lowpoly,
    "animate_prerigcheck": animate_prerigcheck,
    "animate_rig": animate_rig,
    "animate_retarget": animate_retarget,
    "stylize_model": stylize_model,
    "convert_model": convert_model,
    "generate_multiview_image": generate_multiview_image,
    "edit_multiview_image": edit_multiview_image,
    "image_to_splat": image_to_splat,
    "image_to_depth": image_to_depth,
    "mesh_uv": mesh_uv,
    "smart_segment": smart_segment,
}


def _path(value: Any) -> Any:
    return os.fspath(value) if isinstance(value, os.PathLike) else value


# ==================================================================================================== pipelines
def text_to_final(prompt: str, *, format: str = "FBX", convert: dict | None = None, **gen: Any) -> Job:
    """Pipeline 1: text_to_model -> convert_model."""
    return Job(
        title=f"{_short(prompt)} \u2192 {format}",
        kind="pipeline:text_to_final",
        steps=[
            Step("text_to_model", _clean({"prompt": prompt, **gen}), outputs=PREVIEW),
            Step("convert_model", _clean({"original_model_task_id": Ref(0), "format": format, **(convert or {})})),
        ],
    )


def image_to_final(
    image: str | os.PathLike | dict, *, format: str = "USDZ", convert: dict | None = None, **gen: Any
) -> Job:
    """Pipeline 2: (upload) -> image_to_model -> convert_model."""
    return Job(
        title=f"{_name(image) if not isinstance(image, dict) else 'image'} \u2192 {format}",
        kind="pipeline:image_to_final",
        steps=[
            Step("image_to_model", _clean({"file": _path(image), **gen}), outputs=PREVIEW),
            Step("convert_model", _clean({"original_model_task_id": Ref(0), "format": format, **(convert or {})})),
        ],
    )


def image_to_animated(
    image: str | os.PathLike | dict,
    *,
    animation: str | list[str] = "preset:walk",
    format: str | None = "FBX",
    rig: dict | None = None,
    retarget: dict | None = None,
    convert: dict | None = None,
    **gen: Any,
) -> Job:
    """Pipeline 3: image_to_model -> animate_prerigcheck -> animate_rig (rig_type from the check) ->
    animate_retarget -> convert_model (skipped when ``format`` is None)."""
    anim = {"animations": list(animation)} if isinstance(animation, list | tuple) else {"animation": animation}
    steps = [
        Step("image_to_model", _clean({"file": _path(image), **gen}), outputs=PREVIEW),
        Step("animate_prerigcheck", {"original_model_task_id": Ref(0)}, download=False),
        Step(
            "animate_rig",
            _clean({"original_model_task_id": Ref(0), "rig_type": Ref(1, "output:" + out.RIG_TYPE), **(rig or {})}),
            download=False,
        ),
        Step(
            "animate_retarget",
            _clean({"original_model_task_id": Ref(2), **anim, **(retarget or {})}),
            download=format is None,
        ),
    ]
    if format is not None:
        steps.append(
            Step("convert_model", _clean({"original_model_task_id": Ref(3), "format": format, **(convert or {})}))
        )
    label = animation if isinstance(animation, str) else ", ".join(animation)
    return Job(
        title=f"{_name(image) if not isinstance(image, dict) else 'image'} \u2192 {label}",
        kind="pipeline:image_to_animated",
        steps=steps,
    )


def mesh_editing(
    prompt: str, *, part_names: list[str] | None = None, segmentation: dict | None = None, **gen: Any
) -> Job:
    """Pipeline 4: text_to_model -> mesh_segmentation -> mesh_completion."""
    return Job(
        title=f"{_short(prompt)} \u2192 parts",
        kind="pipeline:mesh_editing",
        steps=[
            Step("text_to_model", _clean({"prompt": prompt, **gen}), outputs=PREVIEW),
            Step(
                "mesh_segmentation", _clean({"original_model_task_id": Ref(0), **(segmentation or {})}), download=False
            ),
            Step("mesh_completion", _clean({"original_model_task_id": Ref(1), "part_names": part_names})),
        ],
    )


def send_back(
    mesh_path: str | os.PathLike, step_type: str, params: dict[str, Any] | None = None, *, title: str = ""
) -> Job:
    """Pipeline 5 / send-back: upload a local mesh (STS) -> import_model -> ``step_type`` on the imported model.

    ``params`` are the post-process step's own (``original_model_task_id`` is filled in).
    """
    return Job(
        title=title or f"{_name(mesh_path)} \u2192 {step_type}",
        kind="send_back",
        steps=[
            Step("import_model", {"file": _path(mesh_path)}, download=False),
            Step(step_type, _clean({**(params or {}), "original_model_task_id": Ref(0)}),
                 outputs=default_outputs(step_type)),
        ],
    )


def import_and_process(mesh_path: str | os.PathLike, step_type: str, params: dict[str, Any] | None = None) -> Job:
    """Pipeline 5 of the skill (same as :func:`send_back`)."""
    job = send_back(mesh_path, step_type, params)
    job.kind = "pipeline:import_and_process"
    return job


def text_to_image_to_model(prompt: str, *, image: dict | None = None, **gen: Any) -> Job:
    """Pipeline 6: text_to_image -> image_to_model on the generated image.

    ``image``: extra text_to_image params (e.g. negative_prompt). The generated image is downloaded too.
    """
    return Job(
        title=f"{_short(prompt)} \u2192 image \u2192 model",
        kind="pipeline:text_to_image_to_model",
        steps=[
            Step("text_to_image", _clean({"prompt": prompt, **(image or {})})),
            Step("image_to_model", _clean({"file": Ref(0, "output:" + out.IMAGE), **gen})),
        ],
    )


def low_poly_asset(
    prompt: str,
    *,
    face_limit: int = 5000,
    quad: bool = True,
    format: str | None = "FBX",
    model_version: str = "v2.5-20250123",
    lowpoly: dict | None = None,
    convert: dict | None = None,
    lods: int | list[float] | None = None,
    **gen: Any,
) -> Job:
    """Pipeline 7: text_to_model -> highpoly_to_lowpoly -> convert_model, as the skill describes it.

    ``lods`` (a count, or ratios of ``face_limit``): a LOD chain instead (text_to_model -> one decimation per level,
    every level downloaded and imported as ``<name>_LOD0``...; no conversion, the add-on exports FBX on request).

    The conversion (FBX by default, as a game engine wants it) is left out only with ``format=None``; the low-poly
    result itself is then downloaded (FBX with ``quad``, GLB without). Tripo's chain table (tripo-api.md §6) omits
    highpoly_to_lowpoly among convert_model's sources while the skill's pipeline 7 uses it; we follow the pipeline.
    """
    native = "FBX" if quad else "GLB"
    if lods:
        limits = lod_limits_from(face_limit, lods)
        job = lod_chain(Ref(0), limits, lowpoly={"quad": quad, **(lowpoly or {})}, name=_short(prompt, 40),
                        title=f"{_short(prompt)} \u2192 LOD0\u2026LOD{len(limits) - 1}")
        job.steps.insert(0, Step("text_to_model", _clean({"prompt": prompt, "model_version": model_version, **gen}),
                                 outputs=PREVIEW))
        job.kind = "pipeline:low_poly_asset"
        return job
    needs_convert = format is not None
    steps = [
        Step("text_to_model", _clean({"prompt": prompt, "model_version": model_version, **gen}), outputs=PREVIEW),
        Step(
            "highpoly_to_lowpoly",
            _clean({"original_model_task_id": Ref(0), "face_limit": face_limit, "quad": quad, **(lowpoly or {})}),
            download=not needs_convert,
        ),
    ]
    if needs_convert:
        steps.append(
            Step("convert_model", _clean({"original_model_task_id": Ref(1), "format": format, **(convert or {})}))
        )
    return Job(
        title=f"{_short(prompt)} \u2192 low poly {format or native}", kind="pipeline:low_poly_asset", steps=steps
    )


def image_to_views_to_model(
    image: str | os.PathLike | dict, *, edits: dict[str, str] | None = None, views: dict | None = None, **gen: Any
) -> Job:
    """Pipeline (v3): generate_multiview_image -> [edit_multiview_image] -> multiview_to_model.

    The four views are downloaded too (the sidebar shows them); ``edits``: {view: prompt} changes some views before
    the model is made from them (by the views task's id).
    """
    steps = [Step("generate_multiview_image", _clean({"file": _path(image), **(views or {})}),
                  outputs=list(out.VIEWS))]
    if edits:
        steps.append(Step("edit_multiview_image", {"original_task_id": Ref(0), "prompts": dict(edits)},
                          outputs=list(out.VIEWS)))
    steps.append(Step("multiview_to_model", _clean({"original_task_id": Ref(len(steps) - 1), **gen})))
    return Job(
        title=f"{_name(image) if not isinstance(image, dict) else 'image'} \u2192 views \u2192 model",
        kind="pipeline:image_to_views_to_model",
        steps=steps,
    )



# ==================================================================================================== LOD chain
LOD_RATIOS = (1.0, 0.5, 0.25, 0.1)
LOD_MIN, LOD_MAX = 500, 20_000   # highpoly_to_lowpoly's face_limit range (v2.0 / v3.0)


def lod_limits(source_faces: int, ratios: tuple[float, ...] | list[float] = LOD_RATIOS) -> list[int]:
    """Face limits for LOD0..LODn: ``ratios`` of the source's face count, clamped to 500-20,000, without repeats."""
    out: list[int] = []
    for r in ratios:
        n = max(LOD_MIN, min(LOD_MAX, int(round(source_faces * float(r)))))
        if n not in out:
            out.append(n)
    return out


def lod_limits_from(face_limit: int, lods: int | list[float]) -> list[int]:
    """The pipeline's LOD limits: ``lods`` levels of the default ratios (or the ratios given) of ``face_limit``."""
    ratios = LOD_RATIOS[:max(1, int(lods))] if isinstance(lods, int) else tuple(lods)
    return lod_limits(face_limit, ratios)


def lod_chain(source: Any, limits: list[int], *, smart_uv: bool = False, lowpoly: dict | None = None,
              name: str = "", title: str = "") -> Job:
    """One highpoly_to_lowpoly step per level on the same source (a task id or a Ref), every level downloaded.

    ``smart_uv`` uses decimation v3.0, which unwraps new UVs too. The job's meta says how to import it
    (``import_as: "lods"``, ``lod_name``)."""
    extra = {"model_version": "v3.0", "smart_uv": True} if smart_uv else {}
    steps = [Step("highpoly_to_lowpoly", _clean({"original_model_task_id": source, "face_limit": int(n),
                                                 **(lowpoly or {}), **extra}), label=f"LOD{i} ({int(n):,} faces)")
             for i, n in enumerate(limits)]
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "Tripo"
    job = Job(title=title or f"{name} \u2192 LOD0\u2026LOD{len(limits) - 1}", kind="lod_chain", steps=steps)
    job.meta.update(import_as="lods", lod_name=name, lod_limits=[int(n) for n in limits])
    return job


#: The seven pipelines of the Tripo skill, by name (and v3's image -> views -> model).
PIPELINES = {
    "text_to_final": text_to_final,
    "image_to_final": image_to_final,
    "image_to_animated": image_to_animated,
    "mesh_editing": mesh_editing,
    "import_and_process": import_and_process,
    "text_to_image_to_model": text_to_image_to_model,
    "low_poly_asset": low_poly_asset,
    "image_to_views_to_model": image_to_views_to_model,
}
