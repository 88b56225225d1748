"""Menus like Blender's own: Add (Shift+A) > Tripo for everything that makes something new, Object > Tripo for the
steps on the active object, grouped in submenus by family, with icons. Each operator is in exactly one menu, so F3
lists one entry per capability (the generated task operators that a friendlier one covers are INTERNAL)."""

from __future__ import annotations

import bpy

from . import catalog
from .panels_selected import FAMILIES, STEP_ICONS
from .ui_text import task_label

#: Add > Tripo: (operator, text, icon); None is a separator
GENERATORS = (
    ("tripo.text_to_model", "Model from Text\u2026", 'FONT_DATA'),
    ("tripo.image_to_model", "Model from Image\u2026", 'IMAGE_DATA'),
    ("tripo.multiview_to_model", "Model from Views\u2026", 'VIEW_CAMERA'),
    None,
    ("tripo.text_to_image", "Image from Text\u2026", 'IMAGE_RGB'),
    ("tripo.image_to_image", "Image to Image\u2026", 'IMAGE_REFERENCE'),
    ("tripo.image_to_multiview", "Four Views from Image\u2026", 'VIEW_PERSPECTIVE'),
    ("tripo.edit_multiview", "Edit Four Views\u2026", 'GREASEPENCIL'),
    ("tripo.depth_from_image", "Depth from Image\u2026", 'MOD_DISPLACE'),
    ("tripo.splat_from_image", "Splat from Image\u2026", 'POINTCLOUD_DATA'),
    None,
    ("tripo.run_pipeline", "Run Pipeline\u2026", 'NODETREE'),
    ("tripo.attach_task", "Attach Task by ID\u2026", 'LINKED'),
)
EXPORT_EXTRA = (("tripo.make_lods", "Make LODs\u2026", 'MOD_DECIM'),
                ("tripo.export_lods", "Export LODs as FBX\u2026", 'EXPORT'))


class TRIPO_MT_add(bpy.types.Menu):
    """Make something new with Tripo (Add > Tripo)"""

    bl_label = "Tripo"
    bl_idname = "TRIPO_MT_add"

    def draw(self, _context):
        layout = self.layout
        layout.operator_context = 'INVOKE_DEFAULT'
        for entry in GENERATORS:
            if entry is None:
                layout.separator()
            else:
                layout.operator(entry[0], text=entry[1], icon=entry[2])


class _FamilyMenu:
    types: tuple = ()

    def draw(self, _context):
        layout = self.layout
        layout.operator_context = 'INVOKE_DEFAULT'
        for task_type in self.types:
            if task_type in catalog.task_types() and not catalog.retired_reason(task_type):
                layout.operator(f"tripo.{task_type}", text=task_label(task_type, catalog.label(task_type)) + "\u2026",
                                icon=STEP_ICONS.get(task_type, 'NONE'))
        for idname, text, icon in getattr(self, "extra", ()):
            layout.operator(idname, text=text, icon=icon)


def _menu(key: str, label: str, types: tuple, extra: tuple = ()) -> type:
    return type(f"TRIPO_MT_{key}", (_FamilyMenu, bpy.types.Menu),
                {"bl_label": label, "bl_idname": f"TRIPO_MT_{key}", "types": types, "extra": extra,
                 "__doc__": f"Tripo: {label.lower()} steps on the active object"})


FAMILY_MENUS = tuple(_menu(key, label, types, EXPORT_EXTRA if key == "export" else ())
                     for key, label, _icon, types in FAMILIES)
_FAMILY_ICONS = {f"TRIPO_MT_{key}": icon for key, _label, icon, _types in FAMILIES}


class TRIPO_MT_main(bpy.types.Menu):
    """Tripo steps on the active object (Object > Tripo), by family"""

    bl_label = "Tripo"
    bl_idname = "TRIPO_MT_main"

    def draw(self, _context):
        layout = self.layout
        layout.operator_context = 'INVOKE_DEFAULT'
        layout.operator("tripo.import_model", text="Send Mesh to Tripo\u2026", icon='EXPORT')
        layout.separator()
        for menu in FAMILY_MENUS:
            layout.menu(menu.bl_idname, icon=_FAMILY_ICONS[menu.bl_idname])
        layout.separator()
        layout.operator("tripo.refresh_history", text="Refresh Account History", icon='TIME')
        layout.operator("tripo.refresh_balance", text="Refresh Balance", icon='FILE_REFRESH')


def menu_object(self, _context):
    self.layout.menu(TRIPO_MT_main.bl_idname, icon='EVENT_T')


def menu_add(self, _context):
    self.layout.separator()
    self.layout.menu(TRIPO_MT_add.bl_idname, icon='EVENT_T')


CLASSES = (TRIPO_MT_add, *FAMILY_MENUS, TRIPO_MT_main)
MENUS = (("VIEW3D_MT_object", menu_object), ("VIEW3D_MT_add", menu_add))
