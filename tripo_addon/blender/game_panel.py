"""The account's Tripo history: a headerless subpanel of Tasks, shown when its toggle says "Account History".
(Game-ready steps, rig, clips and LODs, are in the Selected panel's Animate and Export families.)"""

from __future__ import annotations

import bpy

from . import catalog, settings
from .operators import history
from .ui_text import credits_text as format_credits

STATUS_ICONS = {"success": 'CHECKMARK', "failed": 'ERROR', "running": 'PLAY', "queued": 'SORTTIME',
                "cancelled": 'CANCEL', "banned": 'ERROR', "expired": 'ERROR'}


class _Sidebar:
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Tripo"


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
    bl_label = "Account History"
    bl_idname = "TRIPO_PT_history"
    bl_parent_id = "TRIPO_PT_tasks"
    bl_options = {'HIDE_HEADER'}

    @classmethod
    def poll(cls, context):
        state = getattr(context.window_manager, "tripo", None)
        return state is not None and state.tasks_view == 'ACCOUNT'

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
        if st.rows:
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
            if item.sent_at:
                op = box.operator("tripo.dismiss_lost", text="Dismiss" if item.kind != "lost" else
                                  "Dismiss (the job stays in Needs attention)", icon='X')
                op.job_id, op.step, op.sent_at = item.lost_job, item.step, item.sent_at
        if st.text:
            from .panels import _wrap

            _wrap(layout, st.text, icon='INFO', context=context)


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


CLASSES = (TRIPO_UL_history, TRIPO_PT_history)


def attach() -> None:
    history.attach_properties()


def detach() -> None:
    history.detach_properties()
