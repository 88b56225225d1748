"""A step on a result Tripo no longer knows (it keeps task records about 7 days, tripo-api-v3.md §18 R1): the kept
copy of that result goes through a free ``import_model`` first, and the step goes on from it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..api import tasks as api_tasks
from .engine_common import MESH_EXTS, S
from .job import Job, Ref, Step
from .journal import ARCHIVE_FILES, ARCHIVE_NAME
from .store import Store

#: bytes of the job archive read when looking for a kept result (it rotates at 16 MiB a file)
ARCHIVE_READ_MAX = 64 << 20


def _mesh_file(files: Iterable[Any]) -> str | None:
    for f in files or ():
        if isinstance(f, str) and f.rsplit(".", 1)[-1].lower() in MESH_EXTS and os.path.isfile(f):
            return f
    return None


def _archived_steps(folder: Path) -> Iterable[dict]:
    """Steps of the archived jobs, newest file first (bounded by :data:`ARCHIVE_READ_MAX`)."""
    budget = ARCHIVE_READ_MAX
    names = [ARCHIVE_NAME] + [ARCHIVE_NAME.replace(".jsonl", f".{i}.jsonl") for i in range(1, ARCHIVE_FILES + 1)]
    for name in names:
        path = folder / name
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    budget -= len(line)
                    if budget < 0:
                        return
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    for step in rec.get("steps") or () if isinstance(rec, dict) else ():
                        if isinstance(step, dict):
                            yield step
        except OSError:
            continue


def kept_file(store: Store, task_id: str) -> str | None:
    """The model file downloaded for ``task_id`` that is still on disk (live jobs, then the archive), or None."""
    with store.lock:
        for job in store.jobs.values():
            for step in job.steps:
                if step.task_id == task_id:
                    found = _mesh_file(step.files)
                    if found:
                        return found
    for step in _archived_steps(Path(store.journal.dir)):
        if step.get("task_id") == task_id:
            found = _mesh_file(step.get("files") or ())
            if found:
                return found
    return None


def _shift(value: Any, at: int) -> Any:
    """``value`` with references to steps at or after ``at`` moved one on (a step was put in before them)."""
    if isinstance(value, Ref):
        return Ref(value.step + 1, value.what) if value.step >= at else value
    if isinstance(value, dict):
        return {k: _shift(v, at) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, at) for v in value]
    return value


def insert_import(store: Store, job: Job, idx: int, step: Step, source_task_id: str) -> str | None:
    """Put a free ``import_model`` of the kept copy of ``source_task_id`` before step ``idx`` and point the step at
    it. Returns the notice to show, or None when there is no kept copy (the step then fails as before)."""
    tt = api_tasks.TASK_TYPES.get(step.task_type)
    field = tt.source_field if tt is not None else None
    if not field or step.params.get(field) != source_task_id or step.task_id:
        return None
    path = kept_file(store, source_task_id)
    if path is None:
        return None
    with store.lock:
        for later in job.steps[idx:]:
            later.params = _shift(later.params, idx)
        step.params[field] = Ref(idx, "task_id")
        step.state = S.PENDING
        step.error = ""
        imp = Step("import_model", {"file": path}, upload="sts", download=False,
                   label=f"import of the kept copy of {source_task_id}")
        job.steps.insert(idx, imp)
    return (f"Tripo no longer knows task {source_task_id} (it keeps task records about 7 days): your kept copy "
            f"({os.path.basename(path)}) is imported first, free, and the step goes on from it.")
