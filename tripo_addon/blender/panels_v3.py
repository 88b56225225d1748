"""Sidebar panels for what API v3 adds: Four Views, Image to Image, Depth & Splat, Smart UV (tab "Tripo")."""

from __future__ import annotations

import bpy

from . import catalog, previews
from .importers import views as view_io
from .operators.images import reference_cap
from .panels import _Sidebar, _wrap, draw_unavailable

TASK_ID = "tripo_task_id"

VIEWS = view_io.VIEWS
IMAGE_TYPES = ("generate_image", "text_to_image")


def _v3_only(layout, task_type: str) -> bool:
    """Say so when the API address speaks v2 (these tasks are v3 only). Returns True when usable."""
    reason = catalog.retired_reason(task_type)
    if reason:
        _wrap(layout, reason, icon='ERROR', alert=True)
        return False
    return True


def draw_picture(layout, s) -> None:
    layout.template_ID(s, "source", open="image.open")
    if s.source is None:
        layout.prop(s, "source_path")


def thumbnail(layout, img, scale: float = 4.0) -> None:
    icon = previews.icon_id(view_io.image_path(img))
    if icon:
        layout.template_icon(icon_value=icon, scale=scale)
    else:
        layout.label(text=img.name, icon='IMAGE_DATA')


class TRIPO_PT_views(_Sidebar, bpy.types.Panel):
    bl_label = "Four Views"
    bl_idname = "TRIPO_PT_views"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        s = context.scene.tripo_v3
        if not _v3_only(layout, "generate_multiview_image"):
            return
        draw_unavailable(layout, context)
        draw_picture(layout, s)
        row = layout.row(align=True)
        row.operator_context = 'EXEC_DEFAULT'
        row.operator("tripo.image_to_multiview", text="Make Four Views", icon='VIEW_CAMERA')
        sub = row.row(align=True)
        sub.operator_context = 'INVOKE_DEFAULT'  # the pipeline's dialog: model options, the picture's file
        op = sub.operator("tripo.run_pipeline", text="", icon='NODETREE')
        op.pipeline = 'IMAGE_TO_VIEWS_TO_MODEL'
        path = view_io.image_path(s.source) if s.source is not None else s.source_path
        if path:
            op.image = path
        images = view_io.view_images(s.views_task)
        if not images:
            layout.label(text="No views yet: they appear here", icon='INFO')
            return
        sets = view_io.view_sets()
        if len(sets) > 1:
            row = layout.row(align=True)
            for tid, label in sets[-4:]:
                row.operator("tripo.set_views", text=label[:12], depress=tid == s.views_task).task_id = tid
        grid = layout.grid_flow(row_major=True, columns=2, even_columns=True)
        for view in VIEWS:
            col = grid.column(align=True)
            img = images.get(view)
            col.prop(s, f"use_{view}")
            if img is None:
                col.label(text="(missing)")
                continue
            thumbnail(col, img)
            col.prop(s, f"prompt_{view}", text="", placeholder=f"Change the {view} view\u2026")
            op = col.operator("tripo.use_image_as_input", text="Use as Input", icon='IMAGE_REFERENCE')
            op.image, op.target = img.name, 'GENERATE'
        col = layout.column(align=True)
        col.operator_context = 'EXEC_DEFAULT'
        col.operator("tripo.edit_multiview", text="Edit Views", icon='GREASEPENCIL').from_sidebar = True
        col.separator()
        col.prop(s, "model_version")
        col.operator("tripo.views_to_model", text="Make Model from Views", icon='MESH_MONKEY').from_sidebar = True


