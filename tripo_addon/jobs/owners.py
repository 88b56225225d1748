"""The owner registry: which job owns each Tripo task id this installation has seen. No bpy, thread-safe.

One place answers "who follows this task?" for the engine (a create's answer, Attach, Retry, Remove) and for
recovery (a task in the account history is a lost create's only if nobody here knows it). An id is

- *owned* by a live job (its current task, or an older one it retried away from: still its own);
- a *tombstone*: its job was removed (or the id was retired); kept so recovery never hands it to another job;
- *foreign*: another Blender's journal follows it (that instance owns it).

Bounds: tombstones and foreign ids are kept for :data:`KEEP_SECONDS` (30 days) and at most :data:`MAX_IDS`
(100,000) each, oldest dropped first; creates in flight are kept for :data:`IN_FLIGHT_SECONDS` (7 days) and at most
:data:`MAX_IN_FLIGHT`. Live owners are never dropped (they are bounded by the jobs themselves).

A create the user *dismissed* (Refresh History listed its possible tasks; the user checked and wants none of them) is
never listed or attached by recovery again; the create itself stays recorded (in flight, earlier, or its job's step):
a dismissal only hides it. Dismissals are kept :data:`KEEP_SECONDS` and at most :data:`MAX_DISMISSED`, oldest first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

#: Tombstones, foreign ids and released job ids are forgotten after this long (seconds).
KEEP_SECONDS = 30 * 24 * 3600.0
#: ... and at most this many of each are kept (the oldest go first).
MAX_IDS = 100_000
#: A create whose answer was never seen is remembered this long (seconds) ...
IN_FLIGHT_SECONDS = 7 * 24 * 3600.0
#: ... and at most this many of them.
MAX_IN_FLIGHT = 10_000
#: Most dismissed creates kept (the oldest dismissal goes first; each is also forgotten after :data:`KEEP_SECONDS`).
MAX_DISMISSED = 10_000
#: Longest task or job id accepted from a journal file (anything longer is dropped as garbage).
MAX_ID_CHARS = 200
#: ``to_json`` format version.
VERSION = 1


def _ok_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS


def _ok_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e11


class Owners:
    """Which job owns each task id this installation has seen (live, archived, removed, retried, other instance)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, keep_seconds: float = KEEP_SECONDS,
                 max_ids: int = MAX_IDS) -> None:
        self._clock = clock
        self._keep = float(keep_seconds)
        self._max = max(1, int(max_ids))
        self._lock = threading.RLock()
        self._owner: dict[str, str] = {}  # task id -> live job id
        self._tasks: dict[str, list[str]] = {}  # live job id -> its task ids, oldest first
        self._tombs: OrderedDict[str, tuple[str, float]] = OrderedDict()  # task id -> (job id, when), oldest first
        self._released: OrderedDict[str, float] = OrderedDict()  # removed job id -> when
        self._foreign: OrderedDict[str, float] = OrderedDict()  # task id -> when last seen in another journal
        self._flight: dict[tuple[str, int], float] = {}  # (job id, step) -> sent_at
        #: earlier creates of a step sent again (Retry) before their answer was seen: (job id, step, sent_at)
        self._earlier: dict[tuple[str, int, float], float] = {}
        #: creates the user dismissed from the history's list: (job id, step, sent_at in ms) -> (sent_at, when)
        self._dismissed: OrderedDict[tuple[str, int, int], tuple[float, float]] = OrderedDict()
        #: called (outside the lock) after a change that must reach the disk soon (a dismissal): the book writes it
        self.on_change: Callable[[], None] | None = None

    # -- owning ---------------------------------------------------------------------------------------------------

    def claim(self, task_id: str, job_id: str) -> str | None:
        """Make ``job_id`` the owner of ``task_id``. None = claimed (or already ours); else the owner (refused).

        A tombstone or a foreign id may be claimed (the user attached it on purpose; recovery never does, it asks
        :meth:`known` first). A claim for a job already released goes straight to a tombstone (a create of a removed
        job whose answer arrived late: its task stays known).
        """
        with self._lock:
            owner = self._owner.get(task_id)
            if owner is not None:
                return None if owner == job_id else owner
            if job_id in self._released:
                self._tomb(task_id, job_id)
                return None
            self._tombs.pop(task_id, None)
            self._foreign.pop(task_id, None)
            self._owner[task_id] = job_id
            self._tasks.setdefault(job_id, []).append(task_id)
            return None

    def owner(self, task_id: str) -> str | None:
        """The live job owning ``task_id``, or None (unknown, tombstone or foreign)."""
        with self._lock:
            return self._owner.get(task_id)

    def tasks(self, job_id: str) -> list[str]:
        """The task ids ``job_id`` owns, oldest first."""
        with self._lock:
            return list(self._tasks.get(job_id, ()))

    def release(self, job_id: str, *, tombstone: bool = True) -> None:
        """The job is removed: its ids stay known as tombstones (or are forgotten with ``tombstone=False``).

        With a tombstone its creates in flight are kept, so recovery can still find (and tombstone) their tasks.
        """
        with self._lock:
            for task_id in self._tasks.pop(job_id, []):
                self._owner.pop(task_id, None)
                if tombstone:
                    self._tomb(task_id, job_id)
            if tombstone:
                self._released.pop(job_id, None)
                self._released[job_id] = self._clock()
                self._trim(self._released)
            else:
                for key in [k for k in self._flight if k[0] == job_id]:
                    del self._flight[key]
                for key3 in [k for k in self._earlier if k[0] == job_id]:
                    del self._earlier[key3]
                for key4 in [k for k in self._dismissed if k[0] == job_id]:
                    del self._dismissed[key4]

    def retire(self, task_id: str) -> None:
        """Forget that a live job owns ``task_id`` but keep the id known as its tombstone."""
        with self._lock:
            job_id = self._owner.pop(task_id, None)
            if job_id is None:
                return
            ids = self._tasks.get(job_id, [])
            if task_id in ids:
                ids.remove(task_id)
            if not ids:
                self._tasks.pop(job_id, None)
            self._tomb(task_id, job_id)

    def known(self, task_id: str) -> bool:
        """Owned, tombstoned or foreign (another instance's journal): never a lost create's task."""
        with self._lock:
            self._expire()
            return task_id in self._owner or task_id in self._tombs or task_id in self._foreign

    def why(self, task_id: str) -> str | None:
        """One sentence saying who knows ``task_id`` (for candidate lists), or None when nobody here does."""
        with self._lock:
            self._expire()
            if task_id in self._owner:
                return f"followed by job {self._owner[task_id]}"
            if task_id in self._tombs:
                return f"belonged to job {self._tombs[task_id][0]}, which was removed or retried"
            if task_id in self._foreign:
                return "followed by another Blender"
            return None

    def add_foreign(self, task_ids: Iterable[str]) -> None:
        """Ids another instance's journal follows (refreshed each time they are seen; owned ids stay ours)."""
        with self._lock:
            now = self._clock()
            for task_id in task_ids:
                if not _ok_id(task_id) or task_id in self._owner:
                    continue
                self._foreign.pop(task_id, None)
                self._foreign[task_id] = now
            self._trim(self._foreign)

    # -- creates in flight ----------------------------------------------------------------------------------------

    def in_flight(self, job_id: str, step: int, sent_at: float) -> None:
        """A create was sent for ``job_id``'s ``step`` at ``sent_at`` (local time); no answer seen yet.

        A create of the same step still in flight (its answer was lost, and Retry sends the step again) is kept as an
        *earlier* create: its task may exist, and recovery lists it (never overwritten, never landed by the new one).
        """
        with self._lock:
            key = (job_id, int(step))
            old = self._flight.get(key)
            if old is not None and old != float(sent_at):
                self._earlier[(job_id, int(step), old)] = old
                _cap(self._earlier)
            self._flight[key] = float(sent_at)
            _cap(self._flight)

    def landed(self, job_id: str, step: int) -> None:
        """The answer to that create was seen (a task id, or a refusal that created nothing)."""
        with self._lock:
            self._flight.pop((job_id, int(step)), None)

    def creates_in_flight(self) -> list[tuple[str, int, float]]:
        """``(job_id, step, sent_at)`` of every create whose answer was never seen (earlier creates of a step sent
        again included: their ``sent_at`` differs from the step's own), oldest first."""
        with self._lock:
            self._expire()
            rows = [(j, s, t) for (j, s), t in self._flight.items()] + list(self._earlier)
            return sorted(rows, key=lambda x: (x[2], x[0], x[1]))

    def released(self, job_id: str) -> bool:
        """Whether ``job_id`` was removed (its ids are tombstones)."""
        with self._lock:
            return job_id in self._released

    # -- dismissed creates ----------------------------------------------------------------------------------------

    def dismiss(self, job_id: str, step: int, sent_at: float) -> None:
        """The user dismissed the create sent at ``sent_at`` (local time) for ``job_id``'s ``step``: recovery never
        lists or attaches it again. What was sent stays recorded (its task may exist); only the listing stops."""
        if not _ok_create([job_id, step, sent_at]):
            raise ValueError(f"not a create: {job_id!r} step {step!r} sent at {sent_at!r}")
        with self._lock:
            key = _dkey(job_id, step, sent_at)
            self._dismissed.pop(key, None)
            self._dismissed[key] = (float(sent_at), self._clock())
            self._trim(self._dismissed, MAX_DISMISSED)
        hook = self.on_change
        if hook is not None:
            hook()

    def dismissed(self, job_id: str, step: int, sent_at: float) -> bool:
        """Whether the user dismissed that create (see :meth:`dismiss`)."""
        if not _ok_create([job_id, step, sent_at]):
            return False
        with self._lock:
            self._expire()
            return _dkey(job_id, step, sent_at) in self._dismissed

    # -- storage --------------------------------------------------------------------------------------------------

    def to_json(self) -> dict:
        """A JSON-able snapshot (ids and times only: no keys, no prompts)."""
        with self._lock:
            self._expire()
            return {
                "version": VERSION,
                "owners": {job: list(ids) for job, ids in self._tasks.items()},
                "tombstones": [[t, j, w] for t, (j, w) in self._tombs.items()],
                "released": [[j, w] for j, w in self._released.items()],
                "foreign": [[t, w] for t, w in self._foreign.items()],
                "in_flight": [[j, s, t] for (j, s), t in self._flight.items()],
                "earlier": [[j, s, t] for (j, s, t) in self._earlier],
                "dismissed": [[j, s, t, w] for (j, s, _ms), (t, w) in self._dismissed.items()],
            }

    @classmethod
    def from_json(cls, data: dict, **kwargs: Any) -> Owners:
        """Rebuild from :meth:`to_json`. Malformed entries are skipped (a damaged file never raises here)."""
        return cls(**kwargs).merge(data)

    def merge(self, data: dict) -> Owners:
        """Add what a :meth:`to_json` snapshot holds (another Blender instance's registry, adopted with its jobs):
        its owners, tombstones, removed jobs, foreign ids, creates in flight or sent before Retry, and dismissals.
        A live owner here keeps its ids. Malformed entries are skipped; the bounds hold after it."""
        if not isinstance(data, dict):
            return self
        owners = data.get("owners")
        if isinstance(owners, dict):
            for job, ids in list(owners.items())[:MAX_IN_FLIGHT * 10]:
                if _ok_id(job) and isinstance(ids, list):
                    for task_id in ids[:1000]:
                        if _ok_id(task_id):
                            self.claim(task_id, job)
        with self._lock:
            for row in _rows(data.get("released"), 2, self._max):
                if _ok_id(row[0]) and _ok_time(row[1]):
                    self._released[row[0]] = max(float(row[1]), self._released.get(row[0], 0.0))
            for row in _rows(data.get("tombstones"), 3, self._max):
                if _ok_id(row[0]) and _ok_id(row[1]) and _ok_time(row[2]) and row[0] not in self._owner:
                    self._tombs[row[0]] = (row[1], float(row[2]))
            for row in _rows(data.get("foreign"), 2, self._max):
                if (_ok_id(row[0]) and _ok_time(row[1]) and row[0] not in self._owner
                        and row[0] not in self._tombs):
                    self._foreign[row[0]] = float(row[1])
            for row in _rows(data.get("in_flight"), 3, MAX_IN_FLIGHT):
                if _ok_create(row):
                    self._flight[(row[0], row[1])] = float(row[2])
            for row in _rows(data.get("earlier"), 3, MAX_IN_FLIGHT):
                if _ok_create(row):
                    self._earlier[(row[0], row[1], float(row[2]))] = float(row[2])
            for row in _rows(data.get("dismissed"), 4, MAX_DISMISSED):
                if _ok_create(row[:3]) and _ok_time(row[3]):
                    self._dismissed[_dkey(row[0], row[1], row[2])] = (float(row[2]), float(row[3]))
            for od in (self._tombs, self._released, self._foreign, self._dismissed):
                _sort(od)
            for od in (self._tombs, self._released, self._foreign):
                self._trim(od)
            self._trim(self._dismissed, MAX_DISMISSED)
            _cap(self._flight)
            _cap(self._earlier)
            self._expire()
        return self

    # -- internals ------------------------------------------------------------------------------------------------

    def _tomb(self, task_id: str, job_id: str) -> None:
        self._foreign.pop(task_id, None)
        self._tombs.pop(task_id, None)
        self._tombs[task_id] = (job_id, self._clock())
        self._trim(self._tombs)

    def _trim(self, od: OrderedDict, limit: int | None = None) -> None:
        """Drop the oldest entries beyond ``limit`` (default: the registry's id bound)."""
        while len(od) > (self._max if limit is None else limit):
            od.popitem(last=False)

    def _expire(self) -> None:
        cutoff = self._clock() - self._keep
        while self._tombs and next(iter(self._tombs.values()))[1] < cutoff:
            self._tombs.popitem(last=False)
        for od in (self._released, self._foreign):
            while od and next(iter(od.values())) < cutoff:
                od.popitem(last=False)
        while self._dismissed and next(iter(self._dismissed.values()))[1] < cutoff:
            self._dismissed.popitem(last=False)
        old = self._clock() - IN_FLIGHT_SECONDS
        for key in [k for k, t in self._flight.items() if t < old]:
            del self._flight[key]
        for key3 in [k for k, t in self._earlier.items() if t < old]:
            del self._earlier[key3]


