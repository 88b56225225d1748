"""Lineage: every imported result knows its chain (each step's task, type, parameters, credits, parent task).

:func:`after_import` (called by job_import after every import) writes, on the result's objects:
``tripo_parent_task_id`` (the task this result was made from, "" for a generation), ``tripo_step`` (its task type),
``tripo_params`` (JSON: the last step's request parameters, Refs resolved to task ids, files by name),
``tripo_credits`` and ``tripo_lineage`` (JSON list, oldest first: ``{task_id, task_type, params, credits, parent}``;
the parent's own chain is taken from the parent result when it is in this file).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import bpy

log = logging.getLogger(__name__)

MAX_CHAIN = 32  # steps kept in one result's lineage (the oldest are dropped beyond it)
MAX_TEXT = 60_000  # characters of tripo_lineage on one object
SOURCE_FIELDS = ("original_model_task_id", "draft_model_task_id", "original_task_id")


def _resolve(value: Any, steps: list[dict]) -> Any:
    """Params as JSON: ``{"$ref": ...}`` to the task id (or output) of that step, uploads by their name."""
    if isinstance(value, dict):
        if set(value) == {"$ref"} and isinstance(value["$ref"], dict):
            r = value["$ref"]
            i = int(r.get("step", 0))
            if 0 <= i < len(steps):
                what = str(r.get("what", "task_id"))
                if what == "task_id":
                    return steps[i].get("task_id") or ""
                return f"<output {what[7:]} of step {i + 1}>"
            return ""
        if "$input" in value:
            return "<uploaded file>"
        return {k: _resolve(v, steps) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, steps) for v in value]
    return value


def chain_of(snap: dict) -> list[dict]:
    """The steps of a finished job as lineage entries (oldest first)."""
    steps = snap.get("steps") or []
    out = []
    for s in steps:
        params = _resolve(dict(s.get("params") or {}), steps)
        parent = next((params.get(f) for f in SOURCE_FIELDS if isinstance(params.get(f), str) and params.get(f)), "")
        out.append({"task_id": s.get("task_id") or "", "task_type": s.get("task_type") or "", "params": params,
                    "credits": s.get("credits"), "parent": parent})
    return out


def lineage(obj) -> list[dict]:
    """An object's chain (from itself or the nearest parent object that has one); [] when unknown."""
    while obj is not None:
        text = obj.get("tripo_lineage")
        if isinstance(text, str) and text:
            try:
                data = json.loads(text)
                return data if isinstance(data, list) else []
            except ValueError:
                return []
        obj = obj.parent
    return []


def result_of(task_id: str):
    """An object of this file made by ``task_id`` (the main one when there are several), or None."""
    found = [o for o in bpy.data.objects if o.get("tripo_task_id") == task_id]
    roots = [o for o in found if o.parent is None or o.parent.get("tripo_task_id") != task_id]
    return (roots or found or [None])[0]


def after_import(snap: dict, result) -> None:
    """Write the lineage on the objects a job's import made (main thread). Never raises."""
    try:
        objects = list(getattr(result, "objects", []) or [])
        if not objects:
            return
        chain = chain_of(snap)
        first_parent = chain[0]["parent"] if chain else ""
        if first_parent:
            src = result_of(first_parent)
            before = lineage(src) if src is not None else []
            if not before:
                before = [{"task_id": first_parent, "task_type": "", "params": {}, "credits": None, "parent": ""}]
            chain = [c for c in before if c.get("task_id") not in {x["task_id"] for x in chain}] + chain
        chain = chain[-MAX_CHAIN:]
        text = json.dumps(chain, sort_keys=True, default=str)
        while len(text) > MAX_TEXT and len(chain) > 1:
            chain = chain[1:]
            text = json.dumps(chain, sort_keys=True, default=str)
        last = chain[-1] if chain else {}
        for obj in objects:
            if obj.get("tripo_task_id") != last.get("task_id") and last.get("task_id"):
                continue
            obj["tripo_lineage"] = text
            obj["tripo_step"] = last.get("task_type") or ""
            obj["tripo_parent_task_id"] = last.get("parent") or ""
            obj["tripo_params"] = json.dumps(last.get("params") or {}, sort_keys=True, default=str)[:MAX_TEXT]
            obj["tripo_credits"] = float(last.get("credits") or 0.0)
            redo_of = (snap.get("meta") or {}).get("redo_of")
            if redo_of:
                obj["tripo_redo_of"] = str(redo_of)
    except Exception:  # noqa: BLE001 - lineage is extra: an import never fails because of it
        log.exception("Tripo: the lineage of job %s could not be written", snap.get("id"))
