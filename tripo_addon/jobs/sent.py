"""What a step sent with its create, and whether the input Tripo echoes for a task is that (``same``), may be
(``unsure``) or is not (``other``). No bpy, no I/O. Used by :mod:`.recover` and journaled by the submission as
``Step.sent`` before the create is sent."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Fields that say *what* was made: a difference means another request, not ours.
IDENTITY = ("prompt", "negative_prompt", "text", "input", "inputs", "file", "files", "image", "images",
            "texture_prompt", "style_image", "prompts", "original_model_task_id", "draft_model_task_id",
            "original_task_id")
#: Fields naming the model: equal, or one a dated form of the other ("v3.1" and "v3.1-20260211").
MODEL = ("model", "model_version")


#: Largest wire body (JSON characters) a step records; a longer one is not recorded (recovery falls back to the
#: step's params and lists candidates instead of attaching).
MAX_SENT_BODY = 16_000


def sent_record(body: Mapping[str, Any], sent_at: float, offset: float | None) -> dict[str, Any]:
    """What a step journals before its create is sent: the wire body without ``type`` (no key is ever in it), the
    local send time and Tripo's clock offset then. The engine stores it as ``step.sent`` (see :func:`_sent_of`); a
    body over :data:`MAX_SENT_BODY` or not JSON-able is left out (``body`` None)."""
    plain: dict[str, Any] | None = {str(k): v for k, v in body.items() if k != "type"}
    try:
        if len(json.dumps(plain, allow_nan=False)) > MAX_SENT_BODY:
            plain = None
    except (TypeError, ValueError):
        plain = None
    off = float(offset) if _num(offset) else None
    return {"body": plain, "at": float(sent_at), "offset": off}


def _params_body(params: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The identifying plain fields of a step's params as v3 names them, and whether that is all of them (no file,
    reference or path was left out): the fallback for steps journaled before the sent body was recorded."""
    rename = {"model_version": "model"}
    out: dict[str, Any] = {}
    complete = True
    for k, v in params.items():
        name = rename.get(k, k)
        if name not in IDENTITY and name not in MODEL:
            continue
        if isinstance(v, str) and k not in ("file", "files", "image", "images", "style_image", "texture_prompt"):
            out[name] = v
        else:
            complete = False
    return out, complete


def _sent_of(step: Mapping[str, Any]) -> tuple[dict[str, Any] | None, float | None, float | None, bool]:
    """(body, local send time, offset then, exact) of a step snapshot. Exact: the body recorded at the send, or
    one rebuilt from params that had nothing but plain identifying fields."""
    sent = step.get("sent")
    if isinstance(sent, Mapping) and isinstance(sent.get("body"), Mapping) and sent["body"]:
        at = sent.get("at")
        off = sent.get("offset")
        return (dict(sent["body"]), float(at) if _num(at) else None, float(off) if _num(off) else None, True)
    params = step.get("params")
    body, complete = _params_body(params) if isinstance(params, Mapping) else ({}, False)
    at = step.get("submitted_at")
    return body or None, float(at) if _num(at) else None, None, complete


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e11


def compare(sent: Mapping[str, Any] | None, echo: Mapping[str, Any] | None, *, exact: bool = True) -> tuple[str, str]:
    """``("same" | "unsure" | "other", reason)`` for a task's echoed input against the body that was sent."""
    if sent is None:
        return "unsure", "what was sent is not recorded"
    if not isinstance(echo, Mapping) or not echo:
        return "unsure", "Tripo did not show the task's input"
    unsure = "" if exact else "only part of what was sent is recorded"
    if not any(k in sent for k in IDENTITY):
        return "unsure", "nothing recorded says what the request made (no prompt, no input)"
    for key, value in sent.items():
        if key in MODEL:
            have = echo.get("model", echo.get("model_version"))
            if have is None:
                unsure = unsure or f"Tripo did not show its `{key}`"
            elif not _same_model(value, have):
                return "other", f"made with model {have!r}, not {value!r}"
            continue
        if key not in echo:
            if key in IDENTITY:
                unsure = unsure or f"Tripo did not show its `{key}`"
            continue
        if _norm(echo[key]) != _norm(value):
            if key in IDENTITY:
                return "other", f"its `{key}` is {_short(echo[key])}, not {_short(value)}"
            unsure = unsure or f"its `{key}` is {_short(echo[key])}, sent {_short(value)}"
    return ("unsure", unsure) if unsure else ("same", "")


def _same_model(a: Any, b: Any) -> bool:
    if not isinstance(a, str) or not isinstance(b, str):
        return a == b
    return a == b or b.startswith(a + "-") or a.startswith(b + "-")


def _norm(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, Mapping):
        return {str(k): _norm(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_norm(x) for x in v]
    return v


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."
