"""The polling part: follows a step's task until it is final (batched through the hub on v3, a GET per task on
v2), copies each answer into the step, and keeps errors where they belong: a failed round or a refused key never ends
a job; a task's own answer ends only its job; a success once seen stays."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ..api import polling as api_polling
from ..api.errors import (
    ERROR_TEXT,
    STATUS_TEXT,
    TripoAuthError,
    TripoCancelled,
    TripoError,
    TripoNotFound,
    TripoValidationError,
    redact,
)
from . import events as ev
from .engine_common import (
    FAILED_STATUSES,
    SUCCESS,
    S,
    _attr,
    _Interrupted,
    _NeedsAttention,
    _Run,
    _StepFailed,
    _user_message,
    client_identity,
    identity_change,
    identity_message,
)
from .hub import AUTH_PAUSED, ROUND_RETRY_BASE, ROUND_TROUBLE, IdentityChanged, PollHub
from .job import Job, Step
from .runner import Pace, Runner
from .schedule import Stopped
from .store import Store

log = logging.getLogger("tripo_addon.jobs.engine")


class Following:
    """Follows tasks. ``hubs``: one batch poller per (API version, address, key fingerprint), made on first use;
    ``salt`` makes the key fingerprints."""

    def __init__(self, store: Store, runner: Runner, pace: Pace, client_factory: Callable[[], Any],
                 salt: bytes = b"") -> None:
        self.store = store
        self.runner = runner
        self.pace = pace
        self.client_factory = client_factory
        self.salt = salt
        self.hubs: dict[tuple[str, str, str], PollHub] = {}

    def busy(self) -> bool:
        return any(h.busy for h in list(self.hubs.values()))

    def close(self) -> None:
        for hub in list(self.hubs.values()):
            hub.close()

    def poll(self, run: _Run, client: Any, idx: int, step: Step) -> Any:
        """Poll the step's task until it is final. Returns the successful task; raises on failure."""
        job = run.job
        idle = transient = unknown = 0
        limit_unknown = int(getattr(client, "unknown_polls", api_polling.UNKNOWN_POLLS_LIMIT))
        finish = api_polling.FinishWindow()  # the readings of all polls together pin the end down
        hub = self.hub(job) if getattr(getattr(client, "dialect", None), "batch_limit", 0) else None
        # A task created a moment ago is first asked about after the shortest interval (nothing to learn sooner);
        # a resumed or attached one at once.
        age = time.time() - (step.submitted_at or 0.0)
        delay = max(0.0, self.pace.poll_min - age) if hub is not None and step.status in ("", "queued") else 0.0
        # v3 gives no ETA: aim at the end the hub learned from earlier tasks of this type, so a finished task frees
        # its slot (and the next job starts) at once rather than on the 2 s rhythm. Ages count from the create's
        # answer when this worker sent it (the send time is a journal save and a POST earlier).
        created = time.monotonic() - max(0.0, age) if step.submitted_at else None
        if run.answered is not None and run.answered[0] == idx:
            created = run.answered[1]
        ran: float | None = None  # age at which the task was last seen not final
        aim = math.inf             # from then on the task rides along in every round of the hub
        if hub is not None:
            hub.poll_min = self.pace.poll_min
            if created is not None and step.status in ("", "queued"):
                delay, aim = hub.aim(step.task_type, created, delay)
        while True:
            self.runner.check_stop(run)
            try:
                if hub is None:
                    task = client.get_task(step.task_id, cancel=run.stop)
                else:  # one batch request per round for every job waiting (v3 tasks/list)
                    due = hub.due_time(delay, exact=aim < math.inf, task_id=step.task_id)
                    run.wake_at = min(due, aim)  # a ride-along answer may come before the due time: the poller
                    try:                         # must be ticking fast by then
                        task = hub.get(step.task_id, due=due, stop=run.stop, soon=aim, created=step.submitted_at,
                                       eager=hub.eager(step.task_type, created))
                    finally:
                        run.wake_at = None
            except TripoCancelled:
                if run.stop.is_set():
                    raise _Interrupted() from None
                raise
            except IdentityChanged as exc:  # the settings moved to another key or region: wait, never fail
                with self.store.lock:
                    job.meta["identity_paused"] = True
                raise _NeedsAttention(identity_message(exc.what)) from None
            except TripoAuthError:  # the key, not the task: every job waits until it works again (v2: per worker)
                transient += 1
                self._auth_wait(run, step, paused=True)
                self.runner.sleep(run, min(self.pace.poll_max * 4, self.pace.poll_min * 2 ** min(transient, 10)))
                continue
            except TripoNotFound as exc:
                if step.submitted_at and time.time() - step.submitted_at < self.pace.not_found_grace:
                    self.runner.sleep(run, max(self.pace.poll_min, 0.5))  # our own create, not listed yet: ask again
                    continue
                raise _StepFailed(
                    self.runner.prefixed(run, f"{_user_message(exc)} (while following task {step.task_id})"))
            except TripoError as exc:  # any other answer to a poll is the round's problem: asked again, bounded
                if isinstance(exc, TripoValidationError):
                    raise _StepFailed(
                        self.runner.prefixed(run, f"{_user_message(exc)} (while following task {step.task_id})")
                    )
                transient += 1
                with self.store.lock:
                    step.error = f"Connection problem, retrying: {_user_message(exc)}"
                self.store.post_update(job)
                delay = min(self.pace.poll_max, self.pace.poll_min * 2 ** min(transient, 10))
                if hub is None:
                    self.runner.sleep(run, delay)
                continue
            except (_Interrupted, Stopped):
                raise
            except Exception as exc:  # noqa: BLE001 - an unreadable answer is the round's problem, not the task's
                log.warning("polling task %s failed unexpectedly (retried): %s: %s", step.task_id,
                            type(exc).__name__, exc)
                transient += 1
                self.runner.sleep(run, min(self.pace.poll_max, self.pace.poll_min * 2 ** min(transient, 10)))
                continue
            if transient or job.notice == AUTH_PAUSED:
                self._auth_wait(run, step, paused=False)
            transient = 0
            if str(_attr(task, "status", "") or "") in (SUCCESS, *FAILED_STATUSES):
                self.runner.release_slots(run)  # Tripo freed the slot: the next waiting job may go before our save
            changed = self.apply_task(run, idx, step, task)
            status = step.status
            if status == SUCCESS:
                self.runner.release_slots(run)
                if hub is not None and created is not None and step.task_type:
                    running, done = hub.last_running(step.task_id), hub.asked_at(step.task_id)
                    if running is not None and running >= created:  # the hub's rounds (ride-alongs too) pin
                        ran = running - created                      # the end down closest
                    done_by = (done if done is not None else time.monotonic()) - created
                    hub.durations.record(step.task_type, ran, done_by)
                return task
            if created is not None:
                ran = time.monotonic() - created
                if hub is not None and step.task_type:
                    hub.durations.seen_running(step.task_type, ran)
            unknown = unknown + 1 if status == "unknown" else 0
            if status in FAILED_STATUSES or unknown >= limit_unknown:
                self.runner.release_slots(run)
                msg = self.task_failure_text(task, unknown)
                with self.store.lock:
                    step.state = S.FAILED
                    step.error = msg
                raise _StepFailed(self.runner.prefixed(run, f"{msg} (task {step.task_id})"))
            if not run.slots and step.task_type:  # resumed or attached: it occupies a Tripo slot anyway
                for g in self.runner.pools(job, step):
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
                poll_min=self.pace.poll_min,
                poll_max=self.pace.poll_max,
            )
            if hub is None:
                self.runner.sleep(run, delay)
            elif created is not None and step.eta is None:
                delay, aim = hub.aim(step.task_type, created, delay)

    def _auth_wait(self, run: _Run, step: Step, *, paused: bool) -> None:
        """Say (or stop saying) that polling waits for a key Tripo accepts; never a failure of the job."""
        job = run.job
        with self.store.lock:
            if paused:
                if job.notice == AUTH_PAUSED:
                    return
                job.notice = AUTH_PAUSED
            elif job.notice == AUTH_PAUSED:
                job.notice = ""
            else:
                return
        self.store.post_update(job)

    def apply_task(self, run: _Run, idx: int, step: Step, task: Any) -> bool:
        """Copy a task's state into the step. Returns True if anything user-visible changed."""
        job = run.job
        status = str(_attr(task, "status", "") or "")
        if step.status == SUCCESS and status != SUCCESS:  # a success once seen stays one (paid for, never resent)
            log.warning("Tripo task %s: a %r answer after its success was ignored", step.task_id, status)
            return False
        progress = _attr(task, "progress", 0)
        progress = int(progress) if isinstance(progress, int | float) and math.isfinite(progress) else 0
        eta = _attr(task, "eta", None)
        queue = _attr(task, "queuing_num", None)
        credits = _attr(task, "credits", None)
        ttype = _attr(task, "type", None)
        with self.store.lock:
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
            step.eta = int(eta) if isinstance(eta, int | float) and 0 <= eta <= 7 * 86400 else None
            step.queue_position = int(queue) if isinstance(queue, int | float) and 0 <= queue <= 1e9 else None
            if isinstance(credits, int | float) and math.isfinite(credits) and 0 <= credits <= 1e9:
                step.credits = float(credits)
            step.output = dict(_attr(task, "output", {}) or {})
            if step.error.startswith("Connection problem"):
                step.error = ""
            new_state = {"queued": S.QUEUED, "running": S.RUNNING}.get(status)
            if status == SUCCESS and step.download:
                new_state = S.DOWNLOADING  # journaled with the success itself: a restart resumes the download
            changed = before != (step.status, step.progress, step.eta, step.queue_position)
        # queued -> running is written with the next save; success is followed at once by the durable "downloading"
        # (or, without a download, by the job's end): one fsync on the way to the scene instead of two.
        self.store.move(job, new_state, step=step, step_state=new_state,
                        important=status_changed and status not in ("queued", "running", SUCCESS),
                        emit=ev.UPDATE if changed else None)
        return changed

    @staticmethod
    def task_failure_text(task: Any, unknown_polls: int = 0) -> str:
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

    def hub(self, job: Job) -> PollHub:
        """The hub following the tasks of ``job``'s API, address and key."""
        with self.store.lock:
            key = (job.api, job.address, job.key_id)
            hub = self.hubs.get(key)
            if hub is None:
                hub = self.hubs[key] = PollHub(
                    self.client_factory, name=f"tripo-poll-{job.api}", not_found_grace=self.pace.not_found_grace,
                    retry_base=min(ROUND_RETRY_BASE, self.pace.poll_min), retry_cap=max(self.pace.poll_max, 1.0),
                    on_pause=lambda message, key=key: self.polling_paused(key, message),
                    identity=(job.address, job.key_id), identity_change=identity_change,
                    identity_of=lambda client: client_identity(client, self.salt)[1:],
                    queued=lambda: any(s.waiting for s in list(self.runner.slots.values())))
            return hub

    def polling_paused(self, key: tuple[str, str, str], message: str) -> None:
        """The hub of ``key`` (API, address, key fingerprint) paused (``message``) or went on (""): every job it
        follows says so, none fails."""
        changed: list[Job] = []
        with self.store.lock:
            for run in list(self.runner.runs.values()):
                job = run.job
                if (job.api, job.address, job.key_id) != key or job.state not in (S.QUEUED, S.RUNNING):
                    continue
                if message and job.notice != message:
                    job.notice = message
                elif not message and (job.notice == AUTH_PAUSED or job.notice.startswith(ROUND_TROUBLE)):
                    job.notice = ""
                else:
                    continue
                changed.append(job)
        for job in changed:
            self.store.post_update(job)
        if message:
            self.store.notice(None, message)
