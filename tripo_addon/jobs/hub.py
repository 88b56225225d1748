"""Batch polling: one thread asks about the tasks of every waiting worker in one request per round (API v3's
``tasks/list``, up to 100 ids), instead of one request per task.

A worker calls :meth:`PollHub.get` with the time its next poll is due; the hub gathers every task due by then (due
times are rounded up to a shared grid so workers fall into the same round; a poll is never made earlier than its
worker asked), makes one request, and hands each worker its task. A task missing from the answer is asked about on
its own (so a "not found" reaches its worker as such).

Refilling a freed slot fast: the API gives no ETA on v3, so the hub learns how long tasks of each type take
(:class:`~tripo_addon.api.polling.Durations`); a worker whose task is inside that window asks at a tight, exact due
time and marks itself ``soon``: from then on it rides along in every round another task triggers (one request
either way). Rounds are never closer together than :func:`~tripo_addon.api.polling.round_gap`: no more requests than
polling each waiting task every 2 s would make.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api import polling as api_polling
from ..api.errors import TripoCancelled, TripoError

log = logging.getLogger(__name__)

#: Statuses after which a task never changes: a task that rode along in a round wakes its worker only with one of
#: these (or once its own due time has come), so ride-alongs cost the worker threads and the main thread nothing.
FINAL = frozenset({"success", "failed", "banned", "expired", "cancelled"})
#: Due times are rounded up to this grid (seconds) so workers with similar intervals share a round.
GRID = 0.5
#: The hub's client is rebuilt after this long (and after any failed round), so new settings reach it.
CLIENT_MAX_AGE = 60.0


@dataclass
class _Want:
    due: float
    soon: float = math.inf       # from then on, asked in any round (its finish is imminent)
    done: threading.Event = field(default_factory=threading.Event)
    task: Any = None
    error: BaseException | None = None


class PollHub:
    """Polls many tasks with few requests. ``client_factory`` builds the hub's own client (one thread uses it)."""

    def __init__(self, client_factory: Callable[[], Any], *, grid: float = GRID, name: str = "tripo-poll-hub",
                 poll_min: float = api_polling.DEFAULT_POLL_MIN) -> None:
        self._client_factory = client_factory
        self.grid = float(grid)
        self.poll_min = float(poll_min)
        self.durations = api_polling.Durations()  # how long tasks take, per type (learned by the workers)
        self._last_round = -math.inf
        self._cond = threading.Condition()
        self._want: dict[str, _Want] = {}
        self._thread: threading.Thread | None = None
        self._name = name
        self._closed = False
        self.busy = False          # a request is in flight (the engine reports activity)
        self.rounds = 0            # batch requests made (diagnostics, benchmark)

    def due_time(self, delay: float, *, exact: bool = False) -> float:
        """The monotonic time a poll asked for ``delay`` s from now happens: rounded up to the shared grid (unless
        ``exact``: a poll aimed at a predicted finish)."""
        t = time.monotonic() + max(0.0, delay)
        return math.ceil(t / self.grid) * self.grid if self.grid > 0 and not exact else t

    def gap(self) -> float:
        """The shortest time between two rounds now (see :func:`~tripo_addon.api.polling.round_gap`)."""
        return api_polling.round_gap(len(self._want), self.poll_min)

    def aim(self, task_type: str | None, created: float, delay: float) -> tuple[float, float]:
        """(delay, ride-along time) for the next poll of a task without ETA created at ``created`` (monotonic):
        inside the window in which tasks of its type ended, ask at the window's start and then every round; outside
        it (or before anything is known), ``delay`` and no ride-along."""
        win = self.durations.window(task_type) if task_type else None
        now = time.monotonic()
        if win is None or now - created > win[1] + self.gap():
            return delay, math.inf
        start = created + win[0]
        return min(delay, max(start - now, self.gap())), start

    def get(self, task_id: str, *, due: float, stop: threading.Event, soon: float = math.inf) -> Any:
        """Block until the hub polled ``task_id`` at or after ``due`` (monotonic), or in any round from ``soon`` on;
        return its task or raise the error. Raises TripoCancelled when ``stop`` is set first."""
        want = _Want(due, min(soon, due))
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
                    if soonest < math.inf:
                        soonest = max(soonest, self._last_round + self.gap())
                    if soonest <= now:
                        break
                    self._cond.wait(None if soonest == math.inf else soonest - now)
                if self._closed:
                    return
                now = time.monotonic()
                self._last_round = now
                batch = {tid: w for tid, w in self._want.items() if min(w.due, w.soon) <= now + 1e-3}
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
        asked = time.monotonic()
        found = client.get_tasks(list(batch))
        for tid, w in batch.items():
            task = found.get(tid)
            if task is not None and w.due > asked + 1e-3 and str(getattr(task, "status", "")) not in FINAL:
                with self._cond:  # rode along and still going: back in line for its own due time, worker asleep
                    if not self._closed and tid not in self._want:
                        self._want[tid] = w
                        continue
            if task is None:  # not in the list: ask on its own (a 404 reaches the worker as such)
                try:
                    task = client.get_task(tid)
                except TripoError as exc:
                    w.error = exc
                    w.done.set()
                    continue
            w.task = task
            w.done.set()
