"""Batches from the sidebar and from Python: pick a rows file, see the plan and its cost, run it, retry failed rows.

The batch runs on the session's engine (its jobs show in the task list, never imported by themselves); a timer ticks
the runner (jobs/batch.py) on the main thread. ``bpy.ops.tripo.batch_run(filepath=..., wait=True)`` runs to the end.
At the end the contact sheet and summary are written into the batch folder.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

from ...jobs import batch as jb
from ...jobs import cost
from .. import assets_library, runtime, settings
from ..assets_sheet import batch_sheet

log = logging.getLogger(__name__)

TICK = 0.5


class _State:
    runner: jb.BatchRunner | None = None
    plan: jb.Plan | None = None
    path: str = ""
    out: str = ""
    error: str = ""
    message: str = ""
    running: bool = False
    sheet: str = ""


state = _State()


def default_out(path: str) -> Path:
    """Where a batch's folders go by default: ``<download folder>/batches/<rows file name>``."""
    return settings.download_dir() / "batches" / (Path(path).stem or "batch")


def _check_can_send(context) -> None:
    reason = settings.unavailable_reason(context) or settings.download_dir_problem(settings.prefs(context))
    if reason:
        raise jb.BatchError(reason)
    runtime.refresh_config(context)


def load(path: str, out: str = "", context=None) -> jb.Plan:
    """Read the rows file and plan it on the session's engine (nothing is sent). Raises BatchError."""
    path = bpy.path.abspath(path)
    if not path:
        raise jb.BatchError("Choose a rows file first: a .txt (one prompt a line), .csv or .json.")
    rows = jb.parse_rows(path)
    out_dir = Path(bpy.path.abspath(out)) if out else default_out(path)
    runtime.refresh_config(context)
    eng = runtime.engine()
    runner = jb.BatchRunner(eng, rows, out_dir, source=str(Path(path).resolve()),
                            on_done=assets_library.save_batch_row)  # each done row into the library (if any)
    plan = runner.plan()
    state.runner, state.plan, state.path, state.out, state.error = runner, plan, path, str(out_dir), ""
    state.sheet = ""
    return plan


def _finish() -> None:
    r = state.runner
    if r is None:
        return
    s = r.summary()
    title = f"Tripo batch {Path(state.path).name}: {s['done']}/{s['rows']} done, {cost.text(s['credits'])} credits"
    try:
        state.sheet = str(batch_sheet([dict(vars(x)) for x in r.records()], r.out_dir, title=title))
        r.write_summary()
    except OSError as exc:
        state.error = f"The contact sheet or summary could not be written into {r.out_dir}: {exc}"
    state.message = f"{s['done']} of {s['rows']} done, {s['failed']} failed, {cost.text(s['credits'])} credits"


def tick() -> bool:
    """Follow the batch once; True when it has ended (the contact sheet and summary are written)."""
    r = state.runner
    if r is None or not state.running:
        return True
    try:
        r.tick()
    except Exception as exc:  # noqa: BLE001 - a journal that cannot be written stops the batch, with the reason
        state.running = False
        state.error = f"The batch stopped: {exc}"
        log.exception("Tripo batch")
        return True
    if r.finished():
        state.running = False
        _finish()
        return True
    return False


def _timer():
    done = tick()
    _redraw()
    return None if done else TICK


def _redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    for win in getattr(wm, "windows", []) or []:
        for area in win.screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()


def start(context=None) -> None:
    _check_can_send(context)
    runtime.ensure_resumed(context)
    state.running = True
    state.error = ""
    state.message = ""
    if not bpy.app.timers.is_registered(_timer):
        bpy.app.timers.register(_timer, first_interval=0.0, persistent=True)


def stop() -> None:
    state.running = False
    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)


class TRIPO_OT_batch_plan(bpy.types.Operator):
    """Read a rows file and show what the batch will send and cost (nothing is sent)"""

    bl_idname = "tripo.batch_plan"
    bl_label = "Plan Batch"
    bl_options = {'REGISTER'}

    filepath: StringProperty(name="Rows File", subtype='FILE_PATH', options={'SKIP_SAVE'})
    out_dir: StringProperty(name="Batch Folder", subtype='DIR_PATH', options={'SKIP_SAVE'},
                            description="Where the rows' folders, contact sheet and summary go (empty: "
                                        "<download folder>/batches/<file name>)")

    def execute(self, context):
        props = context.window_manager.tripo_batch
        path = self.filepath or props.filepath
        try:
            plan = load(path, self.out_dir or props.out_dir, context)
        except jb.BatchError as exc:
            state.error = str(exc)
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        if self.filepath:
            props.filepath = self.filepath
        self.report({'INFO'}, plan.text())
        return {'FINISHED'}


