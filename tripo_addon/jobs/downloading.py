"""The downloading part: a successful step's result files (fresh URLs from the poll that saw the success), zips
extracted on the worker, progress reported."""

from __future__ import annotations

import logging
import time
from typing import Any

from ..api import outputs as api_outputs
from ..api import tasks as api_tasks
from .engine_common import S, _extract_zip, _Run, _StepFailed, main_output_key
from .following import Following
from .job import Job, Step
from .runner import Runner
from .store import Store

log = logging.getLogger("tripo_addon.jobs.engine")


class Downloading:
    """Downloads into ``download_dir/<task id>/``."""

    def __init__(self, store: Store, runner: Runner, following: Following, download_dir: Any) -> None:
        self.store = store
        self.runner = runner
        self.following = following
        self.download_dir = download_dir

    def _set(self, job: Job, step: Step, state: str, *, important: bool) -> None:
        self.store.move(job, state, step=step, step_state=state, important=important)

    def download(self, run: _Run, client: Any, idx: int, step: Step, task: Any) -> None:
        job = run.job
        if not step.download:
            return
        output = step.output
        if task is None or not output:
            task = client.get_task(step.task_id, cancel=run.stop)
            self.following.apply_task(run, idx, step, task)
            output = step.output
        if step.outputs is not None:
            keys = [k for k in step.outputs if api_outputs.get(output, k)]  # "clips.1": an item of a list
        else:
            key = main_output_key(step.task_type, output)
            tt = api_tasks.TASK_TYPES.get(step.task_type)
            if key is None and tt is not None and tt.model_output:
                raise _StepFailed(
                    self.runner.prefixed(run, f"Task {step.task_id} succeeded but returned no model file to download.")
                )
            keys = [key] if key else []
        if not keys:
            return
        with self.store.lock:
            step.files = []
        self._set(job, step, S.DOWNLOADING, important=True)
        dest = self.download_dir / str(step.task_id)
        last = [0.0]

        def progress(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2:
                return
            last[0] = now
            with self.store.lock:
                job.meta["download"] = {"done": int(done), "total": int(total) if total else None}
            self.store.post_update(job)

        for key in keys:
            self.runner.check_stop(run)
            # the output just polled: its URLs are fresh, no GET /task before the file
            path = client.download(step.task_id, key, dest, cancel=run.stop, progress=progress, output=output)
            _extract_zip(path)
            with self.store.lock:
                step.files.append(str(path))
        with self.store.lock:
            job.meta.pop("download", None)
        self.store.save(important=False)  # the next step's submit or _finish() writes it durably
