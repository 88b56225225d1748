"""Make the output files of a task (run on a worker thread while the task is queued/running).

Every model-producing task also leaves an internal canonical GLB (meta["glb"]) that later tasks read."""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import blender
from .assets import formats, glb, images, rig, shapes
from .assets.mesh import (
    Mesh,
    bounds,
    decimate,
    facet,
    merge,
    normalize,
    rotation,
    split_parts,
    transformed,
    voxel_mesh,
    voxels,
)
from .validation import TOO_COMPLEX_FACES, TOO_COMPLEX_PHRASE, InputFile

REAL_SIZE = {"humanoid": 1.75, "quadruped": 1.2, "avian": 0.4, "serpentine": 2.0, "aquatic": 0.8,
             "hexapod": 0.05, "octopod": 0.3, "furniture": 0.9, "vessel": 0.3, "crate": 0.8, "blob": 0.5}
SHAPE_KINDS = list(shapes._BUILDERS)


class TaskFailure(Exception):
    """The task ends failed with this error_code / error_msg."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


@dataclass
class SourceInfo:
    type: str
    dir: Path
    meta: dict
    outputs: dict


@dataclass
class Job:
    task_id: str
    type: str
    params: dict
    files: dict[str, InputFile]
    source: SourceInfo | None
    out_dir: Path
    cache_dir: Path
    seed: int


@dataclass
class Result:
    outputs: dict[str, Any] = field(default_factory=dict)   # output key -> file name (or nested dict)
    extra: dict[str, Any] = field(default_factory=dict)     # plain output values (prerigcheck)
    meta: dict[str, Any] = field(default_factory=dict)


def produce(job: Job) -> Result:
    job.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _PRODUCERS[job.type](job)
    except blender.BlenderUnavailable as e:
        raise TaskFailure(1001, str(e)) from None
    except blender.ConversionError as e:
        raise TaskFailure(1001, str(e)) from None
    except (glb.GlbError, KeyError, IndexError, ValueError) as e:
        raise TaskFailure(1001, f"Could not process the model: {e}") from None


# ------------------------------------------------------------------------------------------------------ helpers
def _write(job: Job, name: str, data: bytes) -> str:
    (job.out_dir / name).write_bytes(data)
    return name


def _material(tex_seed: int | None, pbr: bool, texture_png: bytes | None = None) -> glb.Material:
    if texture_png is None and tex_seed is None:
        return glb.Material("material", (0.72, 0.72, 0.72, 1.0), roughness=0.7)
    png = texture_png if texture_png is not None else images.texture_png(tex_seed)
    if pbr:
        return glb.Material("material", (1, 1, 1, 1), png, metallic=1.0, roughness=1.0,
                            metallic_roughness_png=images.metallic_roughness_png(tex_seed or 0))
    return glb.Material("material", (1, 1, 1, 1), png, metallic=0.0, roughness=0.6)


def _load(src: SourceInfo) -> tuple[list[Mesh], bytes | None]:
    """The source task's meshes (world space) and base colour texture."""
    data = (src.dir / src.meta["glb"]).read_bytes()
    model = glb.read_glb(data)
    if not model.meshes:
        raise TaskFailure(1001, "The source model has no triangle meshes.")
    return model.meshes, model.image


def _ensure_uvs(meshes: list[Mesh]) -> list[Mesh]:
    out = []
    lo, hi = bounds(meshes)
    c = (lo + hi) / 2
    for m in meshes:
        if m.uvs is None:
            d = m.positions - c
            u = 0.5 + np.arctan2(d[:, 0], d[:, 2]) / (2 * math.pi)
            v = (m.positions[:, 1] - lo[1]) / max(float(hi[1] - lo[1]), 1e-9)
            m = m.copy(uvs=np.stack([u, v], axis=1))
        out.append(m)
    return out


def _glb(meshes: list[Mesh], mat: glb.Material, **kw: Any) -> bytes:
    return glb.write_glb(meshes, [mat], **kw)


def _render(job: Job, meshes: list[Mesh], texture_png: bytes | None) -> str:
    return _write(job, "rendered_image.webp", images.render(meshes, images.decode_texture(texture_png)))


