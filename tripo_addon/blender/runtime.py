"""The one job Engine of this Blender session: creating it, submitting, attaching and retrying jobs, resuming them
when online access allows, pausing them when it is turned off, the queue of results to import, and the background
requests of the session (balance, preview images).

Settings and the client factory are in :mod:`.settings`; the background threads in :mod:`.background`. Everything
here runs on the main thread.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import bpy

from . import catalog, settings
from .background import Background
from .settings import download_dir, download_dir_problem, offline_reason, prefs, state_dir, unavailable_reason

log = logging.getLogger(__name__)

#: Extra keyword arguments for the Engine (tests shorten the poll interval here).
engine_options: dict[str, Any] = {}

#: How long quitting waits for the answer to a create in flight (seconds).
QUIT_SUBMIT_GRACE = 1.0

_engine = None
_resumed = False
_live: set[str] = set()  # jobs followed in this session: their results import by themselves
_pending_imports: list[str] = []
_previews_requested: set[str] = set()


# ==================================================================================================== settings
def refresh_config(context=None) -> None:
    """Snapshot the client settings from the preferences (main thread); the running engine follows the download
    folder."""
    p = settings.snapshot_config(context)
    if _engine is not None and p is not None:
        _engine.download_dir = download_dir(p)


def parallel_changed(context=None) -> None:
    """"Parallel Tasks" changed: the running engine follows at once (no restart)."""
    p = prefs(context)
    if _engine is not None and p is not None:
        _engine.set_max_parallel(p.max_parallel)


def settings_changed() -> None:
    """Preferences update callback: the next client uses the new settings; jobs that waited because they were made
    with the key or address now chosen again follow their tasks again."""
    try:
        refresh_config()
    except Exception:  # during registration or with the add-on half disabled
        log.debug("settings snapshot skipped", exc_info=True)
        return
    if _engine is not None and _resumed and offline_reason() is None:
        try:
            _live.update(_engine.follow_identity())
        except Exception:  # noqa: BLE001 - a preferences callback never raises
            log.debug("follow_identity skipped", exc_info=True)


# ==================================================================================================== engine
def engine(create: bool = True):
    """The session's Engine (created on first use; creating it reads the journal, no network)."""
    global _engine
    if _engine is None and create:
        from ..jobs.engine import Engine

        refresh_config()
        p = prefs()
        options = {"max_parallel": p.max_parallel if p is not None else 10, "api": settings.current_api,
                   **engine_options}
        _engine = Engine(settings.make_client, state_dir(), download_dir(p), **options)
    return _engine


def ensure_resumed(context=None) -> list[str]:
    """Resume unfinished jobs once per session, and only when network access is allowed. Returns started ids."""
    global _resumed
    if _resumed or unavailable_reason(context) is not None:
        return []
    refresh_config(context)
    started = engine().resume()
    _resumed = True
    _live.update(started)
    return started


def resumed() -> bool:
    """True once this session follows the journal's unfinished jobs (False while offline or without a key)."""
    return _resumed


def pause_if_offline() -> list[str]:
    """Online access was turned off while jobs run: stop their workers, keep the jobs resumable (main thread).

    Returns the paused job ids. ``ensure_resumed`` continues them once access is allowed again; no task is sent
    twice (a request already on its way completes and is recorded)."""
    global _resumed
    eng = _engine
    if eng is None or not eng.active() or offline_reason() is None:
        return []
    paused = eng.pause()
    _resumed = False
    return paused


def _check_can_send(context) -> None:
    """Refuse (TripoValidationError) when nothing can be sent or results could not be saved; else snapshot the
    settings."""
    reason = unavailable_reason(context) or download_dir_problem(prefs(context))
    if reason:
        raise catalog.validation_error(reason)
    refresh_config(context)


def submit(job, context=None) -> str:
    """Validate and start a job; raises a TripoError (validation errors before anything is sent)."""
    _check_can_send(context)
    eng = engine()
    ensure_resumed(context)
    job.meta.setdefault("scene", scene_token())  # its result belongs to this file (auto-imported only here)
    job_id = eng.submit(job)
    _live.add(job_id)
    return job_id


def attach(task_id: str, title: str = "", *, job_id: str | None = None, context=None, notice: str = "") -> str:
    _check_can_send(context)
    eng = engine()
    ensure_resumed(context)
    new_id = eng.attach(task_id, title, job_id=job_id, notice=notice) if job_id else eng.attach(task_id, title)
    if not job_id:
        eng.set_meta(new_id, "scene", scene_token())
    _live.add(new_id)
    return new_id


def retry(job_id: str, context=None) -> None:
    _check_can_send(context)
    engine().retry(job_id)
    _live.add(job_id)


# ==================================================================================================== files and imports
_file_generation = 0  # bumped on every file load (Save As keeps it: the same objects are still there)


def file_loaded() -> None:
    global _file_generation
    _file_generation += 1


def scene_token() -> dict:
    """Which open file a job's source objects (stored by name) belong to."""
    return {"file": bpy.data.filepath, "gen": _file_generation, "pid": os.getpid()}


