"""The submission part: a step's uploads, its wait for an account pool slot and its create (journaled
``submitting`` first, never sent twice), references resolved at the last moment."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ..api import inputs as api_inputs
from ..api import outputs as api_outputs
from ..api import polling as api_polling
from ..api import tasks as api_tasks
from ..api.errors import (
    TripoCancelled,
    TripoError,
    TripoOutcomeUnknown,
    TripoRateLimited,
    redact,
)
from .engine_common import (
    BUSY_NOTICE,
    MESH_EXTS,
    SLOT_NOTICES,
    UPLOAD_MAX_AGE,
    S,
    _AccountBusy,
    _attr,
    _BackoffWatch,
    _busy_notice,
    _ext,
    _Interrupted,
    _NeedsAttention,
    _Run,
    _slot_notice,
    _StepFailed,
    _user_message,
    local_files,
    map_file_slots,
)
from .job import Job, Ref, Step
from .journal import JournalError
from .runner import Pace, Runner
from .sent import sent_record
from .store import Store
from .validation import Validation

log = logging.getLogger("tripo_addon.jobs.engine")


class Submission:
    """Sends a step's task. Uses the store (state, journal), the runner (stop, sleep, pools) and the checks;
    ``on_sent(job, idx, sent_at)`` / ``on_landed(job, idx, task_id)`` tell the owner registry about a create in
    flight and its answer."""

    def __init__(self, store: Store, runner: Runner, pace: Pace, check: Validation) -> None:
        self.store = store
        self.runner = runner
        self.pace = pace
        self.check = check
        self.on_sent: Callable[[Job, int, float], None] = lambda job, idx, sent_at: None
        self.on_landed: Callable[[Job, int, str], None] = lambda job, idx, task_id: None
        self.on_refused: Callable[[Job, int], None] = lambda job, idx: None  # answered: nothing was created

    def _set(self, job: Job, step: Step, state: str, *, important: bool, must: bool = False) -> None:
        self.store.move(job, state, step=step, step_state=state, important=important, must=must)

    @staticmethod
    def _tell(listener: Callable[..., None], *args: Any) -> None:
        try:
            listener(*args)
        except Exception:  # noqa: BLE001 - the step holds the truth (journaled next): the registry catches up
            log.exception("owner registry update failed")

    def submit_waiting(self, run: _Run, client: Any, idx: int, step: Step) -> None:
        """Submit the step; while Tripo says the account is busy (429/2000, nothing created), wait for a free slot
        with growing, jittered back-off (Retry-After as a floor) and say so in the job's row. Cancel stops it."""
        job = run.job
        busy = 0
        while True:
            try:
                self.submit_step(run, client, idx, step)
            except _AccountBusy as exc:
                busy += 1
                self.runner.release_slots(run)
                delay = api_polling.busy_delay(busy, retry_after=exc.retry_after, base=self.pace.busy_base,
                                               cap=self.pace.busy_cap)
                with self.store.lock:
                    job.notice = _busy_notice(exc.code, delay)
                self.store.post_update(job)
                self.runner.sleep(run, delay)
                continue
            if busy:
                with self.store.lock:
                    if job.notice.startswith(BUSY_NOTICE):
                        job.notice = ""
                self.store.post_update(job)
            return

    def create_backoff(self, run: _Run, step: Step, *, waiting: bool) -> None:
        """The client backs off between two creates (``waiting``) or is about to send again (see _BackoffWatch)."""
        job = run.job
        state = S.PENDING if waiting else S.SUBMITTING
        with self.store.lock:
            notice = _busy_notice(2000) if waiting and not job.notice else job.notice
        # fsynced: "submitting" again before the next POST
        self.store.move(job, state, step=step, step_state=state, notice=notice, important=True, must=not waiting)

    def submit_step(self, run: _Run, client: Any, idx: int, step: Step) -> None:
        job = run.job
        self.runner.check_stop(run)
        now = time.time()
        todo = [
            p
            for p in dict.fromkeys(local_files(step))
            if p not in step.uploads or now - float(step.uploads[p].get("_at", 0)) > UPLOAD_MAX_AGE
        ]
        if todo:
            self._set(job, step, S.UPLOADING, important=False)
            for path in todo:
                self.runner.check_stop(run)
                mesh = step.task_type == "import_model" or _ext(path) in MESH_EXTS
                method = step.upload if step.upload in ("sts", "presign") else "auto"
                ref = client.upload(path, mesh=mesh, method=method, cancel=run.stop)
                with self.store.lock:
                    step.uploads[path] = {"input": ref.to_json(), "_at": time.time()}
                self.store.save(important=False)
                self.store.post_update(job)
        self.runner.check_stop(run)
        groups = self.runner.pools(job, step)
        if any(g.used >= g.limit for g in groups):
            with self.store.lock:
                step.state = S.PENDING
                job.notice = _slot_notice([g.name for g in groups if g.used >= g.limit])
            self.store.post_update(job)
        for g in groups:
            run.wake_at = math.inf  # woken by another job's end, whose own activity the main thread sees
            try:
                g.acquire(run.stop)
            finally:
                run.wake_at = None
            run.slots.append(g)
        self.runner.check_stop(run)
        # Resolve references only now: output URLs (e.g. a generated image) expire within minutes.
        params = self.resolve_refs(run, client, idx, step)
        params = map_file_slots(
            step.task_type, params,
            lambda v, slot: self.check._file_input(v, step.task_type, job.api, uploads=step.uploads))
        src_type, src_version = self.check._source_of(job, step)
        if src_type is None:
            src_type, src_version = self.check._check_external_source(run, client, step, params)
        notices: list[str] = []
        values = api_tasks.build_request(step.task_type, params, api=job.api, source_type=src_type,
                                         source_model_version=src_version, notices=notices)
        for msg in notices:
            self.store.notice(job, msg)
        self.runner.check_stop(run)
        with self.store.lock:
            if job.notice.startswith(SLOT_NOTICES):
                job.notice = ""
            step.submitted_at = time.time()
            step.sent = sent_record(self._wire_body(client, step.task_type, values), step.submitted_at,
                                            getattr(client, "server_offset", None))
        self._tell(self.on_sent, job, idx, step.submitted_at)  # the registry knows a create is in flight ...
        self.store.move(job, S.SUBMITTING, step=step, step_state=S.SUBMITTING, save=False)
        self.store.journal.note_sent(job.id, idx, step.sent, step.submitted_at)  # ... fsynced before the POST
        if run.stop.is_set() or self.store.stopping:
            with self.store.lock:
                step.state = S.PENDING
            self._tell(self.on_refused, job, idx)  # never sent: not in flight
            self.store.save(important=False)
            raise _Interrupted()
        try:
            task_id = client.create_task(step.task_type, values, cancel=_BackoffWatch(self, run, step))
        except TripoCancelled:  # stopped before sending or while backing off from a refusal: nothing was created
            with self.store.lock:
                step.state = S.PENDING
            self._tell(self.on_refused, job, idx)
            self.store.save(important=False)
            raise _Interrupted()
        except TripoOutcomeUnknown as exc:  # stays "in flight" in the registry: recovery looks for its task
            with self.store.lock:
                step.state = S.NEEDS_ATTENTION
                step.error = _user_message(exc)
                if isinstance(step.sent, dict):
                    step.sent["lost_at"] = time.time()
            raise _NeedsAttention(
                self.runner.prefixed(
                    run,
                    "The request reached Tripo but its answer was lost, so a task may or may not have been created. "
                    "It was not sent again, so you are not charged twice. Check your task history on the Tripo "
                    "website: if the task is there, attach it to this job by its id; if not, retry the job.",
                )
            )
        except TripoRateLimited as exc:  # the account is busy: refused, nothing was created; wait and send again
            with self.store.lock:
                step.state = S.PENDING
                step.error = ""
            self._tell(self.on_refused, job, idx)
            self.store.save(important=True)
            raise _AccountBusy(exc) from None
        except JournalError as exc:  # "submitting" could not be journaled again after a back-off: nothing was sent
            with self.store.lock:
                step.state = S.FAILED
                step.error = _user_message(exc)
            raise
        except TripoError as exc:  # refused by Tripo (or never sent): no task exists
            with self.store.lock:
                step.state = S.FAILED
                step.error = _user_message(exc)
            self._tell(self.on_refused, job, idx)
            self.store.save(important=False)
            raise
        except BaseException as exc:  # outcome not known: do not risk a second task
            log.exception("create_task raised unexpectedly")
            with self.store.lock:
                step.state = S.NEEDS_ATTENTION
                step.error = redact(f"{type(exc).__name__}: {exc}")
            raise _NeedsAttention(
                self.runner.prefixed(run, f"Unexpected error while sending the task ({step.error}). ")
                + "It was not sent again. Check your Tripo task history and attach the task by id "
                "if it exists."
            )
        run.answered = (idx, time.monotonic())  # when the task began, closer than the send time (polls aim at it)
        with self.store.lock:
            step.task_id = str(task_id)
            step.status = "queued"
        self._tell(self.on_landed, job, idx, str(task_id))
        try:
            self.store.move(job, S.QUEUED, step=step, step_state=S.QUEUED, important=True, must=True)
        except JournalError as exc:  # the task exists: keep following it in memory; its id must not be lost
            self.keep_task_id(job, idx, str(task_id), exc)
            self.store.post_update(job)
        if run.cancelled:
            raise _Interrupted()

    @staticmethod
    def _wire_body(client: Any, task_type: str, values: Any) -> dict:
        """The body the create sends (the dialect's, as Tripo echoes it in ``input``); {} when it cannot be built
        (the create itself then refuses before sending)."""
        try:
            _path, body = client.dialect.create_request(task_type, values)
        except Exception:  # noqa: BLE001 - recorded for recovery only; create_task reports the real refusal
            return {}
        return dict(body) if isinstance(body, dict) else {}

    def resolve_refs(self, run: _Run, client: Any, idx: int, step: Step) -> dict:
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
                with self.store.lock:
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

    def keep_task_id(self, job: Job, idx: int, task_id: str, exc: Exception) -> None:
        """The journal refused the id of a task just created (closed by shutdown, or failing): keep it in the late-id
        file, and tell the user the id (a notice, and the log) so it can be attached whatever happens."""
        try:
            self.store.journal.note_task_id(job.id, idx, task_id)
        except OSError as late_exc:
            log.error("Tripo task %s (job %s, step %d) was created but could not be recorded (%s; %s): attach it "
                      "by this id", task_id, job.id, idx + 1, exc, late_exc)
        else:
            log.warning("Tripo task %s (job %s) was created as the job log closed; kept for the next start", task_id,
                        job.id)
        if not self.store.journal.closed:
            self.store.notice(job, f"Task {task_id} was created but the job log could not be written ({exc}).")
