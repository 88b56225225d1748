"""The one job Engine of this Blender session, the client factory built from preferences, the online-access gate,
and small background calls (balance, connection test).

Everything here runs on the main thread except the client factory and the background calls, which only read a plain
snapshot of the settings taken on the main thread (workers never touch bpy).
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import bpy

from . import base_package, catalog

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://openapi.tripo3d.ai"   # Tripo's live API (v3), global region
CHINA_BASE_URL = "https://openapi.tripo3d.com"
#: Tripo's own v2 addresses, shut down on 2026-10-31: a stored one means the same region's v3 address today.
RETIRED_URLS = {"https://api.tripo3d.ai/v2/openapi": DEFAULT_BASE_URL,
                "https://api.tripo3d.com/v2/openapi": CHINA_BASE_URL}
ENV_KEY = "TRIPO_API_KEY"

#: Extra keyword arguments for the Engine (tests shorten the poll interval here).
engine_options: dict[str, Any] = {}

_lock = threading.Lock()
_config: dict[str, Any] = {}  # plain settings for the client factory (memory only)
_config_version = 0  # bumped when _config changes (background threads then build a new client)
_engine = None
_resumed = False
_live: set[str] = set()  # jobs followed in this session: their results import by themselves
_pending_imports: list[str] = []
_previews_requested: set[str] = set()


# ==================================================================================================== settings
def prefs(context=None):
    """The add-on preferences, or None when the extension is not enabled under this name."""
    ctx = context or bpy.context
    addon = ctx.preferences.addons.get(base_package)
    return addon.preferences if addon is not None else None


def api_key(p=None) -> str:
    """The key from the preferences, else from the environment ("" when neither has one)."""
    if p is None:
        p = prefs()
    key = "".join((p.api_key if p is not None else "").split())
    return key or "".join(os.environ.get(ENV_KEY, "").split())


def key_source(p=None) -> str:
    """"prefs", "env" or "" (no key)."""
    if p is None:
        p = prefs()
    if p is not None and p.api_key.strip():
        return "prefs"
    return "env" if os.environ.get(ENV_KEY, "").strip() else ""


def offline_reason() -> str | None:
    """Why Blender does not allow network access now, or None."""
    if bpy.app.online_access:
        return None
    if bpy.app.online_access_override:
        return "Blender was started in offline mode (--offline-mode): restart it without that option"
    return "Online access is off: allow it in Preferences > System > Network"


def unavailable_reason(context=None) -> str | None:
    """Why nothing can be sent to Tripo now (offline, no key), or None."""
    reason = offline_reason()
    if reason:
        return reason
    p = prefs(context)
    key = api_key(p)
    if not key:
        return f"No Tripo API key: set it in the Tripo 3D add-on preferences (or {ENV_KEY})"
    return settings_problem(key, base_url(p))


def base_url(p=None) -> str:
    """The API address to use: the preference, with Tripo's retired v2 addresses mapped to today's v3 ones."""
    url = ((p.api_base_url if p is not None else "") or DEFAULT_BASE_URL).strip().rstrip("/")
    return RETIRED_URLS.get(url, url)


def api_version(p=None) -> str:
    """"v3" or "v2": which API the address speaks (a URL ending in /v2/openapi is v2)."""
    from ..api.dialect import api_of

    return api_of(base_url(p))


def settings_problem(key: str, base_url: str) -> str | None:
    """What is wrong with the key's form or the API address (checked locally, nothing sent), or None."""
    from ..api.session import normalize_api_key, normalize_base_url

    try:
        normalize_api_key(key)
        normalize_base_url(base_url)
    except Exception as exc:
        if not catalog.is_tripo_error(exc):
            raise
        return catalog.user_message(exc)
    return None


def user_dir(name: str) -> Path:
    """A folder in the extension's user directory (survives upgrades; never the add-on folder)."""
    return Path(bpy.utils.extension_path_user(base_package, path=name, create=True))


