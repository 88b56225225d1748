"""Tasks and their state machine: queued -> running -> success | failed (| banned | expired | cancelled | unknown).

Status is a function of time: a task is queued for its queue time, then running for its run time (both already
multiplied by time_scale), and finalizes once that time is up *and* its output files are made (on a worker pool).
Credits: frozen at creation, charged on success, refunded otherwise."""

from __future__ import annotations

import heapq
import math
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import catalog as C
from .accounts import Account, Accounts
from .errors import ApiError
from .producers import Job, Result, SourceInfo, TaskFailure, produce
from .validation import Plan

FINAL = ("success", "failed", "banned", "expired", "cancelled", "unknown")
DAY = 86_400.0
# error_code / error_msg of each non-success final status (tripo-api-v3.md §7, §18 C7: the migration guide maps
# banned -> 2008 and expired -> 2018; no source names a code for cancelled, reached only through Tripo's dashboard
# (R17): it carries a message and no code, and `unknown` neither, so a client must never require them).
FINAL_ERRORS: dict[str, tuple[int | None, str | None]] = {
    "failed": (1001, "The task failed (injected fault)."),
    "banned": (2008, "The task was banned: its input was rejected by the content policy."),
    "expired": (2018, "The task expired before it could finish (queue expiry)."),
    "cancelled": (None, "The task was cancelled."),
    "unknown": (None, None),
}


@dataclass
class Task:
    id: str
    type: str
    account: Account
    plan: Plan
    create_time: int
    t0: float                     # monotonic start
    queue_s: float
    run_s: float
    price: float
    group: str
    dir: Path
    status: str = "queued"        # internal: queued until finalized (running is derived from time)
    outputs: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    error_code: int | None = None
    error_msg: str | None = None
    consumed: float = 0
    forced: dict | None = None    # from a fail_task fault: {"error_code", "error_msg", "task_status"}
    future: Future | None = None
    api: str = "v2"               # the dialect that created it ("v2" | "v3")
    completed_at: float | None = None   # wall-clock time it became final
    hidden: bool = False          # made by the emulator itself (v3 implicit import): not in account/usage

    @property
    def deadline(self) -> float:
        return self.t0 + self.queue_s + self.run_s

    @property
    def final(self) -> bool:
        return self.status in FINAL


