"""Background work for tripo_addon: jobs, the engine, the journal, pipelines. Imports no bpy.

Usage (main thread)::

    engine = Engine(client_factory, state_dir, download_dir)
    engine.resume()                      # on register / file load: unfinished jobs continue, never re-sent
    job_id = engine.submit(pipelines.text_to_final("a red chair", format="FBX"))   # validates first
    for event in engine.drain():         # from a timer: Event(job_id, kind, snapshot, message)
        ...

Events (``engine.events``, a ``queue.Queue``; at most one pending ``update`` per job):
``update`` (anything changed), ``finished`` (succeeded; import ``snapshot["result_files"]``), ``failed``
(``snapshot["error"]``), ``cancelled`` (``snapshot["notice"]`` says Tripo may still finish the task), ``notice``
(``event.message``; job_id ``""`` for engine-wide notices such as a quarantined journal; a job entering
``needs_attention`` posts an ``update`` and a ``notice``).

Job snapshot keys: id, title, kind, state, created, updated, imported, error, notice, meta, api, address, key_id
(a salted fingerprint, never the key), steps, progress,
current_step, final, can_import, files, result_files, task_ids, credits, estimated_credits.
Step snapshot keys: index, task_type, label, params (Refs as ``{"$ref": {"step", "what"}}``), upload, download,
outputs, state, task_id, status, progress, eta, queue_position, credits, estimate, error, files, output,
submitted_at, finished_at.
States (job and step): pending, uploading, submitting, queued, running, downloading, succeeded, failed, cancelled,
needs_attention.
"""

from typing import TYPE_CHECKING, Any

from .events import CANCELLED, FAILED, FINISHED, NOTICE, UPDATE, Event, EventQueue
from .job import Job, JobState, Ref, Step

__all__ = [
    "CANCELLED",
    "FAILED",
    "FINISHED",
    "NOTICE",
    "UPDATE",
    "Engine",
    "Event",
    "EventQueue",
    "Job",
    "JobState",
    "Ref",
    "Step",
]

if TYPE_CHECKING:
    from .engine import Engine


def __getattr__(name: str) -> Any:
    if name == "Engine":  # lazy: job/journal/pipelines stay importable without the api package
        from .engine import Engine

        return Engine
    raise AttributeError(name)