def same_scene(token: dict | None) -> bool:
    """True when ``token`` (from :func:`scene_token`) names the file open now: the same load in this process, or,
    after a restart, the same saved file opened again."""
    if not token:
        return True
    if token.get("pid") == os.getpid():
        return token.get("gen") == _file_generation
    return bool(token.get("file")) and token.get("file") == bpy.data.filepath


def import_here(token: dict | None) -> bool:
    """True when a result whose job carries ``token`` may import by itself into the file open now: the file it was
    started from (the same load in this process, or that saved file opened again after a restart). A job started in
    an unsaved file may still land in the unsaved scene Blender starts with after a restart (never in a saved file).
    Jobs without a token (older journals, engine scripts) import anywhere, as before."""
    if not token:
        return True
    if token.get("file") and token.get("file") == bpy.data.filepath:
        return True  # that saved file (again)
    if token.get("pid") == os.getpid():
        return token.get("gen") == _file_generation
    return (token.get("file") or "") == bpy.data.filepath


def is_live(job_id: str) -> bool:
    return job_id in _live


def queue_import(job_id: str) -> None:
    if job_id not in _pending_imports:
        _pending_imports.append(job_id)


def drop_import(job_id: str) -> None:
    """Forget a pending import (its job was removed from the list)."""
    while job_id in _pending_imports:
        _pending_imports.remove(job_id)


def take_import() -> str | None:
    return _pending_imports.pop(0) if _pending_imports else None


def pending_imports() -> list[str]:
    return list(_pending_imports)


# ==================================================================================================== balance
#: At most one balance request per this many seconds when jobs end (200 jobs ending cost one or two requests).
BALANCE_INTERVAL = 3.0
#: The balance follows finished jobs while the Balance panel was on screen this recently (seconds): nobody looking,
#: no request (the panel's refresh button and the next look catch up).
BALANCE_WATCH = 30.0
_balance = {"dirty": False, "last": 0.0, "watched": -1e9}


def balance_watched() -> None:
    """The Balance panel was drawn (called from its draw(); no bpy data is touched)."""
    _balance["watched"] = time.monotonic()


def balance_changed() -> None:
    """A job ended (credits charged or refunded): refresh the balance soon, in the background, if someone looks."""
    if time.monotonic() - _balance["watched"] < BALANCE_WATCH:
        _balance["dirty"] = True


def refresh_balance_if_due() -> None:
    """Ask for the balance when a job ended and the last request is :data:`BALANCE_INTERVAL` old (main thread)."""
    if not _balance["dirty"] or time.monotonic() - _balance["last"] < BALANCE_INTERVAL:
        return
    _balance["dirty"] = False
    if unavailable_reason() is not None:
        return
    _balance["last"] = time.monotonic()
    refresh_config()
    background.start("balance", _fetch_balance)


def busy() -> bool:
    """True while anything may still produce events (the poller keeps running)."""
    if _pending_imports or background.active() or _balance["dirty"]:
        return True
    eng = _engine
    if eng is None:
        return False
    if not eng.events.empty():
        return True
    active = getattr(eng, "active", None)  # cheap (no snapshots): this runs on every poller tick
    if active is not None:
        return bool(active())
    return any(eng.is_running(j["id"]) for j in eng.jobs())


def shutdown() -> None:
    """Stop the engine's workers and background calls (unregister). Unfinished jobs stay in the journal."""
    global _engine, _resumed
    eng, _engine = _engine, None
    if eng is not None:
        try:
            # workers are daemons and the journal is durable: quitting never waits long, not even for a create in
            # flight (its step is journaled "submitting" and the owner registry keeps it in flight: the next start
            # looks for its task in the account history instead of sending it again)
            eng.shutdown(timeout=1.0, submit_grace=QUIT_SUBMIT_GRACE)
        except Exception:
            log.exception("engine shutdown failed")
    background.stop(1.0)
    _resumed = False
    _live.clear()
    _pending_imports.clear()
    _previews_requested.clear()
    _balance.update(dirty=False, last=0.0, watched=-1e9)
    settings.clear_config()


# ==================================================================================================== background
background = Background()


def _fetch_balance(client) -> dict:
    bal = client.balance()
    get = (lambda k: bal.get(k)) if isinstance(bal, dict) else (lambda k: getattr(bal, k, None))
    return {"balance": float(get("balance") or 0), "frozen": float(get("frozen") or 0)}


def request_balance(kind: str = "balance", context=None) -> bool:
    """Ask for the balance in the background ("balance" or "connection" for the connection test)."""
    reason = unavailable_reason(context)
    if reason:
        raise catalog.validation_error(reason)
    refresh_config(context)
    return background.start(kind, _fetch_balance)


def request_preview(job_id: str, task_id: str, dest_dir: Path, output: dict | None = None) -> bool:
    """Download a finished task's rendered preview image in the background (once per job).

    ``output``: the task's output from the job snapshot; its URL is used while valid (no ``GET /task``)."""
    if job_id in _previews_requested or unavailable_reason() is not None:
        return False
    _previews_requested.add(job_id)

    def fetch(client) -> dict:
        path = client.download(task_id, "preview", dest_dir, output=output)
        return {"job_id": job_id, "path": str(path)}

    return background.start(f"preview-{job_id}", fetch)
