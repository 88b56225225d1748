"""The Selected panel (``TRIPO_PT_active``): what the active object is, then the next steps that apply to it, grouped
by family in native subpanels (Texture, Mesh, Animate, Export), each with its icon. A family with nothing that can
apply is not shown; a step that cannot follow the object is not offered (no Animate for an unrigged mesh)."""

from __future__ import annotations

import bpy

from . import catalog, previews
from .operators import segment
from .operators.lod import lod_collection, source_faces
from .operators.postprocess import result_group, source_problem, tripo_source
from .panels import _Sidebar, _wrap
from .ui_text import friendly_version, task_label

TASK_ID = "tripo_task_id"
#: families of the steps on a model: (panel suffix, label, icon, task types in the order shown)
FAMILIES = (
    ("texture", "Texture", 'TEXTURE', ("texture_model", "refine_model", "stylize_model")),
    ("mesh", "Mesh", 'MESH_DATA', ("mesh_segmentation", "smart_segment", "mesh_completion", "highpoly_to_lowpoly",
                                    "mesh_uv")),
    ("animate", "Animate", 'ARMATURE_DATA', ("animate_prerigcheck", "animate_rig", "animate_retarget")),
    ("export", "Export", 'EXPORT', ("convert_model",)),
)
STEP_ICONS = {
    "texture_model": 'TEXTURE', "refine_model": 'SHADERFX', "stylize_model": 'BRUSH_DATA',
    "mesh_segmentation": 'MOD_EXPLODE', "mesh_completion": 'MOD_BUILD', "highpoly_to_lowpoly": 'MOD_DECIM',
    "mesh_uv": 'UV', "smart_segment": 'MOD_EXPLODE', "animate_prerigcheck": 'VIEWZOOM', "animate_rig": 'ARMATURE_DATA',
    "animate_retarget": 'ACTION', "convert_model": 'FILE_3D',
}
#: fewer faces than this: decimating into LODs makes nothing smaller worth having
LOD_MIN_FACES = 1000


def applicable(task_type: str, context) -> bool:
    """True when the step can run on the active object and makes sense for it."""
    if catalog.task_type(task_type) is None or task_type not in catalog.task_types():
        return False
    if catalog.retired_reason(task_type):
        return False  # (not on this API: never offered)
    obj = context.active_object
    if obj is None:
        return False
    if task_type == "smart_segment":  # a step of its own (operators/segment.py): any selected mesh
        return segment.source_problem(context) is None
    src = tripo_source(obj)
    if src is None:
        if task_type == "animate_retarget":
            return False  # an unrigged mesh of yours: rig it first (Rig Model)
        if task_type == "animate_prerigcheck" and obj.get("tripo_rig_type"):
            return False
    else:
        if task_type == "animate_prerigcheck" and (obj.get("tripo_rig_type") or src[1] in ("animate_rig",
                                                                                           "animate_retarget")):
            return False  # checked already, or rigged
        if task_type == "animate_rig" and src[1] in ("animate_rig", "animate_retarget"):
            return False
    return source_problem(task_type, context) is None


def _family_steps(types, context) -> list[str]:
    return [t for t in types if applicable(t, context)]


class TRIPO_PT_active(_Sidebar, bpy.types.Panel):
    bl_label = "Selected"
    bl_idname = "TRIPO_PT_active"
    bl_order = 1

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        if obj is None:
            layout.label(text="Select a Tripo result or a mesh", icon='INFO')
            return
        src = tripo_source(obj)
        if src is not None:
            box = layout.box()
            col = box.column(align=True)
            col.label(text=obj.name, icon='OBJECT_DATA')
            version = obj.get("tripo_model_version")
            line = catalog.label(src[1]) + (f" \u00b7 {friendly_version(version)}" if version else "")
            row = col.row(align=True)
            row.label(text=line, icon='BLANK1')
            row.operator("tripo.copy_task_id", text="", icon='COPYDOWN').task_id = src[0]
            if obj.get("tripo_rig_type"):
                riggable = "" if obj.get("tripo_riggable", True) else " (not riggable)"
                col.label(text=f"Rig check: {obj['tripo_rig_type']}{riggable}", icon='BLANK1')
            prompt = obj.get("tripo_prompt")
            if isinstance(prompt, str) and prompt.strip() and prompt.strip() != obj.name:
                _wrap(col, f"\u201c{prompt.strip()}\u201d", context=context, max_lines=3)
        elif obj.type == 'MESH':
            _wrap(layout, "Your own mesh: each step sends it to Tripo first", icon='MESH_DATA', context=context)
            row = layout.row()
            row.operator_context = 'EXEC_DEFAULT'
            row.operator("tripo.import_model", text="Send to Tripo", icon='EXPORT')
        else:
            _wrap(layout, f"{obj.name} is neither a Tripo result nor a mesh", icon='INFO', context=context)
            return
        if not any(_family_steps(types, context) for _k, _l, _i, types in FAMILIES) and not _export_extra(context):
            _wrap(layout, "No further Tripo step applies to this result", icon='INFO', context=context)


