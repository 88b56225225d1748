"""Animation: prerigcheck, rig (skinned GLB/FBX), retarget (preset clips)."""

from __future__ import annotations

from ..assets import glb, rig, shapes
from ..assets.mesh import Mesh, bounds, merge
from .common import Job, Result, derived_meta, export, load_source, material, write


def animate_prerigcheck(job: Job) -> Result:
    meta = job.source.meta
    kind = meta.get("kind") or shapes.classify(meta.get("prompt"))
    if kind in shapes.RIG_TYPE_OF_KIND:
        riggable, rig_type = True, shapes.RIG_TYPE_OF_KIND[kind]
    elif meta.get("imported_format") or not meta.get("prompt"):
        riggable, rig_type = True, "biped"   # no words to go by: most uploads are characters
    else:
        riggable, rig_type = False, "others"
    return Result({}, extra={"riggable": riggable, "rig_type": rig_type}, meta=derived_meta(job))


def _rigged_glb(job: Job, meshes: list[Mesh], tex: bytes | None, rig_type: str, spec: str,
                animations: list[str] | None = None, in_place: bool = False, geometry: bool = True) -> bytes:
    mesh = merge(meshes, name="mesh")
    sk = rig.skeleton(rig_type, [mesh], spec)
    skin = rig.make_skin(mesh if geometry else None, sk)
    size = float((bounds([mesh])[1] - bounds([mesh])[0]).max())
    clips = [rig.clip(a, sk, in_place=in_place, size=size) for a in animations or []]
    return glb.write_glb([mesh] if geometry else [], [material(None, False, tex)], skin=skin, clips=clips)


def animate_rig(job: Job) -> Result:
    p = job.params
    meshes, tex = load_source(job.source)
    data = _rigged_glb(job, meshes, tex, p["rig_type"], p["spec"])
    tid = job.task_id
    if p["out_format"] == "fbx":
        internal = write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": export(job, internal, "fbx", f"tripo_rig_{tid}.fbx")}
    else:
        internal = write(job, f"tripo_rig_{tid}.glb", data)
        outputs = {"model": internal}
    return Result(outputs, meta=derived_meta(job, glb=internal, rigged=True, rig_type=p["rig_type"],
                                              spec=p["spec"], too_complex=False))


def animate_retarget(job: Job) -> Result:
    p = job.params
    meshes, tex = load_source(job.source)
    meta = job.source.meta
    data = _rigged_glb(job, meshes, tex, meta.get("rig_type", "biped"), meta.get("spec", "tripo"),
                       p["animations"], p["animate_in_place"], p["export_with_geometry"])
    tid = job.task_id
    if p["out_format"] == "fbx":
        internal = write(job, f"_mesh_{tid}.glb", data)
        outputs = {"model": export(job, internal, "fbx", f"tripo_animation_{tid}.fbx")}
    else:
        internal = write(job, f"tripo_animation_{tid}.glb", data)
        outputs = {"model": internal}
    if p.get("per_clip"):   # v3: model_urls, one file per clip (beside the one holding them all)
        clips = []
        for i, anim in enumerate(p["animations"]):
            one = _rigged_glb(job, meshes, tex, meta.get("rig_type", "biped"), meta.get("spec", "tripo"), [anim],
                              p["animate_in_place"], p["export_with_geometry"])
            stem = f"tripo_animation_{tid}_{i + 1}"
            if p["out_format"] == "fbx":
                clips.append(export(job, write(job, f"_{stem}.glb", one), "fbx", f"{stem}.fbx"))
            else:
                clips.append(write(job, f"{stem}.glb", one))
        outputs["model_urls"] = clips
    return Result(outputs, meta=derived_meta(job, glb=internal, rigged=True, animations=p["animations"]))
