"""Sidebar panels for game-ready results (rig, clips, LODs, FBX) and the account's Tripo history. Their operators
are also in the Object > Tripo menu (panels.TRIPO_MT_main), where F3 finds them."""

from __future__ import annotations

import bpy

from . import catalog, settings
from .operators import history
from .operators.lod import lod_collection, source_faces
from .operators.postprocess import result_group, source_problem
from .tasklist import format_credits

STATUS_ICONS = {"success": 'CHECKMARK', "failed": 'ERROR', "running": 'PLAY', "queued": 'SORTTIME',
                "cancelled": 'CANCEL', "banned": 'ERROR', "expired": 'ERROR'}


class _Sidebar:
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Tripo"


class TRIPO_PT_game(_Sidebar, bpy.types.Panel):
    bl_label = "Game-Ready"
    bl_idname = "TRIPO_PT_game"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        if obj is None:
            layout.label(text="Select a Tripo result or a mesh", icon='INFO')
            return
        col = layout.column(align=True)
        col.operator_context = 'INVOKE_DEFAULT'
        for task_type, text, icon in (("animate_rig", "Rig for Engines\u2026", 'ARMATURE_DATA'),
                                      ("animate_retarget", "Animation Clips\u2026", 'ACTION')):
            row = col.row(align=True)
            row.enabled = source_problem(task_type, context) is None
            row.operator(f"tripo.{task_type}", text=text, icon=icon)
        if obj.type == 'MESH':
            faces = source_faces(result_group(context, obj))
            col.operator("tripo.make_lods", text=f"LODs ({faces:,} faces)\u2026", icon='MOD_DECIM')
        coll = lod_collection(obj)
        if coll is not None:
            layout.label(text=f"{coll.name}: {len(coll.objects)} levels", icon='OUTLINER_COLLECTION')
            layout.operator("tripo.export_lods", text="Export LODs as FBX\u2026", icon='EXPORT')
        if obj.get("tripo_clips"):
            layout.label(text="Clips: " + ", ".join(obj["tripo_clips"]), icon='NLA')


class TRIPO_UL_history(bpy.types.UIList):
    """Tasks of your Tripo account (newest first)"""

    bl_idname = "TRIPO_UL_history"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.label(text=f"{catalog.label(item.task_type)}", icon=STATUS_ICONS.get(item.status, 'QUESTION'))
        right = row.row(align=True)
        right.alignment = 'RIGHT'
        right.label(text=history.when(item.created)[5:])
        if item.credits >= 0:
            right.label(text=f"{format_credits(item.credits)} cr")
        if item.status == "success":
            right.operator("tripo.history_import", text="", icon='IMPORT').task_id = item.task_id


class TRIPO_PT_history(_Sidebar, bpy.types.Panel):
    bl_label = "History"
    bl_idname = "TRIPO_PT_history"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        st = history.state(context)
        if st is None:
            return
        if settings.api_version(settings.prefs(context)) != "v3":
            layout.label(text="Your account's history needs API v3 (Tripo preferences)", icon='INFO')
            return
        row = layout.row(align=True)
        row.label(text=f"Tasks {st.offset + 1}-{st.offset + len(st.rows)}" if st.rows else
                  ("Loading\u2026" if st.loading else "Not read yet"), icon='TIME')
        sub = row.row(align=True)
        sub.enabled = st.offset > 0
        sub.operator("tripo.refresh_history", text="", icon='TRIA_LEFT').page = -1
        sub = row.row(align=True)
        sub.enabled = st.more
        sub.operator("tripo.refresh_history", text="", icon='TRIA_RIGHT').page = 1
        row.operator("tripo.refresh_history", text="", icon='FILE_REFRESH')
        if not st.loaded and not st.loading and settings.unavailable_reason(context) is None:
            if not bpy.app.timers.is_registered(_first_read):
                bpy.app.timers.register(_first_read, first_interval=0.0)  # never a request from draw() itself
        layout.template_list("TRIPO_UL_history", "", st, "rows", st, "active", rows=4)
        if 0 <= st.active < len(st.rows):
            r = st.rows[st.active]
            box = layout.box()
            box.label(text=f"{catalog.label(r.task_type)}: {r.status}", icon=STATUS_ICONS.get(r.status, 'QUESTION'))
            box.label(text=f"{history.when(r.created)} \u00b7 "
                      f"{format_credits(r.credits) if r.credits >= 0 else '?'} credits")
            row = box.row(align=True)
            row.label(text=r.task_id[:18] + "\u2026")
            row.operator("tripo.copy_task_id", text="", icon='COPYDOWN').task_id = r.task_id
            if r.status == "success":
                row.operator("tripo.history_import", text="Import", icon='IMPORT').task_id = r.task_id
        for item in st.attention:
            box = layout.box()
            box.alert = True
            box.label(text=f"{item.title}: step {item.step + 1} ({catalog.label(item.task_type)}) may exist",
                      icon='QUESTION')
            ids = [t for t in item.candidates.split(",") if t]
            if not ids:
                box.label(text="No such task in your history: Retry sends it (a new task)")
            for tid in ids:
                op = box.operator("tripo.history_import", text=f"Attach {tid[:13]}\u2026", icon='LINKED')
                op.task_id, op.job_id = tid, item.job_id
        if st.text:
            layout.label(text=st.text[:120], icon='INFO')


def _first_read():
    st = history.state()
    if st is not None and not st.loaded and not st.loading:
        try:
            history.request()
        except Exception:  # noqa: BLE001 - shown by the panel next time (no key, offline)
            st.loaded = True
        else:
            from . import wakeup

            wakeup.ensure_running()
    return None


CLASSES = (TRIPO_PT_game, TRIPO_UL_history, TRIPO_PT_history)


def attach() -> None:
    history.attach_properties()


def detach() -> None:
    history.detach_properties()
