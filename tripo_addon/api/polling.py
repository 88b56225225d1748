"""Pure timing functions: how long to wait before the next ``GET /task`` and before a retry.

``unknown`` status: the reference calls it finalized, while both official SDKs keep polling. ``wait()`` keeps polling
an ``unknown`` task (backing off like a task without an ETA) and gives up, treating it as a failure, after
:data:`UNKNOWN_POLLS_LIMIT` consecutive ``unknown`` answers: a transient glitch recovers, a truly lost task ends.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections import deque
from collections.abc import Callable

#: Consecutive ``unknown`` answers after which ``wait()`` treats the task as ended (TripoTaskFailed).
UNKNOWN_POLLS_LIMIT = 5
#: The official clients never poll a task faster than every 2 s (tripo3d 0.x: ``max(2, running_left_time * 0.5)``;
#: the official Blender add-on the same); neither do we by default.
DEFAULT_POLL_MIN = 2.0
DEFAULT_POLL_MAX = 30.0
#: Seconds added to a short ETA when the next poll aims at the predicted end (``running_left_time`` is whole
#: seconds, rounded up: the task ends within the second before it).
ETA_MARGIN = 0.1
#: Batch polls (v3 tasks/list: one request for every waiting task) are at least this far apart (seconds) ...
ROUND_GAP_MIN = 0.2
#: ... unless jobs wait for a pool slot: then at least this far apart, within the :class:`RoundBudget`.
BUDGET_GAP_MIN = 0.05
#: While jobs wait for a pool slot, a task of a type never seen ending is first asked about at this age, then every
#: FIRST_STEP s until the 2 s rhythm: one request for every task created about then (see :class:`RoundBudget`).
FIRST_ASK = 0.5
FIRST_STEP = 0.25
#: Task durations remembered per task type (see :class:`Durations`).
DURATIONS_KEPT = 20


def next_poll_delay(
    status: str,
    *,
    running_left_time: float | None = None,
    progress: int | None = None,
    queuing_num: int | None = None,
    idle_polls: int = 0,
    poll_min: float = DEFAULT_POLL_MIN,
    poll_max: float = DEFAULT_POLL_MAX,
    finish_left: float | None = None,
) -> float:
    """Seconds until the next poll of a task that is not final yet.

    - With an ETA (``running_left_time`` > 0): half of it, so the poll lands near the end without hammering; once
      halving would fall to ``poll_min`` (ETA <= 2 * poll_min), aim at the predicted end instead (ETA +
      :data:`ETA_MARGIN`): one poll catches the finish, never faster than ``poll_min``. ``finish_left`` (from a
      :class:`FinishWindow`) sharpens that aim; the halving itself always follows the reading, as the official
      clients do.
    - Running without an ETA: start at ``poll_min`` and double with every poll that brought no change
      (``idle_polls``); past 90 % progress stay at the fast end.
    - Queued with a queue position and no ETA: at least ``poll_min * 2 * (position + 1)``: a task far down the queue
      moves slowly. When Tripo gives an ETA for a queued task, the ETA (which includes the wait) decides.
    - ``unknown`` (or anything else): exponential back-off like a task without an ETA.

    The result is always within ``[poll_min, poll_max]``.
    """
    poll_min = max(0.0, float(poll_min))
    poll_max = max(poll_min, float(poll_max))
    backoff = poll_min * (2 ** min(max(int(idle_polls), 0), 16))
    if running_left_time is not None and running_left_time > 0:
        eta = float(running_left_time)
        if eta <= 2 * poll_min:
            aim = finish_left if finish_left is not None and 0 < finish_left <= eta else eta
            delay = aim + ETA_MARGIN
        else:
            delay = eta * 0.5
    elif status == "running" and progress is not None and progress >= 90:
        delay = poll_min
    else:
        delay = backoff
    if status == "queued" and not (running_left_time is not None and running_left_time > 0):
        if queuing_num is not None and queuing_num > 0:
            delay = max(delay, poll_min * 2 * (min(int(queuing_num), 50) + 1))
        else:
            delay = max(delay, poll_min)
    return max(poll_min, min(poll_max, delay))


class FinishWindow:
    """When a task will end, from its whole-second ``running_left_time`` readings.

    A reading ``e`` taken at ``t`` (seconds, rounded up by Tripo) says the task ends in ``(t + e - 1, t + e]``.
    Intersecting the readings of successive polls narrows that window to a fraction of a second, so the poll aimed at
    the end lands just after it instead of up to a second late. A reading that does not fit the window (the estimate
    moved) starts a new window from that reading alone; an ETA that is only an estimate thus behaves as before.
    """

    def __init__(self) -> None:
        self.lo: float | None = None
        self.hi: float | None = None

    def update(self, running_left_time: float | None, now: float) -> None:
        if running_left_time is None or running_left_time <= 0:
            return
        lo, hi = now + float(running_left_time) - 1.0, now + float(running_left_time)
        if self.lo is None or self.hi is None or lo >= self.hi or hi <= self.lo:
            self.lo, self.hi = lo, hi
        else:
            self.lo, self.hi = max(self.lo, lo), min(self.hi, hi)

    def left(self, now: float) -> float | None:
        """Seconds until the latest possible end (an ETA for :func:`next_poll_delay`), or None without readings."""
        if self.hi is None:
            return None
        return max(0.01, self.hi - now)


class Durations:
    """How long tasks of each type take, learned from the tasks followed in this session, for APIs that give no ETA
    (v3). A task seen running at age ``a`` and done at age ``b`` took between ``a`` and ``b``; the window of the
    recent ones, ``(shortest lower bound, longest upper bound)``, is where the next task of that type likely ends,
    so the poller can ask about it around then instead of on the 2 s rhythm. Thread-safe enough: appends and copies
    of small deques."""

    def __init__(self, keep: int = DURATIONS_KEPT) -> None:
        self.keep = int(keep)
        self._seen: dict[str, deque[tuple[float, float]]] = {}
        self._running: dict[str, float] = {}

    def record(self, task_type: str, running_at: float | None, done_by: float) -> None:
        """A task of ``task_type`` was last seen running at age ``running_at`` (None: never) and done at ``done_by``."""
        if done_by <= 0 or not task_type:
            return
        lo = min(max(0.0, running_at or 0.0), done_by)
        self._seen.setdefault(task_type, deque(maxlen=self.keep)).append((lo, float(done_by)))

    def seen_running(self, task_type: str, age: float) -> None:
        """A task of ``task_type`` was still running at ``age`` s (once one ran past 2 s, first asks stop)."""
        if task_type and age > self._running.get(task_type, 0.0):
            if len(self._running) >= 256:
                self._running.pop(next(iter(self._running)))
            self._running[task_type] = float(age)

    def running_floor(self, task_type: str) -> float:
        """The oldest age a task of this type was seen still running at (0 when none)."""
        return self._running.get(task_type, 0.0)

    def window(self, task_type: str) -> tuple[float, float] | None:
        """``(lo, hi)`` ages (seconds since creation) within which a task of this type probably ends; None until
        one was seen ending. Loose readings (a task first asked long after it ended) do not widen ``lo`` once tight
        ones exist."""
        seen = list(self._seen.get(task_type) or ())
        if not seen:
            return None
        tight = [a for a, b in seen if _tight(a, b)] or [a for a, _b in seen]
        return min(tight), max(b for _a, b in seen)

    def expected(self, task_type: str) -> float | None:
        """The age by which a task of this type is done, when the readings agree on one duration: most tasks were
        seen running until just before it and done just after it (the 80th percentile of "last seen running" is
        not past the 20th of "first seen done"). None when they vary too much for that, or fewer than
        :data:`EXPECTED_MIN` tight readings exist: then polling rides the window's rounds instead."""
        seen = [(a, b) for a, b in (self._seen.get(task_type) or ()) if _tight(a, b)]
        if len(seen) < EXPECTED_MIN:
            return None
        lo = _quantile(sorted(a for a, _b in seen), 0.8)
        hi = _quantile(sorted(b for _a, b in seen), 0.2)
        return hi if lo <= hi else None


