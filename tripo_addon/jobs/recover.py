"""Find the task of a create whose answer was lost (or that was in flight when Blender died). No bpy, no sending.

A task in the account's history (v3 ``account/usage``) is a lost create's task only when **all** of these hold:

1. it has the step's task type;
2. Tripo created it after the request was sent and before the answer was lost, in *Tripo's* clock: the local send
   time plus the clock offset read from Tripo's ``Date`` header (:attr:`ApiSession.server_offset`), never the local
   clock alone. Slack: :data:`BEFORE` seconds before the send, :data:`LATE` after the loss (both headers and
   ``created_at`` have a one-second resolution); when the loss time is unknown (a crash) :data:`AFTER` after the send;
3. nobody here knows it (:meth:`Owners.known`: no live job, no removed or retried job, no other Blender's journal);
4. the input Tripo echoes (``input`` of the v3 task: type, prompt, model, input ids and file tokens) equals what was
   sent, field by field (:func:`compare`);
5. it is the only such task for that step, and no other step here (lost or still being sent) could have made it.

A create the user dismissed (:meth:`Owners.dismissed`: they checked and want none of its possible tasks) is neither
listed nor attached again, but it still competes for the tasks of the others (a dismissal says nothing about whose a
task is).

Anything less certain is listed as a :class:`Candidate` with the reason, for the user to pick; never attached. A
task that contradicts what was sent (another prompt, another input) is not even listed. The main thread checks the
registry again just before attaching (:func:`still_free`): it may have changed while the history was read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api.errors import TripoValidationError
from ..api.params import check_task_id
from .sent import IDENTITY, MAX_SENT_BODY, MODEL, _num, _sent_of, compare, sent_record

__all__ = ["AFTER", "BEFORE", "IDENTITY", "LATE", "MAX_SENT_BODY", "MODEL", "Candidate", "Finding", "Lost",
           "attach_notice", "compare", "find", "is_dismissed", "lost_steps", "match", "read_history", "same_identity",
           "sent_record", "settle", "still_free"]

#: Seconds (Tripo's clock) a task's ``created_at`` may precede the send: the ``Date`` header and ``created_at`` are
#: whole seconds, so the send time is known to about a second.
BEFORE = 2.0
#: Seconds (Tripo's clock) after the loss was seen during which a task still counts (same resolution reason).
LATE = 2.0
#: When the moment of the loss is unknown (Blender died with the create in flight): the window closes this long
#: after the send (the client gives up on an answer well before: timeouts 60 s, back-offs bounded).
AFTER = 180.0
#: Most history pages read for one recovery round (newest first), and their size.
MAX_PAGES = 5
PAGE = 100
#: Most tasks looked at in detail (their echoed input) in one round.
MAX_DETAILS = 200


@dataclass(frozen=True)
class Lost:
    """A step that may have created a task: a lost answer (``lost``) or a create still in flight (``sending``)."""

    job_id: str
    step: int
    task_type: str
    sent_at: float  # Tripo's clock
    body: Mapping[str, Any] | None = None  # what was sent (the wire body), None when not recorded
    until: float | None = None  # Tripo's clock: when the answer was given up on (None: unknown)
    title: str = ""
    #: "lost": may be attached; "sending": its answer may still come; "removed": the job is gone; "earlier": a create
    #: of the step before Retry sent it again (the last two are only listed, never attached)
    kind: str = "lost"
    #: the local send time, as the job and the owner registry record it (the create's key for :func:`is_dismissed`)
    at: float | None = None

    def window(self) -> tuple[float, float]:
        hi = self.until + LATE if self.until is not None else self.sent_at + AFTER
        return self.sent_at - BEFORE, min(hi, self.sent_at + AFTER)


@dataclass(frozen=True)
class Candidate:
    """A task that may be a lost step's, and why it was not attached by itself."""

    task_id: str
    created: float | None
    reason: str


