"""A small interruptible FIFO semaphore for the per-account concurrency pools (the dialect names the pools and their
limits: ``Dialect.pools``; the poll interval comes from ``api.polling.next_poll_delay``)."""

from __future__ import annotations

import threading
from collections import deque


class Stopped(Exception):
    """An interruptible wait was interrupted (cancel or shutdown)."""


class Slots:
    """A FIFO counting semaphore whose waits can be interrupted by a threading.Event.

    A release hands the slot straight to the oldest waiter (one wake-up, not all waiters: with 190 jobs waiting for
    10 slots, a release used to wake all 190). Waiters look at their ``stop`` event every ``poll`` seconds.

    ``force()`` takes a slot even past the limit: for tasks that already exist on the server (resume, attach), which
    occupy Tripo's slot whether we count them or not.
    """

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = max(1, int(limit))
        self.pool_limit = self.limit  # the account pool's own limit (the user's "Parallel Tasks" may lower limit)
        self.used = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, stop: threading.Event, *, poll: float = 0.5) -> None:
        """Block until a slot is free (FIFO). Raises Stopped if ``stop`` is set first."""
        granted = threading.Event()
        with self._lock:
            self._waiters.append(granted)
            self._grant()
        while not granted.is_set():
            if stop.is_set():
                with self._lock:
                    if not granted.is_set():
                        self._waiters.remove(granted)
                        self._grant()  # the next waiter may be able to go now
                        raise Stopped()
                break
            granted.wait(poll)

    def force(self) -> None:
        with self._lock:
            self._take()

    def release(self) -> None:
        with self._lock:
            self.used = max(0, self.used - 1)
            self._grant()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _grant(self) -> None:
        """Under the lock: hand free slots to the oldest waiters."""
        while self._waiters and self.used < self.limit:
            self._take()
            self._waiters.popleft().set()

    def _take(self) -> None:
        self.used += 1
        self.peak = max(self.peak, self.used)