class TRIPO_PT_image_to_image(_Sidebar, bpy.types.Panel):
    bl_label = "Image to Image"
    bl_idname = "TRIPO_PT_image_to_image"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        s = context.scene.tripo_v3
        if not _v3_only(layout, "generate_image"):
            return
        draw_unavailable(layout, context)
        layout.prop(s, "i2i_prompt", text="", placeholder="e.g. image[1] in the pose of image[2]")
        col = layout.column()
        col.use_property_split = True
        col.prop(s, "i2i_model")
        col.prop(s, "i2i_template")
        cap = reference_cap("" if s.i2i_model == catalog.AUTO else s.i2i_model)
        box = layout.box()
        box.label(text=f"References ({len(s.references)} of up to {cap})", icon='IMAGE_REFERENCE')
        for i, ref in enumerate(s.references):
            row = box.row(align=True)
            row.label(text=f"image[{i + 1}]")
            row.prop(ref, "image", text="")
            if ref.image is None:
                row.prop(ref, "path", text="")
            row.operator("tripo.reference_remove", text="", icon='X').index = i
        if len(s.references) > cap:
            _wrap(box, f"Too many references for this model (up to {cap})", icon='ERROR', alert=True)
        box.operator("tripo.reference_add", text="Add Reference", icon='ADD')
        row = layout.row()
        row.scale_y = 1.3
        row.operator_context = 'EXEC_DEFAULT'
        row.operator("tripo.image_to_image", text="Generate Image", icon='PLAY').from_sidebar = True
        results = [img for img in bpy.data.images if img.get("tripo_task_type") in IMAGE_TYPES
                   or img.get("tripo_view")][-6:]
        if results:
            layout.label(text="Results (use as input):")
            for img in reversed(results):
                row = layout.row(align=True)
                row.label(text=img.name[:32], icon='IMAGE_DATA')
                for target, icon in (('GENERATE', 'MESH_MONKEY'), ('SOURCE', 'VIEW_CAMERA'),
                                     ('REFERENCE', 'IMAGE_REFERENCE')):
                    op = row.operator("tripo.use_image_as_input", text="", icon=icon)
                    op.image, op.target = img.name, target


class TRIPO_PT_depth_splat(_Sidebar, bpy.types.Panel):
    bl_label = "Depth & Splat"
    bl_idname = "TRIPO_PT_depth_splat"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        s = context.scene.tripo_v3
        if not _v3_only(layout, "image_to_depth"):
            return
        draw_unavailable(layout, context)
        draw_picture(layout, s)
        col = layout.column()
        col.use_property_split = True
        col.prop(s, "depth_kind")
        col.prop(s, "depth_resolution")
        col.prop(s, "depth_plane")
        sub = col.column()
        sub.enabled = s.depth_plane
        sub.prop(s, "depth_strength")
        row = layout.row(align=True)
        row.operator_context = 'EXEC_DEFAULT'
        row.operator("tripo.depth_from_image", text="Depth", icon='MOD_DISPLACE').from_sidebar = True
        row.operator("tripo.splat_from_image", text="Splat", icon='POINTCLOUD_DATA')
        obj = context.active_object
        if obj is not None and obj.get("tripo_note"):
            _wrap(layout, obj["tripo_note"], icon='INFO')


class TRIPO_PT_smart_uv(_Sidebar, bpy.types.Panel):
    bl_label = "Smart UV"
    bl_idname = "TRIPO_PT_smart_uv"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        if not _v3_only(layout, "mesh_uv"):
            return
        obj = context.active_object
        row = layout.row()
        row.operator_context = 'INVOKE_DEFAULT'
        label = "Smart UV (sends your mesh first)" if obj is not None and not obj.get(TASK_ID) else "Smart UV"
        row.operator("tripo.mesh_uv", text=label, icon='UV')
        name = obj.get("tripo_uv_render") if obj is not None else None
        img = bpy.data.images.get(name) if name else None
        if img is None:
            layout.label(text="The UV layout render shows here", icon='INFO')
            return
        thumbnail(layout, img, 6.0)
        layout.operator("tripo.show_image", text="Show in Image Editor", icon='IMAGE').image = img.name
        if obj.type == 'MESH' and obj.data.uv_layers:
            layout.label(text=f"UV map: {obj.data.uv_layers.active.name}", icon='GROUP_UVS')


CLASSES = (TRIPO_PT_views, TRIPO_PT_image_to_image, TRIPO_PT_depth_splat, TRIPO_PT_smart_uv)


class TRIPO_MT_v3(bpy.types.Menu):
    """What API v3 adds (Object > Tripo > Tripo v3; F3 search finds these operators through it)"""

    bl_label = "Tripo v3: Views, Images, Depth, Splat"
    bl_idname = "TRIPO_MT_v3"

    def draw(self, context):
        layout = self.layout
        layout.operator_context = 'INVOKE_DEFAULT'
        for idname in ("tripo.image_to_multiview", "tripo.edit_multiview", "tripo.views_to_model",
                       "tripo.image_to_image", "tripo.depth_from_image", "tripo.splat_from_image", "tripo.show_image"):
            layout.operator(idname)


CLASSES = (*CLASSES, TRIPO_MT_v3)  # TRIPO_MT_main shows TRIPO_MT_v3 as a submenu