@dataclass
class Finding:
    """What the history says about one lost step: ``found`` (attach it) or ``candidates`` (the user decides)."""

    lost: Lost
    found: Any | None = None  # the Task (api.models.Task) to attach
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)  # tasks that cannot be this step's (kept for tests/logs)


# ---------------------------------------------------------------------------------------------------- lost steps
def lost_steps(snapshots: Iterable[Mapping[str, Any]], *, offset: float | None = None,
               in_flight: Iterable[tuple[str, int, float]] = (), removed: Callable[[str], bool] | None = None,
               ) -> list[Lost]:
    """Every step that was sent and has no task id: lost answers (the step ``needs_attention``) may be attached;
    steps still ``submitting`` compete for the same tasks. ``in_flight``: :meth:`Owners.creates_in_flight` (creates
    of jobs that died with Blender or were removed). ``offset``: Tripo's clock minus ours now, used for steps that did
    not record their own."""
    out: list[Lost] = []
    seen: set[tuple[str, int]] = set()
    snaps = {str(s.get("id")): s for s in snapshots if isinstance(s, Mapping)}
    for job_id, snap in snaps.items():
        steps = snap.get("steps") or []
        for idx, step in enumerate(steps):
            if not isinstance(step, Mapping) or step.get("task_id") or not step.get("task_type"):
                continue
            state = step.get("state")
            if state not in ("needs_attention", "submitting"):
                continue
            lost = _lost_of(snap, idx, step, offset, "lost" if state == "needs_attention" else "sending")
            if lost is not None:
                out.append(lost)
                seen.add((job_id, idx))
    for job_id, idx, at in in_flight:
        snap = snaps.get(job_id)
        gone = snap is None or bool(removed and removed(job_id))
        step = (snap.get("steps") or [])[idx] if snap and 0 <= idx < len(snap.get("steps") or []) else None
        if step is not None and _num(at) and _earlier(step, float(at)):
            # a create sent before this step was sent again (Retry) whose answer never came: its task may exist
            out.append(Lost(job_id, idx, str(step.get("task_type") or ""), float(at) + (offset or 0.0), None,
                            title=str(snap.get("title") or ""), kind="earlier", at=float(at)))
            continue
        if (job_id, idx) in seen:
            continue
        if step is not None and step.get("task_id"):
            continue
        if step is not None:
            lost = _lost_of(snap, idx, step, offset, "lost" if step.get("state") != "submitting" else "sending")
            if lost is not None:
                out.append(lost)
                continue
        if gone and _num(at):
            out.append(Lost(job_id, idx, "", float(at) + (offset or 0.0), None, kind="removed", at=float(at)))
    return out


def _earlier(step: Mapping[str, Any], at: float) -> bool:
    """Whether a create in flight sent at ``at`` (local clock) is an earlier one than the step's last send."""
    _body, last, _off, _exact = _sent_of(step)
    return last is not None and abs(last - at) > 1e-3 and at < last


def _lost_of(snap: Mapping[str, Any], idx: int, step: Mapping[str, Any], offset: float | None,
             kind: str) -> Lost | None:
    body, at, off, exact = _sent_of(step)
    if at is None:
        return None
    off = off if off is not None else offset
    if off is None:
        off = 0.0  # no answer from Tripo yet at all: the local clock is all there is (the window stays small)
    sent = step.get("sent") if isinstance(step.get("sent"), Mapping) else {}
    lost_at = sent.get("lost_at") if isinstance(sent, Mapping) else None
    if not _num(lost_at) and kind == "lost" and _num(snap.get("updated")) and snap["updated"] >= at:
        lost_at = snap["updated"]  # not recorded: the job changed last when it stopped (later changes only widen)
    until = float(lost_at) + off if _num(lost_at) else None
    if not exact and body is not None:
        body = dict(body, __partial__=True)
    return Lost(str(snap.get("id")), idx, str(step["task_type"]), at + off, body, until,
                str(snap.get("title") or ""), kind, at)