def _derived_meta(job: Job, **changes: Any) -> dict:
    meta = dict(job.source.meta) if job.source else {}
    meta.pop("parts", None)
    meta.update(rigged=False)
    meta.update(changes)
    return meta


def _export(job: Job, internal: str, fmt: str, out_name: str, *, quads: bool = False,
            animation: bool = True) -> str:
    """Blender conversion of an internal GLB of this task into out_name."""
    path = blender.convert(job.out_dir / internal, fmt, job.cache_dir, quads=quads, animation=animation)
    return _write(job, out_name, path.read_bytes())


# ------------------------------------------------------------------------------------------------------ images
def _image_seed(job: Job, *parts: object) -> int:
    return shapes.seed_of(job.type, *parts, job.params.get("prompt"), job.seed)


def text_to_image(job: Job) -> Result:
    prompt = job.params.get("prompt") or ""
    refs = [f.data for k, f in sorted(job.files.items())]
    seed = _image_seed(job, *[hashlib.sha256(r).hexdigest() for r in refs])
    name = _write(job, f"tripo_image_{job.task_id}.png", images.picture(seed))
    return Result({"generated_image": name}, meta={"prompt": prompt, "kind": shapes.classify(prompt)})


def _views(job: Job, kind: str, seed: int, tint: dict[str, int] | None = None) -> dict[str, str]:
    mesh = shapes.generate(kind, seed)
    tex = images.texture_png(seed)
    out = {}
    for i, view in enumerate(("front", "left", "back", "right")):
        tex_v = images.texture_png(tint[view]) if tint and view in tint else tex
        png = images.render([mesh], images.decode_texture(tex_v), yaw=i * math.pi / 2, pitch=0.1, fmt="PNG")
        out[f"{view}_view_url"] = _write(job, f"{view}_view.png", png)
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
    return Result({"generate_multiview_image": views}, meta=_derived_meta(job))


# ------------------------------------------------------------------------------------------------------ generation
def _generation(job: Job, kind: str, shape_seed: int, prompt: str | None, detail: float = 1.0) -> Result:
    p = job.params
    if (p.get("quad") or p.get("smart_low_poly")) and prompt and TOO_COMPLEX_PHRASE in prompt.lower():
        raise TaskFailure(2018, "The model is too complex to remesh.")
    legacy = bool(p.get("legacy"))
    face_limit = p.get("face_limit") or (10_000 if p.get("quad") else None)
    low_poly = p.get("smart_low_poly") or str(p.get("model_version") or "").startswith("P1")
    mesh = shapes.generate(kind, shape_seed, face_limit, detail)
    if low_poly:
        mesh = facet(decimate(mesh, min(face_limit or 1500, 1500)))
    meshes = split_parts(mesh, 5, shape_seed) if p.get("generate_parts") else [mesh]
    if p.get("auto_size"):
        meshes = normalize(meshes, REAL_SIZE.get(kind, 1.0))
    textured = bool(p.get("texture") or p.get("pbr") or p.get("texture_quality", "standard") != "standard")
    tex_seed = p.get("texture_seed")
    tex_seed = shapes.seed_of("texture", tex_seed if tex_seed is not None else job.seed, prompt)
    mat = _material(tex_seed if textured else None, bool(p.get("pbr")))
    data = _glb(meshes, mat, extras={"task_id": job.task_id, "prompt": prompt or ""})
    tid = job.task_id
    if p.get("quad"):
        internal = _write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": _export(job, internal, "fbx", f"tripo_model_{tid}.fbx", quads=True)}
    else:
        if legacy:
            key, name = "model", f"tripo_draft_{tid}.glb"
        elif p.get("pbr"):
            key, name = "pbr_model", f"tripo_pbr_model_{tid}.glb"
        elif textured:
            key, name = "model", f"tripo_model_{tid}.glb"
        else:
            key, name = "base_model", f"tripo_base_model_{tid}.glb"
        internal = _write(job, name, data)
        outputs = {key: internal}
    outputs["rendered_image"] = _render(job, meshes, mat.base_color_png)
    meta = {"glb": internal, "kind": kind, "prompt": prompt, "seed": shape_seed,
            "family": job.params.get("family"), "too_complex": bool(prompt and TOO_COMPLEX_PHRASE in prompt.lower()),
            "rigged": False}
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


