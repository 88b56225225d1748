"""Main-thread side of the job engine: ``drain()`` and the modal timer operator ``tripo.poller`` that calls it.

``drain()`` takes the engine's events, mirrors the jobs into ``WindowManager.tripo.tasks``, applies background
results (balance, connection test), imports finished results and tags the sidebar for redraw. It is a plain function
so scripts and tests call it directly (timers and modal operators never run in ``blender -b`` or the bpy module).

The poller starts on demand when a job is submitted, again after a file load (``load_post``), and ends when idle.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from . import catalog, game_io, previews, runtime, scene_io

log = logging.getLogger(__name__)

TICK = 0.05  # seconds between TIMER events: a finished result waits at most this long for the main thread; an idle
# tick costs tens of microseconds (scripts/bench.py, docs/performance.md)
IDLE_TICK = 0.25  # while every worker sleeps until its next poll (nothing can arrive): fewer wake-ups of Blender
WAKE_AHEAD = 0.3  # back to TICK this long before a worker's sleep ends, so its answer is handled at once
IMPORT_BUDGET = 0.1  # seconds of imports per tick (one import always runs)
POLLER_ID = "TRIPO_OT_poller"


# ==================================================================================================== mirror
def _state(context=None):
    try:
        wm = (context or bpy.context).window_manager
    except (AttributeError, IndexError):  # no window manager yet (early startup)
        return None
    return getattr(wm, "tripo", None) if wm is not None else None


def _last_step(snap: dict) -> dict:
    steps = snap.get("steps") or []
    for step in reversed(steps):
        if step.get("task_id"):
            return step
    return steps[-1] if steps else {}


def _current_step(snap: dict) -> dict:
    steps = snap.get("steps") or []
    idx = int(snap.get("current_step") or 0)
    if 0 <= idx < len(steps):
        return steps[idx]
    return steps[-1] if steps else {}


_row_index: dict[str, int] = {}  # job id -> last known row: a hint, always checked against the row itself


def _find_item(state, job_id: str):
    """(index, row) of a job's task-list row, or (-1, None). Every update event looks its row up: with hundreds of
    rows a scan per event shows in the tick time, so the last index is tried first."""
    tasks = state.tasks
    i = _row_index.get(job_id)
    if i is not None and i < len(tasks):
        item = tasks[i]
        if item.job_id == job_id:
            return i, item
    for i, item in enumerate(tasks):
        if item.job_id == job_id:
            _row_index[job_id] = i
            return i, item
    _row_index.pop(job_id, None)
    return -1, None


def safe_text(value) -> str:
    """Text Blender can store: a lone surrogate (e.g. from a broken server message or file name) makes a string
    property raise TypeError; it is shown escaped instead."""
    text = value if isinstance(value, str) else str(value)
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def mirror(snap: dict, context=None, *, running: bool | None = None):
    """Copy a job snapshot into its task-list row (created when missing). Returns the row."""
    state = _state(context)
    if state is None or not snap.get("id"):
        return None
    _i, item = _find_item(state, snap["id"])
    if item is None:
        item = state.tasks.add()
        item.job_id = snap["id"]
        _row_index[snap["id"]] = len(state.tasks) - 1
    steps = snap.get("steps") or []
    cur = _current_step(snap)
    last = _last_step(snap)
    item.name = safe_text(snap.get("title") or snap["id"])
    item.kind = safe_text(snap.get("kind") or "")
    item.task_type = safe_text(cur.get("task_type") or last.get("task_type") or "")
    item.task_id = safe_text(cur.get("task_id") or last.get("task_id") or "")
    item.task_ids = safe_text(", ".join(snap.get("task_ids") or []))
    item.state = snap.get("state") or ""
    item.status = safe_text(cur.get("status") or "")
    item.steps = len(steps)
    item.step = min(len(steps), int(snap.get("current_step") or 0) + 1)
    item.progress = max(0, min(100, int(snap.get("progress") or 0)))
    eta = cur.get("eta")
    item.eta = int(eta) if isinstance(eta, int | float) and not snap.get("final") else -1
    qpos = cur.get("queue_position")
    item.queue_position = int(qpos) if isinstance(qpos, int | float) else -1
    item.credits = float(snap.get("credits") or 0)
    error = snap.get("error") or ""
    if not error and snap.get("state") not in ("succeeded", "cancelled"):
        error = cur.get("error") or ""
    item.error = safe_text(error)
    item.notice = safe_text(snap.get("notice") or "")
    if not item.notice and snap.get("state") == "succeeded" and not snap.get("imported"):
        if snap["id"] in _undone:
            item.notice = UNDONE_TEXT
        elif not runtime.import_here((snap.get("meta") or {}).get("scene")):
            item.notice = ELSEWHERE_TEXT
    item.can_import = bool(snap.get("can_import"))
    item.imported = bool(snap.get("imported"))
    item.final = bool(snap.get("final"))
    item.result_files = safe_text("\n".join(snap.get("result_files") or []))
    if running is not None:
        item.running = running
    elif item.final or snap.get("state") == "needs_attention":
        item.running = False
    item.updated = float(snap.get("updated") or time.time())
    preview = _preview_file(snap)
    if preview and preview != item.preview_path:
        item.preview_path = safe_text(preview)
    return item


def _preview_file(snap: dict) -> str:
    """The rendered preview image among a job's files (or the generated image of an image task)."""
    files = [f for f in snap.get("files") or [] if scene_io.is_image(f)]
    for f in files:
        if "render" in Path(f).name.lower():
            return f
    return files[-1] if files else ""


