"""Find the task of a "needs attention" job in the account's history (v3 ``account/usage``). No bpy, no sending.

A create whose answer was lost leaves a step with ``submitted_at`` and no task id. If exactly one task of that type,
not followed by any job here, appeared in the account around that time, it is that step's task: the job attaches it
by itself. Otherwise the candidates are listed for the user to pick. Nothing is ever sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: A task created this long before the request was recorded still counts (clock skew between Tripo and here).
BEFORE = 120.0
#: ... and this long after it (the request may have waited in a queue or behind retries).
AFTER = 900.0
#: Most history pages read for one recovery round (newest first).
MAX_PAGES = 5
PAGE = 100


@dataclass(frozen=True)
class Lost:
    """A stopped job's step that may have created a task."""

    job_id: str
    step: int
    task_type: str
    submitted_at: float
    title: str = ""


@dataclass
class Finding:
    """What the history says about one lost step: ``candidates`` (newest first); one means it is found."""

    lost: Lost
    candidates: list[Any] = field(default_factory=list)

    @property
    def found(self) -> Any | None:
        return self.candidates[0] if len(self.candidates) == 1 else None


def lost_steps(snapshots: Iterable[Mapping[str, Any]]) -> list[Lost]:
    """The steps of ``needs_attention`` jobs that were being sent (``submitted_at`` set) and have no task id."""
    out: list[Lost] = []
    for snap in snapshots:
        if snap.get("state") != "needs_attention":
            continue
        steps = snap.get("steps") or []
        idx = snap.get("current_step", 0)
        if not isinstance(idx, int) or not 0 <= idx < len(steps):
            continue
        step = steps[idx]
        at = step.get("submitted_at")
        if step.get("task_id") or not isinstance(at, int | float) or not step.get("task_type"):
            continue
        out.append(Lost(str(snap.get("id")), idx, str(step["task_type"]), float(at), str(snap.get("title") or "")))
    return out


def known_task_ids(snapshots: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every task id some job here already follows (those are never another job's lost task)."""
    return {t for snap in snapshots for t in snap.get("task_ids") or [] if isinstance(t, str)}


def candidates(rows: Iterable[Any], lost: Lost, known: set[str]) -> list[Any]:
    """History rows (``UsageRow``) that may be ``lost``'s task: same type, made in its time window, not known."""
    lo, hi = lost.submitted_at - BEFORE, lost.submitted_at + AFTER
    return [r for r in rows if r.type == lost.task_type and r.task_id not in known
            and r.created is not None and lo <= r.created <= hi]


def read_history(usage: Callable[[int, int], list[Any]], since: float) -> list[Any]:
    """History rows newer than ``since`` (pages of :data:`PAGE`, newest first, at most :data:`MAX_PAGES`)."""
    rows: list[Any] = []
    for page in range(MAX_PAGES):
        batch = usage(PAGE, page * PAGE)
        rows.extend(batch)
        if len(batch) < PAGE or any(r.created is not None and r.created < since for r in batch):
            break
    return rows


def find(usage: Callable[[int, int], list[Any]], snapshots: list[Mapping[str, Any]]) -> list[Finding]:
    """Look every lost step up in the history (``usage(limit, offset)``: ``client.usage``). Read-only."""
    lost = lost_steps(snapshots)
    if not lost:
        return []
    rows = read_history(usage, min(x.submitted_at for x in lost) - BEFORE)
    known = known_task_ids(snapshots)
    return [Finding(x, candidates(rows, x, known)) for x in lost]


def attach_found(engine: Any, finding: Finding) -> str | None:
    """Attach the one task found to its job (no request is sent to create anything). Returns the task id."""
    row = finding.found
    if row is None:
        return None
    engine.attach(row.task_id, job_id=finding.lost.job_id,
                  notice=f"Found in your Tripo history and attached by itself: task {row.task_id} (the answer to "
                         f"step {finding.lost.step + 1} was lost; nothing was sent again).")
    return row.task_id


def unique(findings: list[Finding]) -> list[Finding]:
    """The findings that may be attached by themselves: one candidate, claimed by no other lost step."""
    count: dict[str, int] = {}
    for f in findings:
        for c in f.candidates:
            count[c.task_id] = count.get(c.task_id, 0) + 1
    return [f for f in findings if f.found is not None and count[f.found.task_id] == 1]
