"""Helpers for the reliability tests: input files, emulator log counts, balance checks, event collection."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

from sample_files import make_glb, make_png, make_png_header_only  # noqa: F401  (re-exported)

KEY_LIKE = re.compile(r"tsk_[A-Za-z0-9_-]{8,}")  # an actual key, not the "keys start with tsk_" advice
WAIT = 60.0  # generous: nothing here asserts a timing tighter than several seconds
FINAL_STATES = ("succeeded", "failed", "cancelled", "needs_attention")


# ---------------------------------------------------------------------------------------------------- files
# make_png, make_png_header_only and make_glb: tests/sample_files.py (shared by every tier)
def make_evil_zip(path: Path) -> Path:
    """A zip holding a model plus an entry that climbs out of the extraction folder."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("model.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
        z.writestr("../../escaped.txt", "I should never be written")
    return path


# ---------------------------------------------------------------------------------------------------- emulator
def posts(emulator, api_key: str, route: str = "create") -> list[dict]:
    """POST requests of one account: task creations (``"create"``, either API; bodies in the add-on's parameter
    names, see tests/wirelog.py), uploads (``"upload"``), or any other route by its path ending."""
    from wirelog import creates, uploads

    if route in ("create", "/task"):
        return creates(emulator, api_key)
    if route in ("upload", "/upload/sts/token"):
        return uploads(emulator, api_key)
    return [r for r in emulator.requests(method="POST", key=api_key) if r["path"].rstrip("/").endswith(route)]


def task_posts(emulator, api_key: str) -> int:
    return len(posts(emulator, api_key, "create"))


def all_task_posts(emulator, since: float) -> list[dict]:
    """Every POST /task the emulator logged since a time.time() stamp, whatever key it carried (or none)."""
    return [r for r in emulator.requests(method="POST") if r["route"] == "create" and r["time"] >= since]


def own_task_ids(emulator, api_key: str) -> set[str]:
    """Ids of the tasks the emulator holds for one account."""
    return {t.id for t in list(emulator.store.tasks.values()) if t.account.key == api_key}


def path_task_id(record: dict) -> str | None:
    """The task id in a logged request's path (/files/<id>/<name> or /v2/openapi/task/<id>)."""
    parts = record["path"].rstrip("/").split("/")
    if record["route"] == "download" and len(parts) > 2:
        return parts[2]
    if record["route"] == "poll":
        return parts[-1]
    return None


def fired(emulator, api_key: str, route: str, kind: str) -> list[dict]:
    """Logged requests of one route that a fault of ``kind`` hit, for this test's account only: by the key the
    request carried, or, for downloads (signed URLs carry no key), by the owner of the task in the path."""
    routes = (route, "list") if route == "poll" else (route,)  # v3 polls many tasks with one list request
    hits = [r for r in emulator.requests() if r["route"] in routes and r["fault"] == kind]
    if route != "download":
        return [r for r in hits if r["key"] == api_key]
    own = own_task_ids(emulator, api_key)
    return [r for r in hits if path_task_id(r) in own]


def assert_fired(emulator, api_key: str, *faults: tuple[str, str]) -> None:
    """Each (route, kind) fault fired at least once for this account."""
    missing = [f for f in faults if not fired(emulator, api_key, *f)]
    assert not missing, f"these faults never fired: {missing}"


def settled_balance(emulator, api_key: str) -> dict:
    """The account's balance once no task of it is still running (frozen credits settle)."""
    deadline = time.monotonic() + WAIT
    while True:
        bal = emulator.balance(api_key)
        if not bal.get("frozen") or time.monotonic() > deadline:
            return bal
        time.sleep(0.05)


def wait_until(predicate, timeout: float = WAIT, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def clear_message(text: str, *words: str) -> None:
    """A user-facing message: a real sentence, no traceback, no key, naming what is wrong (``words``, any case)."""
    assert isinstance(text, str) and len(text.strip()) >= 15, text
    assert "Traceback" not in text and not KEY_LIKE.search(text), text
    low = text.lower()
    missing = [w for w in words if w.lower() not in low]
    assert not missing, f"message does not mention {missing}: {text!r}"