class TRIPO_OT_batch_run(bpy.types.Operator):
    """Send the planned batch (asks first when it costs more than your confirmation threshold)"""

    bl_idname = "tripo.batch_run"
    bl_label = "Run Batch"
    bl_options = {'REGISTER'}

    filepath: StringProperty(name="Rows File", subtype='FILE_PATH', options={'SKIP_SAVE'})
    out_dir: StringProperty(name="Batch Folder", subtype='DIR_PATH', options={'SKIP_SAVE'})
    confirm_cost: BoolProperty(name="Confirm Cost", options={'SKIP_SAVE'},
                               description="Send even above the confirmation threshold")
    wait: BoolProperty(name="Wait", options={'SKIP_SAVE'}, description="Run to the end before returning (scripts)")
    wait_timeout: FloatProperty(name="Wait Timeout", default=0.0, min=0.0, options={'SKIP_SAVE'})

    def _plan(self, context) -> jb.Plan:
        props = context.window_manager.tripo_batch
        path = self.filepath or props.filepath
        if state.runner is None or not state.running or bpy.path.abspath(path) != state.path:
            return load(path, self.out_dir or props.out_dir, context)  # read again: the file may have changed
        return state.runner.plan(validate=False)

    def _why_confirm(self, context, plan: jb.Plan) -> str | None:
        p = settings.prefs(context)
        threshold = float(getattr(p, "confirm_above", 0) or 0)
        if self.confirm_cost or threshold <= 0 or not plan.tasks:
            return None
        if plan.total is None or plan.total > threshold:
            return (f"This batch costs about {cost.text(plan.total)} credits, above your confirmation threshold of "
                    f"{cost.text(threshold)}: confirm to send it (confirm_cost=True in a script)")
        return None

    def invoke(self, context, event):
        try:
            plan = self._plan(context)
        except jb.BatchError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        if self._why_confirm(context, plan):
            self.confirm_cost = True
            return context.window_manager.invoke_confirm(
                self, event, title="Run Tripo Batch?",
                message=f"{plan.text()}. Send it?", confirm_text="Send")
        return self.execute(context)

    def execute(self, context):
        try:
            plan = self._plan(context)
            why = self._why_confirm(context, plan)
            if why:
                self.report({'ERROR'}, why)
                return {'CANCELLED'}
            start(context)
        except jb.BatchError as exc:
            state.error = str(exc)
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        if not self.wait:
            self.report({'INFO'}, f"Batch started: {plan.text()}")
            return {'FINISHED'}
        deadline = time.monotonic() + self.wait_timeout if self.wait_timeout > 0 else None
        while not tick():
            if deadline is not None and time.monotonic() > deadline:
                self.report({'WARNING'}, "The batch goes on; run it again later to follow it (nothing is sent twice)")
                return {'CANCELLED'}
            time.sleep(0.1)
        if state.error:
            self.report({'ERROR'}, state.error)
            return {'CANCELLED'}
        r = state.runner
        if r is not None and r.exit_code() != 0:
            self.report({'WARNING'}, state.message)
        return {'FINISHED'}


class TRIPO_OT_batch_retry(bpy.types.Operator):
    """Send the failed rows of the batch again (the others are left as they are)"""

    bl_idname = "tripo.batch_retry"
    bl_label = "Retry Failed Rows"
    bl_options = {'REGISTER'}

    row: StringProperty(name="Row", description="Only this row (its folder name); empty: every failed row",
                        options={'SKIP_SAVE'})

    @classmethod
    def poll(cls, context):
        return state.runner is not None and any(r.state == jb.FAILED for r in state.runner.records())

    def execute(self, context):
        keys = [self.row] if self.row else None
        again = state.runner.retry(keys)
        if not again:
            self.report({'WARNING'}, "No failed row to retry (a row whose create answer was lost is settled from "
                                     "the History panel first)")
            return {'CANCELLED'}
        try:
            start(context)
        except jb.BatchError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Retrying {len(again)} row(s)")
        return {'FINISHED'}


class TRIPO_OT_batch_stop(bpy.types.Operator):
    """Stop following the batch here (tasks already sent go on in the task list; Run Batch resumes it)"""

    bl_idname = "tripo.batch_stop"
    bl_label = "Stop Following"
    bl_options = {'REGISTER'}

    def execute(self, context):
        stop()
        return {'FINISHED'}


CLASSES = (TRIPO_OT_batch_plan, TRIPO_OT_batch_run, TRIPO_OT_batch_retry, TRIPO_OT_batch_stop)
