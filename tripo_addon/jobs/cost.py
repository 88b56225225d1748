"""A job's cost before it runs (estimated per step, decimals kept) and after (credits consumed per step). No bpy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api import tasks as api_tasks
from .job import Job, Ref


@dataclass(frozen=True)
class StepCost:
    index: int
    task_type: str
    label: str
    estimate: float | None   # before: what Tripo will charge (the published price list)
    used: float | None = None  # after: credits_consumed of the step's task


def _no_refs(value: Any) -> Any:
    if isinstance(value, Ref):
        return None
    if isinstance(value, dict):
        return {k: _no_refs(v) for k, v in value.items() if not isinstance(v, Ref)}
    if isinstance(value, list | tuple):
        return [_no_refs(v) for v in value]
    return value


def estimate(task_type: str, params: Mapping[str, Any], api: str) -> float | None:
    """Credits one step will cost (Refs to earlier steps do not change the price), or None when unknown."""
    try:
        return float(api_tasks.estimate_credits(task_type, _no_refs(dict(params)), api=api))
    except Exception:  # noqa: BLE001 - an estimate never breaks a dialog
        return None


def label(task_type: str, api: str) -> str:
    tt = api_tasks.catalog(api).types.get(task_type) or api_tasks.TASK_TYPES.get(task_type)
    return tt.label if tt is not None and tt.label else task_type


def before(job: Job, api: str) -> list[StepCost]:
    """The estimated cost of every step of a job not yet sent."""
    return [StepCost(i, s.task_type, s.label or label(s.task_type, api), estimate(s.task_type, s.params, api))
            for i, s in enumerate(job.steps)]


def after(snapshot: Mapping[str, Any]) -> list[StepCost]:
    """Estimated and consumed credits of every step of a job snapshot (``used`` once Tripo reported it)."""
    api = str(snapshot.get("api") or api_tasks.DEFAULT_API)
    out = []
    for s in snapshot.get("steps") or []:
        tt = str(s.get("task_type") or "")
        est = s.get("estimate")
        used = s.get("credits")
        out.append(StepCost(int(s.get("index", len(out))), tt, s.get("label") or (label(tt, api) if tt else "Task"),
                            float(est) if isinstance(est, int | float) else None,
                            float(used) if isinstance(used, int | float) else None))
    return out


def total(costs: list[StepCost], *, used: bool = False) -> float | None:
    """The sum of the estimates (or of the credits used); None when a step's is unknown."""
    values = [c.used if used else c.estimate for c in costs]
    if any(v is None for v in values):
        return None
    return float(sum(values))  # type: ignore[arg-type]


def text(value: float | None) -> str:
    """Credits as a user reads them, decimals kept (12, 12.5, 0.25); "?" when unknown."""
    if value is None:
        return "?"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def needs_confirmation(costs: list[StepCost], threshold: float) -> str | None:
    """Why this job must be confirmed before it is sent (its cost is above ``threshold``; 0: never), or None."""
    if threshold <= 0:
        return None
    t = total(costs)
    if t is None or t <= threshold:
        return None
    return (f"This costs about {text(t)} credits, above your confirmation threshold of {text(threshold)}: confirm "
            "to send it (Confirm Cost, or confirm_cost=True in a script), or raise the threshold in the Tripo "
            "preferences")
