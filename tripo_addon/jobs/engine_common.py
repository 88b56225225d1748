"""What the engine's parts share: constants, small helpers, the per-job worker record and internal signals."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..api import outputs as api_outputs
from ..api import tasks as api_tasks
from ..api.errors import (
    TripoError,
    TripoRateLimited,
    TripoValidationError,
    redact,
)
from . import results as result_files
from .job import Job, JobState, Step
from .journal import JournalError
from .schedule import Slots

log = logging.getLogger(__name__)

S = JobState
SUCCESS = "success"
FAILED_STATUSES = frozenset({"failed", "banned", "expired", "cancelled"})
IMAGE_EXTS = frozenset({"png", "jpg", "jpeg", "webp"})
MESH_EXTS = frozenset({"glb", "fbx", "obj", "stl"})
FILE_SLOT_KINDS = frozenset({"file", "files", "texture_prompt"})
SUBMIT_GRACE = 10.0  # seconds shutdown() waits for a POST /task in flight (its task is paid for; its id must be kept)
UPLOAD_MAX_AGE = 12 * 3600.0  # uploaded tokens live about 24 h; re-upload older ones before submitting
PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"
_UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_FILE_TOKEN = re.compile(r"^file_[A-Za-z0-9_-]{1,128}$")
LOCK_NAME = "jobs.lock"
SECONDARY_PREFIX = "jobs.secondary-"
NO_SERVER_CANCEL = (
    "Tripo's API has no way to cancel a task: {task} may still run on Tripo and use credits. "
    "Attach it by id later to get its result."
)


def identity_message(what: str) -> str:
    """Why a job made with another key or address waits (``what``: "key", "region" or "key and region")."""
    return (f"This job was made with another {what}: switch back to follow it. Its tasks are kept and nothing is "
            f"sent with the new {what}; downloaded results can still be imported.")


def client_identity(client: Any, salt: bytes) -> tuple[str, str, str]:
    """(API version, address, salted key fingerprint) of a client; never the key."""
    fp = client.key_fingerprint(salt) if hasattr(client, "key_fingerprint") else ""
    return str(getattr(client, "api", "")), str(getattr(client, "base_url", "") or ""), fp


def identity_change(had: tuple[str, str], now: tuple[str, str]) -> str:
    """"" when (address, key fingerprint) ``now`` may follow tasks made with ``had`` (an empty part: not known, so
    no objection); else what changed: "region", "key" or "key and region"."""
    region = bool(had[0] and now[0] and had[0] != now[0])
    key = bool(had[1] and now[1] and had[1] != now[1])
    return "key and region" if region and key else "region" if region else "key" if key else ""


def _lost_submit_message(idx: int, step: Step) -> str:
    return (
        f"Step {idx + 1} ({step.task_type}) was being sent to Tripo when Blender stopped, and its task id was not "
        "recorded. It was not sent again, so you are not charged twice. Check your task history on the Tripo "
        "website: if the task is there, attach it to this job by its id; if not, retry the job to send it."
    )


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _user_message(exc: BaseException) -> str:
    if isinstance(exc, TripoError):
        msg = getattr(exc, "user_message", "") or getattr(exc, "message", "") or str(exc)
    elif isinstance(exc, JournalError):
        msg = f"The job log could not be written, so nothing was sent to Tripo ({exc})."
    else:
        msg = f"Unexpected error in the Tripo job engine ({type(exc).__name__}: {exc})."
    return redact(str(msg))


def _validation_error(message: str) -> TripoValidationError:
    return TripoValidationError(message)


def _engine_error(message: str) -> TripoError:
    return TripoError(message, user_message=message)


def _ext(path_or_url: str) -> str:
    path = urlparse(path_or_url).path if "://" in path_or_url else path_or_url
    return Path(path).suffix.lower().lstrip(".")


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _file_slot_names(task_type: str) -> dict[str, str]:
    """Param name -> kind for the task's file-like params."""
    tt = api_tasks.TASK_TYPES.get(task_type)
    names: dict[str, str] = {}
    if tt is not None:
        for p in tt.params:
            if p.kind in FILE_SLOT_KINDS:
                names[p.name] = p.kind
    for name in FILE_SLOT_KINDS:  # by name too, in case the spec calls them differently
        names.setdefault(name, name)
    return names


def map_file_slots(task_type: str, params: dict, fn: Callable[[Any, str], Any]) -> dict:
    """Return a copy of params with every file slot value ``v`` replaced by ``fn(v, slot)``.

    Slots: ``file``, each entry of ``files`` (empty entries stay ``{}``), ``texture_prompt.image``,
    ``texture_prompt.style_image`` and each entry of ``texture_prompt.images``.
    """
    out = dict(params)
    for name, kind in _file_slot_names(task_type).items():
        if name not in out or out[name] is None:
            continue
        value = out[name]
        if kind == "texture_prompt" and isinstance(value, dict):
            tp = dict(value)
            for key in ("image", "style_image"):
                if tp.get(key) not in (None, {}):
                    tp[key] = fn(tp[key], f"{name}.{key}")
            if isinstance(tp.get("images"), list | tuple):
                tp["images"] = [{} if v in (None, {}) else fn(v, f"{name}.images") for v in tp["images"]]
            out[name] = tp
        elif kind == "files" and isinstance(value, list | tuple):
            out[name] = [{} if v in (None, {}) else fn(v, name) for v in value]
        elif kind == "file":
            out[name] = fn(value, name)
    return out


