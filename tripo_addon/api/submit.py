"""Submitting a task from a script: check everything locally, check the source task (free), upload local files,
create the task. Nothing is sent when anything is wrong."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import tasks as _tasks
from .errors import TripoNotFound, TripoValidationError
from .inputs import Input, stored_object, token
from .localfiles import MESH_FORMATS, check_local_file, find_local_files, replace_local_files
from .models import Task, TaskStatus

if TYPE_CHECKING:  # pragma: no cover
    from .dialect import Client

MULTIVIEW_SOURCES = ("generate_multiview_image", "edit_multiview_image")
#: Days Tripo keeps a task record (tripo-api-v3.md §18 R1, one source): an older task id no longer resolves.
RETENTION_DAYS = 7


def submit(client: Client, task_type: str, params: Mapping[str, Any], *, source_type: str | None = None,
           source_model_version: str | None = None, upload: str = "auto", cancel: threading.Event | None = None,
           notices: list[str] | None = None) -> str:
    """Validate, upload local files found in file parameters, build the values and create the task.

    Everything is checked locally before the first request (local images are sniffed, meshes checked), so bad input
    sends nothing. ``upload``: "auto" (the dialect's choice), "direct", or "sts"/"presign" (the large-file path).

    When the parameters name a source task and ``source_type`` is not given, the source is fetched first (free) and
    the task is refused before the create when Tripo would refuse it (see :func:`check_source`). Callers that already
    know the source's type pass ``source_type`` (and ``source_model_version``) and skip that request.
    Retired values Tripo's own SDK rewrites (rig v2.0 -> v2.5) are rewritten with a sentence in ``notices``.
    """
    api = client.api
    local = find_local_files(task_type, params)
    for path, slot in local:
        check_local_file(path, slot, task_type)
    placeholder = replace_local_files(task_type, params, {p: placeholder_input(p, task_type, api) for p, _ in local})
    _tasks.build_request(task_type, placeholder, api=api, source_type=source_type,
                         source_model_version=source_model_version)
    if source_type is None:
        field = source_field(task_type, api)
        source_id = params.get(field) if field else None
        if source_id is None and field == "draft_model_task_id":
            source_id = params.get("rough_model_task_id")  # the legacy alias
        if isinstance(source_id, str) and source_id.strip():
            src = check_source(client, task_type, source_id, cancel=cancel)
            if _tasks.catalog(api).task_type(task_type).source_field:
                source_type = src.type
                if source_model_version is None:
                    source_model_version = src.chain_version
                _tasks.build_request(task_type, placeholder, api=api, source_type=source_type,
                                     source_model_version=source_model_version)
    uploaded: dict[str, Input] = {}
    for path, _slot in local:
        if path in uploaded:
            continue
        mesh = task_type == "import_model" or Path(path).suffix.lower().lstrip(".") in MESH_FORMATS
        method = "auto" if upload in ("auto", "direct") else upload
        uploaded[path] = client.upload(path, mesh=mesh, method=method, cancel=cancel)
    values = _tasks.build_request(task_type, replace_local_files(task_type, params, uploaded), api=api,
                                  source_type=source_type, source_model_version=source_model_version,
                                  notices=notices)
    return client.create_task(task_type, values, cancel=cancel)


def check_source(client: Client, task_type: str, source_task_id: str, *,
                 cancel: threading.Event | None = None) -> Task:
    """Fetch the source task of a ``task_type`` task (free) and return it if Tripo would accept it.

    Raises TripoValidationError (nothing created; ``code`` = what Tripo would answer) when it has not finished
    successfully (2007; 2005 for a refine draft) or the chain rules do not allow it (2006; 2011 for the rig check,
    2012 for retarget), naming the source's type and model version; TripoNotFound when it does not exist for this
    key (2001).
    """
    api = client.api
    field = source_field(task_type, api)
    if field is None:
        raise TripoValidationError(f"{task_type} does not start from an earlier task.", param=None)
    try:
        src = client.get_task(_tasks.check_task_id(source_task_id, field), cancel=cancel)
    except TripoNotFound as exc:
        raise source_gone(exc, source_task_id) from None
    kind = src.type or "task"
    version = src.chain_version
    made = f"{kind}, model version {version}" if version else kind
    if src.status != TaskStatus.SUCCESS:
        code = 2005 if task_type == "refine_model" else 2007
        what = "draft task" if code == 2005 else "source task"
        todo = ("wait until it succeeds before starting the next step" if src.status in TaskStatus.ONGOING
                else "it cannot be used: pick a successful task or run it again")
        raise TripoValidationError(
            f"The {what} {src.task_id} ({made}) has not finished successfully (it is {src.status}); {todo}.",
            param=field, code=code)
    if task_type == "multiview_to_model":
        if src.type not in MULTIVIEW_SOURCES:
            raise TripoValidationError(
                f"Multiview to Model's original_task_id must be a Four Views task (or its edit); {src.task_id} is "
                f"{made}. Pass the views as `files` instead.", param=field, code=2006)
        return src
    try:
        _tasks.check_chain(task_type, src.type, version, api=api)
    except TripoValidationError as exc:
        code = {"animate_retarget": 2012, "animate_prerigcheck": 2011}.get(task_type, 2006)
        raise TripoValidationError(f"{exc.message} (Source task {src.task_id}: {made}.)", param=field,
                                   code=code) from None
    if task_type == "animate_retarget" and src.type == "animate_rig" and api == "v3":
        inp = src.input if isinstance(src.input, dict) else {}
        spec = inp.get("spec")
        problem = _tasks.retarget_problem(inp.get("model") or inp.get("model_version"),
                                          spec if isinstance(spec, str) else None)
        if problem:
            raise TripoValidationError(f"{problem} (Source task {src.task_id}.)", param=field, code=2012)
    return src


def source_gone(exc: TripoNotFound, source_task_id: str) -> TripoNotFound:
    """The "not found" of a source task, in words that say why it happens to a result that worked before: Tripo
    keeps task records :data:`RETENTION_DAYS` days (tripo-api-v3.md §18 R1). ``source_task_id`` is kept on the error
    (a caller holding the result's file can import it again, free, and go on from that)."""
    err = TripoNotFound(
        exc.message, code=exc.code, status=exc.status, suggestion=exc.suggestion, trace_id=exc.trace_id,
        user_message=f"Tripo no longer knows the source task {source_task_id}: it keeps task records about "
                     f"{RETENTION_DAYS} days (and shows a task only to the API key that made it). Import your copy "
                     "of the result (Import Model, free) and run the step on that.")
    err.source_task_id = source_task_id
    return err


def source_field(task_type: str, api: str = _tasks.DEFAULT_API) -> str | None:
    """The parameter naming the task's source task (multiview's optional ``original_task_id`` included)."""
    tt = _tasks.TASK_TYPES.get(task_type) if isinstance(task_type, str) else None
    if tt is None:
        return None
    return tt.source_field or ("original_task_id" if tt.name == "multiview_to_model" else None)


def placeholder_input(path: str | os.PathLike, task_type: str, api: str) -> Input:
    """A stand-in for a local file before its upload, shaped like what the upload will give (for validation)."""
    ext = Path(path).suffix.lower().lstrip(".")
    if task_type == "import_model" or ext in MESH_FORMATS:
        if api == "v2":
            return stored_object("tripo-data", f"placeholder/input.{ext or 'glb'}", ext or "glb")
        return token("file_00000000-0000-4000-8000-000000000000", ext or "glb")
    return token("00000000-0000-4000-8000-000000000000", "jpg" if ext in ("jpg", "jpeg") else (ext or "png"))