# ------------------------------------------------------------------------------------------------------ editing
def texture_model(job: Job) -> Result:
    p = job.params
    meshes, old_tex = _load(job.source)
    meshes = _ensure_uvs(meshes)
    prompt = p.get("text")
    ref = b"".join(f.data for _, f in sorted(job.files.items()))
    tex_seed = shapes.seed_of("retexture", p.get("texture_seed") if p.get("texture_seed") is not None else job.seed,
                              prompt, hashlib.sha256(ref).hexdigest())
    texture_png = old_tex if (not p["texture"] and old_tex) else images.texture_png(tex_seed)
    mat = _material(tex_seed, bool(p["pbr"]), texture_png)
    tid = job.task_id
    key, name = ("pbr_model", f"tripo_pbr_model_{tid}.glb") if p["pbr"] else ("model", f"tripo_model_{tid}.glb")
    name = _write(job, name, _glb(meshes, mat))
    parts = job.source.meta.get("parts")
    return Result({key: name, "rendered_image": _render(job, meshes, texture_png)},
                  meta=_derived_meta(job, glb=name, parts=parts, too_complex=job.source.meta.get("too_complex")))


def import_model(job: Job) -> Result:
    f = job.files["model"]
    tid = job.task_id
    name = f"tripo_model_{tid}.glb"
    if f.kind == "glb":
        _write(job, name, f.data)   # kept byte for byte (compressed GLBs too; later edits then fail with 1001)
    elif f.kind in ("obj", "stl"):
        meshes = formats.read_obj(f.data) if f.kind == "obj" else formats.read_stl(f.data)
        _write(job, name, _glb(meshes, _material(None, False)))
    else:  # fbx: through Blender
        src = job.out_dir / f"_input_{tid}.{f.kind}"
        src.write_bytes(f.data)
        _export(job, src.name, "glb", name)
    data = (job.out_dir / name).read_bytes()
    faces = f.faces or formats.count_faces(data, "glb")
    try:
        parts = [m.name for m in glb.read_glb(data).meshes]
    except (glb.GlbError, ValueError, KeyError, IndexError):
        parts = []
    meta = {"glb": name, "kind": "blob", "prompt": None, "seed": job.seed, "family": "import", "rigged": False,
            "too_complex": faces > TOO_COMPLEX_FACES, "faces": faces, "parts": parts if len(parts) > 1 else None,
            "imported_format": f.kind}
    return Result({"model": name}, meta=meta)


def mesh_segmentation(job: Job) -> Result:
    meshes, tex = _load(job.source)
    parts = split_parts(merge(meshes), 5, job.seed)
    name = _write(job, f"tripo_segment_{job.task_id}.glb", _glb(parts, _material(None, False, tex)))
    return Result({"model": name}, meta=_derived_meta(job, glb=name, parts=[m.name for m in parts]))


def mesh_completion(job: Job) -> Result:
    meshes, tex = _load(job.source)
    wanted = job.params.get("part_names")
    out = [m.copy(name=m.name) for m in meshes]
    name = _write(job, f"tripo_complete_{job.task_id}.glb", _glb(out, _material(None, False, tex)))
    return Result({"model": name}, meta=_derived_meta(job, glb=name, parts=[m.name for m in out],
                                                      completed=wanted or [m.name for m in out]))


