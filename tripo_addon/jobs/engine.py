"""The job engine: worker threads, event queue, concurrency groups, journal, resume, cancel, wait.

Threading model: one daemon thread per active job. Workers do network and file I/O only (through the bpy-free
``TripoClient``), mutate their job under the engine lock, journal it, and post :class:`Event`s with plain snapshots to
``Engine.events``. The main thread drains that queue (``Engine.drain()`` or ``events.get_nowait()``) and never blocks on
the network, except in :meth:`Engine.wait`, used by scripting with ``wait=True``.

Money safety: a step is journaled as ``submitting`` (fsync) before ``POST /task`` and its task id right after. A step
found ``submitting`` without a task id after a restart is never re-sent: its job goes to ``needs_attention``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..api import inputs as api_inputs
from ..api import outputs as api_outputs
from ..api import polling as api_polling
from ..api import tasks as api_tasks
from ..api.dialect import by_name as dialect_by_name
from ..api.errors import (
    ERROR_TEXT,
    STATUS_TEXT,
    TripoCancelled,
    TripoError,
    TripoNetworkError,
    TripoOutcomeUnknown,
    TripoRateLimited,
    TripoServerError,
    TripoTimeout,
    TripoValidationError,
    redact,
)
from ..api.localfiles import check_local_file
from ..api.submit import placeholder_input
from . import events as ev
from . import results as result_files
from .events import Event, EventQueue
from .hub import PollHub
from .job import Job, JobState, Ref, Step, encode_value, iter_refs, new_id
from .journal import KEEP_FINISHED, DirLock, Journal, JournalError, archive_jobs, split_retained
from .schedule import Slots, Stopped

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
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{6,128}$")
LOCK_NAME = "jobs.lock"
SECONDARY_PREFIX = "jobs.secondary-"
NO_SERVER_CANCEL = (
    "Tripo's API has no way to cancel a task: {task} may still run on Tripo and use credits. "
    "Attach it by id later to get its result."
)


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


def local_files(step: Step) -> list[str]:
    """Local paths in the step's file slots (what the worker uploads)."""
    found: list[str] = []

    def visit(value: Any, slot: str) -> Any:
        if isinstance(value, str) and not _is_url(value) and (os.path.exists(value) or not _UUIDISH.match(value)):
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

    def __init__(self, engine: Engine, run: _Run, step: Step) -> None:
        self._engine, self._run, self._step = engine, run, step

    def is_set(self) -> bool:
        return self._run.stop.is_set()

    def set(self) -> None:
        self._run.stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._engine._create_backoff(self._run, self._step, waiting=True)
        self._run.wake_at = time.monotonic() + (timeout or 0.0)
        try:
            stopped = self._run.stop.wait(timeout)
        finally:
            self._run.wake_at = None
        if not stopped:
            self._engine._create_backoff(self._run, self._step, waiting=False)
        return stopped


