"""Background work for tripo_addon: jobs, the engine, the journal, pipelines. Imports no bpy.

Usage (main thread)::

    engine = Engine(client_factory, state_dir, download_dir)
    engine.resume()
    job_id = engine.submit(pipelines.text_to_final("a red chair", format="FBX"))
    for event in engine.drain():   # from a timer: Event(job_id, kind, snapshot, message)
        ...
"""

from .engine import Engine
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
