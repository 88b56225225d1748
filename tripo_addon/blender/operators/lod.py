"""LOD chain: LOD0..LODn of the active object by Tripo's decimation (highpoly_to_lowpoly) at chosen face limits,
imported into one collection as ``<name>_LOD0``... and, on request, exported as one FBX for Unity/Unreal."""

from __future__ import annotations

import re
from pathlib import Path

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

from ...jobs import pipelines
from ...jobs.job import Ref, Step
from .. import catalog, game_io, scene_export, scene_io, settings
from ..properties import PATH_SKIP
from .base import OnlineOperator, build_and_run
from .postprocess import result_group, source_problem, tripo_source


def source_faces(objects) -> int:
    """Triangles of the meshes (what Tripo's face limits count)."""
    return sum(len(p.vertices) - 2 for o in objects if o.type == 'MESH' for p in o.data.polygons)


def base_name(name: str) -> str:
    """An engine-friendly base name: ``Knight.001`` -> ``Knight``; no spaces or punctuation."""
    name = re.sub(r"\.\d{3}$", "", name)
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:40] or "Tripo"


def parse_limits(text: str) -> list[int]:
    """``"20000, 10000, 5000"`` (``k`` allowed: ``"5k"``) -> [20000, 10000, 5000]; refuses anything else."""
    out: list[int] = []
    for part in [p.strip().lower() for p in text.split(",") if p.strip()]:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(k?)", part.replace("_", ""))
        if m is None:
            raise catalog.validation_error(f"Face limit {part!r} is not a number: write them like 20000, 10000, "
                                           "5000 (or 20k, 10k, 5k).")
        out.append(int(float(m.group(1)) * (1000 if m.group(2) else 1)))
    return out


def plan_levels(limits: list[int], faces: int) -> tuple[list[int], list[str]]:
    """The levels worth paying for: each limit once, and only below the source's ``faces`` (a decimation to as many
    faces as the source has, or more, returns the same mesh again). Returns (levels, what was dropped and why)."""
    kept: list[int] = []
    repeated: list[int] = []
    too_high: list[int] = []
    for n in limits:
        if n in kept or n in repeated or n in too_high:
            if n not in repeated:
                repeated.append(n)
        elif faces > 0 and n >= faces:
            too_high.append(n)
        else:
            kept.append(n)
    dropped: list[str] = []
    if repeated:
        dropped.append(f"{_numbers(repeated)} given more than once (one level each)")
    if too_high:
        dropped.append(f"{_numbers(too_high)} at or above the source's {faces:,} faces (the same mesh again)")
    return kept, dropped


def _numbers(values: list[int]) -> str:
    text = [f"{n:,}" for n in values]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " and " + text[-1]


def dropped_text(dropped: list[str]) -> str:
    return "Face limits dropped before sending: " + "; ".join(dropped) + "." if dropped else ""


