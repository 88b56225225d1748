"""Batch polling: one thread asks about the tasks of every waiting worker in one request per round (API v3's
``tasks/list``, up to 100 ids), instead of one request per task.

A worker calls :meth:`PollHub.get` with the time its next poll is due; the hub gathers every task due by then (due
times are rounded up to a shared grid so workers fall into the same round; a poll is never made earlier than its
worker asked), makes one request, and hands each worker its task. A task missing from the answer is asked about on
its own (so a "not found" reaches its worker as such).

Refilling a freed slot fast: the API gives no ETA on v3, so the hub learns how long tasks of each type take
(:class:`~tripo_addon.api.polling.Durations`); a worker whose task is inside that window asks at a tight, exact due
time and marks itself ``soon``: from then on it rides along in every round another task triggers (one request
either way). Rounds are :func:`~tripo_addon.api.polling.round_gap` apart (each waiting task every 2 s). While jobs
wait for a pool slot (``queued``), noticing an end sooner starts the next job sooner: rounds may then come sooner,
spent from a :class:`~tripo_addon.api.polling.RoundBudget` (never more requests than polling each followed task on
its own every 2 s would make: its first ask, then one per 2 s while it waits), and a task of a type never seen ending
is asked about from 0.5 s on, every 0.25 s on a shared grid, before the 2 s rhythm (:meth:`PollHub.eager`; decided
at each round, so jobs that start waiting after the task was created still get them).

Errors belong to whom they hit: a failed round (HTTP error, unreadable or absurd answer, any unexpected exception) is
never handed to the waiters; the round is tried again with bounded, jittered back-off. A refused key pauses every
waiter (``auth_paused``, one line) until a round works again. Only a task's own answer ends its waiter: its status, or
"not found" once the task is older than :data:`NOT_FOUND_GRACE` (Tripo may not list a task it created a moment ago).
Several waiters may ask about one id: each gets the answer. A success once seen is never replaced by a later
contradictory entry. A hub follows the tasks of one address and key (``identity``): when the settings it builds its
client from no longer match them, its waiters get :class:`IdentityChanged` (their jobs wait for the user to switch
back), never a "not found" from another account or region.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..api import polling as api_polling
from ..api import tasks as api_tasks
from ..api.errors import TripoAuthError, TripoCancelled, TripoError, TripoNotFound, TripoValidationError

log = logging.getLogger(__name__)

#: Statuses after which a task never changes: a task that rode along in a round wakes its worker only with one of
#: these (or once its own due time has come), so ride-alongs cost the worker threads and the main thread nothing.
FINAL = frozenset({"success", "failed", "banned", "expired", "cancelled"})
#: Due times are rounded up to this grid (seconds) so workers with similar intervals share a round.
GRID = 0.5
#: A due time counted from the previous ask may round down to the grid by this much (seconds): the round that asked
#: started a few ms after its grid point, and rounding up would stretch the 2 s rhythm to 2.5 s.
GRID_SLACK = 0.02
#: A task still running past the longest time its type took keeps asking every round until its age is this many
#: times that (then the 2 s rhythm, riding along): a task a little slower than any seen is noticed as fast.
OVERRUN = 1.5
#: While tasks of a type never seen ending wait and no job waits for a slot, the hub looks this often (seconds, no
#: request) whether jobs started waiting, so their early asks are not missed.
EAGER_RECHECK = 0.25
#: The hub's client is rebuilt after this long (and after any failed round), so new settings reach it.
CLIENT_MAX_AGE = 60.0
#: A task we created less than this long ago (seconds) that Tripo does not know yet is asked about again, not failed.
NOT_FOUND_GRACE = 60.0
#: Back-off after failed rounds: from ROUND_RETRY_BASE doubling to ROUND_RETRY_CAP (jittered).
ROUND_RETRY_BASE = 1.0
ROUND_RETRY_CAP = 30.0
#: The line every paused job shows while Tripo refuses the key.
AUTH_PAUSED = "Tripo did not accept the key: polling paused (it goes on by itself once the key works)."
#: the start of what the rows say while rounds fail for another reason (network, 5xx, an unreadable answer)
ROUND_TROUBLE = "Connection problem, retrying"
#: failed rounds in a row before the rows say so (one blip is not worth a word)
TROUBLE_AFTER = 2
#: Successes remembered (task id -> task) so a later contradictory entry never turns one into a failure.
SEEN_MAX = 4096


class IdentityChanged(TripoError):
    """The settings now name another address or key than the one the hub's tasks were made with (``what``: "key",
    "region" or "key and region"); nothing was asked with them."""

    def __init__(self, what: str) -> None:
        super().__init__(f"made with another {what}", user_message=f"This task was made with another {what}.")
        self.what = what


@dataclass(eq=False)
class _Want:
    due: float
    soon: float = math.inf       # from then on, asked in any round (its finish is imminent)
    created: float | None = None  # wall time the task was created by us (the not-found grace), None: unknown
    eager: float | None = None    # monotonic creation of a task of a type never seen ending (early asks), or None
    done: threading.Event = field(default_factory=threading.Event)
    task: Any = None
    error: BaseException | None = None


class PollHub:
    """Polls many tasks with few requests. ``client_factory`` builds the hub's own client (one thread uses it).
    ``on_pause(message)`` is called (from the hub thread) when polling pauses for a refused key ("" when it goes
    on again)."""

    def __init__(self, client_factory: Callable[[], Any], *, grid: float = GRID, name: str = "tripo-poll-hub",
                 poll_min: float = api_polling.DEFAULT_POLL_MIN,
                 on_pause: Callable[[str], None] | None = None,
                 retry_base: float = ROUND_RETRY_BASE, retry_cap: float = ROUND_RETRY_CAP,
                 not_found_grace: float = NOT_FOUND_GRACE,
                 identity: tuple[str, str] = ("", ""),
                 identity_of: Callable[[Any], tuple[str, str]] | None = None,
                 identity_change: Callable[[tuple[str, str], tuple[str, str]], str] | None = None,
                 queued: Callable[[], bool] | None = None) -> None:
        self._client_factory = client_factory
        self.identity = identity            # (address, key fingerprint) the hub's tasks were made with
        self._identity_of = identity_of     # client -> (address, key fingerprint)
        self._identity_change = identity_change  # (had, now) -> "" or what changed
        self.grid = float(grid)
        self.poll_min = float(poll_min)
        self.on_pause = on_pause
        self.retry_base = float(retry_base)
        self.retry_cap = max(self.retry_base, float(retry_cap))
        self.not_found_grace = float(not_found_grace)
        self.durations = api_polling.Durations()  # how long tasks take, per type (learned by the workers)
        self._budget = api_polling.RoundBudget(self.poll_min)
        self._last_round = -math.inf
        self._queued = queued  # () -> whether jobs wait for a pool slot (then rounds spend the budget)
        self._credited: dict[str, None] = {}  # ids whose first ask was added to the budget
        self._hold_until = -math.inf  # after failed rounds: no round before this (monotonic)
        self._failures = 0
        self._cond = threading.Condition()
        self._want: dict[str, list[_Want]] = {}
        self._seen: dict[str, Any] = {}  # successes seen, by task id
        self._asked: dict[str, float] = {}  # task id -> monotonic start of the last round that asked about it
        self._running: dict[str, float] = {}  # task id -> start of the last round that saw it not final
        self._thread: threading.Thread | None = None
        self._name = name
        self._closed = False
        self.busy = False          # a request is in flight (the engine reports activity)
        self.rounds = 0            # batch requests made (diagnostics, benchmark)
        self.failed_rounds = 0     # rounds that failed as a whole (retried, never a job's failure)
        self.auth_paused = ""      # AUTH_PAUSED while Tripo refuses the key, else ""

    def due_time(self, delay: float, *, exact: bool = False, task_id: str | None = None) -> float:
        """The monotonic time a poll asked for ``delay`` s after the last ask about ``task_id`` (or from now, if never
        asked) happens: rounded up to the shared grid (unless ``exact``: a poll aimed at a predicted finish), at most
        :data:`GRID_SLACK` before the asked interval, never in the past. Counting from the ask, not from when the
        worker read the answer, keeps the 2 s rhythm at 2 s instead of the next grid point after it."""
        now = time.monotonic()
        since = self._asked.get(task_id) if task_id is not None else None
        t = (now if since is None or since > now else since) + max(0.0, delay)
        if self.grid > 0 and not exact:
            t = math.ceil((t - (GRID_SLACK if since is not None else 0.0)) / self.grid) * self.grid
        return max(now, t)

    def urgent(self) -> bool:
        """Jobs wait for a pool slot a followed task holds: noticing its end sooner starts them sooner."""
        try:
            return bool(self._queued is not None and self._queued())
        except Exception:  # noqa: BLE001 - a listener never stops the hub
            return False

    def _next_round(self, now: float, urgent: bool) -> float:
        """Under the lock: the earliest start of the next round. Rounds are :meth:`gap` apart; while jobs wait for a
        slot (:meth:`urgent`) they may come sooner, spending the budget (never more requests than polling each
        followed task on its own every 2 s)."""
        self._budget.poll_min = max(0.01, self.poll_min)
        budget = self._budget.ready_at(now, len(self._want))
        return budget if urgent else max(budget, self._last_round + self.gap())

    def last_running(self, task_id: str) -> float | None:
        """The monotonic start of the last round that saw ``task_id`` not final (ride-alongs included), or None."""
        return self._running.get(task_id)

    def asked_at(self, task_id: str) -> float | None:
        """The monotonic start of the last round that asked about ``task_id``, or None."""
        return self._asked.get(task_id)

    def gap(self) -> float:
        """The shortest time between two rounds now (see :func:`~tripo_addon.api.polling.round_gap`)."""
        return api_polling.round_gap(len(self._want), self.poll_min)

    def aim(self, task_type: str | None, created: float, delay: float) -> tuple[float, float]:
        """(delay, ride-along time) for the next poll of a task without ETA created at ``created`` (monotonic).
        Tasks of its type agree on one duration (:meth:`~tripo_addon.api.polling.Durations.expected`) and it has not
        reached it: asked at that end (or sooner by ``delay``), riding along from the window's start. Else inside the
        window in which tasks of its type ended (its end stretched by :data:`OVERRUN`): from the window's start,
        every round. Past it: ``delay`` but still riding along in every round other tasks make (an answer more in a
        request that is sent anyway: no request more). Before anything is known: ``delay``, no ride-along (the hub
        asks early while jobs wait: :meth:`eager`)."""
        win = self.durations.window(task_type) if task_type else None
        now = time.monotonic()
        if win is None:
            return delay, math.inf
        start = created + win[0]
        end = self.durations.expected(task_type) if task_type else None
        if end is not None and created + end > now:
            return min(delay, created + end - now), start
        if now - created > win[1] * OVERRUN + self.gap():
            return delay, start
        return min(delay, max(start - now, self.gap())), start

    def get(self, task_id: str, *, due: float, stop: threading.Event, soon: float = math.inf,
            created: float | None = None, eager: float | None = None) -> Any:
        """Block until the hub polled ``task_id`` at or after ``due`` (monotonic), or in any round from ``soon`` on;
        return its task or raise the task's own error (not found after the grace, an invalid id). ``created``: the
        wall time we created the task (a "not found" sooner than the grace after it is asked again); ``eager``: see
        :meth:`eager` (its early asks wake the worker only with a final answer). Raises
        TripoCancelled when ``stop`` is set first. Round failures are never raised: the hub retries them."""
        try:
            task_id = api_tasks.check_task_id(task_id)
        except TripoValidationError as exc:
            raise TripoNotFound(str(exc), status=404, user_message=exc.user_message) from None
        seen = self._seen.get(task_id)
        if seen is not None:
            return seen
        want = _Want(due, min(soon, due), created, eager)
        with self._cond:
            if self._closed:
                raise TripoCancelled("The poller is closed.")
            if task_id not in self._want and task_id not in self._credited:
                self._budget.accrue(time.monotonic(), len(self._want))
                self._budget.first_ask(len(self._want) + 1)
                self._credited[task_id] = None
                while len(self._credited) > SEEN_MAX:
                    self._credited.pop(next(iter(self._credited)))
            self._want.setdefault(task_id, []).append(want)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        while not want.done.wait(0.2):
            if stop.is_set():
                self._unwant(task_id, want)
                raise TripoCancelled("Stopped while waiting for the next poll.")
        if want.error is not None:
            raise want.error
        return want.task

    def eager(self, task_type: str | None, created: float | None) -> float | None:
        """``created`` for a task of a type never seen ending (none seen running past 2 s either): while jobs wait
        for a slot, the hub asks about it early (:func:`~tripo_addon.api.polling.first_ask_at`); else None."""
        if created is None or (task_type and (self.durations.window(task_type) is not None
                                              or self.durations.running_floor(task_type) >= self.poll_min)):
            return None
        return created

    def _at(self, tid: str, w: _Want, urgent: bool) -> float:
        """When ``w`` wants a round: its due time, or sooner its early ask while jobs wait for a slot."""
        if not urgent or w.eager is None:
            return w.due
        return min(w.due, api_polling.first_ask_at(w.eager, self._asked.get(tid, -math.inf), self.poll_min))

    def _unwant(self, task_id: str, want: _Want) -> None:
        with self._cond:
            wants = self._want.get(task_id)
            if wants and want in wants:
                wants.remove(want)
                if not wants:
                    del self._want[task_id]

    def waiting(self) -> int:
        """Waiters now (all ids)."""
        with self._cond:
            return sum(len(w) for w in self._want.values())

    def next_due(self) -> float:
        with self._cond:
            return min((w.due for ws in self._want.values() for w in ws), default=math.inf)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for ws in self._want.values():
                for w in ws:
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
                    urgent = self.urgent()
                    soonest = min((self._at(t, w, urgent) for t, ws in self._want.items() for w in ws),
                                  default=math.inf)
                    if soonest < math.inf:
                        soonest = max(soonest, self._next_round(now, urgent), self._hold_until)
                    if soonest <= now:
                        break
                    wait = None if soonest == math.inf else soonest - now
                    if not urgent and any(w.eager is not None for ws in self._want.values() for w in ws):
                        # jobs may start waiting for a slot: look again soon (no request)
                        wait = EAGER_RECHECK if wait is None else min(wait, EAGER_RECHECK)
                    self._cond.wait(wait)
                if self._closed:
                    return
                now = time.monotonic()
                self._budget.spend(now)
                self._last_round = now
                batch: dict[str, list[_Want]] = {}
                for tid, ws in list(self._want.items()):
                    if any(min(self._at(tid, w, urgent), w.soon) <= now + 1e-3 for w in ws):
                        batch[tid] = ws
                        del self._want[tid]
                self.busy = True
            try:
                if client is None or time.monotonic() - made > CLIENT_MAX_AGE:
                    # a fresh client now and then picks up changed settings (key, proxy) like the workers' do
                    self._drop(client)
                    client, made = self._client_factory(), time.monotonic()
                    moved = self._moved(client)
                    if moved:  # asked with the new settings, another account's or region's "not found"
                        self._drop(client)
                        client = None
                        self._deliver_all(batch, IdentityChanged(moved))
                        continue
                self._round(client, batch)
            except BaseException as exc:  # noqa: BLE001 - the round failed, not the tasks: back in line, retried
                self._drop(client)
                client = None  # the next round starts with a fresh client (and settings)
                self._round_failed(exc, batch)
            else:
                self._round_worked()
            finally:
                with self._cond:
                    self.busy = False

    def _moved(self, client: Any) -> str:
        """What of the hub's identity a fresh client no longer has ("": nothing, or not known)."""
        if self._identity_of is None or self._identity_change is None:
            return ""
        return self._identity_change(self.identity, self._identity_of(client))

    def _deliver_all(self, batch: dict[str, list[_Want]], error: BaseException) -> None:
        for ws in batch.values():
            self._deliver(ws, error=error)

    def _requeue(self, batch: dict[str, list[_Want]]) -> None:
        """Waiters not answered go back in line (their due times unchanged: they are asked in the next round)."""
        with self._cond:
            for tid, ws in batch.items():
                left = [w for w in ws if not w.done.is_set()]
                if not left:
                    continue
                if self._closed:
                    for w in left:
                        w.error = TripoCancelled("The poller is closed.")
                        w.done.set()
                    continue
                line = self._want.setdefault(tid, [])
                line[:0] = [w for w in left if not any(w is x for x in line)]
            self._cond.notify_all()

    def _round_failed(self, exc: BaseException, batch: dict[str, list[_Want]]) -> None:
        self.failed_rounds += 1
        self._failures += 1
        auth = isinstance(exc, TripoAuthError) or getattr(exc, "status", None) == 401
        if not isinstance(exc, TripoError):
            log.exception("poll hub round failed (retried)", exc_info=exc)
        else:
            log.info("poll hub round failed (retried): %s", exc)
        step = min(self.retry_cap, self.retry_base * 2 ** min(self._failures - 1, 20))
        delay = step * (0.5 + 0.5 * random.random())  # jittered: two Blenders do not hammer in step
        with self._cond:
            self._hold_until = time.monotonic() + delay
        self._requeue(batch)
        if auth and self.auth_paused != AUTH_PAUSED:
            self.auth_paused = AUTH_PAUSED
            self._tell(AUTH_PAUSED)
        elif not auth and not self.auth_paused and self._failures >= TROUBLE_AFTER:
            self.auth_paused = f"{ROUND_TROUBLE}: {_trouble_text(exc)}"
            self._tell(self.auth_paused)

    def _round_worked(self) -> None:
        self._failures = 0
        if self.auth_paused:
            self.auth_paused = ""
            self._tell("")

    def _tell(self, message: str) -> None:
        if self.on_pause is not None:
            try:
                self.on_pause(message)
            except Exception:  # noqa: BLE001 - a listener never stops the hub
                log.exception("poll hub listener failed")

    @staticmethod
    def _drop(client: Any) -> None:
        try:
            if client is not None:
                client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    def _deliver(self, ws: list[_Want], task: Any = None, error: BaseException | None = None) -> None:
        for w in ws:
            if not w.done.is_set():
                w.task, w.error = task, error
                w.done.set()

    def _remember(self, task_id: str, task: Any) -> Any:
        """A success is kept; a later contradictory answer for the same id gets the success back."""
        status = str(getattr(task, "status", ""))
        seen = self._seen.get(task_id)
        if seen is not None and status != "success":
            log.warning("Tripo task %s: a %r entry after its success was ignored", task_id, status)
            return seen
        if status == "success" and seen is None:
            if len(self._seen) >= SEEN_MAX:
                self._seen.pop(next(iter(self._seen)))
            self._seen[task_id] = task
        return task

    def _round(self, client: Any, batch: dict[str, list[_Want]]) -> None:
        self.rounds += 1
        asked = time.monotonic()
        for tid in batch:
            self._asked.pop(tid, None)
            self._asked[tid] = asked
        for seen in (self._asked, self._running):
            while len(seen) > SEEN_MAX:
                seen.pop(next(iter(seen)))
        found = client.get_tasks(list(batch))
        if not isinstance(found, dict):
            raise TripoError("the task list is not a mapping", user_message="Tripo sent an unreadable task list.")
        missing: dict[str, list[_Want]] = {}
        for tid, ws in batch.items():
            task = found.get(tid)
            if task is None:
                missing[tid] = ws
                continue
            task = self._remember(tid, task)
            final = str(getattr(task, "status", "")) in FINAL
            if not final:
                self._running.pop(tid, None)
                self._running[tid] = asked
            now_due = [w for w in ws if final or w.due <= asked + 1e-3]
            later = [w for w in ws if w not in now_due]
            self._deliver(now_due, task)
            if later:  # rode along and still going: back in line for their own due time, workers asleep
                self._requeue({tid: later})
        for tid, ws in missing.items():  # not in the list: ask on its own (a 404 reaches the worker as such)
            try:
                task = client.get_task(tid)
            except TripoNotFound as exc:
                young = [w for w in ws if w.created is not None and time.time() - w.created < self.not_found_grace]
                old = [w for w in ws if w not in young]
                self._deliver(old, error=exc)
                if young:
                    for w in young:
                        w.due = asked + max(self.poll_min, 0.5)
                    self._requeue({tid: young})
                continue
            except TripoError as exc:
                if getattr(exc, "status", None) == 401 or isinstance(exc, TripoAuthError):
                    raise
                log.info("Tripo task %s: asking on its own failed (%s); asked again next round", tid, exc)
                self._requeue({tid: ws})
                continue
            self._deliver(ws, self._remember(tid, task))


def _trouble_text(exc: BaseException) -> str:
    """One short line for a failed round (the API's own message for its errors, the exception's kind otherwise)."""
    if isinstance(exc, TripoError):
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    else:
        text = f"an unexpected answer ({type(exc).__name__})"
    return text[:200].rstrip(".") + "."
