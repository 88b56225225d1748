"""Helpers shared by the Blender-layer tests (import as ``from blender_helpers import ...``)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import addon_utils  # noqa: E402  (importing bpy puts addon_utils on sys.path)
import bpy

ROOT = Path(__file__).resolve().parents[2]
REPO = "dev"
MODULE = f"bl_ext.{REPO}.tripo_addon"
WAIT = 60.0


def _raise(exc):
    raise exc


def get_prefs():
    return bpy.context.preferences.addons[MODULE].preferences


def posts(emulator, api_key: str, route: str = "create") -> list[dict]:
    """POST requests of one account: task creations (``"create"``, either API; bodies in the add-on's parameter
    names, see tests/wirelog.py), uploads (``"upload"``), or any other route by its path ending."""
    from wirelog import creates, uploads

    if route in ("create", "/task"):
        return creates(emulator, api_key)
    if route in ("upload", "/upload/sts/token"):
        return uploads(emulator, api_key)
    return [r for r in emulator.requests(method="POST", key=api_key) if r["path"].rstrip("/").endswith(route)]


def drain_until(ext, predicate, timeout: float = WAIT, context=None):
    """Pump drain() (timers never fire in the bpy module) until predicate() is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ext.poller.drain(context)  # poller.drain: also in the reliability tests' namespace
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def tripo_threads() -> list[threading.Thread]:
    """Live threads of the extension (job workers, background calls); the emulator's own are not counted."""
    return [t for t in threading.enumerate()
            if t.name.startswith("tripo-") and not t.name.startswith("tripo-emu") and t.is_alive()]


def new_objects(before) -> list:
    return [o for o in bpy.data.objects if o not in before]


def enable():
    mod = addon_utils.enable(MODULE, default_set=True, handle_error=_raise)
    assert mod is not None
    return mod


def disable():
    addon_utils.disable(MODULE, default_set=True, handle_error=_raise)