def mirror_all(context=None) -> None:
    """Rebuild the task list from the engine (register, file load)."""
    state = _state(context)
    eng = runtime.engine(create=False)
    if state is None or eng is None:
        return
    snaps = eng.jobs()
    ids = {s["id"] for s in snaps}
    for i in reversed(range(len(state.tasks))):
        if state.tasks[i].job_id not in ids:
            state.tasks.remove(i)
    for snap in snaps:
        mirror(snap, context, running=eng.is_running(snap["id"]))
    if len(state.tasks) and not 0 <= state.active_task < len(state.tasks):
        state.active_task = len(state.tasks) - 1


def remove_row(job_id: str, context=None) -> None:
    state = _state(context)
    if state is None:
        return
    i, _item = _find_item(state, job_id)
    if i >= 0:
        state.tasks.remove(i)
        state.active_task = min(state.active_task, max(0, len(state.tasks) - 1))


def tag_redraw(context=None) -> None:
    wm = (context or bpy.context).window_manager
    for window in getattr(wm, "windows", ()):
        screen = window.screen
        if screen is None:
            continue
        for area in screen.areas:
            if area.type in {'VIEW_3D', 'PREFERENCES'}:
                area.tag_redraw()


# ==================================================================================================== import
def _provenance(snap: dict) -> dict:
    last = _last_step(snap)
    task_type = last.get("task_type") or ""
    meta = snap.get("meta") or {}
    version = ""
    for step in snap.get("steps") or []:  # the generation that made the geometry decides the chain rules
        if step.get("task_type") in ("text_to_model", "image_to_model", "multiview_to_model"):
            version = (step.get("params") or {}).get("model_version") or catalog.default_model_version(
                step["task_type"]) or ""
    version = version or meta.get("model_version") or ""
    return {"tripo_task_id": last.get("task_id") or "", "tripo_task_type": task_type,
            "tripo_model_version": version}


def import_job(job_id: str, context=None, *, force: bool = False) -> scene_io.ImportResult | None:
    """Import a finished job's result into the scene (main thread). Marks it imported; returns what landed."""
    context = context or bpy.context
    eng = runtime.engine(create=False)
    if eng is None:
        return None
    snap = eng.get(job_id)
    if snap.get("state") != "succeeded" or (snap.get("imported") and not force):
        return None
    meta = snap.get("meta") or {}
    if not force and not runtime.import_here(meta.get("scene")):
        _offer_import(_state(context), job_id)  # another file is open now: the row offers Import instead
        return None
    prov = _provenance(snap)
    files = snap.get("result_files") or []
    p = runtime.prefs(context)
    options = scene_io.ImportOptions.from_prefs(p)
    same_file = _sources_here(meta)
    if same_file and meta.get("location") is not None:  # the source's place means nothing in another file
        options.location = tuple(meta["location"])
    steps = snap.get("steps") or []
    if steps and steps[0].get("task_type") == "import_model":
        options.turn = 0.0  # the user's own mesh comes back as it was sent
    if same_file and (p is None or p.hide_source):
        options.hide = list(meta.get("source_objects") or [])
    result = scene_io.ImportResult()
    special = game_io.import_special(context, snap, prov, options) if files else None  # clips, LODs
    if special is not None:
        result = special
    elif files:
        from .importers import import_result  # v3 results with their own importer (views, depth, splat, UV)

        result = import_result(context, snap, files, title=snap.get("title") or job_id, provenance=prov,
                               options=options)
    if same_file:
        _apply_outputs(snap, meta)
    _undone.discard(job_id)
    if result.objects or result.images:
        _in_scene[job_id] = prov["tripo_task_id"]  # watched: an undo may take it away again
    eng.mark_imported(job_id)
    state = _state(context)
    if state is not None:
        item = mirror(eng.get(job_id), context)
        if item is not None:
            item.saved_path = "\n".join(result.saved)
    return result


