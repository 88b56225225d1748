"""The Generate panel's v3 modes, as headerless subpanels of TRIPO_PT_generate (each shown while its mode is chosen):
Four Views, Image Edit (image to image), Depth and Splat. Image lists are cached, never rebuilt on every redraw."""

from __future__ import annotations

import time

import bpy

from . import catalog, previews
from .importers import views as view_io
from .operators.images import reference_cap
from .panels import _Sidebar, _wrap

TASK_ID = "tripo_task_id"

VIEWS = view_io.VIEWS
IMAGE_TYPES = ("generate_image", "text_to_image")


_cache: dict[str, tuple] = {}
CACHE_SECONDS = 1.0  # image lists are read at most this often (a redraw never walks bpy.data.images)


def _cached(key: str, build):
    """``build()`` at most once per :data:`CACHE_SECONDS`, or when the number of images changed."""
    stamp = len(bpy.data.images)
    hit = _cache.get(key)
    if hit is not None and hit[0] == stamp and time.monotonic() - hit[1] < CACHE_SECONDS:
        return hit[2]
    value = build()
    _cache[key] = (stamp, time.monotonic(), value)
    return value


def cached_view_images(task_id: str) -> dict:
    """{view: image} of a views task, looked up by name from a cached list."""
    names = _cached(f"views:{task_id}", lambda: {v: img.name for v, img in view_io.view_images(task_id).items()})
    out = {}
    for view, name in names.items():
        img = bpy.data.images.get(name)
        if img is not None:
            out[view] = img
    return out


def result_images() -> list:
    """The newest image results (generated images and views), looked up by name from a cached list."""
    names = _cached("results", lambda: [img.name for img in bpy.data.images
                                        if img.get("tripo_task_type") in IMAGE_TYPES or img.get("tripo_view")][-6:])
    return [img for img in (bpy.data.images.get(n) for n in names) if img is not None]


class _Mode(_Sidebar):
    """A headerless subpanel of Generate, shown while the Generate mode is one of ``modes``."""

    bl_parent_id = "TRIPO_PT_generate"
    bl_options = {'HIDE_HEADER'}
    modes: tuple = ()

    @classmethod
    def poll(cls, context):
        s = getattr(context.scene, "tripo", None)
        return s is not None and s.mode in cls.modes


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


class TRIPO_PT_views(_Mode, bpy.types.Panel):
    bl_label = "Four Views"
    bl_idname = "TRIPO_PT_views"
    modes = ('FOUR_VIEWS',)

    def draw(self, context):
        layout = self.layout
        s = context.scene.tripo_v3
        if not _v3_only(layout, "generate_multiview_image"):
            return
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
        images = cached_view_images(s.views_task)
        if not images:
            layout.label(text="No views yet: they appear here", icon='INFO')
            return
        sets = _cached("sets", view_io.view_sets)
        if len(sets) > 1:
            row = layout.row(align=True)
            for tid, label in sets[-4:]:
                row.operator("tripo.set_views", text=label, depress=tid == s.views_task).task_id = tid
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


class TRIPO_PT_image_to_image(_Mode, bpy.types.Panel):
    bl_label = "Image Edit"
    bl_idname = "TRIPO_PT_image_to_image"
    modes = ('IMAGE_TO_IMAGE',)

    def draw(self, context):
        layout = self.layout
        s = context.scene.tripo_v3
        if not _v3_only(layout, "generate_image"):
            return
        layout.prop(s, "i2i_prompt", text="", placeholder="e.g. image[1] in the pose of image[2]")
        col = layout.column()
        col.use_property_split = True
        col.use_property_decorate = False
        col.prop(s, "i2i_model", text="Model")
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
            _wrap(box, f"Too many references for this model (up to {cap})", icon='ERROR', alert=True,
                  context=context)
        box.operator("tripo.reference_add", text="Add Reference", icon='ADD')
        row = layout.row()
        row.scale_y = 1.3
        row.operator_context = 'EXEC_DEFAULT'
        row.operator("tripo.image_to_image", text="Generate Image", icon='PLAY').from_sidebar = True
        results = result_images()
        if results:
            layout.label(text="Results (use as input):")
            for img in reversed(results):
                row = layout.row(align=True)
                row.label(text=img.name, icon='IMAGE_DATA')
                for target, icon in (('GENERATE', 'MESH_MONKEY'), ('SOURCE', 'VIEW_CAMERA'),
                                     ('REFERENCE', 'IMAGE_REFERENCE')):
                    op = row.operator("tripo.use_image_as_input", text="", icon=icon)
                    op.image, op.target = img.name, target


class TRIPO_PT_depth_splat(_Mode, bpy.types.Panel):
    bl_label = "Depth & Splat"
    bl_idname = "TRIPO_PT_depth_splat"
    modes = ('DEPTH', 'SPLAT')

    def draw(self, context):
        layout = self.layout
        s = context.scene.tripo_v3
        mode = getattr(context.scene.tripo, "mode", 'DEPTH')
        if not _v3_only(layout, "image_to_depth" if mode != 'SPLAT' else "image_to_splat"):
            return
        draw_picture(layout, s)
        row = layout.row(align=True)
        row.scale_y = 1.4
        row.operator_context = 'EXEC_DEFAULT'
        if mode == 'SPLAT':
            row.operator("tripo.splat_from_image", text="Make Splat", icon='POINTCLOUD_DATA')
            row.operator("tripo.depth_from_image", text="", icon='MOD_DISPLACE').from_sidebar = True
        else:
            row.operator("tripo.depth_from_image", text="Make Depth", icon='MOD_DISPLACE').from_sidebar = True
            row.operator("tripo.splat_from_image", text="", icon='POINTCLOUD_DATA')
            col = layout.column()
            col.use_property_split = True
            col.use_property_decorate = False
            col.prop(s, "depth_kind")
            col.prop(s, "depth_resolution")
            col.prop(s, "depth_plane")
            sub = col.column()
            sub.enabled = s.depth_plane
            sub.prop(s, "depth_strength")
        obj = context.active_object
        if obj is not None and obj.get("tripo_note"):
            _wrap(layout, obj["tripo_note"], icon='INFO', context=context)


CLASSES = (TRIPO_PT_views, TRIPO_PT_image_to_image, TRIPO_PT_depth_splat)
