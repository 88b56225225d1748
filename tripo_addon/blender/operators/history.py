"""The account's history (v3 ``account/usage``): recent tasks made with this key anywhere (web, another machine, a
script), paged, read in the background; Import any finished one; and "needs attention" jobs resolved from it.

A job whose create answer was lost is looked up in the same listing (jobs/recover.py): a task is attached to it by
itself only when it is certainly its own (made right after the send in Tripo's clock, known to no job here, removed
job or other Blender, with the same echoed input), checked again here on the main thread just before attaching.
Anything less certain is listed with the reason, to pick from, or to Dismiss (never listed again; the record that a
task may exist stays). Nothing is ever sent again.
"""

from __future__ import annotations

import time

import bpy
from bpy.props import BoolProperty, CollectionProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from ...api.errors import TripoError
from ...jobs import recover
from .. import catalog, drain, runtime, settings, tasklist, wakeup
from .base import OnlineOperator, wait_for

PAGE = 20
KIND = "history"


class TRIPO_PG_history_row(bpy.types.PropertyGroup):
    task_id: StringProperty()
    task_type: StringProperty()
    status: StringProperty()
    created: FloatProperty(default=-1.0)
    credits: FloatProperty(default=-1.0)


class TRIPO_PG_attention(bpy.types.PropertyGroup):
    """A needs-attention job and the tasks of the history that may be its lost one."""

    job_id: StringProperty()
    title: StringProperty()
    step: IntProperty()
    task_type: StringProperty()
    candidates: StringProperty(description="Task ids, comma separated, newest first")
    reasons: StringProperty(description="Why each candidate was not attached by itself, ' | ' separated")
    kind: StringProperty(description="lost (a job that needs attention), earlier (before Retry) or removed")
    lost_job: StringProperty(description="The job that sent the create (also for a removed job or an earlier create)")
    sent_at: StringProperty(description="When the create was sent (local time, seconds): its key for Dismiss")
    note: StringProperty(description="What the report line after Refresh says about it")


class TRIPO_PG_history(bpy.types.PropertyGroup):
    rows: CollectionProperty(type=TRIPO_PG_history_row)
    attention: CollectionProperty(type=TRIPO_PG_attention)
    active: IntProperty(default=0)
    offset: IntProperty(default=0, min=0)
    more: BoolProperty(default=False)
    loading: BoolProperty(default=False)
    loaded: BoolProperty(default=False)
    text: StringProperty()


def state(context=None):
    return getattr((context or bpy.context).window_manager, "tripo_history", None)


def _row_dict(r) -> dict:
    return {"task_id": r.task_id, "type": r.type, "status": r.status, "created": r.created, "credits": r.credits}


def request(context=None, offset: int | None = None) -> bool:
    """Read a page of the history in the background (never on the main thread), and look lost tasks up in it."""
    reason = settings.unavailable_reason(context)
    if reason:
        raise catalog.validation_error(reason)
    if settings.api_version(settings.prefs(context)) != "v3":
        raise catalog.validation_error("The account history needs Tripo's API v3: choose the Global or China "
                                       "address in the Tripo preferences.")
    st = state(context)
    off = max(0, st.offset if offset is None else offset) if st is not None else 0
    runtime.refresh_config(context)
    eng = runtime.engine()
    snaps = eng.jobs()  # plain dicts, taken here: the worker never touches the engine's jobs or bpy
    owners = getattr(eng, "owners", None)  # thread-safe registry: read by the worker, checked again in apply()
    in_flight = owners.creates_in_flight() if owners is not None else []

    def fetch(client) -> dict:
        rows = client.usage(PAGE + 1, off)
        findings = recover.find(client, snaps, known=owners.known if owners is not None else None,
                                in_flight=in_flight, removed=owners.released if owners is not None else None,
                                identity=recover.identity_of(eng, client),
                                dismissed=owners.dismissed if owners is not None else None)
        return {"offset": off, "rows": [_row_dict(r) for r in rows[:PAGE]], "more": len(rows) > PAGE,
                "findings": findings}

    started = runtime.background.start(KIND, fetch)
    if st is not None:
        st.loading = True
    return started


def _snapshot(eng, job_id: str) -> dict | None:
    try:
        return eng.get(job_id)
    except Exception as exc:  # noqa: BLE001 - removed meanwhile
        if not catalog.is_tripo_error(exc) and not isinstance(exc, KeyError):
            raise
        return None