_in_scene: dict[str, str] = {}  # job id -> task id of results imported in this session (undo can remove them)
_undone: set[str] = set()  # jobs whose import an undo took away (their rows say so)
UNDONE_TEXT = "Removed by undo: press Import to bring it back"


def check_undone(context=None) -> list[str]:
    """After an undo (or redo): results whose objects are gone are no longer "imported"; their rows offer Import
    again. An import pushed from a timer has its own undo step, which Ctrl+Z, and "Adjust Last Operation" on the
    user's previous operator, can take away. Returns the job ids found gone."""
    eng = runtime.engine(create=False)
    if eng is None or not _in_scene:
        return []
    gone = [j for j, task_id in _in_scene.items() if not scene_io.result_present(task_id)]
    state = _state(context)
    for job_id in gone:
        del _in_scene[job_id]
        _undone.add(job_id)
        try:
            eng.mark_imported(job_id, False)
            item = mirror(eng.get(job_id), context)
        except KeyError:  # removed from the list meanwhile
            continue
        if item is not None and state is not None:
            item.notice = UNDONE_TEXT
    if gone:
        tag_redraw(context)
    return gone


@persistent
def _on_undo(*_args):
    try:
        check_undone()
    except Exception:
        log.exception("Tripo: checking results after undo failed")


def _sources_here(meta: dict) -> bool:
    """True when the job's source objects (stored by name) belong to the open .blend file: after another file was
    opened, a late result must not hide or tag an unrelated object that happens to have the same name."""
    return runtime.same_scene(meta.get("scene"))


def _apply_outputs(snap: dict, meta: dict) -> None:
    """Non-file outputs (prerigcheck: riggable, rig_type) go onto the source objects as custom properties."""
    for step in snap.get("steps") or []:
        out = step.get("output") or {}
        if step.get("task_type") == "animate_prerigcheck" and out:
            for name in meta.get("source_objects") or []:
                obj = bpy.data.objects.get(name)
                if obj is None:
                    continue
                if "riggable" in out:
                    obj["tripo_riggable"] = bool(out["riggable"])
                if out.get("rig_type"):
                    obj["tripo_rig_type"] = str(out["rig_type"])


def _should_autoimport(job_id: str, context) -> bool:
    p = runtime.prefs(context)
    return runtime.is_live(job_id) and (p is None or p.auto_import)


ELSEWHERE_TEXT = "Finished for another file: press Import to add it to this one"


def _offer_import(state, job_id: str) -> None:
    if state is None:
        return
    _i, item = _find_item(state, job_id)
    if item is not None and not item.imported:
        item.notice = ELSEWHERE_TEXT


# ==================================================================================================== drain
def drain(context=None, *, budget: float | None = IMPORT_BUDGET) -> int:
    """Apply pending engine events and background results on the main thread. Returns how many were handled."""
    context = context or bpy.context
    state = _state(context)
    if state is None:
        return 0
    handled = 0
    paused = runtime.pause_if_offline()
    if paused:
        handled += 1
        _mark_paused(state, paused)
        watch_access()
    try:
        runtime.ensure_resumed(context)  # once per session, when allowed (register may have been offline/keyless)
    except Exception:
        log.exception("Tripo: resuming jobs failed")
    eng = runtime.engine(create=False)
    if eng is not None:
        for event in eng.drain():
            handled += 1
            try:  # each event on its own: one that cannot be shown must not drop the rest of the batch
                _apply_event(event, context, eng)
            except Exception as exc:
                _event_failed(state, event, exc)
    for kind, ok, value in runtime.background.take():
        handled += 1
        _apply_background(state, kind, ok, value)
    start = time.monotonic()
    blocker = import_blocker(context) if runtime.pending_imports() else None
    if blocker:
        _hold_imports(state, blocker)
    while not blocker:
        job_id = runtime.take_import()
        if job_id is None:
            break
        handled += 1
        try:
            import_job(job_id, context)
        except Exception as exc:  # a broken file must not stop the poller
            log.warning("import of job %s failed: %s", job_id, exc)
            _, item = _find_item(state, job_id)
            if item is not None:
                item.error = safe_text(str(exc) if isinstance(exc, scene_io.ImportFailed) else f"Import failed: {exc}")
        if budget is not None and time.monotonic() - start > budget:
            break
    runtime.refresh_balance_if_due()  # after the imports: a result never waits for this
    if handled:
        tag_redraw(context)
    return handled