class TRIPO_OT_make_lods(OnlineOperator, bpy.types.Operator):
    """Make LOD0..LODn of the active object with Tripo's decimation (one task per level) and import them into one
    collection, named <name>_LOD0, <name>_LOD1... as game engines expect"""

    bl_idname = "tripo.make_lods"
    bl_label = "Tripo: Make LODs"
    bl_options = {'REGISTER'}

    face_limits: StringProperty(
        name="Face Limits", description="Faces per level, LOD0 first, comma separated (500-20,000 each). Empty: "
        "100 %, 50 %, 25 % and 10 % of the source's faces", options={'SKIP_SAVE'})
    smart_uv: BoolProperty(name="Smart UV", description="Unwrap new UVs on every level (decimation v3.0)",
                           default=False, options={'SKIP_SAVE'})
    quad: BoolProperty(name="Quad", description="Quad faces (FBX from Tripo; 10,000 faces at most)",
                       default=False, options={'SKIP_SAVE'})
    export_fbx: BoolProperty(name="Export FBX", description="Also write the LODs as one FBX for Unity or Unreal",
                             default=False, options={'SKIP_SAVE'})
    fbx_path: StringProperty(name="FBX File", description="Where the FBX goes (empty: <name>_LODs.fbx in the "
                             "download folder)", subtype='FILE_PATH', options=PATH_SKIP)
    confirm_cost: BoolProperty(name="Confirm Cost", description="Send even though the cost is above your "
                               "confirmation threshold (preferences)", default=False, options={'SKIP_SAVE'})
    wait: BoolProperty(name="Wait", description="Run to the end and import the result before returning",
                       default=False, options={'SKIP_SAVE'})
    wait_timeout: FloatProperty(name="Wait Timeout", default=0.0, min=0.0, options={'SKIP_SAVE'})

    @classmethod
    def unavailable(cls, context):
        return (catalog.retired_reason("highpoly_to_lowpoly") or settings.unavailable_reason(context)
                or source_problem("highpoly_to_lowpoly", context))

    def invoke(self, context, _event):
        if not self.face_limits:
            self.face_limits = ", ".join(str(n) for n in self.limits(context))
        return context.window_manager.invoke_props_dialog(self, width=420)

    def limits(self, context) -> list[int]:
        return self.levels(context)[0]

    def levels(self, context) -> tuple[list[int], list[str]]:
        """The face limits to send (repeats and levels at or above the source's faces dropped) and what was
        dropped; refuses, before any credit, when nothing is left."""
        group = result_group(context, context.active_object)
        faces = source_faces(group)
        if not self.face_limits.strip():
            return pipelines.lod_limits(faces or pipelines.LOD_MAX), []
        asked = parse_limits(self.face_limits)
        kept, dropped = plan_levels(asked, faces)
        if asked and not kept:
            raise catalog.validation_error(
                f"Every face limit ({_numbers(asked)}) is at or above the {faces:,} faces of "
                f"{context.active_object.name}: each level would be the same mesh again. Give limits below "
                f"{faces:,}, or leave Face Limits empty for 100, 50, 25 and 10 % of the source.")
        return kept, dropped

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        obj = context.active_object
        group = result_group(context, obj)
        layout.label(text=f"{obj.name}: {source_faces(group):,} faces", icon='MESH_DATA')
        layout.prop(self, "face_limits")
        try:
            dropped = self.levels(context)[1]
        except Exception:  # noqa: BLE001 - build_job below says why
            dropped = []
        for line in dropped:
            layout.label(text=f"Dropped: {line}"[:120], icon='INFO')
        layout.prop(self, "smart_uv")
        layout.prop(self, "quad")
        layout.prop(self, "export_fbx")
        if self.export_fbx:
            layout.prop(self, "fbx_path")
        try:
            job = self.build_job(context, export=False)
        except Exception as exc:  # noqa: BLE001 - shown, not raised, while the user edits
            layout.label(text=str(getattr(exc, "user_message", "") or exc)[:90], icon='ERROR')
            return
        from ..cost_ui import draw_costs

        draw_costs(layout, self, job)

    def build_job(self, context, *, export: bool = True):
        obj = context.active_object
        limits, dropped = self.levels(context)
        if not limits:
            raise catalog.validation_error("Give at least one face limit (e.g. 20000, 10000, 5000).")
        name = base_name(obj.name)
        src = tripo_source(obj)
        lowpoly = {"quad": True} if self.quad else None
        group = result_group(context, obj) if src is not None else scene_export.selected_meshes(context)
        if src is not None:
            job = pipelines.lod_chain(src[0], limits, smart_uv=self.smart_uv, lowpoly=lowpoly, name=name)
        else:
            job = pipelines.lod_chain(Ref(0), limits, smart_uv=self.smart_uv, lowpoly=lowpoly, name=name)
            path = (scene_export.export_selection_glb(context, settings.exports_dir(), obj.name) if export
                    else "mesh.glb")
            job.steps.insert(0, Step("import_model", {"file": str(path)}, upload="sts", download=False))
        job.meta.update(source_objects=[o.name for o in group], location=scene_export.source_location(group))
        if dropped:
            job.notice = dropped_text(dropped)
            job.meta["lod_dropped"] = dropped
        if self.export_fbx:
            path = bpy.path.abspath(self.fbx_path.strip()) if self.fbx_path.strip() else \
                str(settings.download_dir(settings.prefs(context)) / f"{name}_LODs.fbx")
            job.meta["lod_fbx"] = str(Path(path).with_suffix(".fbx"))
        return job

    def execute(self, context):
        def build():
            job = self.build_job(context)
            if job.meta.get("lod_dropped"):
                self.report({'WARNING'}, dropped_text(job.meta["lod_dropped"]))
            return job

        return build_and_run(self, context, build)


def lod_collection(obj):
    """The LOD collection (made by Make LODs) holding ``obj``, or None."""
    if obj is None:
        return None
    return next((c for c in obj.users_collection if c.get("tripo_lods")), None)


class TRIPO_OT_export_lods(bpy.types.Operator):
    """Export the active object's LOD collection (<name>_LOD0...) as one FBX for Unity or Unreal"""

    bl_idname = "tripo.export_lods"
    bl_label = "Tripo: Export LODs as FBX"
    bl_options = {'REGISTER'}

    filepath: StringProperty(name="File", subtype='FILE_PATH', options=PATH_SKIP)
    filter_glob: StringProperty(default="*.fbx", options={'HIDDEN'})

    @classmethod
    def poll(cls, context):
        if lod_collection(context.active_object) is None:
            cls.poll_message_set("Select an object of a LOD collection (made by Tripo: Make LODs)")
            return False
        return True

    def invoke(self, context, _event):
        coll = lod_collection(context.active_object)
        self.filepath = str(settings.download_dir(settings.prefs(context)) / f"{coll.name}.fbx")
        context.window_manager.fileselect_add(self)
        return {'RUNNING_MODAL'}

    def execute(self, context):
        coll = lod_collection(context.active_object)
        path = bpy.path.abspath(self.filepath) or str(settings.download_dir() / f"{coll.name}.fbx")
        try:
            saved = game_io.export_lods_fbx(context, coll, Path(path).with_suffix(".fbx"))
        except scene_io.ImportFailed as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Exported {len(coll.objects)} LODs to {saved}")
        return {'FINISHED'}


CLASSES = (TRIPO_OT_make_lods, TRIPO_OT_export_lods)
