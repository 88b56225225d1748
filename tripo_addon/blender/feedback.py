"""Feedback wherever the artist is, even with the Tripo tab closed:

- a status-bar item (a draw function appended to ``STATUSBAR_HT_header``): running jobs with their progress and, on
  v3 too, an ETA learnt from finished tasks of the same type ("about 40 s left"); then the last job that finished,
  failed or needs attention, for a while;
- a report in the status bar and the Info log for each job that finished, failed or needs attention: a timer cannot
  call ``self.report``, so it runs the tiny ``tripo.report`` operator.

A light persistent timer (it survives file loads; :data:`INTERVAL`) watches the task list: no network, no bpy
data other than the rows.
"""

from __future__ import annotations

import logging
import time

import bpy
from bpy.props import EnumProperty, StringProperty

from . import runtime
from .ui_text import durations, eta_seconds, eta_text

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between looks at the task list
SHOW_DONE = 20.0  # seconds a finished job stays in the status bar
SHOW_FAILED = 60.0  # ... a failed one
SNAPSHOT_AGE = 1.0  # engine snapshots for the ETA are re-read at most this often

_seen: dict[str, str] = {}  # job id -> last state seen (survives file loads: old jobs are never reported again)
_baseline = [False]  # the first look records what is there without reporting it
_last: dict = {"text": "", "level": "", "until": 0.0}
_status = {"text": "", "draws": 0}
_snaps: dict = {"at": -1e9, "by_id": {}, "learnt": {}}
reported: list[tuple[str, str]] = []  # (level, message) of every report made this session (tests, the GUI run)


# ==================================================================================================== ETA
def _refresh_snapshots() -> None:
    now = time.monotonic()
    if now - _snaps["at"] < SNAPSHOT_AGE:
        return
    _snaps["at"] = now
    eng = runtime.engine(create=False)
    if eng is None:
        _snaps.update(by_id={}, learnt={})
        return
    try:
        snaps = eng.jobs()
    except Exception:  # noqa: BLE001 - an ETA must never break drawing
        return
    _snaps["by_id"] = {s.get("id"): s for s in snaps}
    _snaps["learnt"] = durations(snaps)


def learnt_eta(job_id: str) -> int | None:
    """Seconds left for a job's current step, from Tripo's estimate or the durations of finished tasks of the same
    type (this session and the job log), or None."""
    _refresh_snapshots()
    snap = _snaps["by_id"].get(job_id)
    if not snap or snap.get("final"):
        return None
    steps = snap.get("steps") or []
    idx = int(snap.get("current_step") or 0)
    if not 0 <= idx < len(steps):
        return None
    return eta_seconds(steps[idx], _snaps["learnt"])


# ==================================================================================================== status bar
def status_text(context=None) -> tuple[str, str]:
    """(text, level) of the status-bar item: "" when there is nothing to say; level "", "INFO" or "ERROR"."""
    state = getattr((context or bpy.context).window_manager, "tripo", None)
    if state is None:
        return "", ""
    running = [t for t in state.tasks if not t.final and t.state != "needs_attention" and t.running]
    if running:
        if len(running) == 1:
            t = running[0]
            left = t.eta if t.eta >= 0 else learnt_eta(t.job_id)
            eta = eta_text(left)
            return f"Tripo: {_short(t.name)} {t.progress}%" + (f" \u00b7 {eta}" if eta else ""), ""
        avg = sum(t.progress for t in running) // len(running)
        return f"Tripo: {len(running)} jobs running \u00b7 {avg}%", ""
    if _last["text"] and time.monotonic() < _last["until"]:
        return _last["text"], _last["level"]
    return "", ""


def _short(text: str, n: int = 32) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"


def draw_status(self, context):
    """Appended to STATUSBAR_HT_header: Tripo's running jobs and last outcome, wherever the artist is."""
    try:
        text, level = status_text(context)
    except Exception:  # noqa: BLE001 - never break Blender's status bar
        return
    _status["draws"] += 1
    _status["text"] = text
    if not text:
        return
    row = self.layout.row(align=True)
    row.alert = level == "ERROR"
    icon = {'ERROR': 'ERROR', 'INFO': 'CHECKMARK'}.get(level, 'SORTTIME')
    row.label(text=text, icon=icon)


def last_status() -> dict:
    """What the status-bar item last drew and how often it was drawn (for the GUI test)."""
    return dict(_status)


# ==================================================================================================== reports
class TRIPO_OT_report(bpy.types.Operator):
    """Show a Tripo message in the status bar and the Info log"""

    bl_idname = "tripo.report"
    bl_label = "Tripo Report"
    bl_options = {'INTERNAL'}

    level: EnumProperty(items=(('INFO', "Info", ""), ('WARNING', "Warning", ""), ('ERROR', "Error", "")),
                        default='INFO', options={'SKIP_SAVE', 'HIDDEN'})
    message: StringProperty(options={'SKIP_SAVE', 'HIDDEN'})

    def execute(self, _context):
        self.report({self.level}, self.message)
        return {'FINISHED'}