def apply(context, ok: bool, value) -> None:
    """Main thread: show the page, attach the lost tasks found for sure (checked again now), list the others."""
    st = state(context)
    if st is None:
        return
    st.loading = False
    if not ok:
        st.text = f"Could not read your Tripo history: {value}"
        return
    st.loaded = True
    st.text = ""
    st.offset = value["offset"]
    st.more = value["more"]
    st.rows.clear()
    for r in value["rows"]:
        row = st.rows.add()
        row.task_id, row.task_type, row.status = r["task_id"], r["type"], r["status"]
        row.created = r["created"] if r["created"] is not None else -1.0
        row.credits = r["credits"] if r["credits"] is not None else -1.0
    st.attention.clear()
    eng = runtime.engine()
    owners = getattr(eng, "owners", None)

    def attach(f) -> None:
        runtime.attach(f.found.task_id, job_id=f.lost.job_id, context=context, notice=recover.attach_notice(f))
        tasklist.mirror(runtime.engine().get(f.lost.job_id), context, running=True)

    findings = [f for f in value["findings"]  # dismissed meanwhile: neither listed nor attached
                if not recover.is_dismissed(f.lost, owners.dismissed if owners is not None else None)]
    done, left = recover.settle(findings, lambda job_id: _snapshot(eng, job_id), attach,
                                owners.known if owners is not None else None, errors=(TripoError,))
    attached = [f.lost.title or f.lost.job_id for f in done]
    notes = []
    for f in left:
        item = st.attention.add()
        item.job_id, item.title, item.step, item.task_type = (f.lost.job_id, f.lost.title, f.lost.step,
                                                              f.lost.task_type)
        item.kind, item.lost_job = f.lost.kind, f.lost.job_id
        item.sent_at = repr(f.lost.at) if f.lost.at is not None else ""
        if f.lost.kind != "lost":  # a removed job's or an earlier request's task: Attach makes a job of its own
            item.job_id = ""
            item.title = ("A removed job" if f.lost.kind == "removed"
                          else f"{f.lost.title or f.lost.job_id} (before Retry)")
        item.candidates = ",".join(c.task_id for c in f.candidates)
        item.reasons = " | ".join(c.reason for c in f.candidates)
        if f.candidates:
            item.note = (f"{f.lost.title or f.lost.job_id}: {len(f.candidates)} possible task(s), not attached "
                         f"by itself ({f.candidates[0].reason})")
            notes.append(item.note)
    if attached:
        st.text = f"Found in your history and attached: {', '.join(attached)}"
        wakeup.ensure_running(context)
    elif notes:
        st.text = "; ".join(notes)


#: Seconds between a lost create and the history read that looks for its task (Tripo lists it at once; a short
#: pause lets a burst of lost creates share one read).
LOOK_AFTER = 3.0
_looked: set[str] = set()


def look_for_lost(snap: dict) -> bool:
    """A job now needs attention because a create's answer was lost: read the history once, soon, in the background
    (v3 only; never twice for the same job in a session). Returns True when a look was scheduled."""
    lost = [x for x in recover.lost_steps([snap]) if x.kind == "lost"]
    if not lost or snap.get("id") in _looked or snap.get("api") != "v3":
        return False
    _looked.add(snap["id"])
    if not bpy.app.timers.is_registered(_look):
        bpy.app.timers.register(_look, first_interval=LOOK_AFTER)
    return True


def _look():
    try:
        request()
        wakeup.ensure_running()
    except Exception as exc:  # noqa: BLE001 - offline or no key now: the History panel's refresh does it later
        st = state()
        if st is not None and catalog.is_tripo_error(exc):
            st.text = f"Could not look for a lost task in your history: {catalog.user_message(exc)}"
    return None


def when(epoch: float) -> str:
    if epoch < 0:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


class TRIPO_OT_refresh_history(OnlineOperator, bpy.types.Operator):
    """Read your Tripo account's recent tasks (made with this key anywhere) in the background"""

    bl_idname = "tripo.refresh_history"
    bl_label = "Tripo: Refresh History"
    bl_options = {'REGISTER'}

    page: IntProperty(name="Page Step", description="-1: newer page, 1: older page, 0: this page",
                      default=0, options={'SKIP_SAVE'})
    wait: BoolProperty(name="Wait", description="Wait for the answer and apply it before returning",
                       default=False, options={'SKIP_SAVE'})

    def execute(self, context):
        st = state(context)
        offset = max(0, (st.offset if st is not None else 0) + self.page * PAGE)
        try:
            request(context, offset)
        except Exception as exc:
            if not catalog.is_tripo_error(exc):
                raise
            self.report({'ERROR'}, catalog.user_message(exc))
            return {'CANCELLED'}
        if self.wait:
            runtime.background.join(60.0)
            drain.drain(context, budget=None)
            if st is not None and st.text.startswith("Could not"):
                self.report({'ERROR'}, st.text)
                return {'CANCELLED'}
            if st is not None and st.text:
                self.report({'INFO'}, st.text)
        else:
            wakeup.ensure_running(context)
        return {'FINISHED'}