# ---------------------------------------------------------------------------------------------------- matching
def read_history(usage: Callable[[int, int], list[Any]], since: float) -> list[Any]:
    """History rows newer than ``since`` (Tripo's clock; pages of :data:`PAGE`, newest first, at most
    :data:`MAX_PAGES`)."""
    rows: list[Any] = []
    for page in range(MAX_PAGES):
        batch = usage(PAGE, page * PAGE)
        rows.extend(batch)
        if len(batch) < PAGE or any(r.created is not None and r.created < since for r in batch):
            break
    return rows


def match(lost: list[Lost], tasks: Mapping[str, Any], known: Callable[[str], bool],
          rows: Iterable[Any] = ()) -> list[Finding]:
    """Decide, for every attachable lost step, which task is its own (see the module's rules). ``tasks``: task id ->
    ``api.models.Task`` (with its echoed input); ``rows``: the history rows (a row whose task Tripo no longer shows is
    a candidate at most)."""
    # "lost", "earlier" and "removed" steps list their candidates; only "lost" ones may have one attached
    findings = {_key(x): Finding(x) for x in lost if x.kind in LISTED}
    # every (lost step, task) pair that is certain, to find the tasks claimed by two steps
    sure: dict[str, list[tuple[str, int]]] = {}
    unsure_by: dict[str, list[Lost]] = {}
    shown = dict(tasks)
    for r in rows:
        if r.task_id not in shown:
            shown[r.task_id] = None
    for task_id, task in shown.items():
        if known(task_id):
            continue
        created = task.created if task is not None else _row_created(rows, task_id)
        ttype = task.type if task is not None else _row_type(rows, task_id)
        for x in lost:
            if x.task_type and ttype != x.task_type:
                continue
            lo, hi = x.window()
            if created is None or not lo <= created <= x.sent_at + AFTER:
                continue
            f = findings.get(_key(x))
            if task is None:
                if f is not None:
                    f.candidates.append(Candidate(task_id, created, "Tripo does not show this task (it may not exist "
                                                                    "any more)"))
                continue
            if x.kind == "removed":
                verdict, why = "unsure", "the job it may belong to was removed"
            elif x.kind == "earlier":
                verdict, why = "unsure", (f"an earlier request of step {x.step + 1}, sent again by Retry before its "
                                          "answer came, may have made it")
            else:
                body = dict(x.body) if x.body is not None else None
                exact = body is None or not body.pop("__partial__", False)
                verdict, why = compare(body, task.input, exact=exact)
            if verdict == "other":
                if f is not None:
                    f.rejected.append(Candidate(task_id, created, why))
                continue
            if created > hi:
                verdict, why = "unsure", f"created {created - x.sent_at:.0f} s after the request, after its answer " \
                                         "was lost"
            if verdict == "same" and x.kind == "lost":
                sure.setdefault(task_id, []).append(_key(x))
            else:
                unsure_by.setdefault(task_id, []).append(x)
                if f is not None:
                    f.candidates.append(Candidate(task_id, created, why or "it may be the create of a job that is "
                                                                           "still being sent"))
    mine: dict[tuple[str, int], list[str]] = {}
    for task_id, claimants in sure.items():
        rivals = [x for x in unsure_by.get(task_id, []) if _key(x) not in claimants]
        created = shown[task_id].created
        for key in claimants:
            if len(claimants) > 1:
                findings[key].candidates.append(Candidate(task_id, created, "another lost request here sent the "
                                                                            "same input"))
            elif rivals:
                r = rivals[0]
                who = "a removed job" if r.kind == "removed" else f"job {r.title or r.job_id}"
                if r.kind == "earlier":
                    who = f"an earlier request of job {r.title or r.job_id}"
                findings[key].candidates.append(Candidate(task_id, created, f"{who} may have made it (its request "
                                                                            "was being sent then too)"))
            else:
                mine.setdefault(key, []).append(task_id)
    for key, ids in mine.items():
        f = findings[key]
        if len(ids) == 1:
            f.found = shown[ids[0]]
        else:
            f.candidates += [Candidate(t, shown[t].created, f"{len(ids)} tasks match this request") for t in ids]
    for f in findings.values():
        if f.found is not None:
            f.candidates = [c for c in f.candidates if c.task_id != f.found.task_id]
        f.candidates.sort(key=lambda c: -(c.created or 0.0))
    return list(findings.values())


