"""Worker threads: one per active job, started by a launcher thread once the job is journaled; the account's
concurrency pools; how a worker stops, sleeps and ends (every end through :meth:`Store.move`)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..api import polling as api_polling
from ..api.dialects import by_name as dialect_by_name
from ..api.errors import TripoCancelled, TripoError
from . import events as ev
from .engine_common import (
    FAILED_STATUSES,
    NO_SERVER_CANCEL,
    SUCCESS,
    S,
    _Interrupted,
    _NeedsAttention,
    _Run,
    _StepFailed,
    _user_message,
)
from .job import Job, Step
from .journal import JournalError
from .schedule import Slots, Stopped
from .store import Store

log = logging.getLogger("tripo_addon.jobs.engine")


@dataclass
class Pace:
    """The engine's timing and limits (shared by the parts, changed only by the engine)."""

    poll_min: float = api_polling.DEFAULT_POLL_MIN
    poll_max: float = 30.0
    busy_base: float = api_polling.BUSY_BASE
    busy_cap: float = api_polling.BUSY_CAP
    max_parallel: int = 10
    not_found_grace: float = 60.0


class StepFlow(Protocol):
    """What a worker runs for each unfinished step (see :class:`~tripo_addon.jobs.steps.Steps`)."""

    def run_step(self, run: _Run, client: Any, idx: int, step: Step) -> None: ...

    def identity_problem(self, job: Job, client: Any) -> str: ...