def is_file_token(value: Any) -> bool:
    """An uploaded file's token (a UUID or ``file_<...>``) rather than a local path (one that exists is a path).
    Validation, uploads and the request all ask this one question."""
    return (isinstance(value, str) and bool(_UUIDISH.match(value) or _FILE_TOKEN.match(value))
            and not os.path.exists(value))


def check_task_id(value: Any) -> str:
    """A task id as the API layer accepts it (one validator for attach, polling and requests), else a clear
    TripoValidationError naming what to do."""
    try:
        return api_tasks.check_task_id(value)
    except TripoValidationError:
        shown = repr(value.strip()[:80]) if isinstance(value, str) else repr(value)[:80]
        raise _validation_error(
            f"{shown} does not look like a Tripo task id (36 characters such as "
            "1ec04ced-4b87-44f6-a296-beee80777941); copy it from the task list or your task history on the Tripo "
            "website.") from None


def local_files(step: Step) -> list[str]:
    """Local paths in the step's file slots (what the worker uploads)."""
    found: list[str] = []

    def visit(value: Any, slot: str) -> Any:
        if isinstance(value, str) and not _is_url(value) and not is_file_token(value):
            found.append(value)
        return value

    map_file_slots(step.task_type, step.params, visit)
    return found


def main_output_key(task_type: str, output: dict) -> str | None:
    """The output a user wants from a task: its model, else its image (splat, depth)."""
    return api_outputs.main_key(output)


def _extract_zip(path: Any) -> None:
    """A zip result is extracted here, in the worker, once and checked (not on Blender's main thread at import)."""
    if str(path).lower().endswith(".zip"):
        result_files.extract(path)


@dataclass
class _Run:
    """A live worker for one job."""

    job: Job
    stop: threading.Event = field(default_factory=threading.Event)  # set by cancel() and shutdown()
    cancelled: bool = False
    thread: threading.Thread | None = None
    slots: list[Slots] = field(default_factory=list)
    step_index: int = 0
    restart: bool = False  # resume() came while this paused worker was still ending: start the job again
    wake_at: float | None = None  # monotonic time its sleep ends (None: working now; inf: waiting for a slot)
    answered: tuple[int, float] | None = None  # (step, monotonic time) a create of this worker was answered


class _Interrupted(Exception):
    """Cancel or shutdown noticed by a worker."""


class _NeedsAttention(Exception):
    pass


class _StepFailed(Exception):
    pass


class _AccountBusy(Exception):
    """Tripo refused the create with 429 (2000: the account runs as many tasks as it may; 1007: too many requests):
    nothing was created, the step is pending again and journaled so."""

    def __init__(self, exc: TripoRateLimited) -> None:
        super().__init__(str(exc))
        self.code = exc.code
        self.retry_after = exc.retry_after


BUSY_NOTICE = "Waiting for a free slot on your Tripo account"


def _busy_notice(code: int | None, delay: float | None = None) -> str:
    why = ("Tripo asked to slow down (too many requests)" if code == 1007 else
           "it already runs as many tasks as Tripo allows, perhaps started on the website or in another Blender")
    when = f"trying again in {max(1, round(delay))} s" if delay is not None else "trying again shortly"
    return f"{BUSY_NOTICE}: {why}. Nothing was created or charged; {when}."


class _BackoffWatch:
    """The cancel event handed to ``create_task``. The client waits on it only while backing off before sending
    the create again (after a 429/2000/1007 refusal or a connection that failed before the request left): nothing
    was created then, so the step is journaled ``pending`` (durably) for the wait and ``submitting`` again before
    the next attempt. A kill during the back-off thus resumes the job instead of leaving it "needs attention"."""

    def __init__(self, part: Any, run: _Run, step: Step) -> None:
        self._part, self._run, self._step = part, run, step  # part: the Submission (its create_backoff)

    def is_set(self) -> bool:
        return self._run.stop.is_set()

    def set(self) -> None:
        self._run.stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._part.create_backoff(self._run, self._step, waiting=True)
        self._run.wake_at = time.monotonic() + (timeout or 0.0)
        try:
            stopped = self._run.stop.wait(timeout)
        finally:
            self._run.wake_at = None
        if not stopped:
            self._part.create_backoff(self._run, self._step, waiting=False)
        return stopped


SLOT_NOTICES = ("Waiting for a free Tripo slot", "Waiting for the image slot")


def _slot_notice(full: list[str]) -> str:
    """What a job waiting for an account pool says (v3 runs one image task at a time per account)."""
    if any(name.endswith("image") for name in full):
        return ("Waiting for the image slot: Tripo runs one image task (image generation, four views, view edits) "
                "at a time per account; this one starts when the running one ends.")
    return "Waiting for a free Tripo slot (your account runs a limited number of tasks at once)."
