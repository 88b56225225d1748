"""v3 image operators: Image to Image with references, "Use as Input", depth and splat from a picture, the Smart UV
layout render in an Image Editor."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ...api.v3.catalog import IMAGE_INPUT_CAP
from ...jobs import pipelines
from .. import catalog
from ..importers import image_file, show_image
from ..properties import PATH_SKIP, TRIPO_PG_file_slot
from ..settings import exports_dir
from .base import AUTO, _path
from .v3_props import settings
from .views import SKIP, V3Operator, picture

DEFAULT_I2I_MODEL = "seedream_v5"


def reference_cap(model: str) -> int:
    """Most reference images an image model takes (seedream 4, banana 10, chat_image 16)."""
    model = model or DEFAULT_I2I_MODEL
    return next((cap for prefix, cap in IMAGE_INPUT_CAP.items() if model.startswith(prefix)), 4)


class TRIPO_OT_image_to_image(V3Operator, bpy.types.Operator):
    """Make a new image from a prompt and reference images (files or Blender images), or apply a template; the
    result lands as a Blender image"""

    bl_idname = "tripo.image_to_image"
    bl_label = "Image to Image"
    task_type = "generate_image"

    prompt: StringProperty(name="Prompt", options=SKIP,
                           description="What the image shows; image[1], image[2]... name the references")
    model_version: StringProperty(name="Image Model", options=SKIP,
                                  description="seedream_v5 (default, 4 references), banana* (10), chat_image_* (16)")
    template: StringProperty(name="Template", options=SKIP,
                             description="t_pose, character_completion, 3d_enhance, variants or figure")
    files: CollectionProperty(type=TRIPO_PG_file_slot, name="Files", options=SKIP,
                              description="Reference image files: items {'name': path}")
    images: CollectionProperty(type=TRIPO_PG_file_slot, name="Blender Images", options=SKIP,
                               description="Reference Blender images: items {'name': image name}")
    from_sidebar: BoolProperty(name="From Sidebar", options={'SKIP_SAVE', 'HIDDEN'},
                               description="Take everything from the Image to Image panel")

    def draw(self, context):
        for name in ("prompt", "model_version", "template"):
            self.layout.prop(self, name)

    def build_job(self, context):
        prompt, model, template = self.prompt.strip(), self.model_version.strip(), self.template.strip()
        refs: list[str] = [_path(f.name) for f in self.files if f.name.strip()]
        names = [i.name for i in self.images if i.name.strip()]
        s = settings(context)
        if self.from_sidebar and s is not None:
            prompt = s.i2i_prompt.strip()
            model = "" if s.i2i_model == AUTO else s.i2i_model
            template = "" if s.i2i_template == AUTO else s.i2i_template
            for ref in s.references:
                if ref.image is not None:
                    names.append(ref.image.name)
                elif ref.path.strip():
                    refs.append(_path(ref.path))
        for name in names:
            img = bpy.data.images.get(name)
            if img is None:
                raise catalog.validation_error(f"There is no Blender image named \u201c{name}\u201d; check the name.")
            refs.append(str(image_file(img, exports_dir())))
        if not refs:
            raise catalog.validation_error("Add at least one reference image (a file or a Blender image).")
        cap = reference_cap(model)
        if len(refs) > cap:
            raise catalog.validation_error(f"{model or DEFAULT_I2I_MODEL} takes at most {cap} reference images and "
                                           f"{len(refs)} were given: remove some, or choose banana (10) or "
                                           "chat_image (16).")
        if not prompt and not template:
            raise catalog.validation_error("Write a prompt (image[1] is the first reference) or choose a template.")
        params = {"files": refs, "model_version": model or None, "template": template or None,
                  "prompt": prompt or None}
        job = pipelines.generate_image(**params)
        job.title = (prompt or template)[:48] + f" ({len(refs)} ref{'s' if len(refs) != 1 else ''})"
        return job


TARGETS = (
    ('GENERATE', "Generate Panel", "The Generate panel's image (image to model)"),
    ('SOURCE', "Views / Depth / Splat", "The picture of the Four Views and Depth & Splat panels"),
    ('REFERENCE', "Reference", "Add as a reference of Image to Image"),
    *((f"VIEW_{v.upper()}", f"{v.title()} View", f"The Generate panel's {v} view (views to model)")
      for v in ("front", "left", "back", "right")),
)


class TRIPO_OT_use_image_as_input(bpy.types.Operator):
    """Use a Blender image (e.g. a Tripo result) as the input of another step"""

    bl_idname = "tripo.use_image_as_input"
    bl_label = "Use as Input"
    bl_options = {'REGISTER', 'UNDO'}

    image: StringProperty(name="Image", options=SKIP, description="Name of the Blender image")
    target: EnumProperty(name="Target", items=TARGETS, default='GENERATE', options=SKIP)

    def execute(self, context):
        img = bpy.data.images.get(self.image)
        if img is None:
            self.report({'ERROR'}, f"There is no Blender image named \u201c{self.image}\u201d")
            return {'CANCELLED'}
        s = settings(context)
        if self.target == 'GENERATE' or self.target.startswith("VIEW_"):
            try:
                path = image_file(img, exports_dir())
            except Exception as exc:  # ImportFailed: the image cannot be saved
                self.report({'ERROR'}, str(exc))
                return {'CANCELLED'}
            gen = context.scene.tripo
            if self.target == 'GENERATE':
                gen.image, gen.mode = str(path), 'IMAGE'
            else:
                setattr(gen, self.target[5:].lower(), str(path))
                gen.mode = 'MULTIVIEW'
        elif self.target == 'SOURCE':
            s.source = img
        else:
            ref = s.references.add()
            ref.image = img
        self.report({'INFO'}, f"{img.name} \u2192 {dict((k, n) for k, n, _d in TARGETS)[self.target]}")
        return {'FINISHED'}


class TRIPO_OT_reference_add(bpy.types.Operator):
    """Add a reference image slot to Image to Image"""

    bl_idname = "tripo.reference_add"
    bl_label = "Add Reference"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        settings(context).references.add()
        return {'FINISHED'}


class TRIPO_OT_reference_remove(bpy.types.Operator):
    """Remove this reference image"""

    bl_idname = "tripo.reference_remove"
    bl_label = "Remove Reference"
    bl_options = {'REGISTER', 'UNDO'}

    index: IntProperty(name="Index", default=0, options=SKIP)

    def execute(self, context):
        refs = settings(context).references
        if not 0 <= self.index < len(refs):
            return {'CANCELLED'}
        refs.remove(self.index)
        return {'FINISHED'}


class TRIPO_OT_depth_from_image(V3Operator, bpy.types.Operator):
    """Estimate a depth image from a picture; it lands as a Blender image and, optionally, a displaced plane"""

    bl_idname = "tripo.depth_from_image"
    bl_label = "Depth from Image"
    task_type = "image_to_depth"

    file: StringProperty(name="File", subtype='FILE_PATH', options=PATH_SKIP,
                         description="The picture (empty: the sidebar's)")
    image: StringProperty(name="Blender Image", options=SKIP, description="Name of a Blender image to use instead")
    kind: EnumProperty(name="Depth", items=(('gray', "Gray", ""), ('color', "Color", "")), default='gray',
                       options=SKIP)
    process_res: IntProperty(name="Resolution", default=504, min=126, max=2016, options=SKIP)
    plane: BoolProperty(name="Displaced Plane", default=False, options=SKIP,
                        description="Also add a plane displaced by the depth image")
    strength: FloatProperty(name="Strength", default=0.3, min=0.0, soft_max=2.0, options=SKIP)
    from_sidebar: BoolProperty(name="From Sidebar", options={'SKIP_SAVE', 'HIDDEN'})

    def build_job(self, context):
        kind, res, plane, strength = self.kind, self.process_res, self.plane, self.strength
        s = settings(context)
        if self.from_sidebar and s is not None:
            kind, res, plane, strength = s.depth_kind, s.depth_resolution, s.depth_plane, s.depth_strength
        params = {"kind": kind} if kind != "gray" else {}
        if res != 504:
            params["process_res"] = res
        job = pipelines.image_to_depth(picture(context, self.file, self.image), **params)
        job.meta.update(depth_plane=bool(plane), depth_strength=float(strength))
        return job


class TRIPO_OT_splat_from_image(V3Operator, bpy.types.Operator):
    """Make a Gaussian splat from a picture; it lands as a coloured point cloud"""

    bl_idname = "tripo.splat_from_image"
    bl_label = "Splat from Image"
    task_type = "image_to_splat"

    file: StringProperty(name="File", subtype='FILE_PATH', options=PATH_SKIP,
                         description="The picture (empty: the sidebar's)")
    image: StringProperty(name="Blender Image", options=SKIP, description="Name of a Blender image to use instead")

    def build_job(self, context):
        return pipelines.image_to_splat(picture(context, self.file, self.image))


class TRIPO_OT_show_image(bpy.types.Operator):
    """Show an image (e.g. the Smart UV layout render) in an Image Editor (a new window when none is open)"""

    bl_idname = "tripo.show_image"
    bl_label = "Show Image"
    bl_options = {'REGISTER'}

    image: StringProperty(name="Image", options=SKIP, description="Name of the Blender image (empty: the active "
                          "object's UV layout render)")

    def execute(self, context):
        name = self.image
        obj = context.active_object
        if not name and obj is not None:
            name = obj.get("tripo_uv_render") or obj.get("tripo_depth_image") or ""
        img = bpy.data.images.get(name) if name else None
        if img is None:
            self.report({'ERROR'}, "No image to show: run Smart UV (or Depth) first")
            return {'CANCELLED'}
        if show_image(context, img):
            return {'FINISHED'}
        if bpy.app.background or context.window is None:
            self.report({'INFO'}, f"{img.name} is loaded (open an Image Editor to see it)")
            return {'FINISHED'}
        bpy.ops.wm.window_new()
        window = context.window_manager.windows[-1]
        area = window.screen.areas[0]
        area.type = 'IMAGE_EDITOR'
        area.spaces.active.image = img
        return {'FINISHED'}


CLASSES = (TRIPO_OT_image_to_image, TRIPO_OT_use_image_as_input, TRIPO_OT_reference_add, TRIPO_OT_reference_remove,
           TRIPO_OT_depth_from_image, TRIPO_OT_splat_from_image, TRIPO_OT_show_image)
