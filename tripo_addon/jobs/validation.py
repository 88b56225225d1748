"""The engine's checks before anything is sent: every step of a job is validated against the catalogue of its
API version, with references and local files replaced by stand-ins (nothing touches the network)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from ..api import inputs as api_inputs
from ..api import outputs as api_outputs
from ..api import tasks as api_tasks
from ..api.errors import (
    TripoValidationError,
)
from ..api.localfiles import check_local_file
from ..api.submit import placeholder_input
from .engine_common import (
    IMAGE_EXTS,
    MESH_EXTS,
    PLACEHOLDER_ID,
    S,
    _ext,
    _is_url,
    _Run,
    _user_message,
    _validation_error,
    is_file_token,
    map_file_slots,
)
from .job import Job, Ref, Step, encode_value, iter_refs

log = logging.getLogger("tripo_addon.jobs.engine")


class Validation:
    """The checks (stateless): ``validate(job)`` before submit; the submission part uses the file and source helpers
    to build the real request."""

    def validate(self, job: Job) -> None:
        """Check every step before anything is sent; raise TripoValidationError with a clear message."""
        if not job.steps:
            raise _validation_error("The job has no steps.")
        for i, step in enumerate(job.steps):
            where = f"Step {i + 1} ({step.task_type})" if len(job.steps) > 1 else f"{step.task_type}"
            if not isinstance(step, Step):
                raise _validation_error(f"Step {i + 1} is not a Step.")
            if step.task_type not in api_tasks.TASK_TYPES:
                raise _validation_error(f"Step {i + 1}: unknown task type {step.task_type!r}.")
            retired = api_tasks.retired_reason(step.task_type, job.api)
            if retired:
                raise _validation_error(f"{where}: {retired}")
            if step.task_id or step.state != S.PENDING:
                raise _validation_error(f"{where}: a new job's steps must be pending, without a task id.")
            if step.upload not in ("auto", "direct", "sts", "presign"):
                raise _validation_error(f"{where}: upload must be 'auto', 'direct', 'sts' or 'presign'.")
            try:
                json.dumps(encode_value(step.params))
            except (TypeError, ValueError) as exc:
                raise _validation_error(f"{where}: parameters must be plain values ({exc}).")
            for ref in iter_refs(step.params):
                self._check_ref(job, i, ref, where)
            self._check_files(step, where, job.api)
            src_type, src_version = self._source_of(job, step)
            try:
                if src_type is not None:  # the chain rules first: their message is the clearest
                    api_tasks.check_chain(step.task_type, src_type, src_version, api=job.api)
                api_tasks.build_request(
                    step.task_type,
                    self._placeholder_params(job, step),
                    api=job.api,
                    source_type=src_type,
                    source_model_version=src_version,
                )
            except TripoValidationError as exc:
                raise _validation_error(f"{where}: {_user_message(exc)}")
            try:
                step.estimate = api_tasks.estimate_credits(step.task_type, self._placeholder_params(job, step),
                                                           api=job.api)
            except Exception:  # noqa: BLE001 - an estimate is a nicety
                step.estimate = None

    @staticmethod
    def _source_of(job: Job, step: Step) -> tuple[str | None, str | None]:
        """(task type, model version) of the earlier step this step's source field refers to, if any."""
        tt = api_tasks.TASK_TYPES.get(step.task_type)
        source = step.params.get(tt.source_field) if tt is not None and tt.source_field else None
        if isinstance(source, Ref) and source.what == "task_id" and 0 <= source.step < len(job.steps):
            src = job.steps[source.step]
            if src.task_type:
                version = src.params.get("model_version")
                if not isinstance(version, str) and isinstance(src.output, dict):
                    version = None
                return src.task_type, version if isinstance(version, str) else None
        return None, None

    @staticmethod
    def _check_external_source(run: _Run, client: Any, step: Step, params: dict) -> tuple[str | None, str | None]:
        """A source given by task id (not an earlier step of this job): fetch it (a free GET) and refuse, before the
        POST, one Tripo would refuse (not finished, wrong type or version). Returns its (task type, model version)."""
        tt = api_tasks.TASK_TYPES.get(step.task_type)
        field = tt.source_field if tt is not None else None
        source = params.get(field) if field else None
        if not isinstance(source, str) or not source or not hasattr(client, "check_source"):
            return None, None
        src = client.check_source(step.task_type, source, cancel=run.stop)
        return src.type, src.chain_version

    @staticmethod
    def _check_ref(job: Job, i: int, ref: Ref, where: str) -> None:
        if not isinstance(ref.step, int) or not 0 <= ref.step < i:
            raise _validation_error(f"{where}: a reference must point to an earlier step (got step {ref.step + 1}).")
        src = job.steps[ref.step]
        if ref.what == "task_id":
            return
        key = ref.output_key
        if not key:
            raise _validation_error(f"{where}: unknown reference {ref.what!r} (use 'task_id' or 'output:<key>').")
        outputs = api_tasks.TASK_TYPES[src.task_type].outputs
        if outputs and key not in outputs:
            raise _validation_error(
                f"{where}: step {ref.step + 1} ({src.task_type}) has no output {key!r} (it has {', '.join(outputs)})."
            )

    @staticmethod
    def _check_files(step: Step, where: str, job_api: str) -> None:
        def check(value: Any, slot: str) -> Any:
            if isinstance(value, Ref | dict | api_inputs.Input) or _is_url(value):
                return value
            if not isinstance(value, str) or not value:
                raise _validation_error(f"{where}: {slot} must be a file path, a URL or a file object.")
            if not os.path.exists(value):
                if is_file_token(value):
                    return value  # an uploaded file token
                what = "GLB, FBX, OBJ or STL file" if step.task_type == "import_model" else "PNG, JPEG or WEBP file"
                raise _validation_error(f"{where}: the file {value} does not exist (file not found); choose an "
                                        f"existing {what}.")
            if not os.path.isfile(value):
                raise _validation_error(f"{where}: not a file: {value}")
            ext = _ext(value)
            mesh_slot = step.task_type == "import_model"
            allowed = MESH_EXTS if mesh_slot else IMAGE_EXTS
            if ext not in allowed:
                name = os.path.basename(value)
                if mesh_slot:
                    raise _validation_error(f"{where}: {name} is not a 3D model; choose a GLB, FBX, OBJ or STL file.")
                hint = " (to send a model, use Import Model)" if ext in MESH_EXTS else ""
                raise _validation_error(f"{where}: {name} is not an image; choose a PNG, JPEG or WEBP picture{hint}.")
            if step.upload == "direct" and ext in MESH_EXTS and job_api == "v2":
                raise _validation_error(f"{where}: on API v2 3D models can only be uploaded through STS "
                                        "(upload='sts').")
            try:  # content checks (image header and size, mesh magic and size) without sending anything
                check_local_file(value, slot, step.task_type)
            except TripoValidationError as exc:
                raise _validation_error(f"{where}: {_user_message(exc)}")
            return value

        map_file_slots(step.task_type, step.params, check)

    def _placeholder_params(self, job: Job, step: Step) -> dict:
        """Params with Refs and local files replaced by plausible placeholders (for build_request validation)."""

        def fill(value: Any) -> Any:
            if isinstance(value, Ref):
                if value.what == "task_id":
                    return PLACEHOLDER_ID
                key = value.output_key or ""
                if key == api_outputs.RIG_TYPE:
                    return "biped"
                if key == api_outputs.RIGGABLE:
                    return True
                return api_inputs.task_output(PLACEHOLDER_ID, "https://placeholder.invalid/output.png")
            if isinstance(value, dict):
                return {k: fill(v) for k, v in value.items()}
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        params = fill(step.params)
        return map_file_slots(step.task_type, params,
                              lambda v, slot: self._file_input(v, step.task_type, job.api, placeholder=True))

    @staticmethod
    def _file_input(value: Any, task_type: str, api: str, *, placeholder: bool = False,
                    uploads: dict | None = None) -> Any:
        """A file-slot value as an Input (local paths: their upload, or a stand-in while validating)."""
        if isinstance(value, api_inputs.Input):
            return value
        if isinstance(value, dict):
            return api_inputs.coerce(value, mesh=task_type == "import_model")
        if _is_url(value):
            return api_inputs.url(value, mesh=task_type == "import_model")
        if isinstance(value, str):
            if uploads is not None and value in uploads:
                rec = uploads[value]
                if api_inputs.Input.is_json(rec.get("input")):
                    return api_inputs.Input.from_json(rec["input"])
                return api_inputs.coerce({k: v for k, v in rec.items() if not k.startswith("_")})  # older journals
            if placeholder and os.path.exists(value):
                return placeholder_input(value, task_type, api)
            if is_file_token(value):
                return api_inputs.token(value, "glb" if task_type == "import_model" else "jpg")
        return value
