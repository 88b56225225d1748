"""Reading the emulator's request log the same way whichever API the suites speak (v3 by default, v2 tier).

``creates()`` lists task creations with their body in the add-on's neutral parameter names plus ``"type"`` (v3's
``model``/``input``/``inputs`` mapped back), so a test asserts on what was asked for, not on one wire; the wire body
stays under ``"wire"``. ``uploads()`` lists upload requests (v2: direct upload or STS token; v3: files or presign).
"""

from __future__ import annotations

from typing import Any

from tripo_addon.api import tasks as T
from tripo_addon.api.v3.wire import ROUTES

_TYPE_OF_ROUTE = {route: name for name, route in ROUTES.items()}


def neutral_body(emulator, entry: dict) -> dict:
    """A create request's body in the add-on's parameter names, with ``type`` (either dialect)."""
    body = dict(entry.get("body") or {})
    if entry.get("api") != "v3":
        return body
    task = emulator.task(entry["task_id"]) if entry.get("task_id") else None
    ttype = task.type if task is not None else _TYPE_OF_ROUTE.get(entry["path"].rstrip("/"))
    out: dict[str, Any] = {"type": ttype}
    spec = T.TASK_TYPES.get(ttype)
    for k, v in body.items():
        if k == "model":
            out["model_version"] = v
        elif k == "input":
            out[(spec.source_field if spec is not None and spec.source_field else "file")] = v
        elif k == "inputs" and ttype == "multiview_to_model" and isinstance(v, list) and v \
                and isinstance(v[0], dict) and "task_id" in v[0]:
            out["original_task_id"] = v[0]["task_id"]
        elif k == "inputs":
            out["files"] = [{} if x in (None, "") else x for x in v] if isinstance(v, list) else v
        elif k == "prompts" and isinstance(v, list):
            out["prompts"] = {p.get("view"): p.get("prompt") for p in v if isinstance(p, dict)}
        else:
            out[k] = v
    return out


def creates(emulator, api_key: str | None = None) -> list[dict]:
    """Task creations of one account (refused ones included), bodies in neutral names (raw under "wire")."""
    out = []
    for r in emulator.requests(method="POST", key=api_key):
        if r.get("route") == "create":
            out.append({**r, "wire": r.get("body"), "body": neutral_body(emulator, r)})
    return out


def uploads(emulator, api_key: str | None = None) -> list[dict]:
    """Upload requests of one account: v2 direct uploads and STS tokens, v3 files and presign."""
    return [r for r in emulator.requests(key=api_key) if r.get("route") in ("upload", "sts_token", "presign")
            and r.get("method") == "POST"]
