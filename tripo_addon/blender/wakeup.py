"""Starting the poller (the ``tripo.poller`` modal operator, :mod:`.poller`) when there is work: at once when a job
is submitted (:func:`ensure_running`), shortly after register and file loads (:func:`start_soon`), and when online
access comes back after jobs were paused (:func:`watch_access`)."""

from __future__ import annotations

import logging

import bpy

from . import runtime, settings
from .tasklist import mirror_all

log = logging.getLogger(__name__)

POLLER_ID = "TRIPO_OT_poller"
WATCH_INTERVAL = 1.0  # seconds; a check costs microseconds (no network)
_enabled = False  # between enable() and disable() (the add-on's register/unregister)


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


def start_soon():
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


def _watch_access():
    """Timer while unfinished jobs cannot be followed (online access off, no key): once Tripo can be reached again,
    resume them and start the poller. Blender has no event for the online-access preference, hence the timer."""
    if not _enabled:
        return None
    try:
        if settings.unavailable_reason() is not None:
            return WATCH_INTERVAL
    except Exception:  # preferences half gone (unregister): stop watching
        return None
    start_soon()
    return None


def watch_access() -> None:
    if not bpy.app.background and _enabled and not bpy.app.timers.is_registered(_watch_access):
        bpy.app.timers.register(_watch_access, first_interval=WATCH_INTERVAL)


def enable() -> None:
    global _enabled
    _enabled = True


def disable() -> None:
    """Stop asking for a start (unregister): no poller restart, no access watching."""
    global _enabled
    _enabled = False
    for fn in (start_soon, _watch_access):
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)


def enabled() -> bool:
    return _enabled