PAUSED_TEXT = "Paused: online access is off. It continues by itself when you allow it again (never sent twice)"


def _mark_paused(state, job_ids) -> None:
    for job_id in job_ids:
        _i, item = _find_item(state, job_id)
        if item is not None:
            item.notice = PAUSED_TEXT
            item.running = False


def import_blocker(context) -> str | None:
    """Why finished results wait before they are imported by themselves, or None.

    An import switches to Object Mode and changes the selection: never in the middle of an edit, a sculpt or a paint
    session, nor while a render or bake has locked the interface (Blender's rule for timers). The Import button and
    ``wait=True`` still import at once.
    """
    mode = getattr(context, "mode", 'OBJECT')
    if mode and mode != 'OBJECT':
        return "Finished: it is imported when you are back in Object Mode (or press Import)"
    wm = getattr(context, "window_manager", None)
    if wm is not None and getattr(wm, "is_interface_locked", False):
        return "Finished: it is imported when the render or bake in progress ends"
    return None


def _hold_imports(state, text: str) -> None:
    for job_id in runtime.pending_imports():
        _i, item = _find_item(state, job_id)
        if item is not None and item.notice != text:
            item.notice = text


def _apply_event(event, context, eng) -> None:
    kind = event.kind
    snap = event.snapshot or {}
    state = _state(context)
    if kind == "notice" and not event.job_id:
        state.notice = safe_text(event.message)
        return
    if snap.get("id"):
        try:
            item = mirror(snap, context, running=eng.is_running(snap["id"]))
        except Exception as exc:  # the row could not show it; the import below must still happen
            _event_failed(state, event, exc)
            item = None
        if item is not None and event.message and kind == "notice":
            item.notice = safe_text(event.message)
    if kind == "finished":
        _fetch_preview(snap)
    if kind == "finished" and snap.get("state") == "succeeded" and not snap.get("imported") \
            and not runtime.import_here((snap.get("meta") or {}).get("scene")):
        _offer_import(state, event.job_id)  # started from another file: never imported here by itself
    elif kind == "finished" and snap.get("can_import") and _should_autoimport(event.job_id, context):
        runtime.queue_import(event.job_id)
    elif kind == "finished" and not snap.get("result_files") and snap.get("state") == "succeeded" \
            and not snap.get("imported"):
        runtime.queue_import(event.job_id)  # nothing to import (e.g. prerigcheck): record the outputs
    elif kind == "failed":
        log.info("Tripo job %s failed: %s", event.job_id, snap.get("error") or event.message)
    if kind == "notice" and snap.get("state") == "needs_attention":  # a lost create: look in the history soon
        from .operators import history

        history.look_for_lost(snap)
    if kind in ("finished", "failed"):
        runtime.balance_changed()  # credits were charged or refunded: the Balance panel follows by itself


def _event_failed(state, event, exc: Exception) -> None:
    """Report an event that could not be applied (console and the job's row), safely encoded."""
    text = safe_text(f"This update could not be shown ({type(exc).__name__}: {exc}); the job itself goes on.")
    log.warning("Tripo: job %s: %s", event.job_id or "-", text)
    if state is None or not event.job_id:
        return
    try:
        _i, item = _find_item(state, event.job_id)
        if item is not None:
            item.notice = text
    except Exception:  # noqa: BLE001 - reporting must not fail the batch either
        log.debug("could not show the failure on the row", exc_info=True)