DEFAULT_FOLDER_NAME = "Tripo"
PREFS_WHERE = "in the Tripo 3D add-on preferences (Network)"


def default_download_dir() -> Path:
    """Where results go unless the preferences name a folder: a visible folder the user owns (``~/Documents/Tripo``,
    else ``~/Tripo``), never the extension's user folder, which Blender deletes when the extension is removed (paid
    results, and the files saved .blend files point to, would go with it)."""
    home = Path.home()
    docs = _xdg_documents(home) or home / "Documents"
    return (docs if docs.is_dir() else home) / DEFAULT_FOLDER_NAME


def _xdg_documents(home: Path) -> Path | None:
    """The documents folder a Linux desktop names (it may be translated, e.g. ~/Dokumente), or None."""
    if not sys.platform.startswith("linux"):
        return None
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "user-dirs.dirs"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "XDG_DOCUMENTS_DIR":
            value = value.strip().strip('"').replace("$HOME", str(home))
            path = Path(value)
            return path if path.is_absolute() and path != home else None
    return None


def _download_folder(p=None) -> tuple[Path, str | None]:
    """(the download folder, why it cannot be used or None). Checked locally; nothing is created."""
    custom = p.download_dir.strip() if p is not None else ""
    if not custom:
        return default_download_dir(), None
    if custom.startswith("//") and not bpy.data.filepath:
        return default_download_dir(), (
            f"The download folder {custom} is relative to the .blend file, but this file has not been saved yet; "
            f"save the file first, or choose a full folder path {PREFS_WHERE}")
    folder = Path(bpy.path.abspath(custom))
    if not folder.is_absolute():
        return default_download_dir(), (
            f"The download folder {custom} is not a full path (it would land wherever Blender was started from); "
            f"choose a full folder path {PREFS_WHERE}, or clear it to use {default_download_dir()}")
    if folder.parent == folder:
        return default_download_dir(), (
            f"The download folder {folder} is the top of a disk; choose a folder of its own {PREFS_WHERE}, or clear "
            f"it to use {default_download_dir()}")
    if folder.exists() and not folder.is_dir():
        return default_download_dir(), (
            f"The download folder {folder} is a file, not a folder; choose a folder {PREFS_WHERE}, or clear it to "
            f"use {default_download_dir()}")
    return folder, None


def download_folder_note(p) -> str | None:
    """What is wrong with the folder in the preferences (drawn there; local checks only, no disk writes)."""
    return _download_folder(p)[1]


def download_dir(p=None) -> Path:
    """The folder results are saved in (created by the first download, not before: enabling the add-on leaves the
    user's home alone). Never raises: an unusable folder in the preferences (see :func:`download_dir_problem`, which
    every action that downloads checks first) falls back to the default."""
    if p is None:
        p = prefs()
    return _download_folder(p)[0]


def state_dir() -> Path:
    return user_dir("state")


def exports_dir() -> Path:
    return user_dir("exports")


def refresh_config(context=None) -> None:
    """Snapshot the client settings from the preferences (main thread)."""
    p = prefs(context)
    system = (context or bpy.context).preferences.system
    connect = float(getattr(system, "network_timeout", 10) or 10)
    cfg = {
        "api_key": api_key(p),
        "base_url": base_url(p),
        "proxy": (p.proxy.strip() if p is not None else ""),
        "ca_bundle": (bpy.path.abspath(p.ca_bundle.strip()) if p is not None and p.ca_bundle.strip() else ""),
        "timeout": (connect, max(60.0, connect)),
    }
    catalog.set_api(api_version(p))
    global _config_version
    with _lock:
        if cfg != _config:
            _config.clear()
            _config.update(cfg)
            _config_version += 1
    if _engine is not None and p is not None:
        _engine.download_dir = download_dir(p)