#: Kinds of :class:`Lost` whose candidates are listed (every task Tripo made must belong to someone).
LISTED = ("lost", "earlier", "removed")


def _key(x: Lost) -> tuple[str, int, str, float]:
    return (x.job_id, x.step, x.kind, x.sent_at)


def _row_created(rows: Iterable[Any], task_id: str) -> float | None:
    return next((r.created for r in rows if r.task_id == task_id), None)


def _row_type(rows: Iterable[Any], task_id: str) -> str:
    return next((r.type for r in rows if r.task_id == task_id), "")


def identity_of(engine: Any, client: Any) -> tuple[str, str] | None:
    """(address, key fingerprint) of ``client`` as ``engine`` stamps its jobs (None: this engine does not)."""
    ident = getattr(engine, "identity", None)
    if not callable(ident):
        ident = getattr(getattr(engine, "steps", None), "identity", None)
    if not callable(ident):
        return None
    _api, address, key_id = ident(client)
    return str(address or ""), str(key_id or "")


def same_identity(snap: Mapping[str, Any], identity: tuple[str, str] | None) -> bool:
    """Whether a job was made with the address and key (fingerprint) ``identity`` reads the history with (a job that
    does not say is taken as made with them: journals from before)."""
    if identity is None:
        return True
    address, key_id = identity
    return ((not snap.get("address") or not address or snap.get("address") == address)
            and (not snap.get("key_id") or not key_id or snap.get("key_id") == key_id))


def is_dismissed(lost: Lost, dismissed: Callable[[str, int, float], bool] | None) -> bool:
    """Whether the user dismissed this create (``dismissed``: :meth:`Owners.dismissed`)."""
    return dismissed is not None and lost.at is not None and bool(dismissed(lost.job_id, lost.step, lost.at))


def find(client: Any, snapshots: list[Mapping[str, Any]], *, known: Callable[[str], bool] | None = None,
         in_flight: Iterable[tuple[str, int, float]] = (), removed: Callable[[str], bool] | None = None,
         identity: tuple[str, str] | None = None,
         dismissed: Callable[[str, int, float], bool] | None = None) -> list[Finding]:
    """Look every lost step up in the history (``client``: a v3 ``TripoClient``; reads ``account/usage`` and the
    tasks' details through ``tasks/list``). Read-only: nothing is created, nothing attached. ``known``:
    :meth:`Owners.known` (without it: the task ids of ``snapshots``). ``identity``: (address, key fingerprint) of
    ``client``: jobs made with another address or key are not looked for (their tasks are not in this history).
    ``dismissed``: :meth:`Owners.dismissed`: those creates are never returned (nothing is read when only they are
    left), yet still compete for the tasks of the others."""
    others = {str(s.get("id")) for s in snapshots if not same_identity(s, identity)}
    in_flight = list(in_flight)

    def steps_at(offset: float | None) -> list[Lost]:
        # a job's own identity is the one it was stamped with last: an earlier create (before a Retry that may have
        # run with another key or address) is looked for in every history, where it can only be listed
        return [x for x in lost_steps(snapshots, offset=offset, in_flight=in_flight, removed=removed)
                if x.job_id not in others or x.kind in ("earlier", "removed")]

    probe = steps_at(0.0)
    if not any(x.kind in LISTED and not is_dismissed(x, dismissed) for x in probe):
        return []
    ids = known_task_ids(snapshots)
    known_fn = known if known is not None else ids.__contains__
    rows = client.usage(PAGE, 0)  # the first page also gives Tripo's clock (Date) before windows are placed
    offset = getattr(client, "server_offset", None)
    lost = steps_at(offset)
    since = min(x.sent_at for x in lost) - BEFORE
    if len(rows) >= PAGE and not any(r.created is not None and r.created < since for r in rows):
        rows += read_history(lambda n, off: client.usage(n, off + PAGE), since)
    types = {x.task_type for x in lost}
    hi = max(x.sent_at for x in lost) + AFTER
    rows = [r for r in rows if (r.type in types or "" in types) and r.created is not None and since <= r.created <= hi
            and not known_fn(r.task_id) and r.task_id not in ids]
    detail = [t for t in dict.fromkeys(r.task_id for r in rows) if _valid_id(t)][:MAX_DETAILS]
    tasks = client.get_tasks(detail) if detail else {}
    found = match(lost, tasks, lambda t: known_fn(t) or t in ids, rows)
    return [f for f in found if not is_dismissed(f.lost, dismissed)]


