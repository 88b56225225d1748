"""The v3 task object (tripo-api-v3.md §7-§8), derived from the shared task store's v2 view."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from ..tasks import Task, TaskStore

VIEWS = ("front", "left", "back", "right")
# v2 output key -> v3 `*_url` key (model keys merge into model_url: pbr_model > model > base_model)
URL_KEYS = {"rendered_image": "rendered_image_url", "generated_image": "generated_image_url",
            "splat": "splat_url", "depth_image": "depth_image_url", "uv_render": "uv_render_url",
            "seg_model": "seg_model_url", "mask": "mask_url"}
MODEL_KEYS = ("pbr_model", "model", "base_model")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def task_view(store: TaskStore, task: Task, sign: Callable[[Task, str], str], *,
              status_override: str | None = None) -> dict[str, Any]:
    """The task as GET /v3/tasks/{id} returns it."""
    v2 = store.view(task, sign, status_override=status_override)
    d: dict[str, Any] = {"task_id": v2["task_id"], "type": v2["type"], "status": v2["status"],
                         "progress": v2["progress"], "input": v2["input"], "output": outputs(v2["output"]),
                         "credits_consumed": float(task.consumed), "created_at": iso(task.create_time)}
    if task.final:
        d["completed_at"] = iso(task.completed_at)
    if "error_code" in v2:
        d["error_code"] = v2["error_code"]
    if "error_msg" in v2:
        d["error_message"] = v2["error_msg"]
    return d


def outputs(out: dict[str, Any]) -> dict[str, Any]:
    """v2 output keys -> v3 ones."""
    v3: dict[str, Any] = {}
    model = next((out[k] for k in MODEL_KEYS if isinstance(out.get(k), str)), None)
    if model:
        v3["model_url"] = model
    if isinstance(out.get("model_urls"), list):
        v3["model_urls"] = out["model_urls"]
    for old, new in URL_KEYS.items():
        if isinstance(out.get(old), str):
            v3[new] = out[old]
    if "generated_image_url" in v3:
        v3["image_urls"] = [v3["generated_image_url"]]
    views = out.get("generate_multiview_image")
    if isinstance(views, dict):
        v3.update(views)                                   # top-level front_view_url ... right_view_url
        v3["generate_multiview_image"] = dict(views)       # ... and nested, where tripo3d 1.0 reads them
    for key in ("riggable", "rig_type", "seg_task_id", "model_task_id", "prompt"):
        if key in out:
            v3[key] = out[key]
    return v3
