"""How the engine runs one step on a worker thread: upload, wait for a pool slot, create (journaled first, never sent
twice), poll (batched on v3), download."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from ..api import inputs as api_inputs
from ..api import outputs as api_outputs
from ..api import polling as api_polling
from ..api import tasks as api_tasks
from ..api.errors import (
    ERROR_TEXT,
    STATUS_TEXT,
    TripoAuthError,
    TripoCancelled,
    TripoError,
    TripoNetworkError,
    TripoNotFound,
    TripoOutcomeUnknown,
    TripoRateLimited,
    TripoServerError,
    TripoTimeout,
    redact,
)
from .engine_common import (
    BUSY_NOTICE,
    FAILED_STATUSES,
    MESH_EXTS,
    SLOT_NOTICES,
    SUCCESS,
    UPLOAD_MAX_AGE,
    S,
    _AccountBusy,
    _attr,
    _BackoffWatch,
    _busy_notice,
    _ext,
    _extract_zip,
    _Interrupted,
    _lost_submit_message,
    _NeedsAttention,
    _Run,
    _slot_notice,
    _StepFailed,
    _user_message,
    local_files,
    main_output_key,
    map_file_slots,
)
from .hub import AUTH_PAUSED
from .job import Ref, Step
from .journal import JournalError
from .schedule import Stopped

log = logging.getLogger("tripo_addon.jobs.engine")


class StepsMixin:
    """Part of :class:`~tripo_addon.jobs.engine.Engine` (see there for the attributes it uses)."""

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
        # v3 gives no ETA: aim at the end the hub learned from earlier tasks of this type, so a finished task frees
        # its slot (and the next job starts) at once rather than on the 2 s rhythm.
        created = time.monotonic() - max(0.0, age) if step.submitted_at else None
        ran: float | None = None  # age at which the task was last seen not final
        aim = math.inf             # from then on the task rides along in every round of the hub
        if hub is not None:
            hub.poll_min = self.poll_min
            if created is not None and step.status in ("", "queued"):
                delay, aim = hub.aim(step.task_type, created, delay)
        while True:
            self._check_stop(run)
            try:
                if hub is None:
                    task = client.get_task(step.task_id, cancel=run.stop)
                else:  # one batch request per round for every job waiting (v3 tasks/list)
                    due = hub.due_time(delay, exact=aim < math.inf)
                    run.wake_at = min(due, aim)  # a ride-along answer may come before the due time: the poller
                    try:                         # must be ticking fast by then
                        task = hub.get(step.task_id, due=due, stop=run.stop, soon=aim, created=step.submitted_at)
                    finally:
                        run.wake_at = None
            except TripoCancelled:
                if run.stop.is_set():
                    raise _Interrupted() from None
                raise
            except TripoAuthError:  # the key, not the task: every job waits until it works again (v2: per worker)
                transient += 1
                self._auth_wait(run, step, paused=True)
                self._sleep(run, min(self.poll_max * 4, self.poll_min * 2 ** min(transient, 10)))
                continue
            except TripoNotFound as exc:
                if step.submitted_at and time.time() - step.submitted_at < self.not_found_grace:
                    self._sleep(run, max(self.poll_min, 0.5))  # our own create, not listed yet: ask again
                    continue
                raise _StepFailed(self._prefixed(run, f"{_user_message(exc)} (while following task {step.task_id})"))
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
            except (_Interrupted, Stopped):
                raise
            except Exception as exc:  # noqa: BLE001 - an unreadable answer is the round's problem, not the task's
                log.warning("polling task %s failed unexpectedly (retried): %s: %s", step.task_id,
                            type(exc).__name__, exc)
                transient += 1
                self._sleep(run, min(self.poll_max, self.poll_min * 2 ** min(transient, 10)))
                continue
            if transient or job.notice == AUTH_PAUSED:
                self._auth_wait(run, step, paused=False)
            transient = 0
            if str(_attr(task, "status", "") or "") in (SUCCESS, *FAILED_STATUSES):
                self._release_slots(run)  # Tripo freed the slot: the next waiting job may go before this one's save
            changed = self._apply_task(run, idx, step, task)
            status = step.status
            if status == SUCCESS:
                self._release_slots(run)
                if hub is not None and created is not None and step.task_type:
                    hub.durations.record(step.task_type, ran, time.monotonic() - created)
                return task
            if created is not None:
                ran = time.monotonic() - created
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
            elif created is not None and step.eta is None:
                delay, aim = hub.aim(step.task_type, created, delay)

    def _auth_wait(self, run: _Run, step: Step, *, paused: bool) -> None:
        """Say (or stop saying) that polling waits for a key Tripo accepts; never a failure of the job."""
        job = run.job
        with self._lock:
            if paused:
                if job.notice == AUTH_PAUSED:
                    return
                job.notice = AUTH_PAUSED
            elif job.notice == AUTH_PAUSED:
                job.notice = ""
            else:
                return
        self._post_update(job)

    @staticmethod
    def _transient(exc: TripoError) -> bool:
        """Worth polling on: the task exists; the network or Tripo's servers are having a bad moment."""
        return isinstance(exc, TripoNetworkError | TripoServerError | TripoRateLimited | TripoTimeout)

    def _apply_task(self, run: _Run, idx: int, step: Step, task: Any) -> bool:
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
