"""Background work for tripo_addon: jobs, the engine, the journal, pipelines. Imports no bpy.

Usage (main thread)::

    engine = Engine(client_factory, state_dir, download_dir)
    engine.resume()
    job_id = engine.submit(pipelines.text_to_final("a red chair", format="FBX"))
    for event in engine.drain():   # from a timer: Event(job_id, kind, snapshot, message)
        ...
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
