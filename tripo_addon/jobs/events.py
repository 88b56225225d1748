"""Events from workers to the main thread, and a queue that keeps at most one pending update per job."""

from __future__ import annotations

import queue
from collections import deque
from dataclasses import dataclass, field

#: Event kinds.
UPDATE = "update"  # the job changed (state, progress, ...); coalesced: at most one pending per job
FINISHED = "finished"  # the job succeeded; snapshot["result_files"] is what to import
FAILED = "failed"  # the job failed; snapshot["error"] says why
CANCELLED = "cancelled"  # cancelled locally; snapshot["notice"] explains that Tripo may still finish the task
NOTICE = "notice"  # a message for the user (event.message); job_id "" for engine-wide notices
KINDS = (UPDATE, FINISHED, FAILED, CANCELLED, NOTICE)


@dataclass
class Event:
    """``snapshot`` is a plain JSON-able job snapshot (``{}`` for engine-wide notices)."""

    job_id: str
    kind: str
    snapshot: dict = field(default_factory=dict)
    message: str = ""


class EventQueue(queue.Queue):
    """A ``queue.Queue`` of :class:`Event` in which a new ``update`` for a job replaces the one still pending.

    Order is kept: the pending update keeps its place and only its snapshot is refreshed.
    """

    def _init(self, maxsize: int) -> None:
        self.queue: deque[Event] = deque()
        self._pending: dict[str, Event] = {}

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: Event) -> None:
        if item.kind == UPDATE:
            pending = self._pending.get(item.job_id)
            if pending is not None:
                pending.snapshot = item.snapshot
                pending.message = item.message or pending.message
                # Queue.put counts every put; undo the count for the merged one so join()/task_done() stay right.
                self.unfinished_tasks -= 1
                return
            self._pending[item.job_id] = item
        self.queue.append(item)

    def _get(self) -> Event:
        item = self.queue.popleft()
        if item.kind == UPDATE and self._pending.get(item.job_id) is item:
            del self._pending[item.job_id]
        return item