def report(level: str, message: str, reporter=None) -> None:
    """A report in the status bar and the Info log: through ``reporter`` (the running poller's ``self.report``: a
    modal operator's reports reach both), else the tiny ``tripo.report`` operator (a timer cannot report)."""
    reported.append((level, message))
    if len(reported) > 200:
        del reported[:100]
    if reporter is not None:
        try:
            reporter({level}, message[:500])
            return
        except Exception:  # noqa: BLE001 - fall back to the operator
            log.debug("poller report failed", exc_info=True)
    try:
        bpy.ops.tripo.report(level=level, message=message[:500])
    except RuntimeError:  # an ERROR report called from Python raises once it is stored; nothing else to do
        pass
    except Exception:  # noqa: BLE001 - no window yet, or unregistering
        log.debug("report skipped", exc_info=True)


def _outcome(item) -> tuple[str, str] | None:
    if item.state == "succeeded":
        where = "" if item.imported or not item.can_import else " (press Import in the Tasks panel)"
        return "INFO", f"Tripo: \u201c{_short(item.name, 48)}\u201d finished{where}"
    if item.state == "failed":
        return "ERROR", f"Tripo: \u201c{_short(item.name, 48)}\u201d failed: {item.error or 'see the Tasks panel'}"
    if item.state == "needs_attention":
        why = item.error or item.notice or "see the Tasks panel"
        return "WARNING", f"Tripo: \u201c{_short(item.name, 48)}\u201d needs attention: {why}"
    return None


def look(context=None, reporter=None) -> list[tuple[str, str]]:
    """Report jobs that finished, failed or need attention since the last look (the poller calls this after every
    drain with its ``self.report``; the timer when no poller runs). Returns what was reported."""
    state = getattr((context or bpy.context).window_manager, "tripo", None)
    if state is None:
        return []
    out = []
    first = not _baseline[0]
    _baseline[0] = True
    for item in state.tasks:
        prev = _seen.get(item.job_id)
        now = item.state
        if prev == now:
            continue
        _seen[item.job_id] = now
        if first or now not in ("succeeded", "failed", "needs_attention"):
            continue
        if prev is None and item.final and not item.running and item.imported:
            continue  # an old job shown again (e.g. after a file load)
        outcome = _outcome(item)
        if outcome is None:
            continue
        level, message = outcome
        report(level, message, reporter)
        if level == "INFO" and _last["level"] == "ERROR" and time.monotonic() < _last["until"]:
            continue  # a failure on screen stays there until it expires (a success does not hide it)
        _last.update(text=_short(message, 90), level="ERROR" if level != "INFO" else "INFO",
                     until=time.monotonic() + (SHOW_DONE if level == "INFO" else SHOW_FAILED))
        out.append(outcome)
    _refresh_status(context)
    return out


def _refresh_status(context=None) -> None:
    """Redraw the status bar when its text changed (progress, the ETA, an outcome shown or expired)."""
    text = status_text(context)[0]
    if text != _status.get("shown"):
        _status["shown"] = text
        _tag_status_bar(context)


def _tag_status_bar(context=None) -> None:
    """Redraw the status bar of every window (clearing the workspace's status text does that; skipped while another
    modal operator, e.g. a transform, may be showing its own status text there)."""
    wm = (context or bpy.context).window_manager
    for win in getattr(wm, "windows", ()):
        try:
            if any(op.bl_idname != "TRIPO_OT_poller" for op in win.modal_operators):
                continue
            workspace = win.workspace
            with bpy.context.temp_override(window=win, workspace=workspace):
                workspace.status_text_set_internal(None)
        except Exception:  # noqa: BLE001 - a redraw is never worth an error
            log.debug("status bar redraw skipped", exc_info=True)


def _tick():
    try:
        from .wakeup import poller_running

        if poller_running():
            _refresh_status()  # (the running poller looks after each drain, and reports through itself)
        else:
            look()
    except Exception:  # noqa: BLE001 - a broken look must not stop the timer
        log.debug("feedback look failed", exc_info=True)
    return INTERVAL


def install() -> None:
    bpy.types.STATUSBAR_HT_header.append(draw_status)
    if not bpy.app.background and not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=INTERVAL, persistent=True)


def uninstall() -> None:
    try:
        bpy.types.STATUSBAR_HT_header.remove(draw_status)
    except (ValueError, AttributeError):
        pass
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    _baseline[0] = False
    _last.update(text="", level="", until=0.0)


CLASSES = (TRIPO_OT_report,)
