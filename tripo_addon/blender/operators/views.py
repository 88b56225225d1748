"""Four views (v3): one image -> front/left/back/right views, edits by a prompt per view, views -> model.

``tripo.image_to_multiview`` makes the views (they land as Blender images and sidebar thumbnails),
``tripo.edit_multiview`` changes chosen views, ``tripo.views_to_model`` makes a model of the chosen views (all four:
by the views task's id; fewer: the chosen images are uploaded in their slots). Every operator takes ``wait=True``.
Image tasks run one at a time per account: a second one waits in the task list for the image slot.
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty

from ...jobs import pipelines
from .. import catalog
from ..importers import image_file
from ..importers import views as view_io
from ..properties import PATH_SKIP
from ..settings import exports_dir
from .base import AUTO, OnlineOperator, _path, build_and_run
from .v3_props import VIEWS, settings

SKIP = {'SKIP_SAVE'}
_VIEW_ITEMS = tuple((v.upper(), v.title(), f"The {v} view") for v in VIEWS)


class V3Operator(OnlineOperator):
    """Greyed out (with the reason) when the API address speaks v2, or Tripo cannot be reached."""

    bl_options = {'REGISTER'}
    task_type = ""
    wait: BoolProperty(name="Wait", description="Run to the end and import the result before returning (scripts)",
                       options=SKIP)
    wait_timeout: FloatProperty(name="Wait Timeout", default=0.0, min=0.0, options=SKIP,
                                description="With Wait: give up waiting after this many seconds (0: no limit)")

    @classmethod
    def unavailable(cls, context):
        return (catalog.retired_reason(cls.task_type) if cls.task_type else None) or super().unavailable(context)

    def invoke(self, context, _event):
        return context.window_manager.invoke_props_dialog(self, width=400)

    def execute(self, context):
        return build_and_run(self, context, lambda: self.build_job(context))

    def build_job(self, context):  # pragma: no cover - overridden
        raise NotImplementedError


def picture(context, file: str = "", image: str = "") -> str:
    """The input picture as a local path or URL: ``file``, else the Blender image ``image`` (saved to a PNG when
    needed), else the sidebar's picture (its Blender image, else its file). Raises a validation error."""
    if file.strip():
        return _path(file)
    if image.strip():
        img = bpy.data.images.get(image.strip())
        if img is None:
            raise catalog.validation_error(f"There is no Blender image named \u201c{image}\u201d; check the name.")
        return str(image_file(img, exports_dir()))
    s = settings(context)
    if s is not None and s.source is not None:
        return str(image_file(s.source, exports_dir()))
    if s is not None and s.source_path.strip():
        return _path(s.source_path)
    raise catalog.validation_error("Choose a picture first: a Blender image or an image file in the sidebar "
                                   "(or pass file= / image= from a script).")


def views_task(context, task_id: str) -> str:
    tid = task_id.strip() or (getattr(settings(context), "views_task", "") or "")
    if not tid:
        raise catalog.validation_error("No four views yet: make them from a picture first (Four Views panel), or "
                                       "pass the views task's id.")
    return tid


class TRIPO_OT_image_to_multiview(V3Operator, bpy.types.Operator):
    """Turn one picture into four views (front, left, back, right); they appear in the sidebar as thumbnails"""

    bl_idname = "tripo.image_to_multiview"
    bl_label = "Four Views from Image"
    task_type = "generate_multiview_image"

    file: StringProperty(name="File", subtype='FILE_PATH', options=PATH_SKIP,
                         description="The picture (a file or an http(s) URL). Empty: the sidebar's picture")
    image: StringProperty(name="Blender Image", options=SKIP, description="Name of a Blender image to use instead")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "file")
        layout.prop_search(self, "image", bpy.data, "images")

    def build_job(self, context):
        path = picture(context, self.file, self.image)
        job = pipelines.generate_multiview_image(path)
        job.title = f"{Path(path.split('?')[0]).stem[:40]} views"
        return job


