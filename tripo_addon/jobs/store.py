"""The engine's store: the jobs, the lock that guards them, the journal writer thread and the event queue, and the one
function that changes a job's state (:meth:`Store.move`: checked against :data:`~tripo_addon.jobs.states.TRANSITIONS`,
journaled, announced).

Every other part of the engine reads and changes jobs only under :attr:`Store.lock` and makes them durable only through
:meth:`Store.save` (on a worker thread) or :meth:`Store.save_soon` (the main thread never writes or fsyncs).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..api.errors import redact
from . import events as ev
from . import states
from .events import Event, EventQueue
from .job import Job, Step
from .journal import Journal, JournalError
from .states import JobState as S

log = logging.getLogger("tripo_addon.jobs.engine")

_UNSET: Any = object()


class Store:
    """Jobs by id, guarded by ``lock`` (``cond`` wakes waiters); ``journal`` makes them durable; ``events`` tells the
    main thread. ``stopping`` is set once by shutdown."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.events: EventQueue = EventQueue()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.jobs: dict[str, Job] = {}
        self.reported: set[str] = set()  # succeeded jobs whose "finished" event was posted
        self.stopping = False
        self._journal_warned = False
        self._save_wanted = threading.Event()
        self._saver: threading.Thread | None = None
        self._idle = threading.Event()  # the writer thread has nothing left to write
        self._idle.set()
        self.after_save: Any = None  # called with ``important`` after each journal write (the owner registry)

    # ------------------------------------------------------------------------------------------ jobs
    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id!r}")
        return job

    def snap(self, job: Job) -> dict:
        with self.lock:
            return job.snapshot()

    def ordered(self) -> list[Job]:
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: j.created)

    # ------------------------------------------------------------------------------------------ the transition
    def move(self, job: Job, state: str | None = None, *, step: Step | None = None, step_state: str | None = None,
             error: Any = _UNSET, notice: Any = _UNSET, reopen: bool = False, save: bool = True,
             important: bool = True, must: bool = False, emit: str | None = ev.UPDATE) -> bool:
        """Change ``job`` (and ``step``): the one place job states change. ``state`` is checked against the table
        (:class:`~tripo_addon.jobs.states.IllegalTransition` otherwise). A stopped job (cancelled, failed, needs
        attention) keeps its state while its worker winds down unless ``reopen`` (Retry, Attach). Then journals
        (``save``; ``must`` raises JournalError) and posts ``emit`` (update, finished, failed, cancelled, or
        "attention": an update and a notice with the error). Returns whether the job's state changed."""
        with self.lock:
            changed = False
            if step is not None and step_state is not None:
                step.state = step_state
            if state is not None and state != job.state:
                if job.state in S.STOPPED and state in S.ACTIVE and not reopen:
                    pass  # cancelled (or stopped) while the worker was busy: only the step moves
                else:
                    states.check(job.state, state)
                    job.state = state
                    changed = True
            if error is not _UNSET:
                job.error = error
            if notice is not _UNSET:
                job.notice = notice
            job.updated = time.time()
        if save:
            self.save(important=important, must=must)
        if emit == "attention":
            snap = self.snap(job)
            self.post(Event(job.id, ev.UPDATE, snap))
            self.post(Event(job.id, ev.NOTICE, snap, job.error))
            self.wake()
        elif emit in (ev.FINISHED, ev.FAILED, ev.CANCELLED):
            self.post(Event(job.id, emit, self.snap(job), job.error or job.notice))
            self.wake()
        elif emit is not None:
            self.post_update(job)
        return changed

    def wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    # ------------------------------------------------------------------------------------------ events
    def post(self, event: Event) -> None:
        if event.job_id and event.job_id not in self.jobs:
            return  # forgotten while its worker was still ending: its row must not come back
        self.events.put(event)

    def post_update(self, job: Job) -> None:
        with self.lock:
            job.updated = time.time()
            snap = job.snapshot()
        self.post(Event(job.id, ev.UPDATE, snap))

    def notice(self, job: Job | None, message: str) -> None:
        self.post(Event(job.id if job else "", ev.NOTICE, self.snap(job) if job else {}, redact(message)))

    # ------------------------------------------------------------------------------------------ the journal
    def records(self) -> list[dict]:
        with self.lock:
            return [j.to_dict() for j in sorted(self.jobs.values(), key=lambda j: j.created)]

    def save(self, *, important: bool = True, must: bool = False) -> None:
        """Journal all jobs (a worker thread or shutdown; never the main thread). Only ``must`` saves raise
        (JournalError); others log and post one notice."""
        try:
            self.journal.save(self.records, important=important)
            if self.after_save is not None:
                self.after_save(important)
        except JournalError as exc:
            if must:
                raise
            if not self.journal.closed and not self._journal_warned:
                self._journal_warned = True
                log.warning("journal: %s", exc)
                self.notice(None, str(exc))

    def save_soon(self) -> None:
        """An important save that the caller (the main thread) does not wait for: the writer thread does it."""
        with self.lock:
            self._idle.clear()
            if self._saver is None:
                self._saver = threading.Thread(target=self._save_loop, name="tripo-journal", daemon=True)
                self._saver.start()
        self._save_wanted.set()

    def flush(self, timeout: float) -> bool:
        """Wait until the writer thread wrote what was asked (shutdown, tests). True when done."""
        return self._idle.wait(max(0.0, timeout))

    def _save_loop(self) -> None:
        while True:
            self._save_wanted.wait()
            self._save_wanted.clear()
            if self.stopping:
                self._idle.set()
                return  # shutdown() writes the final state itself
            self.save(important=True)
            if not self._save_wanted.is_set():
                self._idle.set()

    def close_writer(self, timeout: float) -> None:
        saver = self._saver
        if saver is not None:
            self._save_wanted.set()
            saver.join(max(0.0, timeout))
