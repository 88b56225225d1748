"""The "Tripo" sidebar (View3D N-panel): four top-level panels, each with native subpanels.

- Generate (:mod:`.panels_generate`, with the v3 modes in :mod:`.panels_v3`): every way to make something new;
- Selected (:mod:`.panels_selected`): the next steps that apply to the active object, by family;
- Tasks (here): this file's jobs and, as a toggle, the account's history (:mod:`.game_panel`);
- Account (here): a one-line balance summary, fetched in the background when shown.

Menus are in :mod:`.menus`, status-bar feedback in :mod:`.feedback`. Helpers shared by all panels live here.
"""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from . import base_package, catalog, previews, runtime, settings
from .ui_text import CREDITS, INPUT, KEY, POLICY, chars_for, credits_text, eta_text, failure_kind, wrap

STATE_ICONS = {
    "pending": 'TIME',
    "uploading": 'EXPORT',
    "submitting": 'EXPORT',
    "queued": 'SORTTIME',
    "running": 'PLAY',
    "downloading": 'IMPORT',
    "succeeded": 'CHECKMARK',
    "failed": 'ERROR',
    "cancelled": 'CANCEL',
    "needs_attention": 'QUESTION',
}
TOP_UP_URL = {"v3": "https://developers.tripo3d.ai", "cn": "https://developers.tripo3d.com"}


class _Sidebar:
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Tripo"


def line_chars(context, *, icon: bool = True, inset: int = 0) -> int:
    """Characters per label line in the region being drawn (the sidebar at any width, a dialog, a menu)."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) if region is not None and getattr(region, "type", "") == 'UI' else 0
    scale = getattr(getattr(getattr(context, "preferences", None), "view", None), "ui_scale", 1.0) or 1.0
    return chars_for(width, scale, icon=icon, inset=inset)


def _wrap(layout, text: str, *, icon='NONE', width: int | None = None, alert: bool = False, context=None,
          max_lines: int = 8, inset: int = 0) -> None:
    """A label wrapped at word boundaries to the region's width (never cut mid-word); ``inset``: pixels taken by
    boxes and buttons around it."""
    col = layout.column(align=True)
    col.alert = alert
    if width is None:
        width = line_chars(context or bpy.context, icon=icon != 'NONE', inset=inset)
    for i, line in enumerate(wrap(text, width, max_lines) or [""]):
        col.label(text=line, icon=icon if i == 0 else 'BLANK1' if icon != 'NONE' else 'NONE')


def copy_button(layout, text: str) -> None:
    """A small button that copies ``text`` (the full message, when a wrapped one was cut)."""
    layout.operator("tripo.copy_text", text="", icon='COPYDOWN').text = text[:4000]


def draw_unavailable(layout, context) -> bool:
    """Say why nothing can be sent (offline, no key), with the button that fixes it. Returns True when everything is
    available. Drawn once, at the top of the Generate panel; the other panels grey their buttons out instead."""
    reason = settings.unavailable_reason(context)
    if not reason:
        return True
    box = layout.box()
    _wrap(box, reason, icon='ERROR', alert=True, context=context, inset=20)
    if settings.offline_reason() and bpy.app.online_access_override:
        return False  # started with --offline-mode: only a restart helps
    if settings.offline_reason():
        op = box.operator("screen.userpref_show", text="Open Preferences > System", icon='PREFERENCES')
        op.section = 'SYSTEM'  # Network: "Allow Online Access"
    elif "API key" in reason or "key" in reason.lower():
        box.operator("preferences.addon_show", text="Set API Key", icon='KEYINGSET').module = base_package
    else:
        box.operator("preferences.addon_show", text="Open Tripo Preferences",
                     icon='PREFERENCES').module = base_package
    return False


# ==================================================================================================== tasks
class TRIPO_UL_tasks(bpy.types.UIList):
    """Tripo jobs of this session and earlier ones (from the job log)"""

    bl_idname = "TRIPO_UL_tasks"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.label(text=item.name, icon=STATE_ICONS.get(item.state, 'QUESTION'))
        right = row.row(align=True)
        right.alignment = 'RIGHT'
        if item.state in ("failed", "needs_attention"):
            right.label(text="failed" if item.state == "failed" else "needs attention")
        elif not item.final:
            text = f"{item.progress}%"
            left = job_eta(item)
            if left is not None:
                text += f" \u00b7 {_eta(left)}"
            if item.notice.startswith("Waiting for the image slot") or (
                    item.notice.startswith("Waiting for a free slot") and item.task_type in catalog.IMAGE_RESULT):
                text = "waiting for the image slot"  # v3: one image task at a time per account
            sub = right.row()
            sub.ui_units_x = 5
            sub.progress(factor=item.progress / 100.0, type='BAR', text=text)
        else:
            if item.credits:
                right.label(text=f"{credits_text(item.credits)} cr")
            if item.can_import:
                right.operator("tripo.import_result", text="", icon='IMPORT').job_id = item.job_id


def _eta(seconds: int) -> str:
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def job_eta(item) -> int | None:
    """Seconds left: Tripo's estimate (v2), else learnt from finished tasks of the same type (v3 has none)."""
    if item.eta >= 0:
        return int(item.eta)
    from .feedback import learnt_eta

    return learnt_eta(item.job_id)