def highpoly_to_lowpoly(job: Job) -> Result:
    p = job.params
    meshes, tex = _load(job.source)
    wanted = p.get("part_names")
    if wanted:
        meshes = [m for m in meshes if m.name in wanted] or meshes
    total = sum(m.face_count for m in meshes)
    limit = p.get("face_limit") or max(500, min(total // 4, 4000))
    low = [facet(decimate(m, max(4, int(limit * m.face_count / max(total, 1))))) for m in meshes]
    data = _glb(low, _material(None, False, tex))
    tid = job.task_id
    if p.get("quad"):
        internal = _write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": _export(job, internal, "fbx", f"tripo_lowpoly_{tid}.fbx", quads=True)}
    else:
        internal = _write(job, f"tripo_lowpoly_{tid}.glb", data)
        outputs = {"model": internal}
    return Result(outputs, meta=_derived_meta(job, glb=internal, too_complex=False,
                                              parts=[m.name for m in low] if len(low) > 1 else None))


def stylize_model(job: Job) -> Result:
    p = job.params
    meshes, tex = _load(job.source)
    mesh = merge(_ensure_uvs(meshes))
    style, tid = p["style"], job.task_id
    texture = images.decode_texture(tex)
    if style == "voronoi":
        out = _voronoi(mesh, job.seed)
    else:
        res = p["block_size"] if style == "minecraft" else (24 if style == "lego" else 40)
        grid, origin, cell = voxels(mesh, res, job.seed)
        out = voxel_mesh(grid, origin, cell, gap=0.06 if style == "lego" else 0.0, name=style)
        out = _color_uvs(out, mesh)
        if style == "lego":
            out = merge([out, _studs(grid, origin, cell)], name="lego")
        if style == "minecraft":
            colors = _voxel_colors(grid, origin, cell, mesh, texture)
            internal = _write(job, f"_mesh_{tid}.glb", _glb([out], _material(None, False, tex)))
            name = _write(job, f"tripo_stylize_{tid}.schem", formats.write_schem(grid, colors))
            return Result({"model": name}, meta=_derived_meta(job, glb=internal, style=style))
    name = _write(job, f"tripo_stylize_{tid}.glb", _glb([out], _material(None, False, tex)))
    return Result({"model": name}, meta=_derived_meta(job, glb=name, style=style))


def _nearest_uv(points: np.ndarray, mesh: Mesh) -> np.ndarray:
    out = np.zeros((len(points), 2), np.float32)
    src = mesh.positions.astype(np.float32)
    for i in range(0, len(points), 2048):
        chunk = points[i:i + 2048].astype(np.float32)
        d = ((chunk[:, None, :] - src[None]) ** 2).sum(-1)
        out[i:i + 2048] = mesh.uvs[np.argmin(d, axis=1)]
    return out


def _color_uvs(vox: Mesh, src: Mesh) -> Mesh:
    """Give each voxel quad the UV of the nearest source vertex (a single texel colour per face)."""
    centres = vox.positions.reshape(-1, 4, 3).mean(axis=1)
    uv = np.repeat(_nearest_uv(centres, src), 4, axis=0)
    return vox.copy(uvs=uv)


def _voxel_colors(grid: np.ndarray, origin: np.ndarray, cell: float, mesh: Mesh,
                  texture: np.ndarray | None) -> np.ndarray:
    colors = np.full(grid.shape + (3,), 200, np.uint8)
    if texture is None:
        return colors
    occ = np.argwhere(grid)
    uv = _nearest_uv((occ + 0.5) * cell + origin, mesh) % 1.0
    h, w = texture.shape[:2]
    colors[occ[:, 0], occ[:, 1], occ[:, 2]] = texture[((1 - uv[:, 1]) * (h - 1)).astype(int),
                                                      (uv[:, 0] * (w - 1)).astype(int)][:, :3]
    return colors


def _studs(grid: np.ndarray, origin: np.ndarray, cell: float) -> Mesh:
    from .assets.mesh import lathe

    top = np.argwhere(grid & ~np.pad(grid, ((0, 0), (0, 1), (0, 0)))[:, 1:, :])
    stud = lathe(lambda v: np.where(v < 0.999, 0.3, 0.0), 0.18, 8, 1)
    parts = [transformed(stud, (cell, cell, cell), None,
                         ((i + 0.5) * cell + origin[0], (j + 1.09) * cell + origin[1], (k + 0.5) * cell + origin[2]))
             for i, j, k in top[:3000]]
    return merge(parts, name="studs") if parts else Mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]))


def _voronoi(mesh: Mesh, seed: int) -> Mesh:
    """Keep a band of triangles around Voronoi cell borders: a lattice shell."""
    from .assets.mesh import sample_surface

    sites = sample_surface(mesh, 40, seed)
    cent = mesh.positions[mesh.indices].mean(axis=1)
    d = np.sqrt(((cent[:, None, :] - sites[None]) ** 2).sum(-1))
    d.sort(axis=1)
    lo, hi = bounds([mesh])
    band = (d[:, 1] - d[:, 0]) < 0.04 * float((hi - lo).max())
    tris = mesh.indices[band] if band.any() else mesh.indices
    return Mesh(mesh.positions, tris, mesh.uvs, mesh.normals, name="voronoi")


