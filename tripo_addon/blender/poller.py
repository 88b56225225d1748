"""The modal timer operator ``tripo.poller``: it calls :func:`~.drain.drain` on every tick and paces itself
(:data:`TICK` while anything may arrive, :data:`IDLE_TICK` while every worker sleeps), and ends when idle.

:func:`install` / :func:`uninstall` (register) add the file-load and undo handlers; :mod:`.wakeup` starts the poller
when there is work. What a tick does is in :mod:`.drain`, the task list in :mod:`.tasklist`, imports in
:mod:`.job_import`.
"""

from __future__ import annotations

import logging
import time

import bpy
from bpy.app.handlers import persistent

from . import job_import, previews, runtime, wakeup
from .drain import drain, import_blocker
from .tasklist import mirror_all

log = logging.getLogger(__name__)

TICK = 0.05  # seconds between TIMER events: a finished result waits at most this long for the main thread; an idle
# tick costs tens of microseconds (scripts/bench.py, docs/performance.md)
IDLE_TICK = 0.25  # while every worker sleeps until its next poll (nothing can arrive): fewer wake-ups of Blender
WAKE_AHEAD = 0.3  # back to TICK this long before a worker's sleep ends, so its answer is handled at once


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
        if context.window is None or wakeup.poller_running(context):
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
        try:  # jobs that ended: reported in the status bar and the Info log (ui: issue 18)
            from . import feedback

            feedback.look(context, reporter=self.report)
        except Exception:
            log.debug("Tripo poller: feedback failed", exc_info=True)
        if not runtime.busy():
            _stop_timer(self, context)
            return {'FINISHED'}
        _set_pace(self, context, pace(handled, context))
        return {'PASS_THROUGH'}

    def cancel(self, context):
        # Blender ends modal operators with their window (a closed Preferences or second window, a file load):
        # start again on a main window while there is work, so the task list never freezes.
        _stop_timer(self, context)
        if wakeup.enabled() and not bpy.app.timers.is_registered(wakeup.start_soon):
            bpy.app.timers.register(wakeup.start_soon, first_interval=0.2)


@persistent
def _on_load_post(*_args):
    # WindowManager properties were reset and modal operators ended with the old file: rebuild both.
    runtime.file_loaded()
    job_import.forget()  # another file: its undo history has nothing to do with earlier imports
    try:
        mirror_all()
    except Exception:
        log.exception("Tripo: rebuilding the task list failed")
    if not bpy.app.background and not bpy.app.timers.is_registered(wakeup.start_soon):
        bpy.app.timers.register(wakeup.start_soon, first_interval=0.2)


def install() -> None:
    """Add the load_post and undo handlers; mirror the journal; resume (if allowed) and start the poller soon."""
    wakeup.enable()  # from now on a cancelled poller may ask for a restart
    if _on_load_post not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(_on_load_post)
    for handlers in (bpy.app.handlers.undo_post, bpy.app.handlers.redo_post):
        if job_import.on_undo not in handlers:
            handlers.append(job_import.on_undo)
    runtime.engine()  # reads the journal (no network) so the task list shows earlier jobs
    runtime.ensure_resumed()
    mirror_all()
    if not bpy.app.background and not bpy.app.timers.is_registered(wakeup.start_soon):
        bpy.app.timers.register(wakeup.start_soon, first_interval=0.5)


def uninstall() -> None:
    wakeup.disable()
    _remove_timers()  # a running poller dies with its class; its timer must not outlive it
    while _on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_on_load_post)
    for handlers in (bpy.app.handlers.undo_post, bpy.app.handlers.redo_post):
        while job_import.on_undo in handlers:
            handlers.remove(job_import.on_undo)
    job_import.forget()
    runtime.shutdown()
    previews.clear()


CLASSES = (TRIPO_OT_poller,)
