"""The task list (``WindowManager.tripo.tasks``): one row per job, mirrored from the engine's snapshots.

Rows are found by job id (:func:`find_row`), filled by :func:`mirror` and rebuilt by :func:`mirror_all` (register,
file load). Main thread only.
"""

from __future__ import annotations

import time
from pathlib import Path

import bpy

from . import runtime, scene_io

UNDONE_TEXT = "Removed by undo: press Import to bring it back"
ELSEWHERE_TEXT = "Finished for another file: press Import to add it to this one"
#: Tripo keeps task records about this many days (tripo-api-v3.md §18 R1)
RETENTION_DAYS = 7
EXPIRED_KEPT = ("Tripo's copy has expired (it keeps tasks about 7 days); your downloaded copy is kept: Import uses "
                "it, and a next step sends it again for free")
EXPIRED_GONE = ("Tripo's copy has expired (it keeps tasks about 7 days) and no downloaded copy is left: "
                "generate it again")


def expired_notice(snap: dict, now: float | None = None) -> str:
    """What a succeeded job's row says once Tripo has forgotten its tasks ("" while Tripo still keeps them)."""
    if snap.get("state") != "succeeded":
        return ""
    ends = [s.get("finished_at") for s in snap.get("steps") or [] if isinstance(s.get("finished_at"), int | float)]
    done = max(ends) if ends else snap.get("updated")
    if not isinstance(done, int | float) or (now or time.time()) - done < RETENTION_DAYS * 86400:
        return ""
    files = snap.get("result_files") or snap.get("files") or []
    return EXPIRED_KEPT if any(Path(f).is_file() for f in files if isinstance(f, str)) else EXPIRED_GONE
undone: set[str] = set()  # jobs whose import an undo took away (their rows say so; see job_import.check_undone)


def task_state(context=None):
    """``WindowManager.tripo`` (the task list, balance, notices), or None early at startup."""
    try:
        wm = (context or bpy.context).window_manager
    except (AttributeError, IndexError):  # no window manager yet (early startup)
        return None
    return getattr(wm, "tripo", None) if wm is not None else None


def last_step(snap: dict) -> dict:
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


def find_row(state, job_id: str):
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
    state = task_state(context)
    if state is None or not snap.get("id"):
        return None
    _i, item = find_row(state, snap["id"])
    if item is None:
        item = state.tasks.add()
        item.job_id = snap["id"]
        _row_index[snap["id"]] = len(state.tasks) - 1
    steps = snap.get("steps") or []
    cur = _current_step(snap)
    last = last_step(snap)
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
        if snap["id"] in undone:
            item.notice = UNDONE_TEXT
        elif not runtime.import_here((snap.get("meta") or {}).get("scene")):
            item.notice = ELSEWHERE_TEXT
    if not item.notice:
        item.notice = expired_notice(snap)
    item.can_import = bool(snap.get("can_import"))
    item.imported = bool(snap.get("imported"))
    item.final = bool(snap.get("final"))
    item.result_files = safe_text("\n".join(snap.get("result_files") or []))
    if running is not None:
        item.running = running
    elif item.final or snap.get("state") == "needs_attention":
        item.running = False
    item.updated = float(snap.get("updated") or time.time())
    preview = preview_file(snap)
    if preview and preview != item.preview_path:
        item.preview_path = safe_text(preview)
    return item


def preview_file(snap: dict) -> str:
    """The rendered preview image among a job's files (or the generated image of an image task)."""
    files = [f for f in snap.get("files") or [] if scene_io.is_image(f)]
    for f in files:
        name = Path(f).name.lower()
        if "render" in name or "preview" in name:  # files are named by output key ("preview.webp")
            return f
    return files[-1] if files else ""


def mirror_all(context=None) -> None:
    """Rebuild the task list from the engine (register, file load)."""
    state = task_state(context)
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
    state = task_state(context)
    if state is None:
        return
    i, _item = find_row(state, job_id)
    if i >= 0:
        state.tasks.remove(i)
        state.active_task = min(state.active_task, max(0, len(state.tasks) - 1))


def redraw_regions(context=None) -> list:
    """What shows the task list and must redraw when it changes: the sidebar (the ``UI`` region) of every 3D View,
    and the add-on page of a Preferences window. Never a whole 3D View: redrawing the viewport on every handled
    tick costs a scene redraw for a progress number."""
    wm = (context or bpy.context).window_manager
    out = []
    for window in getattr(wm, "windows", ()):
        screen = window.screen
        if screen is None:
            continue
        for area in screen.areas:
            if area.type == 'VIEW_3D':
                out += [r for r in area.regions if r.type == 'UI']
            elif area.type == 'PREFERENCES':
                out += [r for r in area.regions if r.type == 'WINDOW']
    return out


def tag_redraw(context=None) -> None:
    for region in redraw_regions(context):
        region.tag_redraw()


def offer_import(state, job_id: str) -> None:
    """The row of a result that is not imported by itself (another file is open) offers Import."""
    if state is None:
        return
    _i, item = find_row(state, job_id)
    if item is not None and not item.imported:
        item.notice = ELSEWHERE_TEXT


def format_credits(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