def _ok_create(row: list[Any]) -> bool:
    """A journaled create in flight: ``[job id, step index, send time]``."""
    return (_ok_id(row[0]) and isinstance(row[1], int) and not isinstance(row[1], bool) and 0 <= row[1] < 1000
            and _ok_time(row[2]))


def _dkey(job_id: str, step: int, sent_at: float) -> tuple[str, int, int]:
    """A dismissed create's key: its send time to the millisecond (a float read back from JSON or a UI string)."""
    return job_id, int(step), round(float(sent_at) * 1000)


def _cap(d: dict) -> None:
    """Keep the :data:`MAX_IN_FLIGHT` newest entries (values are send times)."""
    if len(d) > MAX_IN_FLIGHT:
        for key, _ in sorted(d.items(), key=lambda kv: kv[1])[:len(d) - MAX_IN_FLIGHT]:
            del d[key]


def _rows(value: Any, width: int, limit: int) -> list[list[Any]]:
    if not isinstance(value, list):
        return []
    return [r for r in value[-limit:] if isinstance(r, list) and len(r) == width]


def _sort(od: OrderedDict) -> None:
    """Order by time (files written by hand or by an older version may not be)."""
    def when(item: tuple[Any, Any]) -> float:
        v = item[1]
        return v[1] if isinstance(v, tuple) else v
    items = sorted(od.items(), key=when)
    od.clear()
    od.update(items)
