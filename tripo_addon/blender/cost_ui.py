"""Cost before and after, as the user sees it: step-by-step estimates in dialogs, the confirmation threshold, and
the credits each step of a job actually used (task list)."""

from __future__ import annotations

from ..jobs import cost
from . import catalog, runtime, settings


def threshold(context=None) -> float:
    p = settings.prefs(context)
    return float(getattr(p, "confirm_above", 0.0) or 0.0) if p is not None else 0.0


def costs_of(job) -> list[cost.StepCost]:
    return cost.before(job, catalog.api())


APPROX = "\u2248"


def _params(job, index: int) -> dict:
    steps = getattr(job, "steps", None) or []
    return dict(getattr(steps[index], "params", {}) or {}) if 0 <= index < len(steps) else {}


def approx(c: cost.StepCost, params: dict | None = None) -> str:
    """"≈" before an estimate that is not from Tripo's published price table (tripo-api-v3.md §18 R3); a free step
    is exact."""
    if c.estimate == 0:
        return ""
    return catalog.price_prefix(c.task_type, params or {})


def lines(costs: list[cost.StepCost], job=None) -> list[str]:
    """The dialog's cost lines: one per step when there are several, then the total ("≈" where approximate)."""
    marks = [approx(c, _params(job, c.index)) for c in costs]
    out = []
    if len(costs) > 1:
        out = [f"{c.index + 1}. {c.label}: {m}{cost.text(c.estimate)}" for c, m in zip(costs, marks, strict=True)]
    out.append(f"Estimated cost: {APPROX if any(marks) else ''}{cost.text(cost.total(costs))} credits")
    return out


def draw_costs(layout, op, job, context=None) -> None:
    """Step-by-step estimate, total, and (above the threshold) the Confirm Cost checkbox."""
    costs = costs_of(job)
    col = layout.column(align=True)
    for i, text in enumerate(lines(costs, job)):
        col.label(text=text, icon='INFO' if i == 0 else 'BLANK1')
    problem = cost.needs_confirmation(costs, threshold(context))
    if problem and hasattr(op, "confirm_cost"):
        box = layout.box()
        box.alert = not op.confirm_cost
        box.label(text=f"Above your threshold ({cost.text(threshold(context))} credits)", icon='ERROR')
        box.prop(op, "confirm_cost")


def refusal(op, job, context=None) -> str | None:
    """Why the job must not be sent yet (above the threshold and not confirmed), or None."""
    if getattr(op, "confirm_cost", False):
        return None
    return cost.needs_confirmation(costs_of(job), threshold(context))


def step_lines(job_id: str) -> list[str]:
    """After: each step's estimate and the credits Tripo reports it used ("used" once known)."""
    eng = runtime.engine(create=False)
    if eng is None or not job_id:
        return []
    try:
        snap = eng.get(job_id)
    except KeyError:
        return []
    costs = cost.after(snap)
    steps = snap.get("steps") or []
    out = []
    for c in costs:
        used = f", used {cost.text(c.used)}" if c.used is not None else ""
        params = steps[c.index].get("params") if 0 <= c.index < len(steps) else None
        mark = approx(c, params if isinstance(params, dict) else None)
        out.append(f"{c.index + 1}. {c.label}: estimated {mark}{cost.text(c.estimate)}{used}")
    spent = cost.total(costs, used=True)
    if spent is not None and len(costs) > 1:
        out.append(f"Used in all: {cost.text(spent)} credits")
    return out


def draw_step_credits(layout, job_id: str) -> None:
    """Per-step credits of a job (estimated and used), for the task list's detail box."""
    rows = step_lines(job_id)
    if not rows:
        return
    col = layout.column(align=True)
    for i, text in enumerate(rows):
        col.label(text=text, icon='FUND' if i == 0 else 'BLANK1')


def draw_confirm(layout, op, credits: float | None, context=None) -> None:
    """A one-step dialog: the Confirm Cost checkbox when its estimate is above the threshold."""
    limit = threshold(context)
    if credits is None or limit <= 0 or credits <= limit or not hasattr(op, "confirm_cost"):
        return
    box = layout.box()
    box.alert = not op.confirm_cost
    box.label(text=f"Above your threshold ({cost.text(limit)} credits)", icon='ERROR')
    box.prop(op, "confirm_cost")
