"""Everything specific to Tripo's REST API v2 (``/v2/openapi``) on the wire: routes, ``POST /task`` bodies, the
``{code, data}`` envelope, task statuses and output keys, and turning its JSON into neutral
:mod:`~tripo_addon.api.models` objects with semantic outputs (:mod:`~tripo_addon.api.outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .. import outputs as out
from ..dialect import Dialect, Pool, number, text
from ..errors import TripoAPIError, TripoServerError, error_for_code, redact
from ..inputs import Input
from ..models import Task, TaskStatus
from .rules import CATALOG

DEFAULT_BASE_URL = "https://api.tripo3d.ai/v2/openapi"   # retired by Tripo on 2026-10-31
CHINA_BASE_URL = "https://api.tripo3d.com/v2/openapi"
TRACE_HEADER = "X-Tripo-Trace-ID"

#: Formats ``POST /upload/sts/token`` accepts.
STS_FORMATS = ("webp", "jpeg", "png", "glb", "obj", "fbx", "stl")
#: Codes a refused ``POST /task`` carries when nothing was created and a later retry may succeed.
CREATE_RETRY_CODES = frozenset({2000, 1007})


@dataclass
class StsToken:
    """Temporary S3 credentials from ``POST /upload/sts/token``. Secrets are kept out of ``repr``."""

    s3_host: str
    resource_bucket: str
    resource_uri: str
    session_token: str = field(repr=False)
    sts_ak: str = field(repr=False)
    sts_sk: str = field(repr=False)

    def input(self, ext: str) -> Input:
        """The Input that refers to the uploaded file."""
        from ..inputs import stored_object

        return stored_object(self.resource_bucket, self.resource_uri, ext)


class WireV2(Dialect):
    """Routes and payload shapes of API v2."""

    name = "v2"
    default_base_url = DEFAULT_BASE_URL
    trace_header = TRACE_HEADER
    catalog = CATALOG
    create_retry_codes = CREATE_RETRY_CODES

    # ------------------------------------------------------------------------------------------ routes
    create_task_path = "/task"
    balance_path = "/user/balance"
    upload_path = "/upload/sts"          # the documented direct upload (OD)
    upload_fallback_path = "/upload"     # what SDK0 and the old schema use; tried on 404
    sts_token_path = "/upload/sts/token"

    @staticmethod
    def task_path(task_id: str) -> str:
        return "/task/" + quote(task_id, safe="")

    def create_request(self, task_type: str, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """``POST /task`` with ``{"type": task_type, ...}``; Input values become v2 file objects."""
        body: dict[str, Any] = {"type": task_type}
        for k, v in values.items():
            body[k] = _wire_value(v)
        return self.create_task_path, body

    # ------------------------------------------------------------------------------------------ envelope
    def is_success(self, status: int, doc: Any) -> bool:
        """True for the success envelope ``{"code": 0, "data": ...}`` with HTTP 200."""
        return (status == 200 and isinstance(doc, Mapping) and isinstance(doc.get("code"), int)
                and not isinstance(doc["code"], bool) and doc["code"] == 0)

    def is_error_envelope(self, doc: Any) -> bool:
        """True for a Tripo error body ``{"code": <int != 0>, "message": ...}``."""
        return (isinstance(doc, Mapping) and isinstance(doc.get("code"), int) and not isinstance(doc["code"], bool)
                and doc.get("code") != 0)

    def error_from(
        self, status: int, doc: Any, *, trace_id: str | None = None, retry_after: float | None = None
    ) -> TripoAPIError:
        """The exception for an error answer (envelope or not)."""
        if self.is_error_envelope(doc):
            return error_for_code(
                int(doc["code"]),
                status,
                text(str(doc.get("message") or "")) or "",
                text(str(doc.get("suggestion") or "")) or "",
                trace_id,
                retry_after,
            )
        detail = ""
        if isinstance(doc, Mapping):
            detail = text(str(doc.get("message") or doc.get("error") or "")) or ""
        return error_for_code(None, status, detail, "", trace_id, retry_after)

    def unwrap(self, status: int, doc: Any, *, trace_id: str | None = None) -> Any:
        """``data`` of a success envelope; raises the mapped error otherwise."""
        if self.is_success(status, doc):
            return doc.get("data")
        if status == 200 and not self.is_error_envelope(doc):
            raise TripoServerError(
                "Tripo answered 200 without a {code, data} envelope.",
                status=status,
                trace_id=trace_id,
                user_message="Tripo sent an answer the add-on could not understand; try again.",
            )
        raise self.error_from(status, doc, trace_id=trace_id)

    # ------------------------------------------------------------------------------------------ payloads
    def task_id_from(self, data: Any) -> str:
        if isinstance(data, Mapping) and isinstance(data.get("task_id"), str) and data["task_id"]:
            return data["task_id"]
        raise ValueError("no task_id in the answer")

    @staticmethod
    def image_token_from(data: Any) -> str:
        if isinstance(data, Mapping):
            token = data.get("image_token") or data.get("file_token")
            if isinstance(token, str) and token:
                return token
        raise ValueError("no image_token in the answer")

    @staticmethod
    def sts_token_body(fmt: str) -> dict[str, Any]:
        return {"format": fmt}

    @staticmethod
    def sts_token_from(data: Any) -> StsToken:
        if not isinstance(data, Mapping):
            raise ValueError("STS answer is not an object")
        try:
            return StsToken(
                s3_host=str(data["s3_host"]),
                resource_bucket=str(data["resource_bucket"]),
                resource_uri=str(data["resource_uri"]),
                session_token=str(data["session_token"]),
                sts_ak=str(data["sts_ak"]),
                sts_sk=str(data["sts_sk"]),
            )
        except KeyError as exc:
            raise ValueError(f"STS answer lacks {exc.args[0]}") from None


    def task_from(self, data: Any, *, trace_id: str | None = None) -> Task:
        """A :class:`Task` from the ``data`` of ``GET /task/{id}``; strict about numbers (non-finite or absurd values
        are dropped), tolerant of missing or extra fields."""
        if not isinstance(data, Mapping) or not isinstance(data.get("task_id"), str) or not data["task_id"]:
            raise ValueError("no task object in the answer")
        status = data.get("status")
        status = status if isinstance(status, str) and status in TaskStatus.ALL else TaskStatus.UNKNOWN
        raw_out = data.get("output") if isinstance(data.get("output"), Mapping) else {}
        left = number(data.get("running_left_time"), lo=0, hi=7 * 86400)
        queue = number(data.get("queuing_num"), lo=0, hi=1e9)
        progress = number(data.get("progress"))
        code = number(data.get("error_code"), lo=-(2**31), hi=2**31)
        created = number(data.get("create_time"), lo=0, hi=1e11)
        inp = dict(data["input"]) if isinstance(data.get("input"), Mapping) else {}
        mv = inp.get("model_version")
        return Task(
            task_id=data["task_id"],
            type=str(data.get("type") or "")[:64],
            status=status,
            input=inp,
            output=semantic_output(raw_out),
            progress=max(0, min(100, int(progress))) if progress is not None else 0,
            created=created,
            credits=number(data.get("consumed_credit"), lo=0, hi=1e9),
            queuing_num=int(queue) if queue is not None else None,
            eta=left,
            error_code=int(code) if code is not None else None,
            error_msg=redact(text(data["error_msg"])) if isinstance(data.get("error_msg"), str) and data["error_msg"]
            else None,
            model_version=mv if isinstance(mv, str) and mv else None,
            trace_id=trace_id,
            raw={k: (redact(v) if k == "error_msg" and isinstance(v, str) else v) for k, v in data.items()},
        )

    # ---------------------------------------------------------------------------------------------------- pools
    def pools(self, task_type: str, values: Mapping[str, Any] | None = None) -> tuple[Pool, ...]:
        """v2's concurrency groups (tripo-api.md §8); P1 counts against its own group and generation's."""
        if task_type in ("text_to_model", "image_to_model", "multiview_to_model"):
            mv = (values or {}).get("model_version")
            if isinstance(mv, str) and mv.upper().startswith("P1"):
                return (Pool("v2 generation_p1", 5), Pool("v2 generation", 10))
            return (Pool("v2 generation", 10),)
        if task_type == "refine_model":
            return (Pool("v2 refine_model", 5),)
        if task_type in ("generate_multiview_image", "edit_multiview_image"):
            return (Pool(f"v2 {task_type}", 1),)
        if task_type.startswith("animate_"):
            return (Pool(f"v2 {task_type}", 10),)
        return (Pool("v2 other", 10),)

    def output_input(self, task_id: str, url: str | None, ext: str | None) -> Input:
        """v2 refers to an earlier image by its URL (a task id is not accepted as a file)."""
        from ..inputs import url as url_input

        if not url:
            raise ValueError("v2 needs the output's URL")
        return url_input(url, ext)


#: v2 output keys -> semantic names (first present wins for the model).
_MODEL_KEYS = ("pbr_model", "model", "base_model")
_SIMPLE = {"rendered_image": out.PREVIEW, "generated_image": out.IMAGE, "riggable": out.RIGGABLE,
           "rig_type": out.RIG_TYPE, "topology": out.RIG_TYPE}


#: v2 output key -> semantic name, for records written before outputs were semantic (old job journals).
LEGACY_KEYS = {"pbr_model": out.MODEL, "base_model": out.MODEL, "rendered_image": out.PREVIEW,
               "generated_image": out.IMAGE}


def semantic_output(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A v2 ``output`` object with semantic keys (model, preview, image, views, riggable, rig_type). Keys that are
    already semantic are kept, so it is safe on either form."""
    res: dict[str, Any] = {k: v for k, v in raw.items() if k in out.ALL and k != out.MODEL}
    for key in _MODEL_KEYS:
        if isinstance(raw.get(key), str) and raw[key]:
            res[out.MODEL] = raw[key]
            break
    for key, name in _SIMPLE.items():
        v = raw.get(key)
        if name not in res and v is not None and (not isinstance(v, str) or v):
            res[name] = v
    views = raw.get("generate_multiview_image")
    views = views if isinstance(views, Mapping) else raw
    for v in ("front", "left", "back", "right"):
        u = views.get(f"{v}_view_url")
        if isinstance(u, str) and u:
            res[f"{v}_view"] = u
    return res


def _wire_value(v: Any) -> Any:
    """A validated value as v2 sends it (Inputs -> file objects, lists/dicts recursively)."""
    if isinstance(v, Input):
        return _file_object(v)
    if isinstance(v, list | tuple):
        return [{} if x is None else _wire_value(x) for x in v]
    if isinstance(v, Mapping):
        return {k: _wire_value(x) for k, x in v.items()}
    return v


def _file_object(i: Input) -> dict[str, Any]:
    ftype = i.ext if not i.is_mesh else i.ext
    if i.kind == "token":
        return {"type": ftype, "file_token": i.value}
    if i.kind == "object":
        return {"type": ftype, "object": {"bucket": i.bucket, "key": i.key}}
    if i.kind == "url" or (i.kind == "task" and i.url):
        return {"type": ftype, "url": i.url if i.kind == "task" else i.value}
    raise ValueError(f"v2 cannot refer to a task's output without its URL ({i.value})")