def parallel_changed(context=None) -> None:
    """"Parallel Tasks" changed: the running engine follows at once (no restart)."""
    p = prefs(context)
    if _engine is not None and p is not None:
        _engine.set_max_parallel(p.max_parallel)


def settings_changed() -> None:
    """Preferences update callback: the next client uses the new settings."""
    try:
        refresh_config()
    except Exception:  # during registration or with the add-on half disabled
        log.debug("settings snapshot skipped", exc_info=True)


def make_client():
    """Build a TripoClient from the settings snapshot (called from worker threads: no bpy here)."""
    from ..api.client import TripoClient

    with _lock:
        cfg = dict(_config)
    kwargs: dict[str, Any] = {"timeout": cfg.get("timeout", (10.0, 60.0))}
    if cfg.get("proxy"):
        kwargs["proxies"] = {"http": cfg["proxy"], "https": cfg["proxy"]}
    if cfg.get("ca_bundle"):
        kwargs["ca_bundle"] = cfg["ca_bundle"]
    return TripoClient(api_key=cfg.get("api_key") or None, base_url=cfg.get("base_url") or DEFAULT_BASE_URL, **kwargs)


# ==================================================================================================== engine
def current_api() -> str:
    """The API version of the settings snapshot (any thread: no bpy)."""
    from ..api.dialect import api_of

    with _lock:
        url = _config.get("base_url") or DEFAULT_BASE_URL
    return api_of(url)


def engine(create: bool = True):
    """The session's Engine (created on first use; creating it reads the journal, no network)."""
    global _engine
    if _engine is None and create:
        from ..jobs.engine import Engine

        refresh_config()
        p = prefs()
        options = {"max_parallel": p.max_parallel if p is not None else 10, "api": current_api, **engine_options}
        _engine = Engine(make_client, state_dir(), download_dir(p), **options)
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


#: Free space a download folder needs before a (paid) task is sent: results with textures are tens of MB.
MIN_FREE_BYTES = 64 * 1024 * 1024


def download_dir_problem(p=None) -> str | None:
    """Why results could not be saved in the download folder, or None. Checked before a task is paid for."""
    if p is None:
        p = prefs()
    folder, problem = _download_folder(p)
    if problem:
        return problem
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return (f"The download folder {folder} cannot be written to ({exc.strerror or exc}); choose another "
                f"download folder {PREFS_WHERE}, or clear it to use the default")
    if free < MIN_FREE_BYTES:
        return (f"Only {free / 1048576:.1f} MB of disk space is free in the download folder {folder}, and a Tripo "
                f"result can take up to {MIN_FREE_BYTES >> 20} MB; free some space or choose another download folder "
                f"{PREFS_WHERE}")
    return None


def submit(job, context=None) -> str:
    """Validate and start a job; raises a TripoError (validation errors before anything is sent)."""
    reason = unavailable_reason(context) or download_dir_problem(prefs(context))
    if reason:
        raise catalog.validation_error(reason)
    refresh_config(context)
    eng = engine()
    ensure_resumed(context)
    job.meta.setdefault("scene", scene_token())  # its result belongs to this file (auto-imported only here)
    job_id = eng.submit(job)
    _live.add(job_id)
    return job_id


def attach(task_id: str, title: str = "", *, job_id: str | None = None, context=None, notice: str = "") -> str:
    reason = unavailable_reason(context) or download_dir_problem(prefs(context))
    if reason:
        raise catalog.validation_error(reason)
    refresh_config(context)
    eng = engine()
    ensure_resumed(context)
    new_id = eng.attach(task_id, title, job_id=job_id, notice=notice) if job_id else eng.attach(task_id, title)
    if not job_id:
        eng.set_meta(new_id, "scene", scene_token())
    _live.add(new_id)
    return new_id