class TRIPO_OT_edit_multiview(V3Operator, bpy.types.Operator):
    """Change some of the four views, with a prompt per view (the others stay as they are)"""

    bl_idname = "tripo.edit_multiview"
    bl_label = "Edit Four Views"
    task_type = "edit_multiview_image"

    task_id: StringProperty(name="Views Task", options=SKIP,
                            description="The four views to change (empty: the ones shown in the sidebar)")
    front: StringProperty(name="Front", options=SKIP, description="How to change the front view (empty: keep)")
    left: StringProperty(name="Left", options=SKIP, description="How to change the left view (empty: keep)")
    back: StringProperty(name="Back", options=SKIP, description="How to change the back view (empty: keep)")
    right: StringProperty(name="Right", options=SKIP, description="How to change the right view (empty: keep)")
    from_sidebar: BoolProperty(name="From Sidebar", options={'SKIP_SAVE', 'HIDDEN'},
                               description="Take the prompts from the Four Views panel")

    def draw(self, context):
        for name in ("task_id", *VIEWS):
            self.layout.prop(self, name)

    def build_job(self, context):
        tid = views_task(context, self.task_id)
        s = settings(context)
        prompts = {v: getattr(self, v).strip() for v in VIEWS if getattr(self, v).strip()}
        if self.from_sidebar and s is not None:
            prompts = {v: getattr(s, f"prompt_{v}").strip() for v in VIEWS if getattr(s, f"prompt_{v}").strip()}
        if not prompts:
            raise catalog.validation_error("Write a prompt for at least one view to change (e.g. front: "
                                           "\u201cwearing a red scarf\u201d).")
        job = pipelines.edit_multiview_image(tid, prompts)
        job.title = f"views edit: {', '.join(prompts)}"
        return job


class TRIPO_OT_views_to_model(V3Operator, bpy.types.Operator):
    """Make a 3D model from the chosen views (all four: straight from the views task; fewer: the chosen images)"""

    bl_idname = "tripo.views_to_model"
    bl_label = "Model from Four Views"
    bl_options = {'REGISTER', 'INTERNAL'}  # F3: "Model from Views" (tripo.multiview_to_model)
    task_type = "multiview_to_model"

    task_id: StringProperty(name="Views Task", options=SKIP,
                            description="The four views to use (empty: the ones shown in the sidebar)")
    views: EnumProperty(name="Views", items=_VIEW_ITEMS, options={'ENUM_FLAG', 'SKIP_SAVE'},
                        default={"FRONT", "LEFT", "BACK", "RIGHT"},
                        description="Which views the model is made from (front is required)")
    from_sidebar: BoolProperty(name="From Sidebar", options={'SKIP_SAVE', 'HIDDEN'},
                               description="Take the chosen views and the model version from the Four Views panel")
    model_version: StringProperty(name="Model", options=SKIP, description="Model version (empty: Tripo's default)")

    def draw(self, context):
        self.layout.prop(self, "task_id")
        self.layout.prop(self, "views")
        self.layout.prop(self, "model_version")

    def build_job(self, context):
        tid = views_task(context, self.task_id)
        s = settings(context)
        chosen = [v for v in VIEWS if v.upper() in self.views]
        version = self.model_version.strip()
        if self.from_sidebar and s is not None:
            chosen = [v for v in VIEWS if getattr(s, f"use_{v}")]
            version = "" if s.model_version == AUTO else s.model_version
        if "front" not in chosen:
            raise catalog.validation_error("The front view is required: tick Front.")
        if len(chosen) < 2:
            raise catalog.validation_error("Choose at least two views (front and one more) for a model.")
        params = {"model_version": version} if version else {}
        if len(chosen) == 4:
            job = pipelines.multiview_to_model(original_task_id=tid, **params)
        else:
            images = view_io.view_images(tid)
            missing = [v for v in chosen if v not in images or not Path(view_io.image_path(images[v])).is_file()]
            if missing:
                raise catalog.validation_error(f"The {', '.join(missing)} view of these views is not on this "
                                               "computer; use all four views, or import the views task again.")
            slots = [view_io.image_path(images[v]) if v in chosen else None for v in VIEWS]
            job = pipelines.multiview_to_model(slots, **params)
        job.title = f"model from {'all views' if len(chosen) == 4 else ', '.join(chosen)}"
        job.meta["model_version"] = version or catalog.default_model_version("multiview_to_model") or ""
        return job


class TRIPO_OT_set_views(bpy.types.Operator):
    """Show this set of four views in the sidebar"""

    bl_idname = "tripo.set_views"
    bl_label = "Show Views"
    bl_options = {'REGISTER', 'UNDO'}

    task_id: StringProperty(name="Views Task", options=SKIP)

    def execute(self, context):
        s = settings(context)
        if s is None or not view_io.view_images(self.task_id):
            self.report({'ERROR'}, "No views of that task in this file")
            return {'CANCELLED'}
        s.views_task = self.task_id
        return {'FINISHED'}


CLASSES = (TRIPO_OT_image_to_multiview, TRIPO_OT_edit_multiview, TRIPO_OT_views_to_model, TRIPO_OT_set_views)
