"""Producers of the task types only v3 has: image_to_splat (.splat), image_to_depth (depth PNG), mesh_uv (GLB with
new UVs + a UV-layout PNG)."""

from __future__ import annotations

import hashlib
import io

import numpy as np

from ..assets import images, shapes
from ..assets.mesh import merge, sample_surface
from .common import SHAPE_KINDS, Job, Result, derived_meta, ensure_uvs, glb_bytes, load_source, material, write

SPLAT_POINTS = 4096
SPLAT_RECORD = 32   # antimatter15 .splat: position 3f, scale 3f, RGBA 4B, rotation quaternion 4B


def image_to_splat(job: Job) -> Result:
    """A Gaussian splat of the shape the image stands for: SPLAT_POINTS 32-byte records."""
    digest = hashlib.sha256(job.files["file"].data).digest()
    kind = SHAPE_KINDS[digest[0] % len(SHAPE_KINDS)]
    seed = job.params.get("model_seed")
    shape_seed = shapes.seed_of(int.from_bytes(digest[1:5], "little"), seed if seed is not None else job.seed)
    mesh = shapes.generate(kind, shape_seed)
    pts = sample_surface(mesh, SPLAT_POINTS, shape_seed).astype(np.float32)
    tex = images.texture_pixels(shape_seed, 64)
    rng = np.random.default_rng(shape_seed)
    rgba = tex[rng.integers(0, 64, SPLAT_POINTS), rng.integers(0, 64, SPLAT_POINTS)][:, :3]
    rec = np.zeros(SPLAT_POINTS, dtype=[("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
    rec["pos"] = pts
    rec["scale"] = 0.01
    rec["rgba"][:, :3] = rgba
    rec["rgba"][:, 3] = 255
    rec["rot"] = (255, 128, 128, 128)   # identity quaternion (w=1), stored as (q * 128 + 128)
    name = write(job, f"tripo_splat_{job.task_id}.splat", rec.tobytes())
    return Result({"splat": name}, meta={"kind": kind, "seed": shape_seed, "splat_points": SPLAT_POINTS})


def image_to_depth(job: Job) -> Result:
    """A depth map (PNG, process_res px on the long side): gray, or a blue-to-red colour ramp."""
    from PIL import Image, ImageFilter

    res = int(job.params.get("process_res") or 504)
    img = Image.open(io.BytesIO(job.files["file"].data)).convert("L")
    w, h = img.size
    scale = res / max(w, h)
    img = img.resize((max(1, round(w * scale)), max(1, round(h * scale)))).filter(ImageFilter.GaussianBlur(4))
    depth = np.asarray(img, np.float32) / 255.0
    if job.params.get("kind") == "color":
        rgb = np.stack([depth, 1 - np.abs(depth - 0.5) * 2, 1 - depth], axis=-1)
        out = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    else:
        out = Image.fromarray((depth * 255).astype(np.uint8), "L")
    buf = io.BytesIO()
    out.save(buf, "PNG")
    name = write(job, f"tripo_depth_{job.task_id}.png", buf.getvalue())
    return Result({"depth_image": name}, meta={"kind": "depth"})


def mesh_uv(job: Job) -> Result:
    """Re-unwrap the source model (cylindrical projection) and draw the UV layout."""
    from PIL import Image, ImageDraw

    meshes, tex = load_source(job.source)
    meshes = ensure_uvs([m.copy(uvs=None) for m in meshes])
    name = write(job, f"tripo_uv_{job.task_id}.glb", glb_bytes(meshes, material(None, False, tex)))
    size = 512
    atlas = Image.new("RGB", (size, size), (24, 26, 30))
    draw = ImageDraw.Draw(atlas)
    mesh = merge(meshes)
    uv = mesh.uvs * (size - 1)
    for tri in mesh.indices[:: max(1, len(mesh.indices) // 6000)]:
        pts = [(float(uv[i, 0]), float(size - 1 - uv[i, 1])) for i in tri]
        draw.polygon(pts, outline=(120, 200, 255))
    buf = io.BytesIO()
    atlas.save(buf, "PNG")
    render = write(job, f"tripo_uv_render_{job.task_id}.png", buf.getvalue())
    return Result({"model": name, "uv_render": render}, meta=derived_meta(job, glb=name))
