"""convert_model: GLTF/OBJ (zips), STL, 3MF in Python; FBX/USDZ through Blender."""

from __future__ import annotations

import io
import math

import numpy as np

from ..assets import formats, glb
from ..assets.mesh import bounds, decimate, rotation, transformed
from .common import Job, Result, derived_meta, export, glb_bytes, material, write

CONVERT_EXT = {"GLTF": "zip", "USDZ": "usdz", "FBX": "fbx", "OBJ": "zip", "STL": "stl", "3MF": "3mf", "GLB": "glb"}


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
    internal = write(job, f"_mesh_{tid}.glb", data)
    name = f"tripo_convert_{tid}.{CONVERT_EXT[fmt]}"
    if fmt in ("FBX", "USDZ"):
        export(job, internal, fmt.lower(), name, quads=bool(p.get("quad")) and not redo,
                animation=bool(p["with_animation"]))
    elif fmt == "GLB":   # v3 only
        write(job, name, data)
    elif fmt == "GLTF":
        write(job, name, formats.write_gltf_zip(data, f"tripo_convert_{tid}"))
    else:
        model = glb.read_glb(data)
        if fmt == "OBJ":
            tex, ext = _texture_as(model.image, p.get("texture_format", "JPEG"), p.get("texture_size"))
            zdata = formats.write_obj_zip(model.meshes, tex, f"tripo_convert_{tid}")
            if ext != "png":
                zdata = _rename_texture(zdata, ext)
            write(job, name, zdata)
        elif fmt == "STL":
            write(job, name, formats.write_stl(model.meshes))
        else:
            write(job, name, formats.write_3mf(model.meshes))
    return Result({"model": name}, meta=derived_meta(job, glb=internal, rigged=rigged, format=fmt,
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
    return glb_bytes(meshes, material(None, False, tex))


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