def _valid_id(task_id: str) -> bool:
    try:
        return check_task_id(task_id) == task_id
    except TripoValidationError:
        return False


def known_task_ids(snapshots: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every task id some job here follows (those are never another job's lost task)."""
    return {t for snap in snapshots for t in snap.get("task_ids") or [] if isinstance(t, str)}


def still_free(finding: Finding, snapshot: Mapping[str, Any] | None, known: Callable[[str], bool] | None = None
               ) -> str | None:
    """Main thread, just before attaching: None when ``finding.found`` may still be attached, else why not (the job
    is gone or moved on, or the task became known meanwhile)."""
    task = finding.found
    if task is None:
        return "nothing was found for sure"
    if snapshot is None:
        return "the job was removed meanwhile"
    steps = snapshot.get("steps") or []
    idx = finding.lost.step
    if not 0 <= idx < len(steps) or steps[idx].get("task_id"):
        return "the job's step has a task now"
    if steps[idx].get("state") != "needs_attention" or snapshot.get("state") not in ("needs_attention", "failed",
                                                                                      "cancelled"):
        return "the job was changed meanwhile (retried or resumed)"
    if known is not None and known(task.task_id):
        return f"task {task.task_id} is followed by a job here now"
    if task.task_id in known_task_ids([snapshot]):
        return f"task {task.task_id} is already this job's"
    return None


def attach_notice(finding: Finding) -> str:
    """What the job says once its lost task is attached."""
    return (f"Found in your Tripo history and attached by itself: task {finding.found.task_id}, made right after "
            f"step {finding.lost.step + 1} was sent, with the same input (its answer was lost; nothing was sent "
            "again).")


def settle(findings: Iterable[Finding], snapshot_of: Callable[[str], Mapping[str, Any] | None],
           attach: Callable[[Finding], None], known: Callable[[str], bool] | None = None,
           errors: tuple[type[BaseException], ...] = (Exception,)) -> tuple[list[Finding], list[Finding]]:
    """Main thread: attach every finding still free (:func:`still_free`, checked now) with ``attach``; the others
    keep their candidates, the refused one first with the reason. Findings of jobs removed meanwhile are dropped.
    Returns (attached, left)."""
    attached: list[Finding] = []
    left: list[Finding] = []
    for f in findings:
        snap = snapshot_of(f.lost.job_id)
        if f.lost.kind != "lost":  # listed only (a removed job's or an earlier request's): nothing to attach
            if f.candidates:
                left.append(f)
            continue
        if snap is None:
            continue
        if f.found is not None:
            why = still_free(f, snap, known)
            if why is None:
                try:
                    attach(f)
                except errors as exc:  # e.g. the job was retried or the task claimed meanwhile
                    why = str(getattr(exc, "user_message", "") or exc) or type(exc).__name__
                else:
                    attached.append(f)
                    continue
            f.candidates.insert(0, Candidate(f.found.task_id, f.found.created, why))
            f.found = None
        left.append(f)
    return attached, left