def _fetch_preview(snap: dict) -> None:
    """Ask for the rendered preview when the job downloaded none (single generation steps fetch only the model)."""
    if _preview_file(snap):
        return
    for step in reversed(snap.get("steps") or []):
        if step.get("task_id") and (step.get("output") or {}).get("preview"):
            eng = runtime.engine(create=False)
            if eng is not None:
                runtime.request_preview(snap["id"], step["task_id"], eng.download_dir / step["task_id"],
                                        output=step.get("output"))
            return


def _apply_background(state, kind: str, ok: bool, value) -> None:
    if kind == "history":  # the account's history (and lost tasks found in it): operators/history.py
        from .operators import history

        history.apply(bpy.context, ok, value)
        return
    if kind.startswith("preview-"):
        if ok and isinstance(value, dict):
            _i, item = _find_item(state, value.get("job_id", ""))
            if item is not None:
                item.preview_path = value.get("path", "")
        return
    if ok and isinstance(value, dict):
        state.balance = value.get("balance", 0.0)
        state.frozen = value.get("frozen", 0.0)
        state.balance_known = True
        state.balance_text = ""
    elif not ok:
        state.balance_text = str(value)
    if kind == "connection":
        state.checking = False
        state.connection_ok = ok
        if ok:
            state.connection_text = f"Connected: {format_credits(state.balance)} credits available"
        else:
            state.connection_text = f"Connection failed: {value}"
    elif kind == "balance":
        state.checking = False


