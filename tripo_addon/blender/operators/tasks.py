"""Task list actions: import (again), cancel locally, copy the task id, attach a task by id, retry, remove."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

from .. import catalog, drain, job_import, runtime, scene_io, settings, tasklist, wakeup
from ..properties import PATH_SKIP
from .base import OnlineOperator, auto_import, followed_job, wait_for


def _job_id(op, context) -> str:
    """The operator's job id, else the task list's active row."""
    if op.job_id:
        return op.job_id
    state = getattr(context.window_manager, "tripo", None)
    if state is not None and 0 <= state.active_task < len(state.tasks):
        return state.tasks[state.active_task].job_id
    return ""


def _snapshot(job_id: str) -> dict | None:
    eng = runtime.engine(create=False)
    if eng is None or not job_id:
        return None
    try:
        return eng.get(job_id)
    except KeyError:
        return None


class _JobOperator:
    job_id: StringProperty(name="Job", description="Job id (empty: the active row of the task list)",
                           options={'SKIP_SAVE'})


class TRIPO_OT_import_result(_JobOperator, bpy.types.Operator):
    """Import the result of a finished Tripo task into the scene (again)"""

    bl_idname = "tripo.import_result"
    bl_label = "Import Result"
    bl_options = {'REGISTER'}  # scene_io pushes exactly one undo step per import

    def execute(self, context):
        job_id = _job_id(self, context)
        snap = _snapshot(job_id)
        if snap is None or snap.get("state") != "succeeded":
            self.report({'ERROR'}, "This task has no finished result to import")
            return {'CANCELLED'}
        try:
            result = job_import.import_job(job_id, context, force=True)
        except scene_io.ImportFailed as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        if result is None:
            return {'CANCELLED'}
        if result.saved and not result.objects:
            self.report({'INFO'}, f"Saved (Blender cannot import this format): {result.saved[0]}")
        else:
            self.report({'INFO'}, f"Imported {len(result.objects)} object(s)")
        return {'FINISHED'}


class TRIPO_OT_cancel_job(_JobOperator, bpy.types.Operator):
    """Stop following a task here. Tripo's v2 API cannot cancel a task: it may still finish and use credits"""

    bl_idname = "tripo.cancel_job"
    bl_label = "Cancel (Locally)"
    bl_options = {'REGISTER'}

    def execute(self, context):
        job_id = _job_id(self, context)
        eng = runtime.engine(create=False)
        if eng is None or _snapshot(job_id) is None:
            return {'CANCELLED'}
        eng.cancel(job_id)
        drain.drain(context)
        snap = eng.get(job_id)
        tasklist.mirror(snap, context, running=False)
        if snap.get("notice"):
            self.report({'WARNING'}, snap["notice"])
        return {'FINISHED'}


class TRIPO_OT_copy_task_id(_JobOperator, bpy.types.Operator):
    """Copy the Tripo task id to the clipboard (to look it up or attach it later)"""

    bl_idname = "tripo.copy_task_id"
    bl_label = "Copy Task ID"
    bl_options = {'REGISTER'}

    task_id: StringProperty(name="Task ID", options={'SKIP_SAVE'})

    def execute(self, context):
        task_id = self.task_id
        if not task_id:
            snap = _snapshot(_job_id(self, context))
            ids = (snap or {}).get("task_ids") or []
            task_id = ids[-1] if ids else ""
        if not task_id:
            self.report({'WARNING'}, "This job has no Tripo task id yet")
            return {'CANCELLED'}
        context.window_manager.clipboard = task_id
        self.report({'INFO'}, f"Copied {task_id}")
        return {'FINISHED'}


