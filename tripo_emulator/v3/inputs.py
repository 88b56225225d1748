"""v3 input references (tripo-api-v3.md §5): an `input` string is a file token (`file_<uuid>`), an http(s) URL or a
bare task UUID ("the output of that earlier task"); explicit descriptor objects {file_token | url | object} and v2
`file` objects are accepted too; base64 (`data` fields, `data:` URIs) is refused with 400/1004."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ApiError, invalid
from ..inputs import VIEWS

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
BASE64_HINT = "Inline file data is not accepted on v3: upload with POST /v3/files and send the file_token."
# Which output of an earlier task stands for "its image" when a task UUID is an image input.
IMAGE_OUTPUTS = ("generated_image", "rendered_image")


class Ref:
    """A classified input: kind "file" (a v2 file object in .obj) or "task" (a task id in .task_id)."""

    def __init__(self, kind: str, obj: dict | None = None, task_id: str | None = None) -> None:
        self.kind, self.obj, self.task_id = kind, obj, task_id


def refuse_inline(body: dict) -> None:
    """400/1004 for base64 `data` fields anywhere in the input fields of a body."""
    def walk(v: Any, where: str) -> None:
        if isinstance(v, dict):
            if "data" in v:
                raise invalid(f"`{where}.data`: {BASE64_HINT}")
            for k, x in v.items():
                walk(x, f"{where}.{k}")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{where}[{i}]")
        elif isinstance(v, str) and v.strip().lower().startswith("data:"):
            raise invalid(f"`{where}` is a data: URI. {BASE64_HINT}")
    for name in ("input", "inputs", "file", "files", "texture_prompt", "ref_image", "style_image", "image"):
        if name in body:
            walk(body[name], name)
    if "data" in body:
        raise invalid(BASE64_HINT)


def classify(value: Any, where: str) -> Ref:
    """A Ref for an `input`-like value (string or descriptor object)."""
    if isinstance(value, dict):
        if isinstance(value.get("task_id"), str):
            return Ref("task", task_id=value["task_id"])
        given = [k for k in ("file_token", "url", "object") if value.get(k) not in (None, "")]
        if len(given) != 1:
            raise invalid(f"`{where}` needs exactly one of file_token, url, object (or task_id).")
        return Ref("file", obj=dict(value))
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"`{where}` must be a file token, an http(s) URL or a task id.")
    text = value.strip()
    if re.match(r"^https?://", text):
        return Ref("file", obj={"url": text})
    if text.startswith("file_") or text.startswith("v2."):
        return Ref("file", obj={"file_token": text})
    if UUID_RE.match(text):
        return Ref("task", task_id=text)
    if text.startswith("task_"):
        raise invalid(f"`{where}`: task ids are bare UUIDs; do not add a task_ prefix.")
    raise invalid(f"`{where}` {text[:40]!r} is neither a file token (file_...), an http(s) URL nor a task id.")


def single(body: dict, *, legacy: tuple[str, ...] = ("file",), task_legacy: tuple[str, ...] = (),
           required: bool = True) -> Ref | None:
    """The one input of a route: `input`, or a v2 `file` object, or a v2 task-id field (e.g.
    original_model_task_id)."""
    if body.get("input") not in (None, ""):
        return classify(body["input"], "input")
    for name in legacy:
        if body.get(name) is not None:
            return classify(body[name], name)
    for name in task_legacy:
        if body.get(name) not in (None, ""):
            if not isinstance(body[name], str):
                raise invalid(f"`{name}` must be a task id string.")
            return Ref("task", task_id=body[name])
    if required:
        raise invalid("`input` is required (a file token, an http(s) URL or a task id).")
    return None


def four_views(inputs: Any, where: str = "inputs") -> list[Any] | str:
    """`inputs` as 4 slots [front, left, back, right] (None for an empty one), or a task id ([{task_id}])."""
    if not isinstance(inputs, list) or not inputs:
        raise invalid(f"`{where}` must be a non-empty list.")
    if len(inputs) == 1 and isinstance(inputs[0], dict) and isinstance(inputs[0].get("task_id"), str):
        return inputs[0]["task_id"]
    if all(isinstance(x, dict) and len(x) == 1 and next(iter(x)) in VIEWS for x in inputs):
        slots: list[Any] = [None] * 4
        for x in inputs:
            view, val = next(iter(x.items()))
            if slots[VIEWS.index(view)] is not None:
                raise invalid(f"`{where}` names the {view} view twice.")
            slots[VIEWS.index(view)] = val
        return slots
    if len(inputs) != 4:
        raise invalid(f"`{where}` must have exactly 4 slots [front, left, back, right] (null or \"\" for an empty "
                      "one), or view-keyed objects like {\"front\": ...}.")
    return [None if x in (None, "", {}) else x for x in inputs]


def not_a_task(where: str) -> ApiError:
    return invalid(f"`{where}` must refer to a file here (file token or URL), not a task.")