#: tight readings needed before :meth:`Durations.expected` aims a poll at the end they agree on
EXPECTED_MIN = 3


def _tight(lo: float, hi: float) -> bool:
    """A reading that pins the end down: seen running within the last half of its age at the end."""
    return hi > 0 and hi - lo <= 0.5 * hi


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, max(0, int(q * len(values))))]


def round_gap(waiting: int, poll_min: float = DEFAULT_POLL_MIN) -> float:
    """The shortest time between two batch polls (v3 ``tasks/list``) of ``waiting`` tasks: never more requests than
    polling each task every ``poll_min`` would make (the official clients' rule), and at most 1 / ROUND_GAP_MIN a
    second."""
    return max(ROUND_GAP_MIN, poll_min / max(1, int(waiting)))


class RoundBudget:
    """The batch polls the hub may make: never more than polling each followed task on its own every ``poll_min``
    would (its first ask, then one per ``poll_min`` while it waits), spent when a round is useful rather than on a
    fixed rhythm; never two rounds closer than :data:`BUDGET_GAP_MIN`. Not thread-safe: the hub holds its lock."""

    def __init__(self, poll_min: float = DEFAULT_POLL_MIN, gap_min: float = BUDGET_GAP_MIN) -> None:
        self.poll_min = max(0.01, float(poll_min))
        self.gap_min = float(gap_min)
        self.tokens = 0.0
        self._at: float | None = None
        self._last = -math.inf

    def _cap(self, waiting: int) -> float:
        return float(max(2, waiting))

    def accrue(self, now: float, waiting: int) -> None:
        """``waiting`` tasks were followed since the last call: each earns a round every ``poll_min``."""
        if self._at is not None and now > self._at:
            self.tokens = min(self._cap(waiting), self.tokens + (now - self._at) * max(0, waiting) / self.poll_min)
        self._at = now if self._at is None else max(self._at, now)

    def first_ask(self, waiting: int) -> None:
        """A task the hub never asked about: its own first poll is part of the budget."""
        self.tokens = min(self._cap(waiting), self.tokens + 1.0)

    def ready_at(self, now: float, waiting: int) -> float:
        """The earliest monotonic time the next round may start."""
        self.accrue(now, waiting)
        t = max(now, self._last + self.gap_min)
        if self.tokens >= 1.0:
            return t
        rate = max(1, waiting) / self.poll_min
        return max(t, now + (1.0 - self.tokens) / rate)

    def spend(self, now: float) -> None:
        self.tokens -= 1.0
        self._last = now


