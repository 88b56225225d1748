"""The job engine: worker threads, event queue, concurrency groups, journal, resume, cancel, wait.

Threading model: one daemon thread per active job. Workers do network and file I/O only (through the bpy-free
``TripoClient``), change their job under the store's lock, journal it, and post :class:`Event`s with plain snapshots
to ``Engine.events``. The main thread drains that queue (``Engine.drain()`` or ``events.get_nowait()``) and never
blocks on the network or the disk (Cancel, Retry, Attach and Remove hand the journal to a writer thread), except in
:meth:`Engine.wait`, used by scripting with ``wait=True``.

Shape: the engine composes parts with declared interfaces (docs/design.md): the :class:`~.store.Store` (jobs, lock,
journal writer, events, and :meth:`~.store.Store.move`, the one function that changes a job's state, held to the table
in :mod:`.states`), the :class:`~.runner.Runner` (workers, pools), :class:`~.submission.Submission`,
:class:`~.following.Following` (polling), :class:`~.downloading.Downloading`, :class:`~.lifecycle.Lifecycle` and the
owner registry (:class:`~.ownership.OwnerBook`: one owner per task id).

Money safety: a step is journaled as ``submitting`` (fsync) before ``POST /task`` and its task id right after. A step
found ``submitting`` without a task id after a restart is never re-sent: its job goes to ``needs_attention``.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..api import polling as api_polling
from ..api import tasks as api_tasks
from . import events as ev
from .actions import Actions
from .downloading import Downloading
from .engine_common import (
    LOCK_NAME,
    SECONDARY_PREFIX,
    S,
    _engine_error,
    _lost_submit_message,
    _validation_error,
)
from .events import Event, EventQueue
from .following import Following
from .hub import NOT_FOUND_GRACE
from .job import Job, new_id
from .journal import KEEP_FINISHED, DirLock, Journal
from .lifecycle import Lifecycle
from .ownership import OwnerBook, installation_salt
from .runner import Pace, Runner
from .schedule import Slots
from .steps import Steps, api_mismatch_message
from .store import Store
from .submission import Submission
from .validation import Validation

log = logging.getLogger(__name__)

__all__ = ["Engine", "api_mismatch_message", "iter_snapshots"]


class Engine:
    """Runs jobs in background threads and reports to the main thread through ``events``.

    ``client_factory`` builds a fresh ``TripoClient`` (one per worker). ``state_dir`` holds the journal
    (``jobs.json``) and the owner registry (``owners.json``); ``download_dir/<task_id>/`` receives results.
    ``max_parallel`` caps each concurrency group (Tripo's own limits are lower for some groups: P1 5, refine 5,
    multiview images 1).
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
        self.state_dir = Path(state_dir)
        poll_min = float(poll_min)
        poll_max = max(float(poll_max), poll_min)
        busy_base = min(api_polling.BUSY_BASE, poll_min)
        self.pace = Pace(poll_min=poll_min, poll_max=poll_max, busy_base=busy_base,
                         busy_cap=max(busy_base, min(api_polling.BUSY_CAP, 2 * poll_max)),
                         max_parallel=max(1, int(max_parallel)), not_found_grace=NOT_FOUND_GRACE)
        notices: list[str] = []
        # One engine per state dir runs the shared job list (two Blender instances must never both resume a job and
        # send its next step twice). Another concurrent engine keeps its own list, adopted by the next primary.
        dir_lock = DirLock(self.state_dir / LOCK_NAME)
        self.role = "primary" if dir_lock.acquire() else "secondary"
        if self.role == "primary":
            journal = Journal(self.state_dir, min_interval=journal_interval)
            self._book = OwnerBook(self.state_dir)
        else:
            name = f"{SECONDARY_PREFIX}{os.getpid()}-{new_id()[:6]}"
            dir_lock = DirLock(self.state_dir / f"{name}.lock")
            dir_lock.acquire()
            journal = Journal(self.state_dir, min_interval=journal_interval, name=f"{name}.json")
            self._book = OwnerBook(self.state_dir, name=f"owners-{name}.json")
            notices.append(
                "Another Blender instance is running the Tripo job list; jobs started here are kept in a separate "
                "list and join the shared one when that instance closes."
            )
        # the parts (each takes what it uses; none reaches into another's attributes)
        self.store = store = Store(journal)
        store.after_save = lambda important: self._book.save(fsync=important)
        self.runner = runner = Runner(store, self.pace, client_factory)
        self.check = Validation()
        self.submission = Submission(store, runner, self.pace, self.check)
        salt = installation_salt(self.state_dir)
        self.following = Following(store, runner, self.pace, client_factory, salt)
        self.downloading = Downloading(store, runner, self.following, Path(download_dir))
        self.steps = Steps(store, self.submission, self.following, self.downloading, salt)
        runner.flow = self.steps
        exports = Path(exports_dir) if exports_dir is not None else self.state_dir.parent / "exports"
        self.lifecycle = Lifecycle(store, runner, self.following, self.state_dir, exports, keep_finished, dir_lock)
        runner.on_success = self.lifecycle.delete_exports
        self.submission.on_sent = self._book.sent
        self.submission.on_refused = self._book.nothing_created
        self.submission.on_landed = self._book.landed
        self.lifecycle.on_landed = self._book.landed
        self.lifecycle.on_adopt_owners = self._book.merge_file
        self.actions = Actions(store, runner, self._book, self.lifecycle, self.steps, client_factory,
                               lambda: self.api, self.cancel, self._check_open)

        jobs, load_notices = journal.load()
        notices[:0] = load_notices
        for job in jobs:
            store.jobs[job.id] = job
        self._book.adopt(store.jobs.values())
        self.lifecycle.adopt_late_ids()
        notices += self.lifecycle.adopt_secondaries()
        self.lifecycle.adopt_late_ids()  # (those of adopted secondaries too)
        self._book.adopt(store.jobs.values())
        self._note_foreign()
        if self.role == "primary":
            self.lifecycle.retain()
        for msg in notices:
            store.post(Event("", ev.NOTICE, {}, msg))

    # ------------------------------------------------------------------------------------------ settings
    @property
    def events(self) -> EventQueue:
        return self.store.events

    @property
    def owners(self):
        """The owner registry (:class:`~tripo_addon.jobs.owners.Owners`): who follows which task id."""
        return self._book.owners

    @property
    def download_dir(self) -> Path:
        return self.downloading.download_dir

    @download_dir.setter
    def download_dir(self, value: str | os.PathLike) -> None:
        self.downloading.download_dir = Path(value)

    @property
    def exports_dir(self) -> Path:
        return self.lifecycle.exports_dir

    @property
    def keep_finished(self) -> int | None:
        return self.lifecycle.keep_finished

    @property
    def poll_min(self) -> float:
        return self.pace.poll_min

    @poll_min.setter
    def poll_min(self, value: float) -> None:
        self.pace.poll_min = max(0.0, float(value))

    @property
    def poll_max(self) -> float:
        return self.pace.poll_max

    @poll_max.setter
    def poll_max(self, value: float) -> None:
        self.pace.poll_max = max(self.pace.poll_min, float(value))

    @property
    def max_parallel(self) -> int:
        return self.pace.max_parallel

    @property
    def not_found_grace(self) -> float:
        return self.pace.not_found_grace

    @not_found_grace.setter
    def not_found_grace(self, value: float) -> None:
        self.pace.not_found_grace = max(0.0, float(value))

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

    @property
    def slots(self) -> dict[str, Slots]:
        """Concurrency groups (for diagnostics and tests)."""
        return self.runner.slots

    def set_max_parallel(self, n: int) -> None:
        """Change "Parallel Tasks" live: every group's limit follows at once (jobs waiting for a slot start when the
        limit grows; running ones are never stopped when it shrinks)."""
        self.runner.set_max_parallel(n)

    # ------------------------------------------------------------------------------------------ the user's actions
    def validate(self, job: Job) -> None:
        """Check every step before anything is sent; raise TripoValidationError with a clear message."""
        self.check.validate(job)

    def submit(self, job: Job) -> str:
        """Validate every step (nothing is sent if anything is wrong), then journal and start the job. Returns its id.

        Only the validation runs in the caller (the main thread, on a button press). Journaling and starting the
        worker happen on the engine's launcher thread, batched: 200 jobs submitted at once cost one journal write.
        A worker starts only once its job is journaled; if the journal cannot be written the job fails with that
        reason before anything is sent.
        """
        self._check_open()
        if not isinstance(job, Job):
            raise _validation_error("submit() takes a Job (see tripo_addon.jobs.pipelines).")
        job.api = self.api
        self.validate(job)
        store = self.store
        with store.lock:
            if job.id in store.jobs:
                raise _validation_error(f"Job {job.id} was already submitted.")
            job.state = S.PENDING  # (a new job: not a transition)
            job.error = job.notice = ""
            job.updated = time.time()
            store.jobs[job.id] = job
        self.runner.start(job)
        store.post_update(job)
        return job.id

    def attach(self, task_id: str, title: str = "", *, job_id: str | None = None, download: bool = True,
               notice: str = "") -> str:
        """Follow an existing Tripo task (no POST) and download its result. Returns the job id. One owner per task
        id; with ``job_id``, give that stopped job's step this id (see :meth:`~.actions.Actions.attach`)."""
        return self.actions.attach(task_id, title, job_id=job_id, download=download, notice=notice)

    def cancel(self, job_id: str) -> None:
        """Stop a job locally and at once. Tripo's v2 API has no cancel: a task already sent may still finish. A create
        in flight still records its task id when the answer lands. The journal is written by the writer thread."""
        store = self.store
        with store.lock:
            job = store.jobs.get(job_id)
            if job is None or job.state in S.FINAL:
                return
            run = self.runner.runs.get(job_id)
            if run is not None:
                run.cancelled = True
                run.stop.set()
        self.runner.mark_cancelled(job, save=False, emit=ev.CANCELLED)
        store.save_soon()

    def resume(self) -> list[str]:
        """Continue unfinished jobs from the journal (never re-sending a task). Idempotent.

        Jobs that succeeded but were not imported are reported once (a ``finished`` event) so the UI offers import.
        Returns the ids of the jobs whose worker was started by this call.
        """
        self._check_open()
        store, runner = self.store, self.runner
        self.lifecycle.adopt_late_ids()
        started: list[str] = []
        attention: list[Job] = []
        report: list[Job] = []
        with store.lock:
            for job in sorted(store.jobs.values(), key=lambda j: j.created):
                run = runner.runs.get(job.id)
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
                        store.move(job, S.NEEDS_ATTENTION, error=api_mismatch_message(job.api, self.api), save=False,
                                   emit=None)
                        attention.append(job)
                        continue
                    if step is not None and step.state == S.SUBMITTING and not step.task_id:
                        msg = _lost_submit_message(idx, step)
                        step.error = msg
                        store.move(job, S.NEEDS_ATTENTION, step=step, step_state=S.NEEDS_ATTENTION, error=msg,
                                   save=False, emit=None)
                        attention.append(job)
                        continue
                    started.append(job.id)
                elif job.state == S.SUCCEEDED and not job.imported and job.id not in store.reported:
                    store.reported.add(job.id)
                    report.append(job)
        # Jobs whose task already runs on Tripo first: their slots are taken (in start) before any new job may use
        # one, so nothing is sent past the account's limit after a restart.
        started.sort(key=lambda jid: not runner.live_task_step(store.jobs[jid]))
        if attention or started:
            store.save(important=False)
        for job in attention:
            store.move(job, save=False, emit="attention")
        for job_id in started:
            with store.lock:
                job = store.jobs[job_id]
            runner.start(job)
            store.post_update(job)
        for job in report:
            store.post(Event(job.id, ev.FINISHED, store.snap(job)))
        return started

    def follow_identity(self) -> list[str]:
        """The preferences changed: jobs made with the key and address now chosen again follow their tasks again
        (see :meth:`~.actions.Actions.follow_identity`). Returns the started ids."""
        return self.actions.follow_identity()

    def retry(self, job_id: str) -> None:
        """Restart a stopped job from its first unfinished step (see :meth:`~.actions.Actions.retry`): a task that
        exists is polled again, never sent twice; files are uploaded again."""
        self.actions.retry(job_id)

    def mark_imported(self, job_id: str, imported: bool = True) -> None:
        """Record the import (main thread): journaled by the writer thread, so the caller never waits for a write.
        ``imported=False``: the result left the scene (undone), so it is offered for import again."""
        store = self.store
        with store.lock:
            job = store.get(job_id)
            job.imported = bool(imported)
            job.updated = time.time()
        store.save_soon()
        store.post_update(job)

    def set_meta(self, job_id: str, key: str, value: Any) -> None:
        """Add a plain value to a job's ``meta`` (journaled with the next save)."""
        with self.store.lock:
            self.store.get(job_id).meta[key] = value
        self.store.save_soon()

    def forget(self, job_id: str) -> None:
        """Remove a job from the list and the journal (cancelling it first); its task ids stay known as tombstones."""
        self.actions.forget(job_id)

    def jobs(self) -> list[dict]:
        """Snapshots of all jobs, oldest first."""
        with self.store.lock:
            return [j.snapshot() for j in sorted(self.store.jobs.values(), key=lambda j: j.created)]

    def get(self, job_id: str) -> dict:
        with self.store.lock:
            return self.store.get(job_id).snapshot()

    def is_running(self, job_id: str) -> bool:
        return job_id in self.runner.runs  # no lock: called per event on the main thread, a dict lookup is atomic

    def active(self) -> bool:
        """True while any worker runs (cheap: the poller asks on every tick)."""
        return bool(self.runner.runs)

    def next_activity(self) -> float | None:
        """When a worker will next do something that may post an event: None when one is working now (a request, a
        download, starting), else the earliest end of their sleeps (monotonic; inf when all wait for slots or none
        runs). Lock-free: the poller asks on every tick to choose its pace."""
        if self.following.busy():
            return None
        return self.runner.next_wake()

    def wait(self, job_id: str, timeout: float | None = None) -> dict:
        """Block until the job stops (succeeded, failed, cancelled, needs_attention) or ``timeout`` passes.

        Returns the job's snapshot either way; check ``snapshot["state"]``. Returns at once for a job that has no
        worker (e.g. loaded from the journal and not resumed).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        store = self.store
        with store.cond:
            job = store.get(job_id)
            # Until the worker has ended (so retry/attach may follow at once); a cancelled job returns at once.
            while job_id in self.runner.runs and job.state != S.CANCELLED:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                store.cond.wait(0.5 if remaining is None else min(0.5, remaining))
            return job.snapshot()

    def drain(self, max_events: int | None = None) -> list[Event]:
        """Take the queued events without blocking (main thread)."""
        out: list[Event] = []
        while max_events is None or len(out) < max_events:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            if event.job_id and event.job_id not in self.store.jobs:
                continue  # a forgotten (removed) job: its late events are moot, the others' are kept
            out.append(event)
        return out

    # ------------------------------------------------------------------------------------------ life
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (up to ``timeout`` s) until what Cancel, Remove, Retry or Attach handed to the writer thread is on
        disk (scripts, tests; never needed on the main thread). True when done."""
        return self.store.flush(timeout)

    def pause(self) -> list[str]:
        """Stop every worker without cancelling its job (e.g. online access was turned off); :meth:`resume`
        continues each job where it stopped, never sending a task twice. Returns the paused job ids."""
        store = self.store
        with store.lock:
            runs = [r for r in self.runner.runs.values() if not r.cancelled]
            for run in runs:
                run.restart = False
                run.stop.set()
            store.cond.notify_all()
        return [r.job.id for r in runs]

    def shutdown(self, timeout: float = 2.0, submit_grace: float | None = None) -> None:
        """Stop all workers (briefly joined), flush and close the journal. Unfinished jobs stay resumable. See
        :meth:`~tripo_addon.jobs.lifecycle.Lifecycle.shutdown` (``submit_grace``: how long a create in flight may
        still answer; its id is kept in the late-id file and the owner registry knows it is in flight)."""
        if submit_grace is None:
            self.lifecycle.shutdown(timeout)
        else:
            self.lifecycle.shutdown(timeout, submit_grace)

    def _note_foreign(self) -> None:
        """Task ids another running instance's list follows are known (never a lost create's)."""
        paths = [p for p in self.state_dir.glob(f"{SECONDARY_PREFIX}*.json") if p != self.store.journal.path]
        if self.role == "secondary":
            paths.append(self.state_dir / "jobs.json")
        ids: list[str] = []
        for path in paths:
            ids += _task_ids_in(path)
        if self.role == "secondary":  # the primary's registry: its owned ids and tombstones are known here too
            primary = OwnerBook(self.state_dir).owners.to_json()
            ids += [t for tids in primary.get("owners", {}).values() for t in tids]
            ids += [row[0] for row in primary.get("tombstones", [])]
        if ids:
            self._book.owners.add_foreign(ids)
            self._book.mark()

    def _check_open(self) -> None:
        if self.store.stopping:
            raise _engine_error("The Tripo job engine was shut down.")

    def __repr__(self) -> str:  # pragma: no cover
        return (f"<Engine {len(self.store.jobs)} jobs, {len(self.runner.runs)} running, "
                f"state_dir={self.state_dir}>")


def _task_ids_in(path: Path, limit: int = 64 * 1024 * 1024) -> list[str]:
    """The task ids in another instance's journal (read only; an unreadable file gives none)."""
    try:
        if path.stat().st_size > limit:
            return []
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    jobs = data.get("jobs") if isinstance(data, dict) else None
    out: list[str] = []
    for rec in jobs if isinstance(jobs, list) else []:
        for step in rec.get("steps") or [] if isinstance(rec, dict) else []:
            tid = step.get("task_id") if isinstance(step, dict) else None
            if isinstance(tid, str) and tid:
                out.append(tid)
    return out


def iter_snapshots(engine: Engine) -> Iterable[dict]:  # pragma: no cover - convenience
    return iter(engine.jobs())

