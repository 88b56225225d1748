"""Job states and the transitions allowed between them: one table, read by the one function that changes a job's
state (:meth:`~tripo_addon.jobs.store.Store.move`, which journals and emits the event).

A step uses the same state names for its own progress; only the job's state is held to the table.
"""

from __future__ import annotations


class JobState:
    """Job (and step) states."""

    PENDING = "pending"
    UPLOADING = "uploading"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_ATTENTION = "needs_attention"

    ALL = (PENDING, UPLOADING, SUBMITTING, QUEUED, RUNNING, DOWNLOADING, SUCCEEDED, FAILED, CANCELLED, NEEDS_ATTENTION)
    FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
    #: states in which the engine does nothing more until the user acts (wait() returns on these)
    STOPPED = frozenset({SUCCEEDED, FAILED, CANCELLED, NEEDS_ATTENTION})
    ACTIVE = frozenset({PENDING, UPLOADING, SUBMITTING, QUEUED, RUNNING, DOWNLOADING})


S = JobState
_ENDS = frozenset({S.FAILED, S.CANCELLED, S.NEEDS_ATTENTION})

#: state -> the states a job may go to from it. Active states move among themselves as a step goes (a job of several
#: steps goes back to ``pending`` for the next one; a create refused as busy goes back to ``pending``) and may end
#: any way; a stopped job moves again only by the user's Retry (``pending``) or Attach / a found task id
#: (``queued``); a success is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PENDING, S.UPLOADING, S.SUBMITTING, S.QUEUED, S.DOWNLOADING, S.SUCCEEDED}) | _ENDS,
    S.UPLOADING: frozenset({S.PENDING, S.UPLOADING, S.SUBMITTING}) | _ENDS,
    S.SUBMITTING: frozenset({S.PENDING, S.SUBMITTING, S.QUEUED}) | _ENDS,
    S.QUEUED: frozenset({S.PENDING, S.QUEUED, S.RUNNING, S.DOWNLOADING, S.SUCCEEDED}) | _ENDS,
    S.RUNNING: frozenset({S.PENDING, S.QUEUED, S.RUNNING, S.DOWNLOADING, S.SUCCEEDED}) | _ENDS,
    S.DOWNLOADING: frozenset({S.PENDING, S.DOWNLOADING, S.SUCCEEDED}) | _ENDS,
    S.SUCCEEDED: frozenset({S.SUCCEEDED}),
    S.FAILED: frozenset({S.PENDING, S.QUEUED, S.FAILED, S.CANCELLED}),
    # (cancelled while a create's answer was lost: a task may exist, so the job asks for attention)
    S.CANCELLED: frozenset({S.PENDING, S.QUEUED, S.CANCELLED, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset({S.PENDING, S.QUEUED, S.NEEDS_ATTENTION, S.FAILED, S.CANCELLED}),
}


class IllegalTransition(RuntimeError):
    """A job was asked to go from one state to another the table does not allow (a bug, never user input)."""


def allowed(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def check(old: str, new: str) -> None:
    if not allowed(old, new):
        raise IllegalTransition(f"a job cannot go from {old!r} to {new!r}")
