"""Editing an existing model: texture, import, segmentation, completion, low poly, stylize."""

from __future__ import annotations

import hashlib

import numpy as np

from ..assets import formats, glb, images, meshopt, shapes
from ..assets.mesh import (
    Mesh,
    bounds,
    decimate,
    facet,
    lathe,
    merge,
    sample_surface,
    split_parts,
    transformed,
    voxel_mesh,
    voxels,
)
from ..inputs import TOO_COMPLEX_FACES
from .common import (
    Job,
    Result,
    derived_meta,
    ensure_uvs,
    export,
    glb_bytes,
    load_source,
    material,
    render_preview,
    write,
)


def texture_model(job: Job) -> Result:
    p = job.params
    meshes, old_tex = load_source(job.source)
    meshes = ensure_uvs(meshes)
    prompt = p.get("text")
    ref = b"".join(f.data for _, f in sorted(job.files.items()))
    tex_seed = shapes.seed_of("retexture", p.get("texture_seed") if p.get("texture_seed") is not None else job.seed,
                              prompt, hashlib.sha256(ref).hexdigest())
    texture_png = old_tex if (not p["texture"] and old_tex) else images.texture_png(tex_seed)
    mat = material(tex_seed, bool(p["pbr"]), texture_png)
    tid = job.task_id
    key, name = ("pbr_model", f"tripo_pbr_model_{tid}.glb") if p["pbr"] else ("model", f"tripo_model_{tid}.glb")
    data = glb_bytes(meshes, mat)
    src_meta = job.source.meta
    if src_meta.get("quad") or src_meta.get("imported_format") == "fbx":   # R7: quad meshes, FBX imports -> FBX
        internal = write(job, f"_mesh_{tid}.glb", data)
        out = export(job, internal, "fbx", name.removesuffix(".glb") + ".fbx", quads=bool(src_meta.get("quad")))
    elif p.get("compress") == "geometry":
        internal = write(job, f"_mesh_{tid}.glb", data)
        out = write(job, name, meshopt.compress_glb(data))
    else:
        internal = out = write(job, name, data)
    parts = src_meta.get("parts")
    return Result({key: out, "rendered_image": render_preview(job, meshes, texture_png)},
                  meta=derived_meta(job, glb=internal, parts=parts, too_complex=src_meta.get("too_complex")))


def import_model(job: Job) -> Result:
    f = job.files["model"]
    tid = job.task_id
    name = f"tripo_model_{tid}.glb"
    if f.kind == "glb":
        write(job, name, f.data)   # kept byte for byte (compressed GLBs too; later edits then fail with 1001)
    elif f.kind in ("obj", "stl"):
        meshes = formats.read_obj(f.data) if f.kind == "obj" else formats.read_stl(f.data)
        write(job, name, glb_bytes(meshes, material(None, False)))
    else:  # fbx: through Blender
        src = job.out_dir / f"_input_{tid}.{f.kind}"
        src.write_bytes(f.data)
        export(job, src.name, "glb", name)
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
    meshes, tex = load_source(job.source)
    parts = split_parts(merge(meshes), 5, job.seed)
    name = write(job, f"tripo_segment_{job.task_id}.glb", glb_bytes(parts, material(None, False, tex)))
    return Result({"model": name}, meta=derived_meta(job, glb=name, parts=[m.name for m in parts]))


def mesh_completion(job: Job) -> Result:
    meshes, tex = load_source(job.source)
    wanted = job.params.get("part_names")
    out = [m.copy(name=m.name) for m in meshes]
    name = write(job, f"tripo_complete_{job.task_id}.glb", glb_bytes(out, material(None, False, tex)))
    return Result({"model": name}, meta=derived_meta(job, glb=name, parts=[m.name for m in out],
                                                      completed=wanted or [m.name for m in out]))


def highpoly_to_lowpoly(job: Job) -> Result:
    p = job.params
    meshes, tex = load_source(job.source)
    wanted = p.get("part_names")
    if wanted:
        meshes = [m for m in meshes if m.name in wanted] or meshes
    total = sum(m.face_count for m in meshes)
    limit = p.get("face_limit") or max(500, min(total // 4, 4000))
    low = [facet(decimate(m, max(4, int(limit * m.face_count / max(total, 1))))) for m in meshes]
    data = glb_bytes(low, material(None, False, tex))
    tid = job.task_id
    if p.get("quad"):
        internal = write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": export(job, internal, "fbx", f"tripo_lowpoly_{tid}.fbx", quads=True)}
    else:
        internal = write(job, f"tripo_lowpoly_{tid}.glb", data)
        outputs = {"model": internal}
    return Result(outputs, meta=derived_meta(job, glb=internal, too_complex=False,
                                              parts=[m.name for m in low] if len(low) > 1 else None))


def stylize_model(job: Job) -> Result:
    p = job.params
    meshes, tex = load_source(job.source)
    mesh = merge(ensure_uvs(meshes))
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
            internal = write(job, f"_mesh_{tid}.glb", glb_bytes([out], material(None, False, tex)))
            name = write(job, f"tripo_stylize_{tid}.schem", formats.write_schem(grid, colors))
            return Result({"model": name}, meta=derived_meta(job, glb=internal, style=style))
    name = write(job, f"tripo_stylize_{tid}.glb", glb_bytes([out], material(None, False, tex)))
    return Result({"model": name}, meta=derived_meta(job, glb=name, style=style))


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
    top = np.argwhere(grid & ~np.pad(grid, ((0, 0), (0, 1), (0, 0)))[:, 1:, :])
    stud = lathe(lambda v: np.where(v < 0.999, 0.3, 0.0), 0.18, 8, 1)
    parts = [transformed(stud, (cell, cell, cell), None,
                         ((i + 0.5) * cell + origin[0], (j + 1.09) * cell + origin[1], (k + 0.5) * cell + origin[2]))
             for i, j, k in top[:3000]]
    return merge(parts, name="studs") if parts else Mesh(np.zeros((3, 3)), np.array([[0, 1, 2]]))


def _voronoi(mesh: Mesh, seed: int) -> Mesh:
    """Keep a band of triangles around Voronoi cell borders: a lattice shell."""
    sites = sample_surface(mesh, 40, seed)
    cent = mesh.positions[mesh.indices].mean(axis=1)
    d = np.sqrt(((cent[:, None, :] - sites[None]) ** 2).sum(-1))
    d.sort(axis=1)
    lo, hi = bounds([mesh])
    band = (d[:, 1] - d[:, 0]) < 0.04 * float((hi - lo).max())
    tris = mesh.indices[band] if band.any() else mesh.indices
    return Mesh(mesh.positions, tris, mesh.uvs, mesh.normals, name="voronoi")
