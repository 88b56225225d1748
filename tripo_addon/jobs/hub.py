"""Batch polling: one thread asks about the tasks of every waiting worker in one request per round (API v3's
``tasks/list``, up to 100 ids), instead of one request per task.

A worker calls :meth:`PollHub.get` with the time its next poll is due; the hub gathers every task due by then (due
times are rounded up to a shared grid so workers fall into the same round; a poll is never made earlier than its
worker asked), makes one request, and hands each worker its task. A task missing from the answer is asked about on
its own (so a "not found" reaches its worker as such).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import TripoCancelled, TripoError

log = logging.getLogger(__name__)

#: Due times are rounded up to this grid (seconds) so workers with similar intervals share a round.
GRID = 0.5
#: The hub's client is rebuilt after this long (and after any failed round), so new settings reach it.
CLIENT_MAX_AGE = 60.0


@dataclass
class _Want:
    due: float
    done: threading.Event = field(default_factory=threading.Event)
    task: Any = None
    error: BaseException | None = None


class PollHub:
    """Polls many tasks with few requests. ``client_factory`` builds the hub's own client (one thread uses it)."""

    def __init__(self, client_factory: Callable[[], Any], *, grid: float = GRID, name: str = "tripo-poll-hub") -> None:
        self._client_factory = client_factory
        self.grid = float(grid)
        self._cond = threading.Condition()
        self._want: dict[str, _Want] = {}
        self._thread: threading.Thread | None = None
        self._name = name
        self._closed = False
        self.busy = False          # a request is in flight (the engine reports activity)
        self.rounds = 0            # batch requests made (diagnostics, benchmark)

    def due_time(self, delay: float) -> float:
        """The monotonic time a poll asked for ``delay`` s from now happens: rounded up to the shared grid."""
        t = time.monotonic() + max(0.0, delay)
        return math.ceil(t / self.grid) * self.grid if self.grid > 0 else t

    def get(self, task_id: str, *, due: float, stop: threading.Event) -> Any:
        """Block until the hub polled ``task_id`` at or after ``due`` (monotonic); return its task or raise the error.
        Raises TripoCancelled when ``stop`` is set first."""
        want = _Want(due)
        with self._cond:
            if self._closed:
                raise TripoCancelled("The poller is closed.")
            self._want[task_id] = want
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        while not want.done.wait(0.2):
            if stop.is_set():
                with self._cond:
                    if self._want.get(task_id) is want:
                        del self._want[task_id]
                raise TripoCancelled("Stopped while waiting for the next poll.")
        if want.error is not None:
            raise want.error
        return want.task

    def next_due(self) -> float:
        with self._cond:
            return min((w.due for w in self._want.values()), default=math.inf)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for w in self._want.values():
                w.error = TripoCancelled("The poller is closed.")
                w.done.set()
            self._want.clear()
            self._cond.notify_all()

    # ------------------------------------------------------------------------------------------ the hub thread
    def _loop(self) -> None:
        client = None
        made = 0.0
        while True:
            with self._cond:
                while not self._closed:
                    now = time.monotonic()
                    soonest = min((w.due for w in self._want.values()), default=math.inf)
                    if soonest <= now:
                        break
                    self._cond.wait(None if soonest == math.inf else soonest - now)
                if self._closed:
                    return
                now = time.monotonic()
                batch = {tid: w for tid, w in self._want.items() if w.due <= now + 1e-3}
                for tid in batch:
                    del self._want[tid]
                self.busy = True
            try:
                if client is None or time.monotonic() - made > CLIENT_MAX_AGE:
                    # a fresh client now and then picks up changed settings (key, proxy) like the workers' do
                    self._drop(client)
                    client, made = self._client_factory(), time.monotonic()
                self._round(client, batch)
            except BaseException as exc:  # noqa: BLE001 - every waiter hears about it, the hub goes on
                self._drop(client)
                client = None  # after a failure the next round starts with a fresh client (and settings)
                for w in batch.values():
                    if not w.done.is_set():
                        w.error = exc if isinstance(exc, TripoError) else TripoError(
                            f"Polling failed: {type(exc).__name__}: {exc}",
                            user_message="Checking on the task failed unexpectedly; retrying.")
                        w.done.set()
                if not isinstance(exc, TripoError):
                    log.exception("poll hub round failed")
            finally:
                with self._cond:
                    self.busy = False

    @staticmethod
    def _drop(client: Any) -> None:
        try:
            if client is not None:
                client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    def _round(self, client: Any, batch: dict[str, _Want]) -> None:
        self.rounds += 1
        found = client.get_tasks(list(batch))
        for tid, w in batch.items():
            task = found.get(tid)
            if task is None:  # not in the list: ask on its own (a 404 reaches the worker as such)
                try:
                    task = client.get_task(tid)
                except TripoError as exc:
                    w.error = exc
                    w.done.set()
                    continue
            w.task = task
            w.done.set()
