"""The exception for a task that ended without success, with one plain sentence for the user."""

from __future__ import annotations

from .errors import ERROR_TEXT, STATUS_TEXT, TripoTaskFailed
from .models import Task, TaskStatus


def task_failed(task: Task, *, polls: int = 0) -> TripoTaskFailed:
    """The TripoTaskFailed for a task that ended without success (plain sentence included)."""
    base = STATUS_TEXT.get(task.status, f"The task ended with status {task.status!r}")
    detail = ""
    if task.error_code is not None:
        base += f" (error {task.error_code})"
        # A code's text is written for a refused request; an expired task's 2018 (tripo-api-v3.md §18 C7) is not
        # 2018's "too complex" refusal, so its own message (or the generic sentence) says what happened.
        detail = ERROR_TEXT.get(task.error_code, "") if task.status != TaskStatus.EXPIRED else ""
    if task.error_msg and not detail:
        detail = task.error_msg.rstrip(".") + "."
    if task.status == TaskStatus.UNKNOWN:
        detail = (f"it stayed unknown for {polls} checks in a row, so the add-on stopped waiting. Check the task on "
                  "the Tripo website; attach it again by id if it finishes.")
    elif task.status == TaskStatus.EXPIRED:
        detail = f"{detail} Credits for it are refunded; send it again.".lstrip()
    elif task.status == TaskStatus.FAILED and not detail:
        detail = "Credits for a failed task are refunded; try again, perhaps with different input."
    user = f"{base}: {detail}" if detail else f"{base}."
    return TripoTaskFailed(
        f"Task {task.task_id} ({task.type or 'task'}) ended {task.status}"
        + (f", error {task.error_code}" if task.error_code is not None else "")
        + (f": {task.error_msg}" if task.error_msg else "."),
        code=task.error_code, trace_id=task.trace_id, user_message=user, task=task,
    )
