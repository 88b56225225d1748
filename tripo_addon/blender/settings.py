"""The add-on's settings as the rest of the add-on reads them: preferences, API key and address, online access,
the download folder, and the client factory built from a plain snapshot of them.

Everything reads bpy on the main thread except :func:`make_client` and :func:`current_api`, which only read the
snapshot :func:`snapshot_config` took there (workers never touch bpy).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import bpy

from . import base_package, catalog

DEFAULT_BASE_URL = "https://openapi.tripo3d.ai"   # Tripo's live API (v3), global region
CHINA_BASE_URL = "https://openapi.tripo3d.com"
#: Tripo's own v2 addresses, shut down on 2026-10-31: a stored one means the same region's v3 address today.
RETIRED_URLS = {"https://api.tripo3d.ai/v2/openapi": DEFAULT_BASE_URL,
                "https://api.tripo3d.com/v2/openapi": CHINA_BASE_URL}
ENV_KEY = "TRIPO_API_KEY"

_lock = threading.Lock()
_config: dict[str, Any] = {}  # plain settings for the client factory (memory only)
_config_version = 0  # bumped when _config changes (background threads then build a new client)


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


# ==================================================================================================== client factory
def snapshot_config(context=None):
    """Snapshot the client settings from the preferences (main thread). Returns the preferences (or None)."""
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
    return p


def config_version() -> int:
    """Bumped whenever the snapshot changes (a thread holding a client then builds a new one)."""
    return _config_version


def clear_config() -> None:
    with _lock:
        _config.clear()


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


def current_api() -> str:
    """The API version of the settings snapshot (any thread: no bpy)."""
    from ..api.dialect import api_of

    with _lock:
        url = _config.get("base_url") or DEFAULT_BASE_URL
    return api_of(url)