class Runner:
    """Starts, stops and ends workers. ``flow`` runs the steps; ``on_success(job)`` cleans up after a success."""

    def __init__(self, store: Store, pace: Pace, client_factory: Callable[[], Any]) -> None:
        self.store = store
        self.pace = pace
        self.client_factory = client_factory
        self.flow: StepFlow | None = None
        self.on_success: Callable[[Job], None] = lambda job: None
        self.runs: dict[str, _Run] = {}
        self.slots: dict[str, Slots] = {}  # per-account concurrency pools, by the dialect's pool names
        self._launch: list[_Run] = []
        self.launcher: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ starting
    def start(self, job: Job) -> None:
        """Register the job's worker (it counts as running from now on) and hand it to the launcher thread, which
        journals the batch once and starts the threads (``Thread.start`` waits for the thread: not the main
        thread's cost)."""
        store = self.store
        launcher = None
        with store.lock:
            if job.id in self.runs or store.stopping:
                return
            run = _Run(job)
            self._claim_live_slots(run)
            run.thread = threading.Thread(target=self._worker, args=(run,), name=f"tripo-job-{job.id}", daemon=True)
            self.runs[job.id] = run
            self._launch.append(run)
            if self.launcher is None:
                launcher = self.launcher = threading.Thread(target=self._launch_loop, name="tripo-launcher",
                                                            daemon=True)
            store.cond.notify_all()
        if launcher is not None:
            launcher.start()

    def _launch_loop(self) -> None:
        store = self.store
        while True:
            with store.cond:
                while not self._launch and not store.stopping:
                    store.cond.wait()
                batch, self._launch = self._launch, []
                if store.stopping:  # never started: nothing was sent; the journal keeps them resumable
                    for run in batch:
                        self.release_slots(run)
                        if self.runs.get(run.job.id) is run:
                            del self.runs[run.job.id]
                    store.cond.notify_all()
                    return
            try:
                store.save(important=True, must=True)  # one write for the whole batch
            except JournalError as exc:
                for run in batch:
                    self.release_slots(run)
                    self.finish(run, S.FAILED, error=_user_message(exc))
                    with store.cond:
                        if self.runs.get(run.job.id) is run:
                            del self.runs[run.job.id]
                        store.cond.notify_all()
                continue
            for run in batch:
                run.thread.start()

    @staticmethod
    def live_task_step(job: Job) -> Step | None:
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
        step = self.live_task_step(run.job)
        if step is None:
            return
        for g in self.pools(run.job, step):
            g.force()
            run.slots.append(g)

    # ------------------------------------------------------------------------------------------ the worker
    def _worker(self, run: _Run) -> None:
        store = self.store
        job = run.job
        client = None
        try:
            client = self.client_factory()
            assert self.flow is not None
            problem = self.flow.identity_problem(job, client)
            if problem:
                raise _NeedsAttention(problem)
            for idx, step in enumerate(job.steps):
                if step.state == S.SUCCEEDED:
                    continue
                run.step_index = idx
                self.flow.run_step(run, client, idx, step)
            self.finish(run, S.SUCCEEDED)
        except (_Interrupted, Stopped):
            self.interrupted(run)
        except TripoCancelled as exc:
            if run.stop.is_set():
                self.interrupted(run)
            else:
                self.finish(run, S.FAILED, error=self.prefixed(run, _user_message(exc)))
        except _NeedsAttention as exc:
            self.finish(run, S.NEEDS_ATTENTION, error=str(exc))
        except _StepFailed as exc:
            self.finish(run, S.FAILED, error=str(exc))
        except BaseException as exc:  # noqa: BLE001 - a worker must never die silently
            if not isinstance(exc, TripoError | JournalError):
                log.exception("Tripo job %s crashed", job.id)
            self.finish(run, S.FAILED, error=self.prefixed(run, _user_message(exc)))
        finally:
            self.release_slots(run)
            if client is not None and hasattr(client, "close"):
                try:
                    client.close()
                except Exception:  # noqa: BLE001
                    log.debug("client.close failed", exc_info=True)
            with store.cond:
                if self.runs.get(job.id) is run:
                    del self.runs[job.id]
                store.cond.notify_all()
                again = run.restart and not store.stopping and job.state in S.ACTIVE
            if again:
                self.start(job)
                store.post_update(job)

    def prefixed(self, run: _Run, msg: str) -> str:
        job = run.job
        if len(job.steps) <= 1:
            return msg
        step = job.steps[run.step_index]
        return f"Step {run.step_index + 1} of {len(job.steps)} ({step.task_type}): {msg}"

    def check_stop(self, run: _Run) -> None:
        if run.stop.is_set() or run.cancelled or self.store.stopping:
            raise _Interrupted()

    def sleep(self, run: _Run, seconds: float) -> None:
        run.wake_at = time.monotonic() + max(0.0, seconds)
        try:
            if run.stop.wait(max(0.0, seconds)):
                raise _Interrupted()
        finally:
            run.wake_at = None

    # ------------------------------------------------------------------------------------------ ends
    @staticmethod
    def cancel_notice(job: Job) -> str:
        """What a cancelled job says (under the lock): a task sent may still run (and cost) on Tripo."""
        sent = [s for s in job.steps if s.task_id and s.state not in (S.SUCCEEDED,) and s.status not in FAILED_STATUSES]
        in_flight = [s for s in sent if s.status != SUCCESS]
        if in_flight:
            return "Cancelled locally. " + NO_SERVER_CANCEL.format(task="task " + in_flight[0].task_id)
        if any(s.state == S.SUBMITTING for s in job.steps):
            return "Cancelled locally while a task was being sent. " + NO_SERVER_CANCEL.format(task="it")
        return "Cancelled."

    def mark_cancelled(self, job: Job, *, save: bool, emit: str | None) -> None:
        store = self.store
        with store.lock:
            notice = self.cancel_notice(job)
            for s in job.steps:
                if s.state not in (S.SUCCEEDED, S.FAILED):
                    s.state = S.CANCELLED
        store.move(job, S.CANCELLED, notice=notice, save=save, emit=emit)

    def interrupted(self, run: _Run) -> None:
        """A worker stopped because of cancel() or shutdown()."""
        if run.cancelled:  # (re)write the notice: a task id may have arrived after cancel()
            self.mark_cancelled(run.job, save=True, emit=ev.UPDATE)
        else:
            self.store.save(important=True)  # shutdown or pause: the state stays as is, resumable

    def finish(self, run: _Run, state: str, error: str = "") -> None:
        store = self.store
        job = run.job
        with store.lock:
            step = job.steps[run.step_index] if job.steps else None
            lost = (state == S.NEEDS_ATTENTION and step is not None and not step.task_id
                    and step.state == S.NEEDS_ATTENTION)
            if (job.state == S.CANCELLED or run.cancelled) and not lost:
                return  # (cancelled while a create's answer was lost: a task may exist, so it asks for attention)
            notice: Any = (str(job.meta.get("recovered") or job.meta.get("reimported") or "") if state == S.SUCCEEDED
                           else job.notice)
            if step is not None and state == S.FAILED and step.state != S.SUCCEEDED and step.state != S.FAILED:
                step.state = S.FAILED
                step.error = step.error or error
            if step is not None and state == S.NEEDS_ATTENTION:
                step.state = S.NEEDS_ATTENTION if not step.task_id else step.state
                step.error = step.error or error
            if state == S.SUCCEEDED:
                store.reported.add(job.id)
        emit = {S.SUCCEEDED: ev.FINISHED, S.FAILED: ev.FAILED}.get(state, "attention")
        if state == S.SUCCEEDED:
            store.move(job, state, error=error, notice=notice, emit=None)
            self.on_success(job)
            store.move(job, save=False, emit=emit)
        else:
            store.move(job, state, error=error, notice=notice, emit=emit)

    # ------------------------------------------------------------------------------------------ pools
    def pools(self, job: Job, step: Step) -> list[Slots]:
        """The account concurrency pools this step counts against (the job's dialect decides), in a fixed order."""
        out: list[Slots] = []
        with self.store.lock:
            for pool in dialect_by_name(job.api).pools(step.task_type, step.params):
                slot = self.slots.get(pool.name)
                if slot is None:
                    slot = self.slots[pool.name] = Slots(pool.name, min(pool.limit, self.pace.max_parallel))
                    slot.pool_limit = pool.limit  # Tripo's own limit: "Parallel Tasks" never raises it
                out.append(slot)
        return out

    @staticmethod
    def release_slots(run: _Run) -> None:
        while run.slots:
            run.slots.pop().release()

    def set_max_parallel(self, n: int) -> None:
        self.pace.max_parallel = max(1, int(n))
        for slots in list(self.slots.values()):
            with slots._lock:
                slots.limit = max(1, min(slots.pool_limit, self.pace.max_parallel))
                slots._grant()

    def await_exit(self, job_id: str, timeout: float = 0.5) -> None:
        """Give a stopped job's worker a moment to end (it may be returning from a request)."""
        store = self.store
        deadline = time.monotonic() + timeout
        with store.cond:
            while job_id in self.runs and time.monotonic() < deadline:
                job = store.jobs.get(job_id)
                if job is None or job.state not in S.STOPPED:
                    return
                store.cond.wait(0.1)

    def next_wake(self) -> float | None:
        """None when a worker is working now, else the earliest end of their sleeps (inf: none)."""
        soonest = math.inf
        for run in list(self.runs.values()):
            wake = run.wake_at
            if wake is None:
                return None
            soonest = min(soonest, wake)
        return soonest
