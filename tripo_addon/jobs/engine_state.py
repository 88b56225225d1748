"""The engine's bookkeeping: job and step states, final events, pools, the event queue and the journal."""

from __future__ import annotations

import logging
import threading
import time

from ..api.dialect import by_name as dialect_by_name
from ..api.errors import (
    redact,
)
from . import events as ev
from .engine_common import (
    FAILED_STATUSES,
    NO_SERVER_CANCEL,
    SUCCESS,
    S,
    _engine_error,
    _Run,
)
from .events import Event
from .hub import AUTH_PAUSED, ROUND_RETRY_BASE, PollHub
from .job import Job, Step
from .journal import JournalError
from .schedule import Slots

log = logging.getLogger("tripo_addon.jobs.engine")


class StateMixin:
    """Part of :class:`~tripo_addon.jobs.engine.Engine` (see there for the attributes it uses)."""

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
                hub = self._hubs[api] = PollHub(
                    self._client_factory, name=f"tripo-poll-{api}", not_found_grace=self.not_found_grace,
                    retry_base=min(ROUND_RETRY_BASE, self.poll_min), retry_cap=max(self.poll_max, 1.0),
                    on_pause=lambda message, api=api: self._polling_paused(api, message))
            return hub

    def _polling_paused(self, api: str, message: str) -> None:
        """The hub of ``api`` paused (``message``) or went on (""): every job it follows says so, none fails."""
        changed: list[Job] = []
        with self._lock:
            for run in list(self._runs.values()):
                job = run.job
                if job.api != api or job.state not in (S.QUEUED, S.RUNNING):
                    continue
                if message and job.notice != message:
                    job.notice = message
                elif not message and job.notice == AUTH_PAUSED:
                    job.notice = ""
                else:
                    continue
                changed.append(job)
        for job in changed:
            self._post_update(job)
        if message:
            self._notice(None, message)

    def _pools(self, job: Job, step: Step) -> list[Slots]:
        """The account concurrency pools this step counts against (the job's dialect decides), in a fixed order."""
        out: list[Slots] = []
        with self._lock:
            for pool in dialect_by_name(job.api).pools(step.task_type, step.params):
                slot = self._slots.get(pool.name)
                if slot is None:
                    slot = self._slots[pool.name] = Slots(pool.name, min(pool.limit, self.max_parallel))
                    slot.pool_limit = pool.limit  # Tripo's own limit: "Parallel Tasks" never raises it
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