class TRIPO_OT_history_import(OnlineOperator, bpy.types.Operator):
    """Download and import a finished task of your Tripo history (no new task is created)"""

    bl_idname = "tripo.history_import"
    bl_label = "Tripo: Import from History"
    bl_options = {'REGISTER'}

    task_id: StringProperty(name="Task ID", options={'SKIP_SAVE'})
    job_id: StringProperty(name="Job", description="Attach to this needs-attention job instead (its lost task)",
                           options={'SKIP_SAVE'})
    wait: BoolProperty(name="Wait", default=False, options={'SKIP_SAVE'})
    wait_timeout: FloatProperty(name="Wait Timeout", default=0.0, min=0.0, options={'SKIP_SAVE'})

    def execute(self, context):
        st = state(context)
        row = next((r for r in st.rows if r.task_id == self.task_id), None) if st is not None else None
        title = f"{catalog.label(row.task_type)} {self.task_id[:8]}" if row is not None else ""
        try:
            job_id = runtime.attach(self.task_id, title, job_id=self.job_id or None, context=context)
        except Exception as exc:
            if not catalog.is_tripo_error(exc):
                raise
            self.report({'ERROR'}, catalog.user_message(exc))
            return {'CANCELLED'}
        if st is not None and self.job_id:
            for i, item in enumerate(st.attention):
                if item.job_id == self.job_id:
                    st.attention.remove(i)
                    break
        tasklist.mirror(runtime.engine().get(job_id), context, running=True)
        if self.wait:
            return wait_for(self, context, job_id)
        wakeup.ensure_running(context)
        self.report({'INFO'}, f"Following task {self.task_id}: it is imported when downloaded")
        return {'FINISHED'}


#: What Dismiss means for a job that needs attention (tooltip and report): it stays there, with its own buttons.
JOB_STAYS = "the job stays in Needs attention (Retry sends it again; Attach by ID or Remove it in the task list)"


class TRIPO_OT_dismiss_lost(bpy.types.Operator):
    """Stop listing these possible tasks (you checked your Tripo history and want none): nothing is deleted"""

    bl_idname = "tripo.dismiss_lost"
    bl_label = "Tripo: Dismiss from History"
    bl_options = {'REGISTER'}

    job_id: StringProperty(name="Job", description="The job that sent the create", options={'SKIP_SAVE'})
    step: IntProperty(name="Step", default=0, min=0, options={'SKIP_SAVE'})
    sent_at: StringProperty(name="Sent At", description="When the create was sent (local time, seconds)",
                            options={'SKIP_SAVE'})

    @classmethod
    def description(cls, context, properties):
        st = state(context)
        item = _item(st, properties.job_id, properties.step, properties.sent_at) if st is not None else None
        if item is not None and item.kind == "lost":
            return f"Stop looking in your Tripo history for this job's task; {JOB_STAYS}. Nothing is deleted"
        return cls.__doc__

    def execute(self, context):
        owners = getattr(runtime.engine(), "owners", None)
        try:
            at = float(self.sent_at)
            if owners is None:
                raise ValueError("no owner registry")
            owners.dismiss(self.job_id, self.step, at)  # written by a thread of its own, never here
        except ValueError:
            self.report({'ERROR'}, "This entry cannot be dismissed (refresh the history and try again).")
            return {'CANCELLED'}
        st = state(context)
        item = _item(st, self.job_id, self.step, self.sent_at) if st is not None else None
        title = (item.title if item is not None else "") or self.job_id
        job = item is not None and item.kind == "lost"
        if st is not None:
            for i in reversed(range(len(st.attention))):
                it = st.attention[i]
                if it.lost_job == self.job_id and it.step == self.step and it.sent_at == self.sent_at:
                    st.attention.remove(i)
            if not st.text.startswith(("Found in your history", "Could not")):
                st.text = "; ".join(it.note for it in st.attention if it.note)
        self.report({'INFO'}, f"{title}: no longer listed by Refresh History" + (f"; {JOB_STAYS}" if job else
                              " (the record of what was sent stays)"))
        return {'FINISHED'}


def _item(st, job_id: str, step: int, sent_at: str):
    return next((it for it in st.attention if it.lost_job == job_id and it.step == step and it.sent_at == sent_at),
                None)


CLASSES = (TRIPO_PG_history_row, TRIPO_PG_attention, TRIPO_PG_history, TRIPO_OT_refresh_history,
           TRIPO_OT_history_import, TRIPO_OT_dismiss_lost)


def attach_properties() -> None:
    bpy.types.WindowManager.tripo_history = PointerProperty(type=TRIPO_PG_history)


def detach_properties() -> None:
    if hasattr(bpy.types.WindowManager, "tripo_history"):
        del bpy.types.WindowManager.tripo_history


drain.ON_BACKGROUND["history"] = apply  # (the drain hands these to us: it does not import this module)
drain.ON_LOST["history"] = look_for_lost