def format_credits(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


# ==================================================================================================== the operator
def poller_running(context=None) -> bool:
    wm = (context or bpy.context).window_manager
    for window in getattr(wm, "windows", ()):
        for op in window.modal_operators:
            # an entry goes stale once its operator type is unregistered (Blender frees it on the next event)
            try:
                if op is not None and op.bl_idname == POLLER_ID:
                    return True
            except (AttributeError, ReferenceError, ValueError):
                continue
    return False


_timers: list = []  # the running poller's window-manager timer (removed on unregister too)
_pace = [TICK]  # the running poller's current interval


def pace(handled: int = 0, context=None) -> float:
    """The poller's next interval: :data:`TICK` while anything may arrive (events just came, imports or background
    calls pending, a worker in a request or about to wake), :data:`IDLE_TICK` while every worker sleeps (and while
    finished results only wait for the user to leave Edit Mode)."""
    if handled or runtime.background.active():
        return TICK
    if runtime.pending_imports() and import_blocker(context or bpy.context) is None:
        return TICK
    eng = runtime.engine(create=False)
    nxt = eng.next_activity() if eng is not None and hasattr(eng, "next_activity") else None
    if nxt is None or nxt - time.monotonic() < WAKE_AHEAD + IDLE_TICK:
        return TICK
    return IDLE_TICK


def current_pace() -> float:
    """The interval the poller runs at now (scripts/bench.py follows it, as Blender's timer does)."""
    return _pace[0]


def _set_pace(op, context, interval: float) -> None:
    if interval == _pace[0]:
        return
    _pace[0] = interval
    timer = getattr(op, "_timer", None)
    if timer is None or context.window is None:
        return
    wm = context.window_manager
    _stop_timer(op, context)
    op._timer = wm.event_timer_add(interval, window=context.window)
    _timers.append(op._timer)


def _stop_timer(op, context) -> None:
    timer = getattr(op, "_timer", None)
    if timer is not None:
        context.window_manager.event_timer_remove(timer)
        op._timer = None
        if timer in _timers:
            _timers.remove(timer)


def _remove_timers() -> None:
    wm = bpy.context.window_manager
    while _timers:
        timer = _timers.pop()
        try:
            wm.event_timer_remove(timer)
        except (ReferenceError, RuntimeError, ValueError):
            pass


class TRIPO_OT_poller(bpy.types.Operator):
    """Apply Tripo task updates and import finished results (runs in the background until idle)"""

    bl_idname = "tripo.poller"
    bl_label = "Tripo Task Poller"
    bl_options = {'INTERNAL'}

    _timer = None

    def execute(self, context):
        return self.invoke(context, None)

    def invoke(self, context, _event):
        if context.window is None or poller_running(context):
            return {'CANCELLED'}
        self._timer = context.window_manager.event_timer_add(TICK, window=context.window)
        _pace[0] = TICK
        _timers.append(self._timer)
        context.window_manager.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        handled = 0
        try:
            handled = drain(context)
        except Exception:
            log.exception("Tripo poller: drain failed")
        if not runtime.busy():
            _stop_timer(self, context)
            return {'FINISHED'}
        _set_pace(self, context, pace(handled, context))
        return {'PASS_THROUGH'}

    def cancel(self, context):
        # Blender ends modal operators with their window (a closed Preferences or second window, a file load):
        # start again on a main window while there is work, so the task list never freezes.
        _stop_timer(self, context)
        if _installed and not bpy.app.timers.is_registered(_start_soon):
            bpy.app.timers.register(_start_soon, first_interval=0.2)


def _host_window(context):
    """The window the poller lives in: one showing a 3D viewport (else the first), never a passing Preferences or
    file-browser window that the user is about to close."""
    wm = context.window_manager
    windows = list(getattr(wm, "windows", ()) or ())
    for window in windows:
        screen = window.screen
        if screen is not None and any(area.type == 'VIEW_3D' for area in screen.areas):
            return window
    return windows[0] if windows else context.window


def ensure_running(context=None) -> bool:
    """Start the poller if a window exists and it is not running yet."""
    context = context or bpy.context
    if bpy.app.background or poller_running(context):
        return False
    window = _host_window(context)
    if window is None:
        return False
    try:
        with context.temp_override(window=window):
            return 'RUNNING_MODAL' in bpy.ops.tripo.poller('INVOKE_DEFAULT')
    except (RuntimeError, AttributeError):
        return False


def _start_soon():
    """One-shot timer after register/load: resume jobs and start the poller when there is work."""
    try:
        runtime.ensure_resumed()
        mirror_all()
        if runtime.busy():
            ensure_running()
        if not runtime.resumed():
            watch_access()
    except Exception:
        log.exception("Tripo: starting the poller failed")
    return None


WATCH_INTERVAL = 1.0  # seconds; a check costs microseconds (no network)


def _watch_access():
    """Timer while unfinished jobs cannot be followed (online access off, no key): once Tripo can be reached again,
    resume them and start the poller. Blender has no event for the online-access preference, hence the timer."""
    if not _installed:
        return None
    try:
        if runtime.unavailable_reason() is not None:
            return WATCH_INTERVAL
    except Exception:  # preferences half gone (unregister): stop watching
        return None
    _start_soon()
    return None


def watch_access() -> None:
    if not bpy.app.background and _installed and not bpy.app.timers.is_registered(_watch_access):
        bpy.app.timers.register(_watch_access, first_interval=WATCH_INTERVAL)


@persistent
def _on_load_post(*_args):
    # WindowManager properties were reset and modal operators ended with the old file: rebuild both.
    runtime.file_loaded()
    _in_scene.clear()  # another file: its undo history has nothing to do with earlier imports
    _undone.clear()
    try:
        mirror_all()
    except Exception:
        log.exception("Tripo: rebuilding the task list failed")
    if not bpy.app.background and not bpy.app.timers.is_registered(_start_soon):
        bpy.app.timers.register(_start_soon, first_interval=0.2)


_installed = False  # between install() and uninstall(): a cancelled poller may ask for a restart


def install() -> None:
    """Add the load_post handler; mirror the journal; resume (if allowed) and start the poller soon."""
    global _installed
    _installed = True
    if _on_load_post not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_on_load_post)
    for handlers in (bpy.app.handlers.undo_post, bpy.app.handlers.redo_post):
        if _on_undo not in handlers:
            handlers.append(_on_undo)
    runtime.engine()  # reads the journal (no network) so the task list shows earlier jobs
    runtime.ensure_resumed()
    mirror_all()
    if not bpy.app.background and not bpy.app.timers.is_registered(_start_soon):
        bpy.app.timers.register(_start_soon, first_interval=0.5)


def uninstall() -> None:
    global _installed
    _installed = False
    _remove_timers()  # a running poller dies with its class; its timer must not outlive it
    while _on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_on_load_post)
    for handlers in (bpy.app.handlers.undo_post, bpy.app.handlers.redo_post):
        while _on_undo in handlers:
            handlers.remove(_on_undo)
    _in_scene.clear()
    _undone.clear()
    for fn in (_start_soon, _watch_access):
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)
    runtime.shutdown()
    previews.clear()


CLASSES = (TRIPO_OT_poller,)
