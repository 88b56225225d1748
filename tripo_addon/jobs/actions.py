"""The user's actions on jobs that take or give up task ids: Attach (one owner per task id), Retry, Remove, and
following again the jobs that waited for their key or address. Nothing here writes the journal on the calling thread
(the main thread): the launcher or the writer thread does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .engine_common import FAILED_STATUSES, SUCCESS, S, _validation_error, check_task_id
from .job import Job, Step
from .lifecycle import Lifecycle
from .ownership import OwnerBook
from .runner import Runner
from .steps import Steps
from .store import Store


class Actions:
    """Attach, Retry, Remove, follow again. ``api()`` is the API new jobs speak; ``cancel(job_id)`` and
    ``check_open()`` are the engine's."""

    def __init__(self, store: Store, runner: Runner, book: OwnerBook, lifecycle: Lifecycle, steps: Steps,
                 client_factory: Callable[[], Any], api: Callable[[], str], cancel: Callable[[str], None],
                 check_open: Callable[[], None]) -> None:
        self.store = store
        self.runner = runner
        self.book = book
        self.lifecycle = lifecycle
        self.steps = steps
        self.client_factory = client_factory
        self.api = api
        self.cancel = cancel
        self.check_open = check_open

    def attach(self, task_id: str, title: str = "", *, job_id: str | None = None, download: bool = True,
               notice: str = "") -> str:
        """Follow an existing Tripo task (no POST) and download its result. Returns the job id.

        One owner per task id: an id another job here follows now goes to that job (its id is returned, with a
        notice); the id of a job that stopped moves to the new job (to import a result again); with ``job_id`` an id
        another listed job holds is refused with the reason. With ``job_id``: give that stopped job's unsent/unknown
        step this task id (the way out of ``needs_attention``), or replace an id that Tripo did not know or that
        failed (a mistyped Attach is corrected this way); ``notice`` is what the job then says.
        """
        self.check_open()
        task_id = check_task_id(task_id)
        store, owners = self.store, self.book.owners
        if job_id is not None:
            self.runner.await_exit(job_id)
            with store.lock:
                job = store.get(job_id)
                if job_id in self.runner.runs and job.state in S.STOPPED:
                    raise _validation_error(
                        "The job is still stopping (a request is in flight); try again in a moment.")
                if job_id in self.runner.runs or job.state not in (S.NEEDS_ATTENTION, S.FAILED, S.CANCELLED):
                    raise _validation_error(
                        "Only a stopped job (needs attention, failed or cancelled) can be attached."
                    )
                idx = job.current_step
                step = job.steps[idx] if idx < len(job.steps) else None
                if step is None or (step.task_id and not _replaceable(step)):
                    raise _validation_error("This job has no step waiting for a task id.")
                owner = owners.owner(task_id)
                if owner is not None and owner != job.id and owner in store.jobs:
                    raise _validation_error(self._owned_text(task_id, store.jobs[owner]))
                if owner is not None and owner != job.id:
                    owners.retire(task_id)  # its job was archived: the id may be followed here again
                if step.task_id and step.task_id != task_id:
                    owners.retire(step.task_id)  # the mistyped (or failed) id stays known, owned by nobody
                owners.claim(task_id, job.id)
                self.book.mark()
                step.task_id = task_id
                step.status = step.error = ""
                step.progress = 0
                step.output = {}
                if notice:
                    job.meta["recovered"] = notice
                store.move(job, S.QUEUED, step=step, step_state=S.QUEUED, error="",
                           notice=notice or f"Attached task {task_id} to step {idx + 1}.", reopen=True, save=False,
                           emit=None)
            self.runner.start(job)  # the launcher journals it before the worker starts (not the main thread)
            store.post_update(job)
            return job.id
        with store.lock:
            owner = owners.owner(task_id)
            held = store.jobs.get(owner) if owner is not None else None
            if held is not None and (held.state in S.ACTIVE or owner in self.runner.runs):
                store.notice(held, self._owned_text(task_id, held))
                return owner  # followed now: the same job, never a second follower
            if owner is not None:  # its job stopped (or was archived): a new job follows it (e.g. import again)
                owners.retire(task_id)
            step = Step(task_type="", params={}, download=download, task_id=task_id, state=S.QUEUED)
            job = Job(title=title or f"Task {task_id[:8]}", steps=[step], kind="attach", state=S.QUEUED,
                      api=self.api())  # the task is looked up on the API the address speaks now
            store.jobs[job.id] = job
            owners.claim(task_id, job.id)
            self.book.mark()
        self.runner.start(job)
        store.post_update(job)
        return job.id

    @staticmethod
    def _owned_text(task_id: str, job: Job) -> str:
        return (f"Task {task_id} is already followed by the job \u201c{job.title}\u201d here; it was not attached "
                "a second time (one job per task).")

    def follow_identity(self) -> list[str]:
        """The preferences changed: jobs that wait because they were made with another key or address start again
        when the client now matches (main thread: builds one client, sends nothing). Returns the started ids."""
        if self.store.stopping:
            return []
        try:
            client = self.client_factory()
        except Exception:  # noqa: BLE001 - no key yet: nothing can follow
            return []
        try:
            api, address, key_id = self.steps.identity(client)
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()
        store, started = self.store, []
        with store.lock:
            for job in list(store.jobs.values()):
                if (job.state != S.NEEDS_ATTENTION or not job.meta.get("identity_paused")
                        or job.id in self.runner.runs):
                    continue
                if (job.api, job.address, job.key_id) != (api, address or job.address, key_id or job.key_id):
                    continue
                job.meta.pop("identity_paused", None)
                store.move(job, S.QUEUED if job.current_step < len(job.steps) else S.PENDING, error="",
                           reopen=True, save=False, emit=None)
                started.append(job.id)
        for job_id in started:
            job = store.jobs[job_id]
            self.runner.start(job)
            store.post_update(job)
        return started

    def retry(self, job_id: str) -> None:
        """Restart a stopped job from its first unfinished step.

        Steps that succeeded are kept; a step whose task exists is polled again (no new POST) unless Tripo reported it
        failed, in which case it is sent again (a new, paid task; the failed id stays known as this job's). Files are
        uploaded again (a refused or old upload token is never re-sent). A step stuck in ``needs_attention`` is sent
        again: call this only after checking the Tripo task history (or use ``attach(task_id, job_id=...)``).
        """
        self.check_open()
        store, runner = self.store, self.runner
        runner.await_exit(job_id)
        if any(j.id == job_id for j in self.lifecycle.adopt_late_ids()):  # created as Blender closed: follow it
            with store.lock:
                job = store.get(job_id)
            if job.state in S.ACTIVE:
                runner.start(job)
                store.post_update(job)
                return
        with store.lock:
            job = store.get(job_id)
            if job_id in runner.runs and job.state in S.STOPPED:
                raise _validation_error("The job is still stopping (a request is in flight); try again in a moment.")
            if job_id in runner.runs or job.state not in (S.FAILED, S.CANCELLED, S.NEEDS_ATTENTION):
                raise _validation_error("Only a failed, cancelled or stopped job can be retried.")
            for step in job.steps:  # one follower per task: an id attached to another job since stays there
                owner = self.book.owners.owner(step.task_id) if step.task_id and step.state != S.SUCCEEDED else None
                if owner is not None and owner != job.id and owner in store.jobs:
                    raise _validation_error(
                        f"Task {step.task_id} of this job was attached to the job \u201c{store.jobs[owner].title}\u201d"
                        " since, which follows it now; retry or use that job (nothing was sent).")
            for step in job.steps:
                if step.state == S.SUCCEEDED:
                    continue
                if step.task_id and step.status in FAILED_STATUSES:
                    self.book.owners.retire(step.task_id)
                    self.book.mark()
                    step.task_id = None
                if step.task_id:
                    step.state = S.DOWNLOADING if step.status == SUCCESS else S.QUEUED
                else:
                    step.state = S.PENDING
                    step.status = ""
                    step.progress = 0
                    step.output = {}
                    step.uploads = {}  # a token Tripo refused (or one near its expiry) is never sent again
                step.error = ""
            job.meta.pop("identity_paused", None)
            store.move(job, S.PENDING, error="", notice="", reopen=True, save=False, emit=None)
        runner.start(job)  # journaled by the launcher before the worker runs (never on the main thread)
        store.post_update(job)

    def forget(self, job_id: str) -> None:
        """Remove a job from the list and the journal (cancelling it first if it runs). Files stay on disk; its task
        ids stay known as tombstones (recovery never hands them to another job)."""
        self.cancel(job_id)
        store = self.store
        with store.lock:
            store.jobs.pop(job_id, None)
            store.reported.discard(job_id)
        self.book.owners.release(job_id, tombstone=True)
        self.book.mark()
        store.save_soon()

    # ------------------------------------------------------------------------------------------ reading

def _replaceable(step: Step) -> bool:
    """A step's task id may be replaced by Attach: Tripo never knew it (a mistyped id) or the task failed."""
    return step.status != SUCCESS and (not step.status or step.status in FAILED_STATUSES)


