"""Smart Segment (v3 `POST /v3/mesh/smartsegment`, tripo-api-v3.md §6.12, §18 R9): a model (from an image, or the GLB
at a URL placed by `transform`) split into parts named from the `hint` and the shape, with a mask image.

Besides its own files (seg_model, mask) the task leaves two tasks Tripo made on the way, described in
meta["children"] and registered by the task store when this one succeeds: `model_task_id` (the model that was
segmented: an image_to_model or an import_model task) and `seg_task_id` (a mesh_segmentation task, usable like any
segmentation by complete, decimate, texture and convert)."""

from __future__ import annotations

import hashlib
import re
import uuid

import numpy as np

from ..assets import glb, images, png, shapes
from ..assets.mesh import Mesh, bounds, merge, split_parts
from .common import SHAPE_KINDS, Job, Result, glb_bytes, material

PARTS = {"coarse": 3, "medium": 5, "fine": 8}
NAMES = {
    "humanoid": ("head", "torso", "arms", "hips", "legs", "hands", "neck", "feet"),
    "quadruped": ("head", "neck", "body", "front_legs", "hind_legs", "tail", "ears", "paws"),
    "avian": ("head", "beak", "body", "wings", "tail", "legs", "feet", "crest"),
    "furniture": ("backrest", "seat", "frame", "legs", "base", "armrests", "cushion", "feet"),
    "vessel": ("rim", "neck", "body", "handle", "base", "lid", "spout", "foot"),
}
GENERIC = ("top", "upper_body", "middle", "lower_body", "base", "left_side", "right_side", "detail")
COLOURS = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
                    (70, 240, 240), (240, 50, 230)], np.uint8)


def _names(kind: str, n: int, hint: str | None) -> list[str]:
    names = list(NAMES.get(kind, GENERIC))
    words = re.findall(r"[a-z0-9]+", (hint or "").lower())
    words = [w for w in words if w not in ("the", "a", "an", "and", "of", "its", "my", "please", "segment", "part")]
    if words:   # the hint names the first part Tripo finds
        hinted = "_".join(words[:3])
        names = [hinted] + [x for x in names if x != hinted]
    return names[:n]


def _transform(meshes: list[Mesh], t: list[float] | None) -> list[Mesh]:
    """Apply a 16-float column-major 4x4 matrix (glTF's convention) to the meshes."""
    if not t:
        return meshes
    m = np.asarray(t, np.float64).reshape(4, 4).T
    out = []
    for mesh in meshes:
        pos = mesh.positions.astype(np.float64) @ m[:3, :3].T + m[:3, 3]
        nrm = mesh.normals.astype(np.float64) @ np.linalg.pinv(m[:3, :3])
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
        out.append(mesh.copy(positions=pos.astype(np.float32), normals=nrm.astype(np.float32)))
    return out


def _mask(parts: list[Mesh], size: tuple[int, int]) -> bytes:
    """A label image: each part's triangles (front view, orthographic) in its own colour on black."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    lo, hi = bounds(parts)
    span = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]), 1e-9)
    for i, part in enumerate(parts):
        pts = np.concatenate([part.positions, part.positions[part.indices].mean(axis=1)])
        x = ((pts[:, 0] - lo[0]) / span * 0.9 + 0.05) * (w - 1)
        y = (1 - ((pts[:, 1] - lo[1]) / span * 0.9 + 0.05)) * (h - 1)
        xi, yi = np.clip(x.astype(int), 0, w - 1), np.clip(y.astype(int), 0, h - 1)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                img[np.clip(yi + dy, 0, h - 1), np.clip(xi + dx, 0, w - 1)] = COLOURS[i % len(COLOURS)]
    return png.encode_png(img)


def smart_segment(job: Job) -> Result:
    p = job.params
    tasks_dir = job.out_dir.parent
    model_id, seg_id = str(uuid.uuid4()), str(uuid.uuid4())
    if p["seg_type"] == "image":
        f = job.files["image"]
        digest = hashlib.sha256(f.data).digest()
        kind = SHAPE_KINDS[digest[0] % len(SHAPE_KINDS)]
        seed = shapes.seed_of(int.from_bytes(digest[1:5], "little"), job.seed)
        meshes = [shapes.generate(kind, seed)]
        tex = images.texture_png(seed)
        model_type, family, mask_size = "image_to_model", "H3", (f.width or 512, f.height or 512)
    else:
        model = glb.read_glb(job.files["model"].data)
        if not model.meshes:
            from .common import TaskFailure

            raise TaskFailure(1001, "The model has no triangle meshes.")
        meshes, tex = _transform(model.meshes, p.get("transform")), model.image
        kind, seed = "blob", job.seed
        model_type, family, mask_size = "import_model", "import", (512, 512)
    names = _names(kind, PARTS[p.get("granularity") or "medium"], p.get("hint"))
    parts = split_parts(merge(meshes), len(names), seed)
    parts = [m.copy(name=names[i]) for i, m in enumerate(parts)]
    names = [m.name for m in parts]
    seg_glb = glb_bytes(parts, material(None, False, tex))
    model_glb = glb_bytes(meshes, material(None, False, tex))
    children = []
    for tid, ttype, fname, data, extra in (
            (model_id, model_type, f"tripo_model_{model_id}.glb", model_glb, {"parts": None}),
            (seg_id, "mesh_segmentation", f"tripo_segment_{seg_id}.glb", seg_glb, {"parts": names})):
        d = tasks_dir / tid
        d.mkdir(parents=True, exist_ok=True)
        (d / fname).write_bytes(data)
        meta = {"glb": fname, "kind": kind, "prompt": None, "seed": seed, "family": family, "rigged": False,
                "too_complex": False, **extra}
        children.append({"id": tid, "type": ttype, "outputs": {"model": fname}, "meta": meta})
    tid = job.task_id
    (job.out_dir / f"tripo_smartsegment_{tid}.glb").write_bytes(seg_glb)
    (job.out_dir / f"tripo_mask_{tid}.png").write_bytes(_mask(parts, mask_size))
    return Result({"seg_model": f"tripo_smartsegment_{tid}.glb", "mask": f"tripo_mask_{tid}.png"},
                  extra={"seg_task_id": seg_id, "model_task_id": model_id, "prompt": ", ".join(names)},
                  meta={"glb": f"tripo_smartsegment_{tid}.glb", "kind": kind, "parts": names, "family": family,
                        "rigged": False, "too_complex": False, "children": children})
