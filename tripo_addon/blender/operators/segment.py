"""Smart Segment (API v3, tripo-api-v3.md §18 R9): split a model, or the object in an image, into parts guided by a
hint, with the parts named from Tripo's ``prompt`` and the mask shown as an image.

On a model (``seg_type`` model) Tripo takes the model's GLB by URL and its 4x4 transform: the selected meshes (a Tripo
result or your own) are exported to one GLB with their world transforms applied, brought into Tripo with a free
``import_model``, and that task's model URL is segmented (transform: identity, the GLB already holds the placement).
This also works for results Tripo no longer keeps (older than its retention). The result's objects carry the
``seg_task_id`` as their Tripo task (type ``mesh_segmentation``), so Complete, Decimate, Texture and Convert take them
like any segmentation. From Python: ``bpy.ops.tripo.smart_segment(hint="head, body", wait=True)``, or
``seg_type='IMAGE'``-style ``seg_type="image", file="/path/robot.png"``.
"""

from __future__ import annotations

import os

from ...jobs import pipelines
from ...jobs.job import Job, Ref, Step
from .. import catalog, scene_export, settings
from .base import TaskOperator, make_operator

TASK_TYPE = "smart_segment"
OUTPUTS = ["model", "mask"]


def source_problem(context, seg_type: str = "model") -> str | None:
    """Why Smart Segment cannot run on the selection (model mode), or None."""
    if seg_type == "image":
        return None
    if not scene_export.selected_meshes(context):
        return "Select a mesh (a Tripo result or your own) to segment, or choose an image (seg_type image)"
    return None


class SmartSegmentOperator(TaskOperator):
    """``tripo.smart_segment``: a model (the selected meshes) or an image, into named parts with a mask."""

    @classmethod
    def unavailable(cls, context):
        return catalog.retired_reason(cls.task_type) or settings.unavailable_reason(context)

    def draw_source(self, context, layout):
        if self.seg_type == "image":
            layout.label(text="Segments the object in the image (an upload)", icon='IMAGE_DATA')
            return
        names = ", ".join(o.name for o in scene_export.selected_meshes(context))
        if names:
            layout.label(text=f"Sends {names} to Tripo as one GLB (free import), then segments it"[:90],
                         icon='EXPORT')
        else:
            layout.label(text=source_problem(context) or "", icon='ERROR')

    def build_job(self, context, params: dict) -> Job:
        seg_type = params.get("seg_type") or "model"
        params["seg_type"] = seg_type
        file = params.get("file")
        if seg_type == "image":
            if not file:
                raise catalog.validation_error("Smart Segment on an image needs the image: set File to a PNG, JPEG or "
                                               "WEBP picture (or choose seg_type model for the selected mesh).")
            name = os.path.basename(str(file).split("?")[0])
            return pipelines.single(TASK_TYPE, params, title=f"{name} \u2192 Smart Segment", outputs=OUTPUTS)
        meta: dict = {}
        if isinstance(file, str) and file.startswith(("http://", "https://")):
            steps: list[Step] = []
            name = os.path.basename(file.split("?")[0])
        else:
            if file:  # a local GLB: imported into Tripo first (Smart Segment takes a URL)
                path, name = file, os.path.basename(file)
            else:
                problem = source_problem(context)
                if problem:
                    raise catalog.validation_error(problem)
                meshes = scene_export.selected_meshes(context)
                name = context.active_object.name if context.active_object in meshes else meshes[0].name
                path = str(scene_export.export_selection_glb(context, settings.exports_dir(), name))
                meta.update(source_objects=[o.name for o in meshes], location=scene_export.source_location(meshes))
            steps = [Step("import_model", {"file": str(path)}, upload="sts", download=False)]
            params["file"] = Ref(0, "output:model")
        steps.append(Step(TASK_TYPE, params, outputs=list(OUTPUTS)))
        job = Job(steps=steps, title=f"{name} \u2192 Smart Segment")
        job.meta.update({k: v for k, v in meta.items() if v is not None})
        return job


TRIPO_OT_smart_segment = make_operator(TASK_TYPE, SmartSegmentOperator)
CLASSES = (TRIPO_OT_smart_segment,)


def draw_step(layout, context) -> None:
    """The sidebar's entry (a draw hook for the panels): Smart Segment on the selection."""
    row = layout.row()
    row.operator(TRIPO_OT_smart_segment.bl_idname, text="Smart Segment\u2026", icon='MOD_EXPLODE')
