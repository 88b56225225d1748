"""Image and model generation: text/image/multiview to model, text_to_image, multiview images, refine."""

from __future__ import annotations

import hashlib
import math

from ..assets import images, meshopt, shapes
from ..assets.mesh import decimate, facet, normalize, split_parts
from ..inputs import TOO_COMPLEX_PHRASE
from .common import (
    REAL_SIZE,
    SHAPE_KINDS,
    Job,
    Result,
    TaskFailure,
    derived_meta,
    export,
    glb_bytes,
    material,
    render_preview,
    write,
)


def _image_seed(job: Job, *parts: object) -> int:
    return shapes.seed_of(job.type, *parts, job.params.get("prompt"), job.seed)


def text_to_image(job: Job) -> Result:
    prompt = job.params.get("prompt") or ""
    refs = [f.data for k, f in sorted(job.files.items())]
    seed = _image_seed(job, *[hashlib.sha256(r).hexdigest() for r in refs])
    name = write(job, f"tripo_image_{job.task_id}.png", images.picture(seed))
    return Result({"generated_image": name}, meta={"prompt": prompt, "kind": shapes.classify(prompt)})


def _views(job: Job, kind: str, seed: int, tint: dict[str, int] | None = None) -> dict[str, str]:
    mesh = shapes.generate(kind, seed)
    tex = images.texture_png(seed)
    out = {}
    for i, view in enumerate(("front", "left", "back", "right")):
        tex_v = images.texture_png(tint[view]) if tint and view in tint else tex
        png = images.render([mesh], images.decode_texture(tex_v), yaw=i * math.pi / 2, pitch=0.1, fmt="PNG")
        out[f"{view}_view_url"] = write(job, f"{view}_view.png", png)
    return out


def generate_multiview_image(job: Job) -> Result:
    h = hashlib.sha256(job.files["file"].data).digest()
    kind = SHAPE_KINDS[h[0] % len(SHAPE_KINDS)]
    seed = int.from_bytes(h[1:5], "little")
    return Result({"generate_multiview_image": _views(job, kind, seed)}, meta={"kind": kind, "seed": seed})


def edit_multiview_image(job: Job) -> Result:
    src = job.source
    tint = {p["view"]: shapes.seed_of(p["prompt"], job.seed) for p in job.params["prompts"]}
    views = _views(job, src.meta.get("kind", "blob"), src.meta.get("seed", 0), tint)
    return Result({"generate_multiview_image": views}, meta=derived_meta(job))


def _generation(job: Job, kind: str, shape_seed: int, prompt: str | None, detail: float = 1.0) -> Result:
    p = job.params
    if (p.get("quad") or p.get("smart_low_poly")) and prompt and TOO_COMPLEX_PHRASE in prompt.lower():
        raise TaskFailure(2018, "The model is too complex to remesh.")
    legacy = bool(p.get("legacy"))
    face_limit = p.get("face_limit") or (10_000 if p.get("quad") else None)
    low_poly = p.get("smart_low_poly") or str(p.get("model_version") or "").startswith("P1")
    mesh = shapes.generate(kind, shape_seed, face_limit, detail)
    if low_poly:
        mesh = facet(decimate(mesh, face_limit or 1500))
    meshes = split_parts(mesh, 5, shape_seed) if p.get("generate_parts") else [mesh]
    if p.get("auto_size"):
        meshes = normalize(meshes, REAL_SIZE.get(kind, 1.0))
    textured = bool(p.get("texture") or p.get("pbr") or p.get("texture_quality", "standard") != "standard")
    tex_seed = p.get("texture_seed")
    tex_seed = shapes.seed_of("texture", tex_seed if tex_seed is not None else job.seed, prompt)
    mat = material(tex_seed if textured else None, bool(p.get("pbr")))
    data = glb_bytes(meshes, mat, extras={"task_id": job.task_id, "prompt": prompt or ""})
    tid = job.task_id
    if p.get("quad"):
        internal = write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": export(job, internal, "fbx", f"tripo_model_{tid}.fbx", quads=True)}
    else:
        if legacy:
            key, name = "model", f"tripo_draft_{tid}.glb"
        elif p.get("pbr"):
            key, name = "pbr_model", f"tripo_pbr_model_{tid}.glb"
        elif textured:
            key, name = "model", f"tripo_model_{tid}.glb"
        else:
            key, name = "base_model", f"tripo_base_model_{tid}.glb"
        if p.get("compress") == "geometry":   # what Tripo sends: an EXT_meshopt_compression GLB (§18 R14)
            internal = write(job, f"_mesh_{tid}.glb", data)
            outputs = {key: write(job, name, meshopt.compress_glb(data))}
        else:
            internal = write(job, name, data)
            outputs = {key: internal}
    outputs["rendered_image"] = render_preview(job, meshes, mat.base_color_png)
    meta = {"glb": internal, "kind": kind, "prompt": prompt, "seed": shape_seed,
            "family": job.params.get("family"), "too_complex": bool(prompt and TOO_COMPLEX_PHRASE in prompt.lower()),
            "rigged": False, "quad": bool(p.get("quad"))}
    if p.get("generate_parts"):
        meta["parts"] = [m.name for m in meshes]
    return Result(outputs, meta=meta)


def text_to_model(job: Job) -> Result:
    prompt = job.params["prompt"]
    seed = job.params.get("model_seed")
    shape_seed = shapes.seed_of(prompt, seed if seed is not None else job.seed)
    return _generation(job, shapes.classify(prompt), shape_seed, prompt)


def image_to_model(job: Job) -> Result:
    digest = hashlib.sha256(b"".join(f.data for _, f in sorted(job.files.items()))).digest()
    seed = job.params.get("model_seed")
    if job.source is not None:  # multiview from a generate_multiview_image task
        kind, base = job.source.meta.get("kind", "blob"), job.source.meta.get("seed", 0)
    else:
        kind, base = SHAPE_KINDS[digest[0] % len(SHAPE_KINDS)], int.from_bytes(digest[1:5], "little")
    return _generation(job, kind, shapes.seed_of(base, seed if seed is not None else job.seed), None)


def refine_model(job: Job) -> Result:
    src = job.source
    job.params.update(texture=True, pbr=False, legacy=False)
    res = _generation(job, src.meta.get("kind", "blob"), src.meta.get("seed", job.seed), src.meta.get("prompt"),
                      detail=1.6)
    key = next(k for k in res.outputs if k != "rendered_image")
    res.outputs["model"] = res.outputs.pop(key)
    res.meta["family"] = "H2"
    return res