def first_ask_at(created: float, after: float, poll_min: float = DEFAULT_POLL_MIN, *, first: float = FIRST_ASK,
                 step: float = FIRST_STEP) -> float:
    """The monotonic time of the next early ask of a task of a type never seen ending, created at ``created`` and
    last asked at ``after`` (-inf: never): from ``first`` s of age on, every ``step`` s on a grid all tasks share
    (tasks created about then share each round), while its age is under ``poll_min``; inf after that."""
    step = max(0.01, float(step))
    t = max(created + max(0.0, first), after + 0.5 * step)
    at = math.ceil(t / step) * step
    return at if at - created < poll_min else math.inf


#: Longest wait a ``Retry-After`` may ask for (seconds); longer (or infinite) values are cut to it.
RETRY_AFTER_MAX = 3600.0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), within 0..RETRY_AFTER_MAX; None when
    absent or unreadable (``Infinity``, ``NaN``, absurd values and garbage included)."""
    if not isinstance(value, str):
        return None
    value = value.strip()[:64]
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        try:
            seconds = when.timestamp() - (time.time() if now is None else now)
        except (OverflowError, OSError, ValueError):
            return None
    return bounded_seconds(seconds)


def bounded_seconds(value: object, cap: float = RETRY_AFTER_MAX) -> float | None:
    """A finite number of seconds within 0..cap, or None (bools, NaN, infinities, non-numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        f = float(value)
    except (OverflowError, ValueError):
        return None
    if not math.isfinite(f):
        return None
    return max(0.0, min(f, float(cap)))


def retry_delay(
    attempt: int,
    *,
    base: float = 0.5,
    cap: float = 20.0,
    retry_after: float | None = None,
    retry_after_cap: float = 30.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before retry number ``attempt`` (1-based).

    Exponential back-off with full jitter: uniform in ``[0, min(cap, base * 2**(attempt-1))]``. When the server sent
    ``Retry-After`` (capped at ``retry_after_cap``) it is a floor and that jitter comes on top: many clients told the
    same Retry-After (200 jobs refused at once) must not all come back in the same instant.
    """
    ceiling = min(cap, base * (2 ** min(max(0, attempt - 1), 30)))
    retry_after = bounded_seconds(retry_after)
    if retry_after is not None:
        floor = max(0.0, min(retry_after, retry_after_cap))
        return floor + max(0.0, max(ceiling, 0.5 * floor) * rand())  # up to half of Retry-After on top
    return max(0.0, ceiling * rand())


#: The wait for a free slot on a busy account (429/2000: nothing was created) starts here and doubles up to the cap.
BUSY_BASE = 2.0
BUSY_CAP = 60.0


def busy_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = BUSY_BASE,
    cap: float = BUSY_CAP,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before creating again after the account was busy ``attempt`` times in a row (429/2000).

    Growing and jittered: ``base * 2**(attempt-1)`` (at most ``cap``) scaled by a random factor in [0.5, 1.5), never
    less than ``Retry-After`` plus a jitter of up to half the step, so jobs refused together spread out.
    """
    step = min(cap, base * (2 ** min(max(0, attempt - 1), 20)))
    delay = step * (0.5 + rand())
    retry_after = bounded_seconds(retry_after)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, cap) + 0.5 * step * rand())
    return max(0.0, delay)