# ------------------------------------------------------------------------------------------------------ animation
def animate_prerigcheck(job: Job) -> Result:
    meta = job.source.meta
    kind = meta.get("kind") or shapes.classify(meta.get("prompt"))
    if kind in shapes.RIG_TYPE_OF_KIND:
        riggable, rig_type = True, shapes.RIG_TYPE_OF_KIND[kind]
    elif meta.get("imported_format") or not meta.get("prompt"):
        riggable, rig_type = True, "biped"   # no words to go by: most uploads are characters
    else:
        riggable, rig_type = False, "others"
    return Result({}, extra={"riggable": riggable, "rig_type": rig_type}, meta=_derived_meta(job))


def _rigged_glb(job: Job, meshes: list[Mesh], tex: bytes | None, rig_type: str, spec: str,
                animations: list[str] | None = None, in_place: bool = False, geometry: bool = True) -> bytes:
    mesh = merge(meshes, name="mesh")
    sk = rig.skeleton(rig_type, [mesh], spec)
    skin = rig.make_skin(mesh if geometry else None, sk)
    size = float((bounds([mesh])[1] - bounds([mesh])[0]).max())
    clips = [rig.clip(a, sk, in_place=in_place, size=size) for a in animations or []]
    return glb.write_glb([mesh] if geometry else [], [_material(None, False, tex)], skin=skin, clips=clips)


def animate_rig(job: Job) -> Result:
    p = job.params
    meshes, tex = _load(job.source)
    data = _rigged_glb(job, meshes, tex, p["rig_type"], p["spec"])
    tid = job.task_id
    if p["out_format"] == "fbx":
        internal = _write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": _export(job, internal, "fbx", f"tripo_rig_{tid}.fbx")}
    else:
        internal = _write(job, f"tripo_rig_{tid}.glb", data)
        outputs = {"model": internal}
    return Result(outputs, meta=_derived_meta(job, glb=internal, rigged=True, rig_type=p["rig_type"],
                                              spec=p["spec"], too_complex=False))


def animate_retarget(job: Job) -> Result:
    p = job.params
    meshes, tex = _load(job.source)
    meta = job.source.meta
    data = _rigged_glb(job, meshes, tex, meta.get("rig_type", "biped"), meta.get("spec", "tripo"),
                       p["animations"], p["animate_in_place"], p["export_with_geometry"])
    tid = job.task_id
    if p["out_format"] == "fbx":
        internal = _write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": _export(job, internal, "fbx", f"tripo_animation_{tid}.fbx")}
    else:
        internal = _write(job, f"tripo_animation_{tid}.glb", data)
        outputs = {"model": internal}
    return Result(outputs, meta=_derived_meta(job, glb=internal, rigged=True, animations=p["animations"]))


# ------------------------------------------------------------------------------------------------------ convert
CONVERT_EXT = {"GLTF": "zip", "USDZ": "usdz", "FBX": "fbx", "OBJ": "zip", "STL": "stl", "3MF": "3mf"}


def convert_model(job: Job) -> Result:
    p = job.params
    src = job.source
    fmt, tid = p["format"], job.task_id
    data = (src.dir / src.meta["glb"]).read_bytes()
    rigged = bool(src.meta.get("rigged"))
    redo = src.type == "convert_model"   # re-conversion honours only format
    if not rigged and not redo:
        data = _reshape(data, p)
    elif not p["with_animation"]:
        data = _strip_animations(data)
    internal = _write(job, f"_mesh_{tid}.glb", data)
    name = f"tripo_convert_{tid}.{CONVERT_EXT[fmt]}"
    if fmt in ("FBX", "USDZ"):
        _export(job, internal, fmt.lower(), name, quads=bool(p.get("quad")) and not redo,
                animation=bool(p["with_animation"]))
    elif fmt == "GLTF":
        _write(job, name, formats.write_gltf_zip(data, f"tripo_convert_{tid}"))
    else:
        model = glb.read_glb(data)
        if fmt == "OBJ":
            tex, ext = _texture_as(model.image, p.get("texture_format", "JPEG"), p.get("texture_size"))
            zdata = formats.write_obj_zip(model.meshes, tex, f"tripo_convert_{tid}")
            if ext != "png":
                zdata = _rename_texture(zdata, ext)
            _write(job, name, zdata)
        elif fmt == "STL":
            _write(job, name, formats.write_stl(model.meshes))
        else:
            _write(job, name, formats.write_3mf(model.meshes))
    return Result({"model": name}, meta=_derived_meta(job, glb=internal, rigged=rigged, format=fmt,
                                                      parts=src.meta.get("parts")))


