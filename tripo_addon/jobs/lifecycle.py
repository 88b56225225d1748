"""The engine's life: shutdown (waiting for creates in flight, keeping late task ids), pause, other instances' job
lists, and retention of old jobs."""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from .engine_common import (
    SECONDARY_PREFIX,
    SUBMIT_GRACE,
    S,
    _Run,
    local_files,
)
from .following import Following
from .job import Job
from .journal import DirLock, Journal, JournalError, archive_jobs, split_retained
from .runner import Runner
from .store import Store

log = logging.getLogger("tripo_addon.jobs.engine")


class Lifecycle:
    """The engine's start and end: other lists adopted, late ids merged, old jobs archived, shutdown."""

    def __init__(self, store: Store, runner: Runner, following: Following, state_dir: Path, exports_dir: Path,
                 keep_finished: int | None, dir_lock: DirLock) -> None:
        self.store = store
        self.runner = runner
        self.following = following
        self.state_dir = state_dir
        self.exports_dir = exports_dir
        self.keep_finished = keep_finished
        self.dir_lock = dir_lock
        self.on_landed: Callable[[Job, int, str], None] = lambda job, idx, task_id: None
        #: another instance's registry file, adopted with its jobs (the engine's owner book merges it)
        self.on_adopt_owners: Callable[[Path], None] | None = None

    def shutdown(self, timeout: float = 2.0, submit_grace: float = SUBMIT_GRACE) -> None:
        """Stop all workers (briefly joined), flush and close the journal. Unfinished jobs stay resumable.

        A worker whose ``POST /task`` is in flight gets up to ``submit_grace`` more seconds: the task it creates is
        paid for, and its id must be journaled. An answer later still is kept in the journal's late-id file, which
        the next engine reads (a quitting process may not live that long: then the job asks for attention)."""
        with self.store.lock:
            self.store.stopping = True
            runs = list(self.runner.runs.values())
            for run in runs:
                run.stop.set()
            self.store.cond.notify_all()
        deadline = time.monotonic() + max(0.0, timeout)
        if self.runner.launcher is not None:
            self.runner.launcher.join(max(0.0, deadline - time.monotonic()))
        for run in runs:
            if run.thread is not None and run.thread.ident is not None:  # started (not dropped by the launcher)
                run.thread.join(max(0.0, deadline - time.monotonic()))
        self._await_creates(runs, submit_grace)
        stuck = [r for r in runs if r.thread is not None and r.thread.is_alive()]
        if stuck:  # a request in flight cannot be interrupted; the daemon thread ends when it returns
            frames = sys._current_frames()
            for r in stuck:
                frame = frames.get(r.thread.ident) if r.thread.ident else None
                where = "".join(traceback.format_stack(frame, limit=6)) if frame is not None else "?"
                log.warning("Tripo job %s still busy after shutdown(%.1f s):\n%s", r.job.id, timeout, where)
        self.following.close()
        self.store.close_writer(deadline - time.monotonic())
        try:
            self.store.save(important=False)
        except Exception:  # pragma: no cover
            log.exception("final journal save failed")
        self.store.journal.close()
        self.dir_lock.release()

    @staticmethod
    def _in_create(run: _Run) -> bool:
        """True while the run's POST /task may be in flight (journaled as submitting, no task id yet)."""
        steps = run.job.steps
        step = steps[run.step_index] if 0 <= run.step_index < len(steps) else None
        return step is not None and step.state == S.SUBMITTING and not step.task_id

    def _await_creates(self, runs: list[_Run], grace: float) -> None:
        deadline = time.monotonic() + max(0.0, grace)
        for run in runs:
            thread = run.thread
            if thread is not None and thread.is_alive() and self._in_create(run):
                log.info("Tripo job %s: waiting for the answer to its task creation before closing", run.job.id)
                thread.join(max(0.0, deadline - time.monotonic()))

    def adopt_late_ids(self) -> list[Job]:
        """Give steps the task ids that arrived after an earlier engine closed its journal (see
        :meth:`Journal.note_task_id`). Such a step was journaled ``submitting`` without an id: it is followed again
        instead of asking for attention (and a retry polls it instead of paying for a second task)."""
        records = self.store.journal.late_ids()
        if not records:
            return []
        changed: list[Job] = []
        with self.store.lock:
            for rec in records:
                job = self.store.jobs.get(str(rec.get("job")))
                idx = rec["step"]
                if job is None or not 0 <= idx < len(job.steps) or job.steps[idx].task_id:
                    continue
                step = job.steps[idx]
                step.task_id = rec["task_id"]
                step.state, step.status, step.error = S.QUEUED, "queued", ""
                follow = job.state in S.ACTIVE or job.state == S.NEEDS_ATTENTION
                self.store.move(job, S.QUEUED if follow else None, error="" if follow else job.error,
                                notice=(f"Task {step.task_id} was created while Blender was closing; its id was kept "
                                        "and the job follows it (it was not sent again)."),
                                reopen=True, save=False, emit=None)
                self.on_landed(job, idx, step.task_id)
                changed.append(job)
        if changed:
            try:
                self.store.save(important=True, must=True)
            except JournalError as exc:
                log.warning("journal: late task ids not merged yet: %s", exc)
                return changed

        def done(rec: dict) -> bool:
            job = self.store.jobs.get(str(rec.get("job")))
            idx = rec["step"]
            return job is None or not 0 <= idx < len(job.steps) or bool(job.steps[idx].task_id)

        self.store.journal.drop_late_ids(done)
        for job in changed:
            self.store.post_update(job)
        return changed

    def _take_late_ids(self, other: Journal) -> None:
        """Copy another (adopted) journal's late task ids into this one's, so they are merged like our own."""
        for rec in other.late_ids():
            try:
                self.store.journal.note_task_id(str(rec.get("job")), rec["step"], rec["task_id"])
            except OSError as exc:
                log.error("Tripo task %s (job %s) could not be carried over (%s): attach it by this id",
                          rec["task_id"], rec.get("job"), exc)

    def pause(self) -> list[str]:
        """Stop every worker without cancelling its job (e.g. online access was turned off). Nothing is lost: a task
        already sent keeps its id, a POST in flight completes and is recorded, and :meth:`resume` continues each job
        where it stopped, never sending a task twice. Returns the paused job ids. Does not wait for the workers."""
        with self.store.lock:
            runs = [r for r in self.runner.runs.values() if not r.cancelled]
            for run in runs:
                run.restart = False
                run.stop.set()
            self.store.cond.notify_all()
        return [r.job.id for r in runs]

    def adopt_secondaries(self) -> list[str]:
        """Take over the job lists of secondary engines that have ended (their lock is free)."""
        notices: list[str] = []
        adopted: list[tuple[Path, DirLock]] = []
        for path in sorted(self.state_dir.glob(f"{SECONDARY_PREFIX}*.json")):
            if path == self.store.journal.path:
                continue
            lock = DirLock(path.with_suffix(".lock"))
            if not lock.acquire():
                continue  # still running
            secondary = Journal(self.state_dir, name=path.name)
            jobs, msgs = secondary.load()
            notices += msgs
            for job in jobs:
                self.store.jobs.setdefault(job.id, job)
            self._take_late_ids(secondary)
            if self.on_adopt_owners is not None:  # its tombstones, creates in flight and dismissals join ours
                self.on_adopt_owners(path.with_name(f"owners-{path.stem}.json"))
            adopted.append((path, lock))
        if adopted:
            try:
                self.store.save(important=True, must=True)
            except JournalError as exc:
                notices.append(f"Jobs from another Blender instance could not be merged: {exc}")
                for _path, lock in adopted:
                    lock.release()
                return notices
            for path, lock in adopted:
                lock.release()
                for p in (path, path.with_suffix(".lock"), path.with_name(path.name + ".late-ids"),
                          path.with_name(path.name + ".sent"),
                          path.with_name(f"owners-{path.stem}.json")):
                    try:
                        p.unlink()
                    except OSError:
                        pass
        return notices

    def retain(self) -> None:
        """At start: move finished jobs beyond the newest ``keep_finished`` out of the live journal into the rotating
        archive (jobs-archive.jsonl), and delete their exported meshes. Saves and loads then stay small however long
        the history grows; a job not imported yet or needing attention is never archived."""
        live, old = split_retained(self.store.jobs.values(), self.keep_finished)
        if not old:
            return
        try:
            archive_jobs(self.state_dir, old)  # durable first: a crash before the save below only duplicates
        except OSError as exc:
            log.warning("could not archive %d old jobs: %s", len(old), exc)
            return
        for job in old:
            self.store.jobs.pop(job.id, None)
            self.delete_exports(job)
        self.store.save(important=True)
        log.info("archived %d finished jobs; %d stay in the job list", len(old), len(live))

    def delete_exports(self, job: Job) -> None:
        """Delete the job's meshes that the add-on exported for upload (only files inside ``exports_dir``): the task
        that used them exists, so they are no longer needed."""
        try:
            root = self.exports_dir.resolve()
        except OSError:
            return
        for step in job.steps:
            for path in {*step.uploads, *local_files(step)}:
                try:
                    p = Path(path).resolve()
                    if root in p.parents and p.is_file():
                        p.unlink()
                except (OSError, ValueError):
                    log.debug("could not delete export %s", path, exc_info=True)