def _export_extra(context) -> bool:
    obj = context.active_object
    return obj is not None and (lod_collection(obj) is not None or _lod_faces(context) >= LOD_MIN_FACES)


def _lod_faces(context) -> int:
    obj = context.active_object
    if obj is None or obj.type != 'MESH':
        return 0
    return source_faces(result_group(context, obj))


class _Family(_Sidebar):
    bl_parent_id = "TRIPO_PT_active"
    family = ""
    icon = 'NONE'
    types: tuple = ()

    @classmethod
    def poll(cls, context):
        return bool(_family_steps(cls.types, context))

    def draw_header(self, _context):
        self.layout.label(text="", icon=self.icon)

    def draw(self, context):
        col = self.layout.column(align=True)
        col.operator_context = 'INVOKE_DEFAULT'
        for task_type in _family_steps(self.types, context):
            col.operator(f"tripo.{task_type}", text=task_label(task_type, catalog.label(task_type)) + "\u2026",
                         icon=STEP_ICONS.get(task_type, 'NONE'))


def _family_class(key: str, label: str, icon: str, types: tuple) -> type:
    return type(f"TRIPO_PT_active_{key}", (_Family, bpy.types.Panel),
                {"bl_label": label, "bl_idname": f"TRIPO_PT_active_{key}", "family": key, "icon": icon,
                 "types": types, "bl_options": set()})


_CLASSES = {key: _family_class(key, label, icon, types) for key, label, icon, types in FAMILIES}
TRIPO_PT_active_texture = _CLASSES["texture"]


class TRIPO_PT_active_mesh(_CLASSES["mesh"]):
    """Segment, complete, decimate and unwrap; the Smart UV layout render shows here"""

    bl_idname = "TRIPO_PT_active_mesh"

    def draw(self, context):
        _Family.draw(self, context)
        obj = context.active_object
        name = obj.get("tripo_uv_render") if obj is not None else None
        img = bpy.data.images.get(name) if isinstance(name, str) and name else None
        if img is None:
            return
        layout = self.layout
        icon = previews.icon_id(bpy.path.abspath(img.filepath_raw or img.filepath))
        if icon:
            layout.template_icon(icon_value=icon, scale=6.0)
        row = layout.row(align=True)
        row.operator("tripo.show_image", text="Show UV Layout", icon='IMAGE').image = img.name
        if obj.type == 'MESH' and obj.data.uv_layers:
            row.label(text=obj.data.uv_layers.active.name, icon='GROUP_UVS')


class TRIPO_PT_active_animate(_CLASSES["animate"]):
    """Rig check, rig (engine skeletons too) and animation clips"""

    bl_idname = "TRIPO_PT_active_animate"

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return _Family.poll.__func__(cls, context) or bool(obj is not None and obj.get("tripo_clips"))

    def draw(self, context):
        _Family.draw(self, context)
        obj = context.active_object
        if obj is not None and obj.get("tripo_clips"):
            _wrap(self.layout, "Clips: " + ", ".join(obj["tripo_clips"]), icon='NLA', context=context)


class TRIPO_PT_active_export(_CLASSES["export"]):
    """Convert to another format, make LODs, export LODs for game engines"""

    bl_idname = "TRIPO_PT_active_export"

    @classmethod
    def poll(cls, context):
        return _Family.poll.__func__(cls, context) or _export_extra(context)

    def draw(self, context):
        _Family.draw(self, context)
        layout = self.layout
        col = layout.column(align=True)
        col.operator_context = 'INVOKE_DEFAULT'
        if _lod_faces(context) >= LOD_MIN_FACES:
            col.operator("tripo.make_lods", text="Make LODs\u2026", icon='MOD_DECIM')
        coll = lod_collection(context.active_object)
        if coll is not None:
            col.operator("tripo.export_lods", text="Export LODs as FBX\u2026", icon='EXPORT')
            layout.label(text=f"{coll.name}: {len(coll.objects)} levels", icon='OUTLINER_COLLECTION')


CLASSES = (TRIPO_PT_active, TRIPO_PT_active_texture, TRIPO_PT_active_mesh, TRIPO_PT_active_animate,
           TRIPO_PT_active_export)