class TRIPO_PT_tasks(_Sidebar, bpy.types.Panel):
    bl_label = "Tasks"
    bl_idname = "TRIPO_PT_tasks"
    bl_order = 2

    def draw_header_preset(self, context):
        state = getattr(context.window_manager, "tripo", None)
        running = sum(1 for t in state.tasks if not t.final and t.state != "needs_attention") if state else 0
        if running:
            self.layout.label(text=f"{running} running", icon='SORTTIME')

    def draw(self, context):
        layout = self.layout
        state = context.window_manager.tripo
        layout.row().prop(state, "tasks_view", expand=True)
        if state.tasks_view == 'ACCOUNT':
            return  # TRIPO_PT_history (a headerless subpanel) draws the account's history
        if not len(state.tasks):
            layout.label(text="No Tripo jobs yet: they show here", icon='INFO')
        else:
            layout.template_list("TRIPO_UL_tasks", "", state, "tasks", state, "active_task",
                                 rows=min(4, max(2, len(state.tasks))))
            if 0 <= state.active_task < len(state.tasks):
                draw_task(layout.box(), state.tasks[state.active_task], context)
        row = layout.row(align=True)
        row.prop(state, "attach_task_id", text="", icon='LINKED', placeholder="Task id to attach")
        row.operator("tripo.attach_task", text="Attach")
        if state.notice:
            _wrap(layout, state.notice, icon='INFO', context=context)


def draw_task(box, item, context=None) -> None:
    context = context or bpy.context
    box.label(text=item.name, icon=STATE_ICONS.get(item.state, 'QUESTION'))
    step = f" (step {item.step}/{item.steps})" if item.steps > 1 else ""
    kind = catalog.label(item.task_type) if item.task_type else item.kind
    box.label(text=f"{kind}{step}: {item.status or item.state}")
    if not item.final and item.state != "needs_attention":
        text = f"{item.progress}%"
        left = job_eta(item)
        if left is not None:
            text += f", {eta_text(left)}"
        elif item.queue_position >= 0:
            text += f", queue position {item.queue_position}"
        if hasattr(box, "progress"):
            box.progress(factor=item.progress / 100.0, type='BAR', text=text)
        else:  # pragma: no cover - Blender < 4.0
            box.prop(item, "progress", slider=True, text=text)
    if item.credits:
        box.label(text=f"Credits: {credits_text(item.credits)}", icon='BLANK1')
    if item.steps > 1 or item.credits:
        from .cost_ui import step_lines

        for text in step_lines(item.job_id):  # per step: estimated before, used after
            _wrap(box, text, icon='BLANK1', context=context, inset=20, max_lines=3)
    if item.error:
        row = box.row()
        _wrap(row, item.error, icon='ERROR', alert=True, context=context, inset=56)
        copy_button(row, item.error)
    if item.notice:
        _wrap(box, item.notice, icon='INFO', context=context, inset=20)
    if item.saved_path:
        _wrap(box, f"Saved: {item.saved_path}", icon='FILE_TICK', context=context, inset=20)
    icon = previews.icon_id(item.preview_path)
    if icon:
        box.template_icon(icon_value=icon, scale=6.0)
    row = box.row(align=True)
    if item.state == "succeeded":
        row.operator("tripo.import_result", text="Import Again" if item.imported else "Import",
                     icon='IMPORT').job_id = item.job_id
    elif not item.final and item.state != "needs_attention":
        row.operator("tripo.cancel_job", text="Cancel", icon='CANCEL').job_id = item.job_id
    if item.state in ("failed", "cancelled", "needs_attention"):
        draw_failure_action(row, item)
    if item.task_id:
        row.operator("tripo.copy_task_id", text="", icon='COPYDOWN').job_id = item.job_id
    if item.result_files or item.saved_path:
        path = (item.saved_path or item.result_files).splitlines()[0]
        row.operator("tripo.open_folder", text="", icon='FILE_FOLDER').path = path
    row.operator("tripo.remove_job", text="", icon='X').job_id = item.job_id