def _reshape(data: bytes, p: dict) -> bytes:
    """Apply convert_model's geometry options to a static model."""
    model = glb.read_glb(data)
    meshes = model.meshes
    if p.get("part_names"):
        meshes = [m for m in meshes if m.name in p["part_names"]] or meshes
    if p.get("face_limit") or p.get("quad"):
        limit = p.get("face_limit") or 10_000
        total = sum(m.face_count for m in meshes)
        if total > limit:
            meshes = [decimate(m, max(4, int(limit * m.face_count / total))) for m in meshes]
    angle = {"+x": 0.0, "-x": math.pi, "+y": math.pi / 2, "-y": -math.pi / 2}[p.get("export_orientation", "+x")]
    scale = float(p.get("scale_factor") or 1)
    rot = rotation("y", angle) if angle else None
    meshes = [transformed(m, (scale, scale, scale), rot) for m in meshes] if (rot is not None or scale != 1) \
        else meshes
    if p.get("flatten_bottom"):
        lo, hi = bounds(meshes)
        cut = lo[1] + (p.get("flatten_bottom_threshold") or 0.01) * float(hi[1] - lo[1]) * 5
        for m in meshes:
            m.positions[:, 1] = np.maximum(m.positions[:, 1], cut)
    if p.get("pivot_to_center_bottom"):
        lo, hi = bounds(meshes)
        shift = np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2], np.float32)
        for m in meshes:
            m.positions -= shift
    tex, _ = _texture_as(model.image, "PNG", p.get("texture_size"))
    return _glb(meshes, _material(None, False, tex))


def _strip_animations(data: bytes) -> bytes:
    gltf, binary = glb.split_glb(data)
    gltf.pop("animations", None)
    return glb.pack_glb(gltf, binary)


def _texture_as(image: bytes | None, fmt: str, size: int | None) -> tuple[bytes | None, str]:
    """Re-encode a texture (JPEG / PNG / WEBP; other formats fall back to PNG) at most `size` px."""
    if image is None:
        return None, "png"
    from PIL import Image

    ext = {"JPEG": "jpg", "WEBP": "webp"}.get(fmt, "png")
    img = Image.open(io.BytesIO(image)).convert("RGB")
    if size and max(img.size) > size:
        img = img.resize((size, size))
    if ext == "png" and not size:
        return image, "png"
    out = io.BytesIO()
    img.save(out, {"jpg": "JPEG", "webp": "WEBP"}.get(ext, "PNG"))
    return out.getvalue(), ext


def _rename_texture(zdata: bytes, ext: str) -> bytes:
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(zdata))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "texture.png":
                z.writestr(f"texture.{ext}", data)
            elif info.filename.endswith(".mtl"):
                z.writestr(info.filename, data.replace(b"texture.png", f"texture.{ext}".encode()))
            else:
                z.writestr(info, data)
    return out.getvalue()


_PRODUCERS = {
    "text_to_image": text_to_image, "generate_image": text_to_image,
    "generate_multiview_image": generate_multiview_image, "edit_multiview_image": edit_multiview_image,
    "text_to_model": text_to_model, "image_to_model": image_to_model, "multiview_to_model": image_to_model,
    "refine_model": refine_model, "texture_model": texture_model, "import_model": import_model,
    "mesh_segmentation": mesh_segmentation, "mesh_completion": mesh_completion,
    "highpoly_to_lowpoly": highpoly_to_lowpoly, "animate_prerigcheck": animate_prerigcheck,
    "animate_rig": animate_rig, "animate_retarget": animate_retarget, "stylize_model": stylize_model,
    "convert_model": convert_model,
}