class TRIPO_OT_attach_task(bpy.types.Operator):
    """Follow an existing Tripo task by its id (no new task is created) and import its result"""

    bl_idname = "tripo.attach_task"
    bl_label = "Attach Task"
    bl_options = {'REGISTER'}

    task_id: StringProperty(name="Task ID", description="Id of a task made with this API key (empty: the field "
                            "in the task list)", options={'SKIP_SAVE'})
    title: StringProperty(name="Title", options={'SKIP_SAVE'})
    job_id: StringProperty(name="Job", description="Give this stopped job's unsent step the task id instead",
                           options={'SKIP_SAVE'})
    wait: BoolProperty(name="Wait", description="Run to the end and import the result before returning",
                       options={'SKIP_SAVE'})
    wait_timeout: FloatProperty(name="Wait Timeout", default=0.0, min=0.0, options={'SKIP_SAVE'})

    @classmethod
    def poll(cls, context):
        reason = settings.unavailable_reason(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    def execute(self, context):
        state = getattr(context.window_manager, "tripo", None)
        task_id = (self.task_id or (state.attach_task_id if state is not None else "")).strip()
        if not task_id:
            self.report({'ERROR'}, "Enter a Tripo task id")
            return {'CANCELLED'}
        if self.wait and not self.job_id:  # a wait_timeout that ran out: wait for that job, no second one
            job_id = followed_job(task_id)
            if job_id is not None:
                auto_import(job_id, True)
                return wait_for(self, context, job_id)
        try:
            job_id = runtime.attach(task_id, self.title, job_id=self.job_id or None, context=context)
        except Exception as exc:
            if not catalog.is_tripo_error(exc):
                raise
            self.report({'ERROR'}, catalog.user_message(exc))
            return {'CANCELLED'}
        tasklist.mirror(runtime.engine().get(job_id), context, running=True)
        if state is not None and not self.task_id:
            state.attach_task_id = ""
        if self.wait:
            return wait_for(self, context, job_id)
        wakeup.ensure_running(context)
        return {'FINISHED'}


class TRIPO_OT_retry_job(OnlineOperator, _JobOperator, bpy.types.Operator):
    """Run a stopped job again from its first unfinished step. A step that may already have been sent is sent
    again (check your Tripo task history first, or attach its task id)"""

    bl_idname = "tripo.retry_job"
    bl_label = "Retry"
    bl_options = {'REGISTER'}

    def invoke(self, context, _event):
        return context.window_manager.invoke_confirm(self, _event)

    def execute(self, context):
        job_id = _job_id(self, context)
        try:
            runtime.retry(job_id, context)
        except Exception as exc:
            if not catalog.is_tripo_error(exc):
                raise
            self.report({'ERROR'}, catalog.user_message(exc))
            return {'CANCELLED'}
        tasklist.mirror(runtime.engine().get(job_id), context, running=True)
        wakeup.ensure_running(context)
        return {'FINISHED'}


class TRIPO_OT_remove_job(_JobOperator, bpy.types.Operator):
    """Remove the job from the list (a running one stops being followed; downloaded files stay on disk)"""

    bl_idname = "tripo.remove_job"
    bl_label = "Remove"
    bl_options = {'REGISTER'}

    @staticmethod
    def needs_confirm(snap: dict | None) -> bool:
        """A running job, or a paid result not imported yet: Remove asks first."""
        if not snap:
            return False
        running = snap.get("state") not in ("succeeded", "failed", "cancelled")
        unimported = snap.get("state") == "succeeded" and not snap.get("imported") and bool(snap.get("result_files"))
        return running or unimported

    def invoke(self, context, event):
        job_id = _job_id(self, context)
        eng = runtime.engine(create=False)
        try:
            snap = eng.get(job_id) if eng is not None and job_id else None
        except KeyError:
            snap = None
        if self.needs_confirm(snap):
            what = "still running on Tripo" if snap.get("state") not in ("succeeded", "failed", "cancelled") \
                else "finished but not imported yet"
            return context.window_manager.invoke_confirm(
                self, event, title="Remove this job?",
                message=f"\u201c{snap.get('title', '')}\u201d is {what}. Its task is no longer followed here "
                        "(files already downloaded stay on disk).",
                confirm_text="Remove", icon='WARNING')
        return self.execute(context)

    def execute(self, context):
        job_id = _job_id(self, context)
        eng = runtime.engine(create=False)
        if eng is None or not job_id:
            return {'CANCELLED'}
        eng.forget(job_id)  # its queued and late events are dropped by the engine; other jobs' events stay queued
        runtime.drop_import(job_id)
        tasklist.remove_row(job_id, context)
        return {'FINISHED'}


class TRIPO_OT_open_folder(bpy.types.Operator):
    """Open the folder that holds this task's files"""

    bl_idname = "tripo.open_folder"
    bl_label = "Open Folder"
    bl_options = {'REGISTER'}

    path: StringProperty(name="Path", subtype='FILE_PATH', options=PATH_SKIP)

    def execute(self, context):
        import os

        path = self.path
        if not path:
            path = str(settings.download_dir(settings.prefs(context)))
            try:
                os.makedirs(path, exist_ok=True)  # (made by the first download; the button may come first)
            except OSError as exc:
                self.report({'ERROR'}, f"Cannot create the download folder {path}: {exc.strerror or exc}")
                return {'CANCELLED'}
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        if not os.path.isdir(folder):
            self.report({'ERROR'}, f"No such folder: {folder}")
            return {'CANCELLED'}
        bpy.ops.wm.path_open(filepath=folder)
        return {'FINISHED'}


CLASSES = (
    TRIPO_OT_import_result,
    TRIPO_OT_cancel_job,
    TRIPO_OT_copy_task_id,
    TRIPO_OT_attach_task,
    TRIPO_OT_retry_job,
    TRIPO_OT_remove_job,
    TRIPO_OT_open_folder,
)