class Engine:
    """Runs jobs in background threads and reports to the main thread through ``events``.

    ``client_factory`` builds a fresh ``TripoClient`` (one per worker). ``state_dir`` holds the journal
    (``jobs.json``); ``download_dir/<task_id>/`` receives results. ``max_parallel`` caps each concurrency group
    (Tripo's own limits are lower for some groups: P1 5, refine 5, multiview images 1).
    """

    def __init__(
        self,
        client_factory: Callable[[], Any],
        state_dir: str | os.PathLike,
        download_dir: str | os.PathLike,
        *,
        max_parallel: int = 10,
        api: str | Callable[[], str] | None = None,
        poll_min: float = api_polling.DEFAULT_POLL_MIN,
        poll_max: float = 30.0,
        journal_interval: float = 2.0,
        keep_finished: int | None = KEEP_FINISHED,
        exports_dir: str | os.PathLike | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._api = api
        # retention: finished jobs kept in the live journal (None: all, the old behaviour); exported meshes to delete
        self.keep_finished = keep_finished
        self.exports_dir = Path(exports_dir) if exports_dir is not None else Path(state_dir).parent / "exports"
        self.state_dir = Path(state_dir)
        self.download_dir = Path(download_dir)
        self.poll_min = float(poll_min)
        self.poll_max = max(float(poll_max), self.poll_min)
        self.max_parallel = max(1, int(max_parallel))
        # waiting for a free slot on a busy account (429/2000): from 2 s doubling to 60 s by default, faster in tests
        self.busy_base = min(api_polling.BUSY_BASE, self.poll_min)
        self.busy_cap = max(self.busy_base, min(api_polling.BUSY_CAP, 2 * self.poll_max))
        self.events: EventQueue = EventQueue()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._runs: dict[str, _Run] = {}
        self._reported: set[str] = set()
        self._stopping = False
        self._journal_warned = False
        self._slots: dict[str, Slots] = {}  # per-account concurrency pools, by the dialect's pool names
        self._hubs: dict[str, PollHub] = {}  # batch pollers (v3 tasks/list) by API version, made on first use
        self._save_wanted = threading.Event()  # set by _save_soon(); served by the journal thread
        self._saver: threading.Thread | None = None
        self._launch: list[_Run] = []  # registered workers the launcher thread has not started yet
        self._launcher: threading.Thread | None = None
        notices: list[str] = []
        # One engine per state dir runs the shared job list (two Blender instances must never both resume a job and
        # send its next step twice). Another concurrent engine keeps its own list, adopted by the next primary.
        self._dir_lock = DirLock(self.state_dir / LOCK_NAME)
        self.role = "primary" if self._dir_lock.acquire() else "secondary"
        if self.role == "primary":
            self._journal = Journal(self.state_dir, min_interval=journal_interval)
        else:
            name = f"{SECONDARY_PREFIX}{os.getpid()}-{new_id()[:6]}"
            self._dir_lock = DirLock(self.state_dir / f"{name}.lock")
            self._dir_lock.acquire()
            self._journal = Journal(self.state_dir, min_interval=journal_interval, name=f"{name}.json")
            notices.append(
                "Another Blender instance is running the Tripo job list; jobs started here are kept in a separate "
                "list and join the shared one when that instance closes."
            )
        jobs, load_notices = self._journal.load()
        notices[:0] = load_notices
        for job in jobs:
            self._jobs[job.id] = job
        self._adopt_late_ids()
        notices += self._adopt_secondaries()
        self._adopt_late_ids()  # (those of adopted secondaries too)
        if self.role == "primary":
            self._retain()
        for msg in notices:
            self._post(Event("", ev.NOTICE, {}, msg))

    # ================================================================================================ public API
    @property
    def api(self) -> str:
        """The API version new jobs are sent with ("v3" or "v2"; from the API address). Without an ``api`` argument:
        the version of the clients ``client_factory`` makes (asked once)."""
        if self._api is None:
            try:
                client = self._client_factory()
                self._api = str(getattr(client, "api", api_tasks.DEFAULT_API))
                client.close()
            except Exception:  # noqa: BLE001 - no key yet: new jobs default to v3, asked again next time
                return api_tasks.DEFAULT_API
        api = self._api() if callable(self._api) else self._api
        return api if api in api_tasks.API_VERSIONS else api_tasks.DEFAULT_API

    def submit(self, job: Job) -> str:
        """Validate every step (nothing is sent if anything is wrong), then journal and start the job. Returns its id.

        Only the validation runs in the caller (the main thread, on a button press). Journaling and starting the
        worker happen on the engine's launcher thread, batched: 200 jobs submitted at once cost one journal write,
        not 200 writes of a growing file (seconds of frozen UI). A worker starts only once its job is journaled; if
        the journal cannot be written the job fails with that reason before anything is sent.
        """
        self._check_open()
        if not isinstance(job, Job):
            raise _validation_error("submit() takes a Job (see tripo_addon.jobs.pipelines).")
        job.api = self.api
        self.validate(job)
        with self._lock:
            if job.id in self._jobs:
                raise _validation_error(f"Job {job.id} was already submitted.")
            job.state = S.PENDING
            job.error = job.notice = ""
            job.updated = time.time()
            self._jobs[job.id] = job
        self._start(job)
        self._post_update(job)
        return job.id

    def attach(self, task_id: str, title: str = "", *, job_id: str | None = None, download: bool = True,
               notice: str = "") -> str:
        """Follow an existing Tripo task (no POST) and download its result.

        With ``job_id``: give that stopped job's unsent/unknown step this task id and continue the job from there
        (the way out of ``needs_attention``); ``notice`` is what the job then says (kept once it succeeds, e.g. that
        the task was found in the account's history). Returns the job id.
        """
        self._check_open()
        task_id = (task_id or "").strip()
        if not _TASK_ID.match(task_id):
            raise _validation_error(
                f"{task_id!r} does not look like a Tripo task id (36 characters such as "
                "1ec04ced-4b87-44f6-a296-beee80777941); copy it from the task list or your task history on the Tripo "
                "website.")
        if job_id is not None:
            self._await_worker_exit(job_id)
            with self._lock:
                job = self._get_job(job_id)
                if job_id in self._runs and job.state in S.STOPPED:
                    raise _validation_error(
                        "The job is still stopping (a request is in flight); try again in a moment.")
                if job_id in self._runs or job.state not in (S.NEEDS_ATTENTION, S.FAILED, S.CANCELLED):
                    raise _validation_error(
                        "Only a stopped job (needs attention, failed or cancelled) can be attached."
                    )
                idx = job.current_step
                if idx >= len(job.steps) or job.steps[idx].task_id:
                    raise _validation_error("This job has no step waiting for a task id.")
                step = job.steps[idx]
                step.task_id = task_id
                step.state = S.QUEUED
                step.status = ""
                step.error = ""
                job.state = S.QUEUED
                job.error = ""
                job.notice = notice or f"Attached task {task_id} to step {idx + 1}."
                if notice:
                    job.meta["recovered"] = notice
                job.updated = time.time()
            self._save(important=True)
            self._start(job)
            self._post_update(job)
            return job.id
        step = Step(task_type="", params={}, download=download, task_id=task_id, state=S.QUEUED)
        job = Job(title=title or f"Task {task_id[:8]}", steps=[step], kind="attach", state=S.QUEUED)
        with self._lock:
            self._jobs[job.id] = job
        self._save(important=True)
        self._start(job)
        self._post_update(job)
        return job.id

    def cancel(self, job_id: str) -> None:
        """Stop a job locally and at once. Tripo's v2 API has no cancel: a task already sent may still finish."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state in S.FINAL:
                return
            run = self._runs.get(job_id)
            if run is not None:
                run.cancelled = True
                run.stop.set()
            self._set_cancelled(job)
        self._safe_save()
        self._emit_final(job, ev.CANCELLED)

    def resume(self) -> list[str]:
        """Continue unfinished jobs from the journal (never re-sending a task). Idempotent.

        Jobs that succeeded but were not imported are reported once (a ``finished`` event) so the UI offers import.
        Returns the ids of the jobs whose worker was started by this call.
        """
        self._check_open()
        self._adopt_late_ids()
        started: list[str] = []
        attention: list[Job] = []
        report: list[Job] = []
        with self._lock:
            for job in sorted(self._jobs.values(), key=lambda j: j.created):
                run = self._runs.get(job.id)
                if run is not None:
                    if run.stop.is_set() and not run.cancelled and job.state in S.ACTIVE:
                        run.restart = True  # paused, still returning from a request: it starts again when done
                        started.append(job.id)
                    continue
                if job.state in S.ACTIVE:
                    idx = job.current_step
                    step = job.steps[idx] if idx < len(job.steps) else None
                    if job.api != self.api and not job.task_ids:
                        job.api = self.api  # nothing was created yet: the job is not tied to either API
                    if job.api != self.api:  # its tasks live on the other API: follow them there, never resend
                        job.state = S.NEEDS_ATTENTION
                        job.error = (f"This job was started on Tripo's API {job.api}, and the API address now "
                                     f"speaks {self.api}. Its task ids are kept (nothing is sent again): set the API "
                                     f"address back to follow it, or retry it here as a new job. Downloaded results "
                                     "can still be imported.")
                        job.updated = time.time()
                        attention.append(job)
                        continue
                    if step is not None and step.state == S.SUBMITTING and not step.task_id:
                        job.state = S.NEEDS_ATTENTION
                        job.error = _lost_submit_message(idx, step)
                        step.state = S.NEEDS_ATTENTION
                        step.error = job.error
                        job.updated = time.time()
                        attention.append(job)
                        continue
                    started.append(job.id)
                elif job.state == S.SUCCEEDED and not job.imported and job.id not in self._reported:
                    self._reported.add(job.id)
                    report.append(job)
        # Jobs whose task already runs on Tripo first: their slots are taken (in _start) before any new job may use
        # one, so nothing is sent past the account's limit after a restart.
        started.sort(key=lambda jid: not self._live_task_step(self._jobs[jid]))
        if attention or started:
            self._save(important=False)
        for job in attention:
            self._emit_attention(job)
        for job_id in started:
            with self._lock:
                job = self._jobs[job_id]
            self._start(job)
            self._post_update(job)
        for job in report:
            self._post(Event(job.id, ev.FINISHED, self._snap(job)))
        return started

    def retry(self, job_id: str) -> None:
        """Restart a stopped job from its first unfinished step.

        Steps that succeeded are kept; a step whose task exists is polled again (no new POST) unless Tripo reported it
        failed, in which case it is sent again (a new, paid task). A step stuck in ``needs_attention`` is sent again:
        call this only after checking the Tripo task history (or use ``attach(task_id, job_id=...)``).
        """
        self._check_open()
        self._await_worker_exit(job_id)
        if any(j.id == job_id for j in self._adopt_late_ids()):  # created as Blender closed: follow it, never pay twice
            with self._lock:
                job = self._get_job(job_id)
            if job.state in S.ACTIVE:
                self._start(job)
                self._post_update(job)
                return
        with self._lock:
            job = self._get_job(job_id)
            if job_id in self._runs and job.state in S.STOPPED:
                raise _validation_error("The job is still stopping (a request is in flight); try again in a moment.")
            if job_id in self._runs or job.state not in (S.FAILED, S.CANCELLED, S.NEEDS_ATTENTION):
                raise _validation_error("Only a failed, cancelled or stopped job can be retried.")
            for step in job.steps:
                if step.state == S.SUCCEEDED:
                    continue
                if step.task_id and step.status in FAILED_STATUSES:
                    step.task_id = None
                if step.task_id:
                    step.state = S.DOWNLOADING if step.status == SUCCESS else S.QUEUED
                else:
                    step.state = S.PENDING
                    step.status = ""
                    step.progress = 0
                    step.output = {}
                step.error = ""
            job.state = S.PENDING
            job.error = job.notice = ""
            job.updated = time.time()
        self._save(important=True)
        self._start(job)
        self._post_update(job)

    def mark_imported(self, job_id: str, imported: bool = True) -> None:
        """Record the import (main thread): journaled by the journal thread, so the caller never waits for a write.
        ``imported=False``: the result left the scene (undone), so it is offered for import again."""
        with self._lock:
            job = self._get_job(job_id)
            job.imported = bool(imported)
            job.updated = time.time()
        self._save_soon()
        self._post_update(job)

    def set_meta(self, job_id: str, key: str, value: Any) -> None:
        """Add a plain value to a job's ``meta`` (journaled with the next save)."""
        with self._lock:
            self._get_job(job_id).meta[key] = value
        self._save_soon()

    def forget(self, job_id: str) -> None:
        """Remove a job from the list and the journal (cancelling it first if it runs). Files stay on disk."""
        self.cancel(job_id)
        with self._lock:
            self._jobs.pop(job_id, None)
            self._reported.discard(job_id)
        self._safe_save()

    def jobs(self) -> list[dict]:
        """Snapshots of all jobs, oldest first."""
        with self._lock:
            return [j.snapshot() for j in sorted(self._jobs.values(), key=lambda j: j.created)]

    def get(self, job_id: str) -> dict:
        with self._lock:
            return self._get_job(job_id).snapshot()

    def is_running(self, job_id: str) -> bool:
        return job_id in self._runs  # no lock: called per event on the main thread, a dict lookup is atomic

    def active(self) -> bool:
        """True while any worker runs (cheap: the poller asks on every tick)."""
        return bool(self._runs)

    def next_activity(self) -> float | None:
        """When a worker will next do something that may post an event: None when one is working now (a request, a
        download, starting), else the earliest end of their sleeps (monotonic; inf when all wait for slots or none
        runs). Lock-free: the poller asks on every tick to choose its pace."""
        soonest = math.inf
        if any(h.busy for h in list(self._hubs.values())):
            return None
        for run in list(self._runs.values()):
            wake = run.wake_at
            if wake is None:
                return None
            soonest = min(soonest, wake)
        return soonest

    def wait(self, job_id: str, timeout: float | None = None) -> dict:
        """Block until the job stops (succeeded, failed, cancelled, needs_attention) or ``timeout`` passes.

        Returns the job's snapshot either way; check ``snapshot["state"]``. Returns at once for a job that has no
        worker (e.g. loaded from the journal and not resumed).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            job = self._get_job(job_id)
            # Until the worker has ended (so retry/attach may follow at once); a cancelled job returns at once.
            while job_id in self._runs and job.state != S.CANCELLED:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._cond.wait(0.5 if remaining is None else min(0.5, remaining))
            return job.snapshot()

    def drain(self, max_events: int | None = None) -> list[Event]:
        """Take the queued events without blocking (main thread)."""
        out: list[Event] = []
        while max_events is None or len(out) < max_events:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            if event.job_id and event.job_id not in self._jobs:
                continue  # a forgotten (removed) job: its late events are moot, the others' are kept
            out.append(event)
        return out

    def shutdown(self, timeout: float = 2.0, submit_grace: float = SUBMIT_GRACE) -> None:
        """Stop all workers (briefly joined), flush and close the journal. Unfinished jobs stay resumable.

        A worker whose ``POST /task`` is in flight gets up to ``submit_grace`` more seconds: the task it creates is
        paid for, and its id must be journaled. An answer later still is kept in the journal's late-id file, which
        the next engine reads (a quitting process may not live that long: then the job asks for attention)."""
        with self._lock:
            self._stopping = True
            runs = list(self._runs.values())
            for run in runs:
                run.stop.set()
            self._cond.notify_all()
        deadline = time.monotonic() + max(0.0, timeout)
        if self._launcher is not None:
            self._launcher.join(max(0.0, deadline - time.monotonic()))
        for run in runs:
            if run.thread is not None and run.thread.ident is not None:  # started (not dropped by the launcher)
                run.thread.join(max(0.0, deadline - time.monotonic()))
        self._await_creates(runs, submit_grace)
        stuck = [r for r in runs if r.thread is not None and r.thread.is_alive()]
        if stuck:  # a request in flight cannot be interrupted; the daemon thread ends when it returns
            frames = sys._current_frames()
            for r in stuck:
                frame = frames.get(r.thread.ident) if r.thread.ident else None
                where = "".join(traceback.format_stack(frame, limit=6)) if frame is not None else "?"
                log.warning("Tripo job %s still busy after shutdown(%.1f s):\n%s", r.job.id, timeout, where)
        for hub in list(self._hubs.values()):
            hub.close()
        saver = self._saver
        if saver is not None:
            self._save_wanted.set()
            saver.join(max(0.0, deadline - time.monotonic()))
        try:
            self._save(important=False)
        except Exception:  # pragma: no cover
            log.exception("final journal save failed")
        self._journal.close()
        self._dir_lock.release()

    @staticmethod
    def _in_create(run: _Run) -> bool:
        """True while the run's POST /task may be in flight (journaled as submitting, no task id yet)."""
        steps = run.job.steps
        step = steps[run.step_index] if 0 <= run.step_index < len(steps) else None
        return step is not None and step.state == S.SUBMITTING and not step.task_id

    def _await_creates(self, runs: list[_Run], grace: float) -> None:
        deadline = time.monotonic() + max(0.0, grace)
        for run in runs:
            thread = run.thread
            if thread is not None and thread.is_alive() and self._in_create(run):
                log.info("Tripo job %s: waiting for the answer to its task creation before closing", run.job.id)
                thread.join(max(0.0, deadline - time.monotonic()))

    def _adopt_late_ids(self) -> list[Job]:
        """Give steps the task ids that arrived after an earlier engine closed its journal (see
        :meth:`Journal.note_task_id`). Such a step was journaled ``submitting`` without an id: it is followed again
        instead of asking for attention (and a retry polls it instead of paying for a second task)."""
        records = self._journal.late_ids()
        if not records:
            return []
        changed: list[Job] = []
        with self._lock:
            for rec in records:
                job = self._jobs.get(str(rec.get("job")))
                idx = rec["step"]
                if job is None or not 0 <= idx < len(job.steps) or job.steps[idx].task_id:
                    continue
                step = job.steps[idx]
                step.task_id = rec["task_id"]
                step.state, step.status, step.error = S.QUEUED, "queued", ""
                if job.state in S.ACTIVE or job.state == S.NEEDS_ATTENTION:
                    job.state = S.QUEUED
                    job.error = ""
                job.notice = (f"Task {step.task_id} was created while Blender was closing; its id was kept and the "
                              "job follows it (it was not sent again).")
                job.updated = time.time()
                changed.append(job)
        if changed:
            try:
                self._save(important=True, must=True)
            except JournalError as exc:
                log.warning("journal: late task ids not merged yet: %s", exc)
                return changed

        def done(rec: dict) -> bool:
            job = self._jobs.get(str(rec.get("job")))
            idx = rec["step"]
            return job is None or not 0 <= idx < len(job.steps) or bool(job.steps[idx].task_id)

        self._journal.drop_late_ids(done)
        for job in changed:
            self._post_update(job)
        return changed

    def _take_late_ids(self, other: Journal) -> None:
        """Copy another (adopted) journal's late task ids into this one's, so they are merged like our own."""
        for rec in other.late_ids():
            try:
                self._journal.note_task_id(str(rec.get("job")), rec["step"], rec["task_id"])
            except OSError as exc:
                log.error("Tripo task %s (job %s) could not be carried over (%s): attach it by this id",
                          rec["task_id"], rec.get("job"), exc)

    def _keep_task_id(self, job: Job, idx: int, task_id: str, exc: Exception) -> None:
        """The journal refused the id of a task just created (closed by shutdown, or failing): keep it in the late-id
        file, and tell the user the id (a notice, and the log) so it can be attached whatever happens."""
        try:
            self._journal.note_task_id(job.id, idx, task_id)
        except OSError as late_exc:
            log.error("Tripo task %s (job %s, step %d) was created but could not be recorded (%s; %s): attach it "
                      "by this id", task_id, job.id, idx + 1, exc, late_exc)
        else:
            log.warning("Tripo task %s (job %s) was created as the job log closed; kept for the next start", task_id,
                        job.id)
        if not self._journal.closed:
            self._notice(job, f"Task {task_id} was created but the job log could not be written ({exc}).")

    def set_max_parallel(self, n: int) -> None:
        """Change "Parallel Tasks" live: every group's limit follows at once (jobs waiting for a slot start when the
        limit grows; running ones are never stopped when it shrinks)."""
        self.max_parallel = max(1, int(n))
        for name, slots in self._slots.items():
            with slots._lock:
                slots.limit = max(1, min(GROUP_LIMITS.get(name, self.max_parallel), self.max_parallel))
                slots._grant()

    def pause(self) -> list[str]:
        """Stop every worker without cancelling its job (e.g. online access was turned off). Nothing is lost: a task
        already sent keeps its id, a POST in flight completes and is recorded, and :meth:`resume` continues each job
        where it stopped, never sending a task twice. Returns the paused job ids. Does not wait for the workers."""
        with self._lock:
            runs = [r for r in self._runs.values() if not r.cancelled]
            for run in runs:
                run.restart = False
                run.stop.set()
            self._cond.notify_all()
        return [r.job.id for r in runs]

    def _await_worker_exit(self, job_id: str, timeout: float = 0.5) -> None:
        """Give a stopped job's worker a moment to end (it may be returning from a request)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while job_id in self._runs and time.monotonic() < deadline:
                job = self._jobs.get(job_id)
                if job is None or job.state not in S.STOPPED:
                    return
                self._cond.wait(0.1)

    def _adopt_secondaries(self) -> list[str]:
        """Take over the job lists of secondary engines that have ended (their lock is free)."""
        notices: list[str] = []
        adopted: list[tuple[Path, DirLock]] = []
        for path in sorted(self.state_dir.glob(f"{SECONDARY_PREFIX}*.json")):
            if path == self._journal.path:
                continue
            lock = DirLock(path.with_suffix(".lock"))
            if not lock.acquire():
                continue  # still running
            secondary = Journal(self.state_dir, name=path.name)
            jobs, msgs = secondary.load()
            notices += msgs
            for job in jobs:
                self._jobs.setdefault(job.id, job)
            self._take_late_ids(secondary)
            adopted.append((path, lock))
        if adopted:
            try:
                self._save(important=True, must=True)
            except JournalError as exc:
                notices.append(f"Jobs from another Blender instance could not be merged: {exc}")
                for _path, lock in adopted:
                    lock.release()
                return notices
            for path, lock in adopted:
                lock.release()
                for p in (path, path.with_suffix(".lock"), path.with_name(path.name + ".late-ids")):
                    try:
                        p.unlink()
                    except OSError:
                        pass
        return notices

    # -- retention (issue 10 item 15) -----------------------------------------------------------------------------
    def _retain(self) -> None:
        """At start: move finished jobs beyond the newest ``keep_finished`` out of the live journal into the rotating
        archive (jobs-archive.jsonl), and delete their exported meshes. Saves and loads then stay small however long
        the history grows; a job not imported yet or needing attention is never archived."""
        live, old = split_retained(self._jobs.values(), self.keep_finished)
        if not old:
            return
        try:
            archive_jobs(self.state_dir, old)  # durable first: a crash before the save below only duplicates
        except OSError as exc:
            log.warning("could not archive %d old jobs: %s", len(old), exc)
            return
        for job in old:
            self._jobs.pop(job.id, None)
            self._delete_exports(job)
        self._save(important=True)
        log.info("archived %d finished jobs; %d stay in the job list", len(old), len(live))

    def _delete_exports(self, job: Job) -> None:
        """Delete the job's meshes that the add-on exported for upload (only files inside ``exports_dir``): the task
        that used them exists, so they are no longer needed."""
        try:
            root = self.exports_dir.resolve()
        except OSError:
            return
        for step in job.steps:
            for path in {*step.uploads, *local_files(step)}:
                try:
                    p = Path(path).resolve()
                    if root in p.parents and p.is_file():
                        p.unlink()
                except (OSError, ValueError):
                    log.debug("could not delete export %s", path, exc_info=True)

    @property
    def slots(self) -> dict[str, Slots]:
        """Concurrency groups (for diagnostics and tests)."""
        return self._slots

    # ================================================================================================ validation
    def validate(self, job: Job) -> None:
        """Check every step before anything is sent; raise TripoValidationError with a clear message."""
        if not job.steps:
            raise _validation_error("The job has no steps.")
        for i, step in enumerate(job.steps):
            where = f"Step {i + 1} ({step.task_type})" if len(job.steps) > 1 else f"{step.task_type}"
            if not isinstance(step, Step):
                raise _validation_error(f"Step {i + 1} is not a Step.")
            if step.task_type not in api_tasks.TASK_TYPES:
                raise _validation_error(f"Step {i + 1}: unknown task type {step.task_type!r}.")
            retired = api_tasks.retired_reason(step.task_type, job.api)
            if retired:
                raise _validation_error(f"{where}: {retired}")
            if step.task_id or step.state != S.PENDING:
                raise _validation_error(f"{where}: a new job's steps must be pending, without a task id.")
            if step.upload not in ("auto", "direct", "sts", "presign"):
                raise _validation_error(f"{where}: upload must be 'auto', 'direct', 'sts' or 'presign'.")
            try:
                json.dumps(encode_value(step.params))
            except (TypeError, ValueError) as exc:
                raise _validation_error(f"{where}: parameters must be plain values ({exc}).")
            for ref in iter_refs(step.params):
                self._check_ref(job, i, ref, where)
            self._check_files(step, where, job.api)
            src_type, src_version = self._source_of(job, step)
            try:
                if src_type is not None:  # the chain rules first: their message is the clearest
                    api_tasks.check_chain(step.task_type, src_type, src_version, api=job.api)
                api_tasks.build_request(
                    step.task_type,
                    self._placeholder_params(job, step),
                    api=job.api,
                    source_type=src_type,
                    source_model_version=src_version,
                )
            except TripoValidationError as exc:
                raise _validation_error(f"{where}: {_user_message(exc)}")
            try:
                step.estimate = api_tasks.estimate_credits(step.task_type, self._placeholder_params(job, step),
                                                           api=job.api)
            except Exception:  # noqa: BLE001 - an estimate is a nicety
                step.estimate = None

    @staticmethod
    def _source_of(job: Job, step: Step) -> tuple[str | None, str | None]:
        """(task type, model version) of the earlier step this step's source field refers to, if any."""
        tt = api_tasks.TASK_TYPES.get(step.task_type)
        source = step.params.get(tt.source_field) if tt is not None and tt.source_field else None
        if isinstance(source, Ref) and source.what == "task_id" and 0 <= source.step < len(job.steps):
            src = job.steps[source.step]
            if src.task_type:
                version = src.params.get("model_version")
                if not isinstance(version, str) and isinstance(src.output, dict):
                    version = None
                return src.task_type, version if isinstance(version, str) else None
        return None, None

    @staticmethod
    def _check_external_source(run: _Run, client: Any, step: Step, params: dict) -> tuple[str | None, str | None]:
        """A source given by task id (not an earlier step of this job): fetch it (a free GET) and refuse, before the
        POST, one Tripo would refuse (not finished, wrong type or version). Returns its (task type, model version)."""
        tt = api_tasks.TASK_TYPES.get(step.task_type)
        field = tt.source_field if tt is not None else None
        source = params.get(field) if field else None
        if not isinstance(source, str) or not source or not hasattr(client, "check_source"):
            return None, None
        src = client.check_source(step.task_type, source, cancel=run.stop)
        return src.type, src.chain_version

    @staticmethod
    def _check_ref(job: Job, i: int, ref: Ref, where: str) -> None:
        if not isinstance(ref.step, int) or not 0 <= ref.step < i:
            raise _validation_error(f"{where}: a reference must point to an earlier step (got step {ref.step + 1}).")
        src = job.steps[ref.step]
        if ref.what == "task_id":
            return
        key = ref.output_key
        if not key:
            raise _validation_error(f"{where}: unknown reference {ref.what!r} (use 'task_id' or 'output:<key>').")
        outputs = api_tasks.TASK_TYPES[src.task_type].outputs
        if outputs and key not in outputs:
            raise _validation_error(
                f"{where}: step {ref.step + 1} ({src.task_type}) has no output {key!r} (it has {', '.join(outputs)})."
            )

    @staticmethod
    def _check_files(step: Step, where: str, job_api: str) -> None:
        def check(value: Any, slot: str) -> Any:
            if isinstance(value, Ref | dict | api_inputs.Input) or _is_url(value):
                return value
            if not isinstance(value, str) or not value:
                raise _validation_error(f"{where}: {slot} must be a file path, a URL or a file object.")
            if not os.path.exists(value):
                if _UUIDISH.match(value) or value.startswith("file_"):
                    return value  # an uploaded file token
                what = "GLB, FBX, OBJ or STL file" if step.task_type == "import_model" else "PNG, JPEG or WEBP file"
                raise _validation_error(f"{where}: the file {value} does not exist (file not found); choose an "
                                        f"existing {what}.")
            if not os.path.isfile(value):
                raise _validation_error(f"{where}: not a file: {value}")
            ext = _ext(value)
            mesh_slot = step.task_type == "import_model"
            allowed = MESH_EXTS if mesh_slot else IMAGE_EXTS
            if ext not in allowed:
                name = os.path.basename(value)
                if mesh_slot:
                    raise _validation_error(f"{where}: {name} is not a 3D model; choose a GLB, FBX, OBJ or STL file.")
                hint = " (to send a model, use Import Model)" if ext in MESH_EXTS else ""
                raise _validation_error(f"{where}: {name} is not an image; choose a PNG, JPEG or WEBP picture{hint}.")
            if step.upload == "direct" and ext in MESH_EXTS and job_api == "v2":
                raise _validation_error(f"{where}: on API v2 3D models can only be uploaded through STS "
                                        "(upload='sts').")
            try:  # content checks (image header and size, mesh magic and size) without sending anything
                check_local_file(value, slot, step.task_type)
            except TripoValidationError as exc:
                raise _validation_error(f"{where}: {_user_message(exc)}")
            return value

        map_file_slots(step.task_type, step.params, check)

    def _placeholder_params(self, job: Job, step: Step) -> dict:
        """Params with Refs and local files replaced by plausible placeholders (for build_request validation)."""

        def fill(value: Any) -> Any:
            if isinstance(value, Ref):
                if value.what == "task_id":
                    return PLACEHOLDER_ID
                key = value.output_key or ""
                if key == api_outputs.RIG_TYPE:
                    return "biped"
                if key == api_outputs.RIGGABLE:
                    return True
                return api_inputs.task_output(PLACEHOLDER_ID, "https://placeholder.invalid/output.png")
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        params = fill(step.params)
        return map_file_slots(step.task_type, params,
                              lambda v, slot: self._file_input(v, step.task_type, job.api, placeholder=True))

    @staticmethod
    def _file_input(value: Any, task_type: str, api: str, *, placeholder: bool = False,
                    uploads: dict | None = None) -> Any:
        """A file-slot value as an Input (local paths: their upload, or a stand-in while validating)."""
        if isinstance(value, api_inputs.Input):
            return value
        if isinstance(value, dict):
            return api_inputs.coerce(value, mesh=task_type == "import_model")
        if _is_url(value):
            return api_inputs.url(value, mesh=task_type == "import_model")
        if isinstance(value, str):
            if uploads is not None and value in uploads:
                rec = uploads[value]
                if api_inputs.Input.is_json(rec.get("input")):
                    return api_inputs.Input.from_json(rec["input"])
                return api_inputs.coerce({k: v for k, v in rec.items() if not k.startswith("_")})  # older journals
            if placeholder and os.path.exists(value):
                return placeholder_input(value, task_type, api)
            if (_UUIDISH.match(value) or value.startswith("file_")) and not os.path.exists(value):
                return api_inputs.token(value, "glb" if task_type == "import_model" else "jpg")
        return value

    # ================================================================================================ workers
    def _start(self, job: Job) -> None:
        """Register the job's worker (it counts as running from now on) and hand it to the launcher thread.

        ``Thread.start()`` waits until the new thread runs, which takes milliseconds when workers hold the GIL: the
        launcher pays that, not the main thread."""
        launcher = None
        with self._lock:
            if job.id in self._runs or self._stopping:
                return
            run = _Run(job)
            self._claim_live_slots(run)
            run.thread = threading.Thread(target=self._worker, args=(run,), name=f"tripo-job-{job.id}", daemon=True)
            self._runs[job.id] = run
            self._launch.append(run)
            if self._launcher is None:
                launcher = self._launcher = threading.Thread(target=self._launch_loop, name="tripo-launcher",
                                                             daemon=True)
            self._cond.notify_all()
        if launcher is not None:
            launcher.start()

    def _launch_loop(self) -> None:
        while True:
            with self._cond:
                while not self._launch and not self._stopping:
                    self._cond.wait()
                batch, self._launch = self._launch, []
                if self._stopping:  # never started: nothing was sent; the journal keeps them resumable
                    for run in batch:
                        self._release_slots(run)
                        if self._runs.get(run.job.id) is run:
                            del self._runs[run.job.id]
                    self._cond.notify_all()
                    return
            try:
                self._save(important=True, must=True)  # one write for the whole batch
            except JournalError as exc:
                for run in batch:
                    self._release_slots(run)
                    self._finish(run, S.FAILED, error=_user_message(exc))
                    with self._cond:
                        if self._runs.get(run.job.id) is run:
                            del self._runs[run.job.id]
                        self._cond.notify_all()
                continue
            for run in batch:
                run.thread.start()

    @staticmethod
    def _live_task_step(job: Job) -> Step | None:
        """The job's current step when its task exists on Tripo and is not final (it occupies a slot there)."""
        idx = job.current_step
        step = job.steps[idx] if idx < len(job.steps) else None
        if step is None or not step.task_id or not step.task_type or job.state not in S.ACTIVE:
            return None
        if step.status == SUCCESS or step.status in FAILED_STATUSES:
            return None
        return step

    def _claim_live_slots(self, run: _Run) -> None:
        """Under the lock, before the worker starts: a resumed (or retried) job whose task still runs on Tripo counts
        against the account's limit at once, not only after its first poll answered."""
        step = self._live_task_step(run.job)
        if step is None:
            return
        for g in self._pools(run.job, step):
            g.force()
            run.slots.append(g)

    def _worker(self, run: _Run) -> None:
        job = run.job
        client = None
        try:
            client = self._client_factory()
            for idx, step in enumerate(job.steps):
                if step.state == S.SUCCEEDED:
                    continue
                run.step_index = idx
                self._run_step(run, client, idx, step)
            self._finish(run, S.SUCCEEDED)
        except (_Interrupted, Stopped):
            self._interrupted(run)
        except TripoCancelled as exc:
            if run.stop.is_set():
                self._interrupted(run)
            else:
                self._finish(run, S.FAILED, error=self._prefixed(run, _user_message(exc)))
        except _NeedsAttention as exc:
            self._finish(run, S.NEEDS_ATTENTION, error=str(exc))
        except _StepFailed as exc:
            self._finish(run, S.FAILED, error=str(exc))
        except BaseException as exc:  # noqa: BLE001 - a worker must never die silently
            if not isinstance(exc, TripoError | JournalError):
                log.exception("Tripo job %s crashed", job.id)
            self._finish(run, S.FAILED, error=self._prefixed(run, _user_message(exc)))
        finally:
            self._release_slots(run)
            if client is not None and hasattr(client, "close"):
                try:
                    client.close()
                except Exception:  # noqa: BLE001
                    log.debug("client.close failed", exc_info=True)
            with self._cond:
                if self._runs.get(job.id) is run:
                    del self._runs[job.id]
                self._cond.notify_all()
                again = run.restart and not self._stopping and job.state in S.ACTIVE
            if again:
                self._start(job)
                self._post_update(job)

    def _prefixed(self, run: _Run, msg: str) -> str:
        job = run.job
        if len(job.steps) <= 1:
            return msg
        step = job.steps[run.step_index]
        return f"Step {run.step_index + 1} of {len(job.steps)} ({step.task_type}): {msg}"

    def _check_stop(self, run: _Run) -> None:
        if run.stop.is_set() or run.cancelled or self._stopping:
            raise _Interrupted()

    def _sleep(self, run: _Run, seconds: float) -> None:
        run.wake_at = time.monotonic() + max(0.0, seconds)
        try:
            if run.stop.wait(max(0.0, seconds)):
                raise _Interrupted()
        finally:
            run.wake_at = None

    def _run_step(self, run: _Run, client: Any, idx: int, step: Step) -> None:
        job = run.job
        if not step.task_id:
            if step.state in (S.SUBMITTING, S.NEEDS_ATTENTION):
                raise _NeedsAttention(_lost_submit_message(idx, step))
            self._submit_waiting(run, client, idx, step)
        task = None
        if step.state != S.DOWNLOADING or not step.task_type:
            task = self._poll(run, client, idx, step)
        self._download(run, client, idx, step, task)
        with self._lock:
            step.state = S.SUCCEEDED
            step.finished_at = time.time()
            step.progress = 100
            if idx + 1 < len(job.steps) and job.state not in S.FINAL:
                job.state = S.PENDING
        self._save(important=False)  # made durable by the next step's "submitting" save or by _finish()
        self._post_update(job)

    # -- submit ------------------------------------------------------------------------------------------------
    def _submit_waiting(self, run: _Run, client: Any, idx: int, step: Step) -> None:
        """Submit the step; while Tripo says the account is busy (429/2000, nothing created), wait for a free slot
        with growing, jittered back-off (Retry-After as a floor) and say so in the job's row. Cancel stops it."""
        job = run.job
        busy = 0
        while True:
            try:
                self._submit_step(run, client, idx, step)
            except _AccountBusy as exc:
                busy += 1
                self._release_slots(run)
                delay = api_polling.busy_delay(busy, retry_after=exc.retry_after, base=self.busy_base,
                                               cap=self.busy_cap)
                with self._lock:
                    job.notice = _busy_notice(exc.code, delay)
                self._post_update(job)
                self._sleep(run, delay)
                continue
            if busy:
                with self._lock:
                    if job.notice.startswith(BUSY_NOTICE):
                        job.notice = ""
                self._post_update(job)
            return

    def _create_backoff(self, run: _Run, step: Step, *, waiting: bool) -> None:
        """The client backs off between two creates (``waiting``) or is about to send again (see _BackoffWatch)."""
        job = run.job
        with self._lock:
            step.state = S.PENDING if waiting else S.SUBMITTING
            if waiting and not job.notice:
                job.notice = _busy_notice(2000)
            if job.state not in S.STOPPED:
                job.state = step.state
            job.updated = time.time()
        self._save(important=True, must=not waiting)  # fsynced: "submitting" again before the next POST
        self._post_update(job)

    def _submit_step(self, run: _Run, client: Any, idx: int, step: Step) -> None:
        job = run.job
        self._check_stop(run)
        now = time.time()
        todo = [
            p
            for p in dict.fromkeys(local_files(step))
            if p not in step.uploads or now - float(step.uploads[p].get("_at", 0)) > UPLOAD_MAX_AGE
        ]
        if todo:
            self._set(job, step, S.UPLOADING, important=False)
            for path in todo:
                self._check_stop(run)
                mesh = step.task_type == "import_model" or _ext(path) in MESH_EXTS
                method = step.upload if step.upload in ("sts", "presign") else "auto"
                ref = client.upload(path, mesh=mesh, method=method, cancel=run.stop)
                with self._lock:
                    step.uploads[path] = {"input": ref.to_json(), "_at": time.time()}
                self._save(important=False)
                self._post_update(job)
        self._check_stop(run)
        groups = self._pools(job, step)
        if any(g.used >= g.limit for g in groups):
            with self._lock:
                step.state = S.PENDING
                job.notice = _slot_notice([g.name for g in groups if g.used >= g.limit])
            self._post_update(job)
        for g in groups:
            run.wake_at = math.inf  # woken by another job's end, whose own activity the main thread sees
            try:
                g.acquire(run.stop)
            finally:
                run.wake_at = None
            run.slots.append(g)
        self._check_stop(run)
        # Resolve references only now: output URLs (e.g. a generated image) expire within minutes.
        params = self._resolve_refs(run, client, idx, step)
        params = map_file_slots(step.task_type, params,
                                lambda v, slot: self._file_input(v, step.task_type, job.api, uploads=step.uploads))
        src_type, src_version = self._source_of(job, step)
        if src_type is None:
            src_type, src_version = self._check_external_source(run, client, step, params)
        notices: list[str] = []
        values = api_tasks.build_request(step.task_type, params, api=job.api, source_type=src_type,
                                         source_model_version=src_version, notices=notices)
        for msg in notices:
            self._notice(job, msg)
        self._check_stop(run)
        with self._lock:
            if job.notice.startswith(SLOT_NOTICES):
                job.notice = ""
            step.submitted_at = time.time()
        self._set(job, step, S.SUBMITTING, important=True, must=True)  # fsynced before the POST: never sent twice
        if run.stop.is_set() or self._stopping:
            with self._lock:
                step.state = S.PENDING
            self._save(important=False)
            raise _Interrupted()
        try:
            task_id = client.create_task(step.task_type, values, cancel=_BackoffWatch(self, run, step))
        except TripoCancelled:  # stopped before sending or while backing off from a refusal: nothing was created
            with self._lock:
                step.state = S.PENDING
            self._save(important=False)
            raise _Interrupted()
        except TripoOutcomeUnknown as exc:
            with self._lock:
                step.state = S.NEEDS_ATTENTION
                step.error = _user_message(exc)
            raise _NeedsAttention(
                self._prefixed(
                    run,
                    "The request reached Tripo but its answer was lost, so a task may or may not have been created. "
                    "It was not sent again, so you are not charged twice. Check your task history on the Tripo "
                    "website: if the task is there, attach it to this job by its id; if not, retry the job.",
                )
            )
        except TripoRateLimited as exc:  # the account is busy: refused, nothing was created; wait and send again
            with self._lock:
                step.state = S.PENDING
                step.error = ""
            self._save(important=True)
            raise _AccountBusy(exc) from None
        except JournalError as exc:  # "submitting" could not be journaled again after a back-off: nothing was sent
            with self._lock:
                step.state = S.FAILED
                step.error = _user_message(exc)
            raise
        except TripoError as exc:  # refused by Tripo (or never sent): no task exists
            with self._lock:
                step.state = S.FAILED
                step.error = _user_message(exc)
            self._save(important=False)
            raise
        except BaseException as exc:  # outcome not known: do not risk a second task
            log.exception("create_task raised unexpectedly")
            with self._lock:
                step.state = S.NEEDS_ATTENTION
                step.error = redact(f"{type(exc).__name__}: {exc}")
            raise _NeedsAttention(
                self._prefixed(run, f"Unexpected error while sending the task ({step.error}). ")
                + "It was not sent again. Check your Tripo task history and attach the task by id "
                "if it exists."
            )
        with self._lock:
            step.task_id = str(task_id)
            step.state = S.QUEUED
            step.status = "queued"
            if job.state not in S.STOPPED:
                job.state = S.QUEUED
        try:
            self._save(important=True, must=True)
        except JournalError as exc:  # the task exists: keep following it in memory; its id must not be lost
            self._keep_task_id(job, idx, str(task_id), exc)
        self._post_update(job)
        if run.cancelled:
            raise _Interrupted()

    def _resolve_refs(self, run: _Run, client: Any, idx: int, step: Step) -> dict:
        """Replace Refs with the task id or a fresh output value of the referenced step."""
        job = run.job
        fresh: dict[int, dict] = {}

        def output_of(i: int) -> dict:
            if i not in fresh:
                src = job.steps[i]
                if not src.task_id:
                    raise _StepFailed(f"Step {idx + 1} needs step {i + 1}, which has no task.")
                task = client.get_task(src.task_id, cancel=run.stop)  # fresh URLs: outputs expire within minutes
                out = dict(_attr(task, "output", {}) or {})
                with self._lock:
                    src.output = out
                fresh[i] = out
            return fresh[i]

        def fill(value: Any) -> Any:
            if isinstance(value, Ref):
                src = job.steps[value.step]
                if value.what == "task_id":
                    if not src.task_id:
                        raise _StepFailed(f"Step {idx + 1} needs step {value.step + 1}, which has no task.")
                    return src.task_id
                key = value.output_key or ""
                out = output_of(value.step)
                if key not in out or out[key] in (None, ""):
                    raise _StepFailed(
                        f"Step {idx + 1} ({step.task_type}) needs {key!r} from step {value.step + 1} "
                        f"({src.task_type}), which did not return it."
                    )
                if key in api_outputs.VALUES:
                    return out[key]
                link = out[key]  # a file output: the dialect decides how a later task refers to it
                return client.dialect.output_input(src.task_id, link if isinstance(link, str) else None,
                                                   api_inputs.ext_of(link) if isinstance(link, str) else None)
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        return fill(step.params)

    # -- poll --------------------------------------------------------------------------------------------------
    def _poll(self, run: _Run, client: Any, idx: int, step: Step) -> Any:
        """Poll the step's task until it is final. Returns the successful task; raises on failure."""
        job = run.job
        idle = transient = unknown = 0
        limit_unknown = int(getattr(client, "unknown_polls", api_polling.UNKNOWN_POLLS_LIMIT))
        finish = api_polling.FinishWindow()  # the readings of all polls together pin the end down
        hub = self._hub(job.api) if getattr(getattr(client, "dialect", None), "batch_limit", 0) else None
        # A task created a moment ago is first asked about after the shortest interval (nothing to learn sooner);
        # a resumed or attached one at once.
        age = time.time() - (step.submitted_at or 0.0)
        delay = max(0.0, self.poll_min - age) if hub is not None and step.status in ("", "queued") else 0.0
        while True:
            self._check_stop(run)
            try:
                if hub is None:
                    task = client.get_task(step.task_id, cancel=run.stop)
                else:  # one batch request per round for every job waiting (v3 tasks/list)
                    run.wake_at = hub.due_time(delay)
                    try:
                        task = hub.get(step.task_id, due=run.wake_at, stop=run.stop)
                    finally:
                        run.wake_at = None
            except TripoCancelled:
                if run.stop.is_set():
                    raise _Interrupted() from None
                raise
            except TripoError as exc:
                if not self._transient(exc):
                    raise _StepFailed(
                        self._prefixed(run, f"{_user_message(exc)} (while following task {step.task_id})")
                    )
                transient += 1
                with self._lock:
                    step.error = f"Connection problem, retrying: {_user_message(exc)}"
                self._post_update(job)
                delay = min(self.poll_max, self.poll_min * 2 ** min(transient, 10))
                if hub is None:
                    self._sleep(run, delay)
                continue
            transient = 0
            changed = self._apply_task(run, idx, step, task)
            status = step.status
            if status == SUCCESS:
                self._release_slots(run)
                return task
            unknown = unknown + 1 if status == "unknown" else 0
            if status in FAILED_STATUSES or unknown >= limit_unknown:
                self._release_slots(run)
                msg = self._task_failure_text(task, unknown)
                with self._lock:
                    step.state = S.FAILED
                    step.error = msg
                raise _StepFailed(self._prefixed(run, f"{msg} (task {step.task_id})"))
            if not run.slots and step.task_type:  # resumed or attached: it occupies a Tripo slot anyway
                for g in self._pools(job, step):
                    g.force()
                    run.slots.append(g)
            idle = 0 if changed else idle + 1
            now = time.monotonic()
            finish.update(step.eta, now)
            delay = api_polling.next_poll_delay(
                status,
                running_left_time=step.eta,
                finish_left=finish.left(now),
                progress=step.progress,
                queuing_num=step.queue_position,
                idle_polls=idle,
                poll_min=self.poll_min,
                poll_max=self.poll_max,
            )
            if hub is None:
                self._sleep(run, delay)

    @staticmethod
    def _transient(exc: TripoError) -> bool:
        """Worth polling on: the task exists; the network or Tripo's servers are having a bad moment."""
        return isinstance(exc, TripoNetworkError | TripoServerError | TripoRateLimited | TripoTimeout)

    def _apply_task(self, run: _Run, idx: int, step: Step, task: Any) -> bool:
        """Copy a task's state into the step. Returns True if anything user-visible changed."""
        job = run.job
        status = str(_attr(task, "status", "") or "")
        progress = int(_attr(task, "progress", 0) or 0)
        eta = _attr(task, "eta", None)
        queue = _attr(task, "queuing_num", None)
        credits = _attr(task, "credits", None)
        ttype = _attr(task, "type", None)
        with self._lock:
            if not step.task_type and ttype:
                step.task_type = str(ttype)
            elif ttype and step.task_type and ttype != step.task_type:
                raise _StepFailed(
                    f"Task {step.task_id} is a {ttype} task, but step {idx + 1} expects {step.task_type}."
                )
            before = (step.status, step.progress, step.eta, step.queue_position)
            status_changed = status != step.status
            step.status = status
            step.progress = 100 if status == SUCCESS else max(0, min(100, progress))
            step.eta = int(eta) if isinstance(eta, int | float) and eta >= 0 else None
            step.queue_position = int(queue) if isinstance(queue, int | float) and queue >= 0 else None
            if credits is not None:
                step.credits = float(credits)
            step.output = dict(_attr(task, "output", {}) or {})
            if step.error.startswith("Connection problem"):
                step.error = ""
            new_state = {"queued": S.QUEUED, "running": S.RUNNING}.get(status)
            if status == SUCCESS and step.download:
                new_state = S.DOWNLOADING  # journaled with the success itself: a restart resumes the download
            if new_state:
                step.state = new_state
                if job.state not in S.STOPPED:
                    job.state = new_state
            changed = before != (step.status, step.progress, step.eta, step.queue_position)
        # queued -> running is written with the next save; success is followed at once by the durable "downloading"
        # (or, without a download, by _finish()): one fsync on the way to the scene instead of two.
        self._save(important=status_changed and status not in ("queued", "running", SUCCESS))
        if changed:
            self._post_update(job)
        return changed

    @staticmethod
    def _task_failure_text(task: Any, unknown_polls: int = 0) -> str:
        status = str(_attr(task, "status", ""))
        code = _attr(task, "error_code", None)
        detail = ""
        base = STATUS_TEXT.get(status, f"The task ended with status {status!r}")
        if code is not None:
            base += f" (error {code})"
            detail = ERROR_TEXT.get(code, "") if isinstance(code, int) else ""
        msg = _attr(task, "error_msg", None)
        if msg and not detail:
            detail = str(msg).rstrip(".") + "."
        if status == "unknown":
            detail = (
                f"it stayed unknown for {unknown_polls} checks in a row, so the add-on stopped following it. "
                "Check the task on the Tripo website and attach it again by id if it finishes."
            )
        elif status in ("failed", "expired") and not detail:
            detail = "Credits for a failed task are refunded; try again, perhaps with different input."
        return redact(f"{base}: {detail}" if detail else f"{base}.")

    # -- download ----------------------------------------------------------------------------------------------
    def _download(self, run: _Run, client: Any, idx: int, step: Step, task: Any) -> None:
        job = run.job
        if not step.download:
            return
        output = step.output
        if task is None or not output:
            task = client.get_task(step.task_id, cancel=run.stop)
            self._apply_task(run, idx, step, task)
            output = step.output
        if step.outputs is not None:
            keys = [k for k in step.outputs if api_outputs.get(output, k)]  # "clips.1": an item of a list
        else:
            key = main_output_key(step.task_type, output)
            tt = api_tasks.TASK_TYPES.get(step.task_type)
            if key is None and tt is not None and tt.model_output:
                raise _StepFailed(
                    self._prefixed(run, f"Task {step.task_id} succeeded but returned no model file to download.")
                )
            keys = [key] if key else []
        if not keys:
            return
        with self._lock:
            step.files = []
        self._set(job, step, S.DOWNLOADING, important=True)
        dest = self.download_dir / str(step.task_id)
        last = [0.0]

        def progress(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2:
                return
            last[0] = now
            with self._lock:
                job.meta["download"] = {"done": int(done), "total": int(total) if total else None}
            self._post_update(job)

        for key in keys:
            self._check_stop(run)
            # the output just polled: its URLs are fresh, no GET /task before the file
            path = client.download(step.task_id, key, dest, cancel=run.stop, progress=progress, output=output)
            _extract_zip(path)
            with self._lock:
                step.files.append(str(path))
        with self._lock:
            job.meta.pop("download", None)
        self._save(important=False)  # the next step's submit or _finish() writes it durably

    # ================================================================================================ state helpers
    def _set(self, job: Job, step: Step, state: str, *, important: bool, must: bool = False) -> None:
        with self._lock:
            step.state = state
            if job.state not in S.STOPPED:
                job.state = state
            job.updated = time.time()
        self._save(important=important, must=must)
        self._post_update(job)

    def _set_cancelled(self, job: Job) -> None:
        """Under the lock."""
        job.state = S.CANCELLED
        job.updated = time.time()
        sent = [s for s in job.steps if s.task_id and s.state not in (S.SUCCEEDED,) and s.status not in FAILED_STATUSES]
        in_flight = [s for s in sent if s.status != SUCCESS]
        if in_flight:
            job.notice = "Cancelled locally. " + NO_SERVER_CANCEL.format(task="task " + in_flight[0].task_id)
        elif any(s.state == S.SUBMITTING for s in job.steps):
            job.notice = "Cancelled locally while a task was being sent. " + NO_SERVER_CANCEL.format(task="it")
        else:
            job.notice = "Cancelled."
        for s in job.steps:
            if s.state not in (S.SUCCEEDED, S.FAILED):
                s.state = S.CANCELLED

    def _interrupted(self, run: _Run) -> None:
        """A worker stopped because of cancel() or shutdown()."""
        job = run.job
        if run.cancelled:
            with self._lock:  # (re)write the notice: a task id may have arrived after cancel()
                self._set_cancelled(job)
            self._safe_save()
            self._post_update(job)
        else:
            self._safe_save()  # shutdown: leave the state as is, resumable

    def _finish(self, run: _Run, state: str, error: str = "") -> None:
        job = run.job
        with self._lock:
            if job.state == S.CANCELLED or run.cancelled:
                return
            job.state = state
            job.error = error
            job.updated = time.time()
            if state == S.SUCCEEDED:
                job.notice = str(job.meta.get("recovered") or "")  # a task found in the history: still said
            step = job.steps[run.step_index] if job.steps else None
            if step is not None and state == S.FAILED and step.state != S.SUCCEEDED and step.state != S.FAILED:
                step.state = S.FAILED
                step.error = step.error or error
            if step is not None and state == S.NEEDS_ATTENTION:
                step.state = S.NEEDS_ATTENTION if not step.task_id else step.state
                step.error = step.error or error
        self._safe_save()
        if state == S.SUCCEEDED:
            with self._lock:
                self._reported.add(job.id)
            self._delete_exports(job)
            self._emit_final(job, ev.FINISHED)
        elif state == S.FAILED:
            self._emit_final(job, ev.FAILED)
        else:
            self._emit_attention(job)

    def _emit_final(self, job: Job, kind: str) -> None:
        snap = self._snap(job)
        self._post(Event(job.id, kind, snap, job.error or job.notice))
        with self._cond:
            self._cond.notify_all()

    def _emit_attention(self, job: Job) -> None:
        snap = self._snap(job)
        self._post(Event(job.id, ev.UPDATE, snap))
        self._post(Event(job.id, ev.NOTICE, snap, job.error))
        with self._cond:
            self._cond.notify_all()

    def _notice(self, job: Job | None, message: str) -> None:
        self._post(Event(job.id if job else "", ev.NOTICE, self._snap(job) if job else {}, redact(message)))

    def _hub(self, api: str) -> PollHub:
        with self._lock:
            hub = self._hubs.get(api)
            if hub is None:
                hub = self._hubs[api] = PollHub(self._client_factory, name=f"tripo-poll-{api}")
            return hub

    def _pools(self, job: Job, step: Step) -> list[Slots]:
        """The account concurrency pools this step counts against (the job's dialect decides), in a fixed order."""
        out: list[Slots] = []
        with self._lock:
            for pool in dialect_by_name(job.api).pools(step.task_type, step.params):
                slot = self._slots.get(pool.name)
                if slot is None:
                    slot = self._slots[pool.name] = Slots(pool.name, min(pool.limit, self.max_parallel))
                out.append(slot)
        return out

    def _release_slots(self, run: _Run) -> None:
        while run.slots:
            run.slots.pop().release()

    def _snap(self, job: Job) -> dict:
        with self._lock:
            return job.snapshot()

    def _post_update(self, job: Job) -> None:
        with self._lock:
            job.updated = time.time()
            snap = job.snapshot()
        self._post(Event(job.id, ev.UPDATE, snap))

    def _post(self, event: Event) -> None:
        if event.job_id and event.job_id not in self._jobs:
            return  # forgotten while its worker was still ending: its row must not come back
        self.events.put(event)

    def _records(self) -> list[dict]:
        with self._lock:
            return [j.to_dict() for j in sorted(self._jobs.values(), key=lambda j: j.created)]

    def _save(self, *, important: bool, must: bool = False) -> None:
        """Journal all jobs. Only ``must`` saves raise (JournalError); others log and post one notice."""
        try:
            self._journal.save(self._records, important=important)
        except JournalError as exc:
            if must:
                raise
            if not self._journal.closed and not self._journal_warned:
                self._journal_warned = True
                log.warning("journal: %s", exc)
                self._notice(None, str(exc))

    def _safe_save(self) -> None:
        self._save(important=True)

    def _save_soon(self) -> None:
        """An important save that the caller (the main thread) does not wait for."""
        with self._lock:
            if self._saver is None:
                self._saver = threading.Thread(target=self._save_loop, name="tripo-journal", daemon=True)
                self._saver.start()
        self._save_wanted.set()

    def _save_loop(self) -> None:
        while True:
            self._save_wanted.wait()
            self._save_wanted.clear()
            if self._stopping:
                return  # shutdown() writes the final state itself
            self._safe_save()

    def _get_job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id!r}")
        return job

    def _check_open(self) -> None:
        if self._stopping:
            raise _engine_error("The Tripo job engine was shut down.")

    def __repr__(self) -> str:  # pragma: no cover
        return f"<Engine {len(self._jobs)} jobs, {len(self._runs)} running, state_dir={self.state_dir}>"


SLOT_NOTICES = ("Waiting for a free Tripo slot", "Waiting for the image slot")


def _slot_notice(full: list[str]) -> str:
    """What a job waiting for an account pool says (v3 runs one image task at a time per account)."""
    if any(name.endswith("image") for name in full):
        return ("Waiting for the image slot: Tripo runs one image task (image generation, four views, view edits) "
                "at a time per account; this one starts when the running one ends.")
    return "Waiting for a free Tripo slot (your account runs a limited number of tasks at once)."


def iter_snapshots(engine: Engine) -> Iterable[dict]:  # pragma: no cover - convenience
    return iter(engine.jobs())
