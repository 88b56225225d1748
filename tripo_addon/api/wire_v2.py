"""Everything specific to Tripo's REST API v2 (``/v2/openapi``): routes, the ``{code, data}`` envelope, and turning
its JSON into :mod:`~tripo_addon.api.models` objects.

The client only talks to a *wire* object (:data:`WIRE`); a ``wire_v3.py`` with the same methods can sit beside this
module without touching callers. ``POST /task`` bodies come from :func:`tripo_addon.api.tasks.build_request`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .errors import TripoAPIError, TripoServerError, error_for_code, redact
from .models import Balance, StsToken, Task, TaskStatus

DEFAULT_BASE_URL = "https://api.tripo3d.ai/v2/openapi"
CHINA_BASE_URL = "https://api.tripo3d.com/v2/openapi"
TRACE_HEADER = "X-Tripo-Trace-ID"

#: Formats ``POST /upload/sts/token`` accepts.
STS_FORMATS = ("webp", "jpeg", "png", "glb", "obj", "fbx", "stl")
#: Codes a refused ``POST /task`` carries when nothing was created and a later retry may succeed.
CREATE_RETRY_CODES = frozenset({2000, 1007})


class WireV2:
    """Routes and payload shapes of API v2."""

    version = "v2"
    default_base_url = DEFAULT_BASE_URL
    trace_header = TRACE_HEADER

    # ------------------------------------------------------------------------------------------ routes
    create_task_path = "/task"
    balance_path = "/user/balance"
    upload_path = "/upload/sts"          # the documented direct upload (OD)
    upload_fallback_path = "/upload"     # what SDK0 and the old schema use; tried on 404
    sts_token_path = "/upload/sts/token"

    @staticmethod
    def task_path(task_id: str) -> str:
        return "/task/" + quote(task_id, safe="")

    def create_request(self, body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Route and JSON payload that create a task from a :func:`tasks.build_request` body (v2: one route)."""
        return self.create_task_path, dict(body)

    # ------------------------------------------------------------------------------------------ envelope
    @staticmethod
    def parse_json(body: bytes) -> Any:
        """The JSON document of a body; raises ValueError when it is not JSON."""
        if not body:
            raise ValueError("empty body")
        return json.loads(body.decode("utf-8"))

    @staticmethod
    def is_success(status: int, doc: Any) -> bool:
        """True for the success envelope ``{"code": 0, "data": ...}`` with HTTP 200."""
        return status == 200 and isinstance(doc, Mapping) and doc.get("code") == 0

    @staticmethod
    def is_error_envelope(doc: Any) -> bool:
        """True for a Tripo error body ``{"code": <int != 0>, "message": ...}``."""
        return isinstance(doc, Mapping) and isinstance(doc.get("code"), int) and doc.get("code") != 0

    def error_from(
        self, status: int, doc: Any, *, trace_id: str | None = None, retry_after: float | None = None
    ) -> TripoAPIError:
        """The exception for an error answer (envelope or not)."""
        if self.is_error_envelope(doc):
            return error_for_code(
                int(doc["code"]),
                status,
                str(doc.get("message") or ""),
                str(doc.get("suggestion") or ""),
                trace_id,
                retry_after,
            )
        detail = ""
        if isinstance(doc, Mapping):
            detail = str(doc.get("message") or doc.get("error") or "")
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
    @staticmethod
    def task_id_from(data: Any) -> str:
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

    @staticmethod
    def balance_from(data: Any) -> Balance:
        if not isinstance(data, Mapping) or not isinstance(data.get("balance"), int | float):
            raise ValueError("no balance in the answer")
        frozen = data.get("frozen")
        return Balance(balance=float(data["balance"]), frozen=float(frozen) if isinstance(frozen, int | float) else 0.0)

    @staticmethod
    def task_from(data: Any, *, trace_id: str | None = None) -> Task:
        """A :class:`Task` from the ``data`` of ``GET /task/{id}``; tolerant of missing or extra fields."""
        if not isinstance(data, Mapping) or not isinstance(data.get("task_id"), str):
            raise ValueError("no task object in the answer")
        status = data.get("status")
        status = status if isinstance(status, str) and status in TaskStatus.ALL else TaskStatus.UNKNOWN
        output = data.get("output") if isinstance(data.get("output"), Mapping) else {}
        left = _num(data.get("running_left_time"))
        queue = _num(data.get("queuing_num"))
        progress = _num(data.get("progress"))
        code = data.get("error_code")
        return Task(
            task_id=data["task_id"],
            type=str(data.get("type") or ""),
            status=status,
            input=dict(data["input"]) if isinstance(data.get("input"), Mapping) else {},
            output=dict(output),
            progress=max(0, min(100, int(progress))) if progress is not None else 0,
            create_time=int(data["create_time"]) if isinstance(data.get("create_time"), int | float) else None,
            consumed_credit=_num(data.get("consumed_credit")),
            queuing_num=int(queue) if queue is not None and queue >= 0 else None,
            running_left_time=float(left) if left is not None and left >= 0 else None,
            error_code=int(code) if isinstance(code, int | float) and not isinstance(code, bool) else None,
            error_msg=redact(str(data["error_msg"])) if data.get("error_msg") else None,
            thumbnail=data.get("thumbnail") if isinstance(data.get("thumbnail"), str) else None,
            result=dict(data["result"]) if isinstance(data.get("result"), Mapping) else {},
            trace_id=trace_id,
            raw={k: (redact(v) if k == "error_msg" and isinstance(v, str) else v) for k, v in data.items()},
        )

    # ------------------------------------------------------------------------------------------ file objects
    @staticmethod
    def token_file(token: str, file_type: str) -> dict[str, Any]:
        return {"type": file_type, "file_token": token}

    @staticmethod
    def url_file(url: str, file_type: str) -> dict[str, Any]:
        return {"type": file_type, "url": url}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


WIRE = WireV2()