def retry(job_id: str, context=None) -> None:
    reason = unavailable_reason(context) or download_dir_problem(prefs(context))
    if reason:
        raise catalog.validation_error(reason)
    refresh_config(context)
    engine().retry(job_id)
    _live.add(job_id)


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
            eng.shutdown(timeout=2.0)  # workers are daemons and the journal is durable: quitting never waits long
        except Exception:
            log.exception("engine shutdown failed")
    background.stop(1.0)
    _resumed = False
    _live.clear()
    _pending_imports.clear()
    _previews_requested.clear()
    _balance.update(dirty=False, last=0.0, watched=-1e9)
    with _lock:
        _config.clear()


# ==================================================================================================== background calls
class Background:
    """Short network calls outside the job engine (balance, connection test, preview images).

    They run on at most :attr:`WORKERS` long-lived daemon threads, each keeping one TripoClient (so its kept-alive
    connection serves every later call: a preview per finished task costs one request, not a new connection). A
    thread started on the main thread costs milliseconds when the workers are busy (it waits for the GIL), so threads
    are started only when none is free, and leave after :attr:`IDLE_EXIT` seconds without work.

    ``start(kind, fn)`` queues ``fn(client)`` unless a call of that kind is already queued or running. Results come
    back through ``results`` as ``(kind, ok, value)``; ``poller.drain()`` applies them.
    """

    WORKERS = 2
    IDLE_EXIT = 30.0

    def __init__(self) -> None:
        self.results: queue.Queue = queue.Queue()
        self._todo: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._kinds: set[str] = set()  # queued or running
        self._threads: set[threading.Thread] = set()
        self._free = 0  # threads waiting for work
        self._serial = 0

    def start(self, kind: str, fn) -> bool:
        with self._lock:
            if kind in self._kinds:
                return False
            self._kinds.add(kind)
            spawn = self._free == 0 and len(self._threads) < self.WORKERS
            if spawn:
                self._serial += 1
                t = threading.Thread(target=self._loop, name=f"tripo-background-{self._serial}", daemon=True)
                self._threads.add(t)
            else:
                self._free -= 1  # that thread is taken by this call
            self._todo.put((kind, fn))  # under the lock: an idle thread about to leave sees it and stays
        if spawn:
            t.start()
        return True

    def _loop(self) -> None:
        client = None
        version = None
        try:
            while True:
                try:
                    item = self._todo.get(timeout=self.IDLE_EXIT)
                except queue.Empty:
                    with self._lock:
                        if self._todo.empty():  # nothing was promised to this thread meanwhile
                            self._free -= 1
                            self._threads.discard(threading.current_thread())
                            return
                    continue
                if item is None:  # stop()
                    return
                kind, fn = item
                try:
                    if client is None or version != _config_version:
                        if client is not None:
                            client.close()
                            client = None
                        version = _config_version
                        client = make_client()
                    value = fn(client)
                except Exception as exc:
                    self.results.put((kind, False, _error_text(exc)))
                else:
                    self.results.put((kind, True, value))
                finally:
                    with self._lock:
                        self._kinds.discard(kind)
                        self._free += 1
                        self._idle.notify_all()
        finally:
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001
                    pass
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._idle.notify_all()

    def active(self) -> bool:
        with self._lock:
            return bool(self._kinds) or not self.results.empty()

    def join(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until every queued call has finished."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._kinds and time.monotonic() < deadline:
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))

    def stop(self, timeout: float) -> None:
        """Let queued calls finish (``join``), then end the threads and close their clients."""
        self.join(timeout)
        with self._lock:
            threads = list(self._threads)
            self._free = 0
        for _ in threads:
            self._todo.put(None)
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def take(self) -> list[tuple[str, bool, Any]]:
        out = []
        while True:
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                return out


def _error_text(exc: Exception) -> str:
    msg = catalog.user_message(exc) if catalog.is_tripo_error(exc) else f"{type(exc).__name__}: {exc}"
    try:
        from ..api.errors import redact

        return redact(msg)
    except Exception:
        return type(exc).__name__


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
