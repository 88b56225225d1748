"""TripoClient: the Tripo API's calls (create, get, list, wait, balance, upload, download) for one account.

The API URL picks the dialect (:func:`~tripo_addon.api.dialects.dialect_for`: v3 unless it ends in ``/v2/openapi``);
the client speaks only through it, so the same calls work on both. Sessions, auth, retries and the rule that a
create is never re-sent blindly are in :mod:`tripo_addon.api.session`.

A client is meant for one thread at a time (one per worker); it holds no global state.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import polling as _polling
from . import tasks as _tasks
from .dialect import UsageRow
from .errors import TripoAPIError, TripoOutcomeUnknown, TripoServerError, TripoTimeout, TripoValidationError
from .failures import task_failed
from .inputs import Input
from .models import Balance, Task, TaskStatus
from .session import ApiSession, create_summary


class TripoClient(ApiSession):
    """Client for the Tripo REST API (v3 by default; v2 when the URL ends in ``/v2/openapi``); the constructor's
    options are described on :class:`~tripo_addon.api.session.ApiSession`."""

    # ------------------------------------------------------------------------------------------ tasks
    def create_task(self, task_type: str, values: Mapping[str, Any], *,
                    cancel: threading.Event | None = None) -> str:
        """Create a task from validated values (:func:`tasks.build_request`); returns the task id.

        Never re-sent when the outcome is unknown (TripoOutcomeUnknown); retried, bounded, when Tripo refuses it
        with 429 / 2000 / 1007 (nothing created) or the connection failed before sending.
        """
        if not isinstance(task_type, str) or not isinstance(values, Mapping):
            raise TripoValidationError("create_task needs a task type and its values; build them with api.tasks.")
        try:
            path, payload = self.dialect.create_request(task_type, values)
        except ValueError as exc:  # values this API cannot express: refused before anything is sent
            raise TripoValidationError(str(exc), param=None) from None
        data, trace = self.request("POST", path, json=payload, create=True, cancel=cancel,
                                   what=task_type)  # what: the task type (TripoOutcomeUnknown.task_type)
        try:
            return self.dialect.task_id_from(data)
        except ValueError:
            raise TripoOutcomeUnknown(
                f"POST {path} for {create_summary(task_type, payload)}: success without a task id.",
                task_type=task_type, body=payload, sent_at=time.time(), reason="Tripo answered without a task id",
                trace_id=trace,
            ) from None

    def get_task(self, task_id: str, *, cancel: threading.Event | None = None) -> Task:
        """One task by id (retried on transient failures)."""
        tid = _tasks.check_task_id(task_id, "task_id")
        data, trace = self.request("GET", self.dialect.task_path(tid), cancel=cancel, what=f"get task {tid}")
        try:
            return self.dialect.task_from(data, trace_id=trace)
        except ValueError as exc:
            raise TripoServerError(f"get task {tid}: {exc}.", trace_id=trace,
                                   user_message="Tripo sent a task description the add-on could not read.") from None

    def get_tasks(self, task_ids: list[str], *, cancel: threading.Event | None = None) -> dict[str, Task]:
        """Several tasks at once: one ``tasks/list`` request per 100 ids on v3 (one GET per id on v2). Ids Tripo
        does not know are left out of the result."""
        ids = list(dict.fromkeys(_tasks.check_task_id(t, "task_ids") for t in task_ids))
        found: dict[str, Task] = {}
        n = self.dialect.batch_limit
        if not n:
            for tid in ids:
                try:
                    found[tid] = self.get_task(tid, cancel=cancel)
                except TripoAPIError as exc:
                    if exc.status != 404:
                        raise
            return found
        for i in range(0, len(ids), n):
            path, body = self.dialect.list_request(ids[i:i + n])
            data, trace = self.request("POST", path, json=body, cancel=cancel, what=f"get {len(ids[i:i + n])} tasks")
            try:
                tasks, _missed = self.dialect.tasks_from_list(data, trace_id=trace)
            except ValueError as exc:
                raise TripoServerError(f"task list: {exc}.", trace_id=trace,
                                       user_message="Tripo sent a task list the add-on could not read.") from None
            found.update({k: v for k, v in tasks.items() if k in ids})
        return found

    def usage(self, limit: int = 50, offset: int = 0, *, cancel: threading.Event | None = None) -> list[UsageRow]:
        """The account's recent tasks, newest first (v3 ``account/usage``; any key's tasks, from any tool)."""
        data, trace = self.request("GET", self.dialect.usage_path(limit, offset), cancel=cancel,
                                   what="get account usage")
        try:
            return self.dialect.usage_from(data)
        except ValueError as exc:  # pragma: no cover - usage_from is lenient
            raise TripoServerError(f"usage: {exc}.", trace_id=trace) from None

    def balance(self, *, cancel: threading.Event | None = None) -> Balance:
        """The account's credits (available and frozen)."""
        data, trace = self.request("GET", self.dialect.balance_path, cancel=cancel, what="get balance")
        try:
            return self.dialect.balance_from(data)
        except ValueError as exc:
            raise TripoServerError(f"GET balance: {exc}.", trace_id=trace,
                                   user_message="Tripo sent a balance the add-on could not read.") from None

    def wait(
        self,
        task_id: str,
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Poll until the task succeeds (returns it) or ends otherwise (raises TripoTaskFailed).

        The interval adapts to the task's ETA, progress and queue position (``polling.next_poll_delay``,
        within ``poll_min..poll_max``). ``unknown`` is polled on and treated as a failure after ``unknown_polls``
        consecutive answers. ``on_update(task)`` is called after every poll. ``timeout`` (seconds) raises
        TripoTimeout; setting ``cancel`` raises TripoCancelled promptly (sleeps are interruptible).
        """
        deadline = time.monotonic() + timeout if timeout is not None else None
        idle = unknown = 0
        last: tuple | None = None
        finish = _polling.FinishWindow()
        while True:
            self._check_cancel(cancel)
            task = self.get_task(task_id, cancel=cancel)
            finish.update(task.eta, time.monotonic())
            if on_update is not None:
                on_update(task)
            if task.status == TaskStatus.SUCCESS:
                return task
            if task.status in TaskStatus.FAILURES:
                raise task_failed(task)
            unknown = unknown + 1 if task.status == TaskStatus.UNKNOWN else 0
            if unknown >= self.unknown_polls:
                raise task_failed(task, polls=unknown)
            sig = (task.status, task.progress, task.queuing_num)
            idle = 0 if sig != last else idle + 1
            last = sig
            delay = _polling.next_poll_delay(
                task.status, running_left_time=task.eta, finish_left=finish.left(time.monotonic()),
                progress=task.progress,
                queuing_num=task.queuing_num, idle_polls=idle, poll_min=self.poll_min, poll_max=self.poll_max,
            )
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TripoTimeout(
                        f"Task {task_id} still {task.status} after {timeout:g} s.",
                        user_message=f"Gave up waiting for task {task_id} after {timeout:g} s; it may still finish on "
                        "Tripo. Attach it by its id later to get the result.",
                    )
                delay = min(delay, remaining)
            self._sleep(delay, cancel)

    # ------------------------------------------------------------------------------------------ uploads / downloads
    def upload(
        self,
        path: str | os.PathLike,
        *,
        mesh: bool | None = None,
        method: str = "auto",
        cancel: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> Input:
        """Check a local image or model and upload it the dialect's way; returns the Input that refers to it.
        ``mesh`` defaults to "by extension"; ``method``: "auto", or "sts" (v2) / "presign" (v3) to force the
        large-file path."""
        from .localfiles import MESH_FORMATS

        if mesh is None:
            mesh = Path(path).suffix.lower().lstrip(".") in MESH_FORMATS
        return self.dialect.upload(self, path, mesh=mesh, method=method, cancel=cancel, progress=progress)

    def download(
        self,
        task_id: str,
        output_key: str,
        dest_dir: str | os.PathLike,
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        filename: str | None = None,
        output: Mapping[str, Any] | None = None,
    ) -> Path:
        """Download one output (a semantic key: "model", "preview", "clips.1", ...) of a successful task into
        ``dest_dir``; verified, with fresh URLs when needed. ``output``: the task's output from a poll just made;
        its URL is used if still valid (one request saved)."""
        from .downloads import download

        return download(self, task_id, output_key, dest_dir, cancel=cancel, progress=progress, filename=filename,
                        output=output)

    # ------------------------------------------------------------------------------------------ conveniences
    def submit(self, task_type: str, params: Mapping[str, Any], *, source_type: str | None = None,
               source_model_version: str | None = None, upload: str = "auto",
               cancel: threading.Event | None = None, notices: list[str] | None = None) -> str:
        """Validate, upload local files, create the task; see :func:`tripo_addon.api.submit.submit`."""
        from .submit import submit

        return submit(self, task_type, params, source_type=source_type, source_model_version=source_model_version,
                      upload=upload, cancel=cancel, notices=notices)

    def check_source(self, task_type: str, source_task_id: str, *, cancel: threading.Event | None = None) -> Task:
        """The source task, if Tripo would accept it; see :func:`tripo_addon.api.submit.check_source`."""
        from .submit import check_source

        return check_source(self, task_type, source_task_id, cancel=cancel)

    def run(
        self,
        task_type: str,
        params: Mapping[str, Any],
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        on_update: Callable[[Task], None] | None = None,
        **kw: Any,
    ) -> Task:
        """:meth:`submit` then :meth:`wait`; returns the successful task."""
        task_id = self.submit(task_type, params, cancel=cancel, **kw)
        return self.wait(task_id, timeout=timeout, cancel=cancel, on_update=on_update)
