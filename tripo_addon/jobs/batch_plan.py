"""A batch's plan: every row's tasks and estimated credits before anything is sent. No bpy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import cost
from .batch_rows import BatchError, Row, build_jobs
from .job import Job

#: the states of a row in the batch journal
PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"


@dataclass
class RowPlan:
    key: str
    title: str
    tasks: int
    estimate: float | None
    state: str = PENDING


@dataclass
class Plan:
    rows: list[RowPlan]
    total: float | None  # credits of the rows still to send (None: a price is unknown)
    sent: int  # rows already sent earlier (not counted again)

    @property
    def tasks(self) -> int:
        return sum(r.tasks for r in self.rows if r.state == PENDING)

    def text(self) -> str:
        todo = [r for r in self.rows if r.state == PENDING]
        s = (f"Plan: {len(todo)} row(s) to send, {self.tasks} task(s), about {cost.text(self.total)} credits"
             + (f" ({self.sent} row(s) already sent or done earlier, not counted)" if self.sent else ""))
        return s


def plan_rows(rows: list[Row], api: str, states: dict[str, str] | None = None,
              validate: Callable[[Job], None] | None = None) -> Plan:
    """The cost of every row from the published prices; ``validate`` (Engine.validate) checks each job first."""
    states = states or {}
    out_rows: list[RowPlan] = []
    total: float | None = 0.0
    for row in rows:
        jobs = build_jobs(row)
        if validate is not None and states.get(row.key, PENDING) == PENDING:
            for job in jobs:
                job.api = api
                try:
                    validate(job)
                except Exception as exc:  # noqa: BLE001 - TripoValidationError: name the row
                    raise BatchError(f"Row {row.index + 1} ({row.title}): "
                                     f"{getattr(exc, 'user_message', None) or exc}") from None
        costs = [c for job in jobs for c in cost.before(job, api)]
        est = cost.total(costs)
        state = states.get(row.key, PENDING)
        out_rows.append(RowPlan(row.key, row.title, len(costs), est, state))
        if state == PENDING:
            total = None if total is None or est is None else total + est
    return Plan(out_rows, total, sum(1 for r in out_rows if r.state != PENDING))
