"""``drain()``: the main thread's share of the job engine, called by the poller on every tick (and directly by
scripts, tests and ``wait=True`` operators: timers and modal operators never run in ``blender -b`` or the bpy module).

It pauses the engine when online access was turned off, applies the engine's events to the task list, applies
background results (balance, connection test, previews, history), imports finished results (within a time budget,
never during an edit or a locked interface) and tags the sidebar for redraw.
"""

from __future__ import annotations

import logging
import time

import bpy

from . import job_import, runtime, scene_io, wakeup
from .tasklist import find_row, format_credits, mirror, offer_import, preview_file, safe_text, tag_redraw, task_state

log = logging.getLogger(__name__)

#: who applies which background result, by kind, and who looks for lost creates: filled by the modules that own
#: them (operators/history.py), so the drain imports none of the operators that call it
ON_BACKGROUND: dict = {}
ON_LOST: dict = {}
IMPORT_BUDGET = 0.1  # seconds of imports per tick (one import always runs)


def drain(context=None, *, budget: float | None = IMPORT_BUDGET) -> int:
    """Apply pending engine events and background results on the main thread. Returns how many were handled."""
    context = context or bpy.context
    state = task_state(context)
    if state is None:
        return 0
    handled = 0
    paused = runtime.pause_if_offline()
    if paused:
        handled += 1
        _mark_paused(state, paused)
        wakeup.watch_access()
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
            job_import.import_job(job_id, context)
        except Exception as exc:  # a broken file must not stop the poller
            log.warning("import of job %s failed: %s", job_id, exc)
            _, item = find_row(state, job_id)
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
        _i, item = find_row(state, job_id)
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
        _i, item = find_row(state, job_id)
        if item is not None and item.notice != text:
            item.notice = text


def _apply_event(event, context, eng) -> None:
    kind = event.kind
    snap = event.snapshot or {}
    state = task_state(context)
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
        offer_import(state, event.job_id)  # started from another file: never imported here by itself
    elif kind == "finished" and snap.get("can_import") and job_import.should_autoimport(event.job_id, context):
        runtime.queue_import(event.job_id)
    elif kind == "finished" and not snap.get("result_files") and snap.get("state") == "succeeded" \
            and not snap.get("imported"):
        runtime.queue_import(event.job_id)  # nothing to import (e.g. prerigcheck): record the outputs
    elif kind == "failed":
        log.info("Tripo job %s failed: %s", event.job_id, snap.get("error") or event.message)
    if kind == "notice" and snap.get("state") == "needs_attention":  # a lost create: look in the history soon
        for look in list(ON_LOST.values()):
            look(snap)
    if kind in ("finished", "failed"):
        runtime.balance_changed()  # credits were charged or refunded: the Balance panel follows by itself


def _event_failed(state, event, exc: Exception) -> None:
    """Report an event that could not be applied (console and the job's row), safely encoded."""
    text = safe_text(f"This update could not be shown ({type(exc).__name__}: {exc}); the job itself goes on.")
    log.warning("Tripo: job %s: %s", event.job_id or "-", text)
    if state is None or not event.job_id:
        return
    try:
        _i, item = find_row(state, event.job_id)
        if item is not None:
            item.notice = text
    except Exception:  # noqa: BLE001 - reporting must not fail the batch either
        log.debug("could not show the failure on the row", exc_info=True)


def _fetch_preview(snap: dict) -> None:
    """Ask for the rendered preview when the job downloaded none (single generation steps fetch only the model)."""
    if preview_file(snap):
        return
    for step in reversed(snap.get("steps") or []):
        if step.get("task_id") and (step.get("output") or {}).get("preview"):
            eng = runtime.engine(create=False)
            if eng is not None:
                runtime.request_preview(snap["id"], step["task_id"], eng.download_dir / step["task_id"],
                                        output=step.get("output"))
            return


def _apply_background(state, kind: str, ok: bool, value) -> None:
    handler = ON_BACKGROUND.get(kind)
    if handler is not None:  # e.g. "history": the account's history and lost tasks found in it (operators/history.py)
        handler(bpy.context, ok, value)
        return
    if kind.startswith("preview-"):
        if ok and isinstance(value, dict):
            _i, item = find_row(state, value.get("job_id", ""))
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