def draw_failure_action(row, item) -> None:
    """The button that fits the failure: edit the prompt (content policy), top up (no credits), set the key (bad
    key); Retry only where trying again can help."""
    kind = failure_kind(item.error) if item.state == "failed" else "RETRY"
    if kind == POLICY:
        row.operator("tripo.edit_prompt", text="Edit Prompt", icon='GREASEPENCIL').job_id = item.job_id
    elif kind == CREDITS:
        op = row.operator("wm.url_open", text="Top Up", icon='URL')
        op.url = TOP_UP_URL["cn" if "tripo3d.com" in settings.base_url(settings.prefs()) else "v3"]
    elif kind == KEY:
        row.operator("preferences.addon_show", text="Set API Key", icon='KEYINGSET').module = base_package
    elif kind == INPUT:
        row.label(text="Change the input, then send it again")
    else:
        row.operator("tripo.retry_job", text="Retry", icon='FILE_REFRESH').job_id = item.job_id


# ==================================================================================================== account
#: the settings (config_version) the balance was last asked for on its own: once per key / address, not per redraw
_balance_asked: list[int | None] = [None]


def _ask_balance():
    """One-shot timer: the Account panel was shown and the balance is unknown; ask in the background (never a
    request from draw() itself)."""
    try:
        if settings.unavailable_reason() is None:
            from . import wakeup

            runtime.request_balance("balance")
            wakeup.ensure_running()
    except Exception:  # noqa: BLE001 - the panel shows the reason (no key, offline)
        pass
    return None


class TRIPO_PT_account(_Sidebar, bpy.types.Panel):
    """Your Tripo balance, in one line"""

    bl_label = "Account"
    bl_idname = "TRIPO_PT_account"
    bl_order = 3
    bl_options = {'HIDE_HEADER'}

    def draw(self, context):
        layout = self.layout
        state = context.window_manager.tripo
        runtime.balance_watched()  # on screen: it follows finished jobs by itself
        row = layout.row(align=True)
        if state.balance_known:
            text = f"{credits_text(state.balance)} credits"
            if state.frozen:
                text += f" \u00b7 {credits_text(state.frozen)} reserved"
            row.label(text=text, icon='USER')
        elif state.balance_text:
            row.alert = True
            row.label(text="Balance: " + state.balance_text, icon='ERROR')
        elif settings.unavailable_reason(context):
            row.label(text="Balance: not connected", icon='USER')
        else:
            row.label(text="Balance: checking\u2026", icon='USER')
            version = settings.config_version()
            if (_balance_asked[0] != version and not state.checking
                    and not bpy.app.timers.is_registered(_ask_balance)):
                _balance_asked[0] = version
                bpy.app.timers.register(_ask_balance, first_interval=0.0)
        sub = row.row(align=True)
        sub.operator("tripo.refresh_balance", text="", icon='FILE_REFRESH')
        sub.operator("preferences.addon_show", text="", icon='PREFERENCES').module = base_package


# ==================================================================================================== small operators
class TRIPO_OT_copy_text(bpy.types.Operator):
    """Copy the whole message to the clipboard"""

    bl_idname = "tripo.copy_text"
    bl_label = "Copy Message"
    bl_options = {'INTERNAL'}

    text: StringProperty(name="Text", options={'SKIP_SAVE', 'HIDDEN'})

    @classmethod
    def description(cls, _context, properties):
        return properties.text or cls.__doc__

    def execute(self, context):
        context.window_manager.clipboard = self.text
        self.report({'INFO'}, "Copied the message")
        return {'FINISHED'}


class TRIPO_OT_edit_prompt(bpy.types.Operator):
    """Put this job's prompt back in the Generate panel to change it (Tripo refused it under its content policy)"""

    bl_idname = "tripo.edit_prompt"
    bl_label = "Edit Prompt"
    bl_options = {'INTERNAL', 'UNDO'}

    job_id: StringProperty(name="Job", options={'SKIP_SAVE', 'HIDDEN'})

    def execute(self, context):
        eng = runtime.engine(create=False)
        try:
            snap = eng.get(self.job_id) if eng is not None else None
        except KeyError:
            snap = None
        prompt, kind = "", ""
        for step in (snap or {}).get("steps") or []:
            params = step.get("params") or {}
            if isinstance(params.get("prompt"), str) and params["prompt"].strip():
                prompt, kind = params["prompt"], step.get("task_type") or ""
                break
        s = context.scene.tripo
        if prompt:
            s.prompt = prompt
            s.mode = 'TEXT_IMAGE' if kind == "text_to_image" else 'TEXT'
            self.report({'INFO'}, "The prompt is in the Generate panel: change it, then Generate again")
        else:
            s.mode = 'IMAGE' if s.mode == 'TEXT' else s.mode
            self.report({'INFO'}, "Choose another image in the Generate panel, then Generate again")
        return {'FINISHED'}


CLASSES = (TRIPO_UL_tasks, TRIPO_PT_tasks, TRIPO_PT_account, TRIPO_OT_copy_text, TRIPO_OT_edit_prompt)
