"""Everything specific to Tripo's API v3 on the wire (tripo-api-v3.md): one route per capability, request bodies
(``model``, ``input``/``inputs``), the ``{code, status, data}`` envelope with ``request_id``, errors keyed on the
HTTP status first, the eight task statuses, ``*_url`` outputs mapped to semantic names, batch polling
(``tasks/list``), account usage, and the per-account concurrency pools.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from .. import outputs as out
from ..dialect import GLOBAL_URL, Dialect, Pool, UsageRow, number, text
from ..errors import (
    ERROR_TEXT,
    TripoAPIError,
    TripoAuthError,
    TripoInsufficientCredit,
    TripoNotFound,
    TripoRateLimited,
    error_for_code,
    redact,
    wait_text,
)
from ..inputs import Input
from ..models import Task, TaskStatus
from .catalog import IMAGE_TYPES, P_SERIES, model_family
from .rules import CATALOG

#: Task type -> route (tripo-api-v3.md §4).
ROUTES: dict[str, str] = {
    "text_to_model": "/v3/generation/text-to-model",
    "image_to_model": "/v3/generation/image-to-model",
    "multiview_to_model": "/v3/generation/multiview-to-model",
    "text_to_image": "/v3/generation/text-to-image",
    "generate_image": "/v3/generation/image-to-image",
    "generate_multiview_image": "/v3/generation/image-to-multiview",
    "edit_multiview_image": "/v3/generation/edit-multiview",
    "image_to_splat": "/v3/generation/image-to-splat",
    "image_to_depth": "/v3/generation/image-to-depth",
    "import_model": "/v3/models/import",
    "texture_model": "/v3/models/texture",
    "convert_model": "/v3/models/convert",
    "animate_prerigcheck": "/v3/animations/rig-check",
    "animate_rig": "/v3/animations/rig",
    "animate_retarget": "/v3/animations/retarget",
    "mesh_segmentation": "/v3/mesh/segment",
    "mesh_completion": "/v3/mesh/complete",
    "highpoly_to_lowpoly": "/v3/mesh/decimate",
    "mesh_uv": "/v3/mesh/uv",
    "smart_segment": "/v3/mesh/smartsegment",
}
FILES_PATH = "/v3/files"
PRESIGN_PATH = "/v3/files/presign"
LIST_PATH = "/v3/tasks/list"
BATCH_LIMIT = 100
#: Neutral parameter -> v3 field (the source task and files become ``input``/``inputs``).
_RENAME = {"model_version": "model", "original_model_task_id": "input", "file": "input", "files": "inputs"}
_PROCESSING = frozenset({"texture_model", "convert_model", "import_model"})
_STATUSES = frozenset(TaskStatus.ALL)


class WireV3(Dialect):
    """Routes and payload shapes of API v3."""

    name = "v3"
    default_base_url = GLOBAL_URL
    catalog = CATALOG
    batch_limit = BATCH_LIMIT
    balance_path = "/v3/account/balance"

    # ------------------------------------------------------------------------------------------ requests
    def create_request(self, task_type: str, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        route = ROUTES.get(task_type)
        if route is None:
            raise ValueError(f"API v3 has no route for {task_type}")
        body: dict[str, Any] = {}
        for k, v in values.items():
            if task_type == "multiview_to_model" and k == "original_task_id":
                body["inputs"] = [{"task_id": v}]
            elif task_type == "edit_multiview_image" and k == "original_task_id":
                body["input"] = v
            elif k == "prompts" and isinstance(v, Mapping):
                body["prompts"] = [{"view": view, "prompt": p} for view, p in v.items()]
            elif task_type == "smart_segment" and k == "file" and isinstance(v, Input):
                body["input"] = v.url if v.kind == "task" and v.url else _wire(v)  # R9: the GLB by URL
            elif k == "texture_prompt" and isinstance(v, Mapping):
                body[k] = {name: _wire(x) for name, x in v.items()}
            else:
                body[_RENAME.get(k, k)] = _wire(v)
        if task_type == "generate_image" and isinstance(body.get("inputs"), list) and "input" in body:
            body["inputs"] = [body.pop("input"), *body["inputs"]]
        return route, body

    def task_path(self, task_id: str) -> str:
        return "/v3/tasks/" + quote(task_id, safe="")

    def list_request(self, task_ids: list[str]) -> tuple[str, dict[str, Any]]:
        return LIST_PATH, {"task_ids": list(task_ids)[:BATCH_LIMIT]}

    def usage_path(self, limit: int, offset: int) -> str:
        return "/v3/account/usage?" + urlencode({"limit": max(1, min(200, int(limit))), "offset": max(0, int(offset))})

    def request_headers(self) -> dict[str, str]:
        return {"X-Tripo-Trace-ID": str(uuid.uuid4())}

    # ------------------------------------------------------------------------------------------ envelope, errors
    def is_success(self, status: int, doc: Any) -> bool:
        return (200 <= status < 300 and isinstance(doc, Mapping) and _int(doc.get("code")) == 0
                and doc.get("status", "success") != "error")

    def is_error_envelope(self, doc: Any) -> bool:
        if not isinstance(doc, Mapping):
            return False
        code = _int(doc.get("code"))
        return (code is not None and code != 0) or doc.get("status") == "error"

    def request_id(self, doc: Any, trace_id: str | None) -> str | None:
        rid = doc.get("request_id") if isinstance(doc, Mapping) else None
        return str(rid)[:128] if isinstance(rid, str) and rid else trace_id

    def error_from(self, status: int, doc: Any, *, trace_id: str | None = None,
                   retry_after: float | None = None) -> TripoAPIError:
        """The exception for an error answer, keyed on the HTTP status first (codes differ between sources)."""
        env = doc if isinstance(doc, Mapping) else {}
        code = _int(env.get("code")) or None
        msg = text(str(env.get("message") or "")) or ""
        sug = text(str(env.get("suggestion") or "")) or ""
        rid = self.request_id(doc, trace_id)
        if status == 401:
            return TripoAuthError(msg or "unauthorized", code=code, status=status, suggestion=sug, trace_id=rid,
                                  user_message=AUTH_TEXT)
        if status == 403 and code == 2010:
            return TripoInsufficientCredit(msg or "insufficient credit", code=code, status=status, suggestion=sug,
                                           trace_id=rid, user_message=ERROR_TEXT[2010])
        if status == 429:
            code = code if code in (2000, 1007) else 2000 if code is None else code
            user = ERROR_TEXT[2000] if code == 2000 else ERROR_TEXT[1007]
            wait = wait_text(retry_after)
            if wait:
                user = f"{user} {wait}"
            return TripoRateLimited(msg or "too many requests", code=code, status=status, suggestion=sug,
                                    trace_id=rid, user_message=user, retry_after=retry_after)
        if status == 404 and code in (None, 2001):
            return TripoNotFound(msg or "not found", code=code, status=status, trace_id=rid,
                                 user_message=ERROR_TEXT[2001] if code == 2001 else
                                 f"Tripo answered 'not found' (HTTP 404){': ' + msg if msg else ''}; check the API "
                                 "address (Preferences > Tripo).")
        return error_for_code(code, status, msg, sug, rid, retry_after)

    # ------------------------------------------------------------------------------------------ payloads
    def task_id_from(self, data: Any) -> str:
        if isinstance(data, Mapping) and isinstance(data.get("task_id"), str) and data["task_id"].strip():
            return data["task_id"].strip()
        raise ValueError("no task_id in the answer")

    def task_from(self, data: Any, *, trace_id: str | None = None) -> Task:
        """A :class:`Task` from a v3 task object; strict about numbers, tolerant of missing or extra fields."""
        if not isinstance(data, Mapping) or not isinstance(data.get("task_id"), str) or not data["task_id"]:
            raise ValueError("no task object in the answer")
        status = data.get("status")
        status = status if isinstance(status, str) and status in _STATUSES else TaskStatus.UNKNOWN
        raw_out = data.get("output") if isinstance(data.get("output"), Mapping) else {}
        progress = number(data.get("progress"))
        code = number(data.get("error_code"), lo=-(2**31), hi=2**31)
        message = data.get("error_message") or data.get("error_msg")
        inp = dict(data["input"]) if isinstance(data.get("input"), Mapping) else {}
        mv = inp.get("model") or inp.get("model_version")
        queue = number(data.get("queuing_num"), lo=0, hi=1e9)
        return Task(
            task_id=data["task_id"],
            type=str(data.get("type") or "")[:64],
            status=status,
            input=inp,
            output=semantic_output(raw_out),
            progress=max(0, min(100, int(progress))) if progress is not None else 0,
            created=_epoch(data.get("created_at")),
            completed=_epoch(data.get("completed_at")),
            credits=number(data.get("credits_consumed"), lo=0, hi=1e9),
            queuing_num=int(queue) if queue is not None else None,
            eta=number(data.get("running_left_time"), lo=0, hi=7 * 86400),
            error_code=int(code) if code is not None else None,
            error_msg=redact(text(message)) if isinstance(message, str) and message else None,
            model_version=mv if isinstance(mv, str) and mv else None,
            trace_id=trace_id,
            raw={k: v for k, v in data.items() if k not in ("error_message", "error_msg")},
        )

    def tasks_from_list(self, data: Any, *, trace_id: str | None = None) -> tuple[dict[str, Task], list[str]]:
        """``tasks/list``: ``{tasks: {id: task} | [task], missed: [ids]}`` (both shapes exist in the sources)."""
        if not isinstance(data, Mapping):
            raise ValueError("the task list is not an object")
        raw = data.get("tasks")
        items = list(raw.values()) if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
        items = items[:1000]  # a list request asks for at most 100 ids: anything far beyond is not read
        tasks: dict[str, Task] = {}
        for item in items:
            try:
                t = self.task_from(item, trace_id=trace_id)
            except ValueError:
                continue
            tasks[t.task_id] = t
        raw_missed = data.get("missed")
        missed = [m for m in raw_missed[:1000] if isinstance(m, str)] if isinstance(raw_missed, list) else []
        return tasks, missed

    def usage_from(self, data: Any) -> list[UsageRow]:
        items = data.get("items") if isinstance(data, Mapping) else data
        rows: list[UsageRow] = []
        for it in items if isinstance(items, list) else []:
            if not isinstance(it, Mapping) or not isinstance(it.get("task_id"), str):
                continue
            rows.append(UsageRow(it["task_id"], str(it.get("type") or "")[:64], str(it.get("status") or "")[:32],
                                 _epoch(it.get("created_at")), number(it.get("credits_consumed"), lo=0, hi=1e9)))
        return rows


    # ---------------------------------------------------------------------------------------------------- pools
    def pools(self, task_type: str, values: Mapping[str, Any] | None = None) -> tuple[Pool, ...]:
        """tripo-api-v3.md §13: image 1, P-series 5, processing 5, everything else 10 (per pool)."""
        if task_type in IMAGE_TYPES:
            return (Pool("v3 image", 1),)
        if task_type in ("text_to_model", "image_to_model", "multiview_to_model"):
            mv = (values or {}).get("model_version")
            if model_family(mv if isinstance(mv, str) else None) in P_SERIES:
                return (Pool("v3 p-series", 5),)
            return (Pool("v3 generation", 10),)
        if task_type in _PROCESSING:
            return (Pool("v3 processing", 5),)
        return (Pool("v3 animation" if task_type.startswith("animate") else "v3 mesh", 10),)


AUTH_TEXT = ("Tripo did not accept your API key (HTTP 401); check that it is copied completely (it starts with tsk_), "
             "that it belongs to this region (openapi.tripo3d.ai or openapi.tripo3d.com), and create a new one at "
             "https://developers.tripo3d.ai if needed.")


def semantic_output(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A v3 ``output`` object with semantic keys."""
    res: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if name not in res and isinstance(value, str) and value.startswith(("http://", "https://")):
            res[name] = value

    put(out.MODEL, raw.get("model_url"))
    put(out.IMAGE, raw.get("generated_image_url"))
    for key, many, one in (("model_urls", out.CLIPS, out.MODEL), ("image_urls", out.IMAGES, out.IMAGE)):
        items = raw.get(key)
        urls = [u for u in items if isinstance(u, str) and u.startswith(("http://", "https://"))] \
            if isinstance(items, list) else []
        if urls:
            res[many] = urls
            put(one, urls[0])  # the single URL when the answer has none
    put(out.PREVIEW, raw.get("rendered_image_url"))
    views = raw.get("generate_multiview_image")
    for src in (raw, views if isinstance(views, Mapping) else {}):
        for view in out.VIEWS:
            put(view, src.get(f"{view}_url"))
    put(out.UV_RENDER, raw.get("uv_render_url"))
    put(out.DEPTH, raw.get("depth_image_url"))
    put(out.SPLAT, raw.get("splat_url"))
    put(out.VIDEO, raw.get("rendered_video_url"))
    put(out.MODEL, raw.get("seg_model_url"))   # Smart Segment (R9)
    put(out.MASK, raw.get("mask_url"))
    seg = raw.get("seg_task_id")
    if isinstance(seg, str) and 0 < len(seg) <= 128:
        res[out.SEG_TASK_ID] = seg
    names = raw.get("prompt")
    if isinstance(names, str) and names.strip():
        res[out.PARTS_PROMPT] = text(names)[:2000] or ""
    if isinstance(raw.get("riggable"), bool):
        res[out.RIGGABLE] = raw["riggable"]
    rig = raw.get("rig_type") or raw.get("topology")
    if isinstance(rig, str) and rig:
        res[out.RIG_TYPE] = rig[:32]
    return res


def _wire(v: Any) -> Any:
    """A validated value as v3 sends it: Inputs become the ``input`` string (token, URL or task id)."""
    if isinstance(v, Input):
        if v.kind == "object":
            return {"object": {"bucket": v.bucket, "key": v.key}}
        return v.value
    if isinstance(v, list | tuple):
        return [None if x is None else _wire(x) for x in v]
    return v


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _epoch(value: Any) -> float | None:
    """Epoch seconds from an ISO-8601 string (or a plausible number); None otherwise."""
    if isinstance(value, str) and value:
        try:
            parsed = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_dt.UTC)
        return number(parsed.timestamp(), lo=0, hi=1e11)  # the same bounds as a numeric time
    return number(value, lo=0, hi=1e11)
