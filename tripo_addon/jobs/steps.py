"""What a worker runs: the job's identity check (its API, address and key) and each step through the submission,
polling and downloading parts."""

from __future__ import annotations

import time
from typing import Any

from ..api.errors import TripoNotFound
from .downloading import Downloading
from .engine_common import (
    S,
    _lost_submit_message,
    _NeedsAttention,
    _Run,
    client_identity,
    identity_change,
    identity_message,
)
from .following import Following
from .job import Job, Step
from .reimport import insert_import
from .store import Store
from .submission import Submission


def api_mismatch_message(job_api: str, current: str) -> str:
    """Why a job whose tasks live on another API version is not followed here (and what to do)."""
    return (f"This job was started on Tripo's API {job_api}, and the API address now speaks {current}. Its task ids "
            "are kept (nothing is sent again): set the API address back to follow it, or retry it here as a new "
            "job. Downloaded results can still be imported.")


class Steps:
    """The worker's flow (see :class:`~tripo_addon.jobs.runner.StepFlow`). ``salt`` makes key fingerprints."""

    def __init__(self, store: Store, submission: Submission, following: Following, downloading: Downloading,
                 salt: bytes) -> None:
        self.store = store
        self.submission = submission
        self.following = following
        self.downloading = downloading
        self.salt = salt

    def identity(self, client: Any) -> tuple[str, str, str]:
        """(API version, address, key fingerprint) of a client."""
        return client_identity(client, self.salt)

    def identity_problem(self, job: Job, client: Any) -> str:
        """"" when the job may run with ``client``; else why it waits (its tasks were made elsewhere). A job with no
        task yet takes the client's API, address and key."""
        api, address, key_id = self.identity(client)
        with self.store.lock:
            if not job.task_ids:
                job.api = api or job.api
                job.address, job.key_id = address, key_id
                return ""
            if api and api != job.api:
                return api_mismatch_message(job.api, api)
            what = identity_change((job.address, job.key_id), (address, key_id))
            if what:
                job.meta["identity_paused"] = True
                return identity_message(what)
            job.meta.pop("identity_paused", None)
            job.address = job.address or address  # journals from before: adopt what follows them now
            job.key_id = job.key_id or key_id
            return ""

    def _through_import(self, run: _Run, client: Any, idx: int, notice: str) -> None:
        """Step ``idx`` is now the free import of a kept result (reimport.py): run it, then the step after it."""
        job = run.job
        while run.slots:  # the step's pool slots: the import takes its own
            run.slots.pop().release()
        self.store.notice(job, notice)
        with self.store.lock:
            job.notice = notice
            job.meta["reimported"] = notice  # (kept as the finished job's notice)
        self.store.save(important=True, must=True)  # the new step is on disk before its create
        for i in (idx, idx + 1):
            run.step_index = i
            self.run_step(run, client, i, job.steps[i])

    def run_step(self, run: _Run, client: Any, idx: int, step: Step) -> None:
        job = run.job
        if not step.task_id:
            if step.state in (S.SUBMITTING, S.NEEDS_ATTENTION):
                raise _NeedsAttention(_lost_submit_message(idx, step))
            try:
                self.submission.submit_waiting(run, client, idx, step)
            except TripoNotFound as exc:
                source = getattr(exc, "source_task_id", None)
                notice = insert_import(self.store, job, idx, step, source) if source else None
                if notice is None:
                    raise
                self._through_import(run, client, idx, notice)
                return
        task = None
        if step.state != S.DOWNLOADING or not step.task_type:
            task = self.following.poll(run, client, idx, step)
        self.downloading.download(run, client, idx, step, task)
        with self.store.lock:
            step.finished_at = time.time()
            step.progress = 100
            more = idx + 1 < len(job.steps) and job.state not in S.FINAL
        # made durable by the next step's "submitting" save or by the job's end
        self.store.move(job, S.PENDING if more else None, step=step, step_state=S.SUCCEEDED, important=False)