class TaskStore:
    """All tasks, the concurrency check, the worker pool that makes files, and the finalizing scheduler."""

    def __init__(self, accounts: Accounts, data_dir: Path, *, time_scale: float = 1.0, workers: int = 4,
                 retention_days: float | None = 7.0) -> None:
        self.accounts = accounts
        self.data_dir = data_dir
        self.time_scale = time_scale
        self.retention_days = retention_days   # None: keep tasks for ever
        self.tasks: dict[str, Task] = {}
        self.lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tripo-emu-work")
        self._heap: list[tuple[float, str]] = []
        self._wake = threading.Condition(self.lock)
        self._stopped = False
        self._thread = threading.Thread(target=self._scheduler, name="tripo-emu-scheduler", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _scheduler(self) -> None:
        with self._wake:
            while not self._stopped:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, tid = heapq.heappop(self._heap)
                    task = self.tasks.get(tid)
                    try:
                        if task is not None:
                            self._maybe_finalize(task)
                    except Exception:  # never let one task stop the scheduler; polls finalize it too
                        traceback.print_exc()
                timeout = (self._heap[0][0] - now) if self._heap else None
                self._wake.wait(timeout)

    # ------------------------------------------------------------------------------------------ create
    def active(self, acc: Account, group: str) -> list[Task]:
        """The account's queued or running tasks in a concurrency group."""
        with self.lock:
            return [t for t in self.tasks.values()
                    if t.account is acc and t.group == group and not self._maybe_finalize(t)]

    def create(self, acc: Account, plan: Plan, forced: dict | None = None) -> Task:
        """Concurrency check (429/2000 with Retry-After), freeze credits (403/2010), start the work."""
        with self.lock:
            active = self.active(acc, plan.group)
            limit = C.GROUP_LIMITS.get(plan.group, 10)
            if len(active) >= limit:
                soonest = min(t.deadline for t in active) - time.monotonic()
                raise ApiError(2000, f"{len(active)} tasks of this kind are queued or running (limit {limit}).",
                               retry_after=max(1, math.ceil(soonest)))
            self.accounts.freeze(acc, plan.price)
            queue_s, run_s = C.DURATIONS.get(plan.type, (2, 20))
            tid = str(uuid.uuid4())
            task = Task(tid, plan.type, acc, plan, int(time.time()), time.monotonic(), queue_s * self.time_scale,
                        run_s * self.time_scale, plan.price, plan.group, self.data_dir / "tasks" / tid, forced=forced)
            self.tasks[tid] = task
            task.future = self._pool.submit(produce, self._job(task))
            task.future.add_done_callback(lambda _f, t=task: self._work_done(t))
            heapq.heappush(self._heap, (task.deadline, tid))
            self._wake.notify_all()
            return task

    def _job(self, task: Task) -> Job:
        """The producer's job of a task."""
        plan, src = task.plan, task.plan.source
        source = SourceInfo(src.type, src.dir, dict(src.meta), dict(src.outputs)) if src is not None else None
        return Job(task.id, plan.type, {**plan.params, "family": plan.family}, plan.files, source, task.dir,
                   self.data_dir / "cache", seed=uuid.UUID(task.id).int & 0xFFFFFFFF)

    def add_done(self, acc: Account, plan: Plan, api: str = "v3") -> Task:
        """A task made at once, in this thread, already successful and free (v3's implicit import of a file given
        where a model task is expected); TaskFailure when its files cannot be made."""
        tid = str(uuid.uuid4())
        task = Task(tid, plan.type, acc, plan, int(time.time()), time.monotonic(), 0.0, 0.0, 0, plan.group,
                    self.data_dir / "tasks" / tid, api=api)
        res: Result = produce(self._job(task))
        task.status, task.outputs, task.extra, task.meta = "success", res.outputs, res.extra, res.meta
        task.hidden = True
        task.completed_at = time.time()
        task.plan.files = {}
        with self.lock:
            self.tasks[tid] = task
        return task

    def _work_done(self, task: Task) -> None:
        with self.lock:
            self._maybe_finalize(task)

    # ------------------------------------------------------------------------------------------ state
    def _maybe_finalize(self, task: Task) -> bool:
        """Finalize if due and the files are made. True when the task is final."""
        with self.lock:
            if task.final:
                return True
            if time.monotonic() < task.deadline or task.future is None or not task.future.done():
                return False
            forced = task.forced
            err = task.future.exception() if not task.future.cancelled() else RuntimeError("cancelled")
            if forced:
                task.status = forced.get("task_status") or "failed"
                code, msg = FINAL_ERRORS.get(task.status, (None, None))
                task.error_code = forced.get("error_code") or code
                task.error_msg = forced.get("error_msg") or msg or "The task failed (injected fault)."
            elif err is not None:
                task.status = "failed"
                task.error_code = err.code if isinstance(err, TaskFailure) else 1001
                task.error_msg = err.msg if isinstance(err, TaskFailure) else f"Internal error: {err!r}"
            else:
                res: Result = task.future.result()
                task.status, task.outputs, task.extra, task.meta = "success", res.outputs, res.extra, res.meta
            if task.status == "success":
                self.accounts.charge(task.account, task.price)
                task.consumed = task.price
                self._add_children(task)
            else:
                self.accounts.refund(task.account, task.price)
            task.future = None
            task.completed_at = time.time()
            task.plan.files = {}   # input bytes (images, imported meshes) are not needed any more
        return True

    # ------------------------------------------------------------------------------------------ retention
    @property
    def retention_s(self) -> float | None:
        """How long a task record lives after its creation (retention_days x time_scale), None = for ever."""
        if self.retention_days is None:
            return None
        return float(self.retention_days) * DAY * self.time_scale

    def _alive(self, task: Task | None) -> Task | None:
        """The task, or None once it outlived the retention (then it is forgotten, as Tripo forgets records after
        7 days, tripo-api-v3.md §18 R1). Only final tasks are forgotten: their credits are settled."""
        if task is None:
            return None
        keep = self.retention_s
        if keep is not None and time.monotonic() - task.t0 >= keep and self._maybe_finalize(task):
            self.tasks.pop(task.id, None)
            return None
        return task

    def forget(self, task_id: str) -> bool:
        """Forget a task at once (the control route DELETE /_emulator/tasks/<id>); a task still queued or running
        is stopped and its frozen credits refunded. False when there is no such task."""
        with self.lock:
            task = self.tasks.pop(task_id, None) if isinstance(task_id, str) else None
            if task is None:
                return False
            if not task.final:
                if task.future is not None:
                    task.future.cancel()
                self.accounts.refund(task.account, task.price)
                task.status, task.future, task.completed_at = "cancelled", None, time.time()
            return True

    def expire_due(self) -> None:
        """Forget every task past the retention."""
        with self.lock:
            for t in list(self.tasks.values()):
                self._alive(t)

    def _add_children(self, task: Task) -> None:
        """Tasks a producer made on the way (smartsegment's model and segmentation tasks): successful, free, hidden
        from account/usage, owned by the same account, usable as sources."""
        for child in task.meta.pop("children", None) or []:
            plan = Plan(child["type"], {}, {}, group=task.group, dialect=task.plan.dialect)
            t = Task(child["id"], child["type"], task.account, plan, int(time.time()), time.monotonic(), 0.0, 0.0,
                     0, task.group, self.data_dir / "tasks" / child["id"], status="success",
                     outputs=dict(child["outputs"]), meta=dict(child["meta"]), api=task.api, hidden=True)
            t.completed_at = time.time()
            self.tasks[t.id] = t

    def get(self, acc: Account, task_id: str) -> Task:
        """The caller's task (finalized if due) or 404/2001 (also once the retention forgot it)."""
        with self.lock:
            task = self._alive(self.tasks.get(task_id)) if isinstance(task_id, str) else None
            if task is None or task.account is not acc:
                raise ApiError(2001)
            self._maybe_finalize(task)
            return task

    def find(self, task_id: str) -> Task | None:
        with self.lock:
            return self._alive(self.tasks.get(task_id)) if isinstance(task_id, str) else None

    def refresh_all(self) -> None:
        with self.lock:
            for t in list(self.tasks.values()):
                if self._alive(t) is not None:
                    self._maybe_finalize(t)

    def view(self, task: Task, sign: Callable[[Task, str], str], *, status_override: str | None = None) -> dict:
        """The task object as GET /task returns it; `sign` turns a stored file name into a URL."""
        now = time.monotonic()
        with self.lock:
            self._maybe_finalize(task)
            d: dict[str, Any] = {"task_id": task.id, "type": task.type, "status": task.status,
                                 "input": task.plan.echo, "output": {}, "progress": 0,
                                 "create_time": task.create_time, "consumed_credit": task.consumed,
                                 "queuing_num": -1, "running_left_time": -1}
            if not task.final:
                elapsed = now - task.t0
                if elapsed < task.queue_s:
                    ahead = sum(1 for t in self.tasks.values() if t.account is task.account and
                                t.group == task.group and not t.final and t.t0 < task.t0 and
                                now - t.t0 < t.queue_s)
                    d.update(status="queued", queuing_num=ahead,
                             running_left_time=math.ceil(task.deadline - now))
                else:
                    frac = (elapsed - task.queue_s) / task.run_s if task.run_s > 0 else 1.0
                    d.update(status="running", progress=max(1, min(99, int(frac * 100))),
                             running_left_time=max(0, math.ceil(task.deadline - now)) or 1)
            elif task.status == "success":
                out = {}
                for key, val in task.outputs.items():
                    if isinstance(val, dict):
                        out[key] = {k: sign(task, v) for k, v in val.items()}
                    elif isinstance(val, list):   # v3 retarget: one file per clip
                        out[key] = [sign(task, v) for v in val]
                    else:
                        out[key] = sign(task, val)
                out.update(task.extra)
                d["output"] = out
                d["progress"] = 100
                result = {}
                for key, url in out.items():
                    if isinstance(url, str) and url.startswith("http"):
                        result[key] = {"type": url.split("?")[0].rsplit(".", 1)[-1], "url": url}
                    elif isinstance(url, dict):
                        for sub, u in url.items():
                            result[sub] = {"type": "png", "url": u}
                d["result"] = result
                if "rendered_image" in out:
                    d["thumbnail"] = out["rendered_image"]
            else:
                d["progress"] = 100
                d["result"] = {}
                if task.error_code is not None:
                    d["error_code"] = task.error_code
                if task.error_msg:
                    d["error_msg"] = task.error_msg
            prompt = task.plan.params.get("prompt")
            if prompt and task.status == "failed":
                d["prompt"] = prompt
            if status_override:
                d["status"] = status_override
            return d

    def file_path(self, task_id: str, name: str) -> Path | None:
        """A downloadable output file of a successful task."""
        with self.lock:
            task = self.tasks.get(task_id)
            if task is None or task.status != "success":
                return None
            names = set()
            for v in task.outputs.values():
                names.update(v.values() if isinstance(v, dict) else v if isinstance(v, list) else [v])
            if name not in names:
                return None
            return task.dir / name
