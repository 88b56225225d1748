"""The job engine: worker threads, event queue, concurrency groups, journal, resume, cancel, wait.

Threading model: one daemon thread per active job. Workers do network and file I/O only (through the bpy-free
``TripoClient``), mutate their job under the engine lock, journal it, and post :class:`Event`s with plain snapshots to
``Engine.events``. The main thread drains that queue (``Engine.drain()`` or ``events.get_nowait()``) and never blocks on
the network, except in :meth:`Engine.wait`, used by scripting with ``wait=True``.

Money safety: a step is journaled as ``submitting`` (fsync) before ``POST /task`` and its task id right after. A step
found ``submitting`` without a task id after a restart is never re-sent: its job goes to ``needs_attention``.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..api import polling as api_polling
from ..api import tasks as api_tasks
from ..api.errors import (
    TripoCancelled,
    TripoError,
)
from . import events as ev
from .engine_common import (
    FAILED_STATUSES,
    LOCK_NAME,
    SECONDARY_PREFIX,
    SUCCESS,
    S,
    _Interrupted,
    _lost_submit_message,
    _NeedsAttention,
    _Run,
    _StepFailed,
    _user_message,
    _validation_error,
    check_task_id,
)
from .engine_lifecycle import LifecycleMixin
from .engine_state import StateMixin
from .engine_steps import StepsMixin
from .engine_validation import ValidationMixin
from .events import Event, EventQueue
from .hub import NOT_FOUND_GRACE, PollHub
from .job import Job, Step, new_id
from .journal import KEEP_FINISHED, DirLock, Journal, JournalError
from .schedule import Slots, Stopped

log = logging.getLogger(__name__)


class Engine(ValidationMixin, StepsMixin, LifecycleMixin, StateMixin):
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
        self.not_found_grace = NOT_FOUND_GRACE  # a task we created that Tripo does not know yet is asked again
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
        task_id = check_task_id(task_id)
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
        job = Job(title=title or f"Task {task_id[:8]}", steps=[step], kind="attach", state=S.QUEUED,
                  api=self.api)  # the task is looked up on the API the address speaks now
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
                        job.error = api_mismatch_message(job.api, self.api)
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

    def set_max_parallel(self, n: int) -> None:
        """Change "Parallel Tasks" live: every group's limit follows at once (jobs waiting for a slot start when the
        limit grows; running ones are never stopped when it shrinks)."""
        self.max_parallel = max(1, int(n))
        for slots in list(self._slots.values()):
            with slots._lock:
                slots.limit = max(1, min(slots.pool_limit, self.max_parallel))
                slots._grant()

    @property
    def slots(self) -> dict[str, Slots]:
        """Concurrency groups (for diagnostics and tests)."""
        return self._slots

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
            api = getattr(client, "api", job.api)
            if api != job.api:  # the API address changed while the job waited to run
                if job.task_ids:  # its tasks live on the other API: never sent again here
                    raise _NeedsAttention(api_mismatch_message(job.api, api))
                job.api = api  # nothing created yet: it runs on the current API (its steps are checked again)
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

    def __repr__(self) -> str:  # pragma: no cover
        return f"<Engine {len(self._jobs)} jobs, {len(self._runs)} running, state_dir={self.state_dir}>"


def iter_snapshots(engine: Engine) -> Iterable[dict]:  # pragma: no cover - convenience
    return iter(engine.jobs())


def api_mismatch_message(job_api: str, current: str) -> str:
    """Why a job whose tasks live on another API version is not followed here (and what to do)."""
    return (f"This job was started on Tripo's API {job_api}, and the API address now speaks {current}. Its task ids "
            "are kept (nothing is sent again): set the API address back to follow it, or retry it here as a new "
            "job. Downloaded results can still be imported.")
