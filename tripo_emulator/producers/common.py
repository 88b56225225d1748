"""Shared pieces of the producers: the job/result records and file helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import blender
from ..assets import glb, images, shapes
from ..assets.mesh import Mesh, bounds
from ..inputs import InputFile

REAL_SIZE = {"humanoid": 1.75, "quadruped": 1.2, "avian": 0.4, "serpentine": 2.0, "aquatic": 0.8,
             "hexapod": 0.05, "octopod": 0.3, "furniture": 0.9, "vessel": 0.3, "crate": 0.8, "blob": 0.5}
SHAPE_KINDS = list(shapes.KIND_NAMES)


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


def write(job: Job, name: str, data: bytes) -> str:
    (job.out_dir / name).write_bytes(data)
    return name


def material(tex_seed: int | None, pbr: bool, texture_png: bytes | None = None) -> glb.Material:
    if texture_png is None and tex_seed is None:
        return glb.Material("material", (0.72, 0.72, 0.72, 1.0), roughness=0.7)
    png = texture_png if texture_png is not None else images.texture_png(tex_seed)
    if pbr:
        return glb.Material("material", (1, 1, 1, 1), png, metallic=1.0, roughness=1.0,
                            metallic_roughness_png=images.metallic_roughness_png(tex_seed or 0))
    return glb.Material("material", (1, 1, 1, 1), png, metallic=0.0, roughness=0.6)


def load_source(src: SourceInfo) -> tuple[list[Mesh], bytes | None]:
    """The source task's meshes (world space) and base colour texture."""
    data = (src.dir / src.meta["glb"]).read_bytes()
    model = glb.read_glb(data)
    if not model.meshes:
        raise TaskFailure(1001, "The source model has no triangle meshes.")
    return model.meshes, model.image


def ensure_uvs(meshes: list[Mesh]) -> list[Mesh]:
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


def glb_bytes(meshes: list[Mesh], mat: glb.Material, **kw: Any) -> bytes:
    return glb.write_glb(meshes, [mat], **kw)


def render_preview(job: Job, meshes: list[Mesh], texture_png: bytes | None) -> str:
    return write(job, "rendered_image.webp", images.render(meshes, images.decode_texture(texture_png)))


def derived_meta(job: Job, **changes: Any) -> dict:
    meta = dict(job.source.meta) if job.source else {}
    meta.pop("parts", None)
    meta.update(rigged=False)
    meta.update(changes)
    return meta


def export(job: Job, internal: str, fmt: str, out_name: str, *, quads: bool = False,
            animation: bool = True) -> str:
    """Blender conversion of an internal GLB of this task into out_name."""
    path = blender.convert(job.out_dir / internal, fmt, job.cache_dir, quads=quads, animation=animation)
    return write(job, out_name, path.read_bytes())
