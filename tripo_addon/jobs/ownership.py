"""The owner registry's place in the engine: loaded from ``owners.json`` beside the journal, rebuilt from the jobs
(every task id a job holds is its own), told about creates in flight and their answers, and written atomically by the
store's writer (never on the main thread; a user's dismissal by a short-lived thread of its own). Also the
installation's salt for key fingerprints."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path

from .job import Job
from .owners import Owners

log = logging.getLogger("tripo_addon.jobs.engine")

OWNERS_FILE = "owners.json"
SALT_FILE = "key-salt"
MAX_OWNERS_FILE = 64 * 1024 * 1024


class OwnerBook:
    """``owners`` plus its file. ``dirty`` is set by every change; :meth:`save` writes only then."""

    def __init__(self, state_dir: Path, *, name: str = OWNERS_FILE) -> None:
        self.path = Path(state_dir) / name
        self._write_lock = threading.Lock()
        self.dirty = False
        self._soon_lock = threading.Lock()
        self._soon: threading.Thread | None = None
        self._again = False
        self.owners = self._load()
        self.owners.on_change = self.write_soon  # a dismissal (main thread) is written by a thread of its own

    def _load(self) -> Owners:
        return Owners.from_json(_read(self.path))

    def merge_file(self, path: Path) -> None:
        """Add another instance's registry (its ``owners-*.json``, adopted with its jobs) to this one."""
        data = _read(Path(path))
        if data:
            self.owners.merge(data)
            self.dirty = True

    # -- what the engine tells it ------------------------------------------------------------------------------
    def adopt(self, jobs: Iterable[Job]) -> None:
        """Every task id a loaded job holds is that job's (a claim the registry refuses is logged: two jobs of this
        installation hold one id; the first keeps it)."""
        for job in jobs:
            for task_id in job.task_ids:
                owner = self.owners.claim(task_id, job.id)
                if owner is not None:
                    log.warning("task %s is held by jobs %s and %s; %s keeps it", task_id, owner, job.id, owner)
        self.dirty = True

    def sent(self, job: Job, idx: int, sent_at: float) -> None:
        self.owners.in_flight(job.id, idx, sent_at)
        self.dirty = True

    def nothing_created(self, job: Job, idx: int) -> None:
        self.owners.landed(job.id, idx)
        self.dirty = True

    def landed(self, job: Job, idx: int, task_id: str) -> None:
        self.owners.landed(job.id, idx)
        owner = self.owners.claim(task_id, job.id)
        if owner is not None:  # a fresh create cannot be another job's task: keep both visible in the log
            log.error("Tripo returned task %s for job %s, but job %s owns it", task_id, job.id, owner)
        self.dirty = True

    def mark(self) -> None:
        self.dirty = True

    def write_soon(self) -> None:
        """Write ``owners.json`` (fsync) in a short-lived thread: the caller (the main thread) never waits."""
        self.dirty = True
        with self._soon_lock:
            self._again = True
            if self._soon is not None:
                return  # the running writer writes once more
            self._soon = threading.Thread(target=self._write_loop, name="tripo-owners", daemon=True)
            self._soon.start()

    def _write_loop(self) -> None:
        while True:
            with self._soon_lock:
                if not self._again:
                    self._soon = None
                    return
                self._again = False
            try:
                self.save(fsync=True)
            except Exception:  # noqa: BLE001 - never leave a dead writer behind (the next change writes again)
                log.exception("could not write %s", self.path)

    # -- the file --------------------------------------------------------------------------------------------
    def save(self, *, fsync: bool = True) -> None:
        """Write ``owners.json`` atomically when something changed (a worker or the writer thread)."""
        if not self.dirty:
            return
        with self._write_lock:
            if not self.dirty:
                return
            self.dirty = False
            data = json.dumps(self.owners.to_json(), separators=(",", ":"))
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.write(data)
                    fh.flush()
                    if fsync:
                        os.fsync(fh.fileno())
                os.replace(tmp, self.path)
            except OSError as exc:
                self.dirty = True
                log.warning("could not write %s: %s", self.path, exc)


def installation_salt(state_dir: Path) -> bytes:
    """A random salt kept beside the journal (made once): key fingerprints mean nothing anywhere else."""
    path = Path(state_dir) / SALT_FILE
    try:
        data = path.read_bytes()
        if 16 <= len(data) <= 64:
            return data
    except OSError:
        pass
    salt = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(salt)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not keep the key salt (%s): key fingerprints change with each start", exc)
    return salt


def _read(path: Path) -> dict:
    """A registry file's contents ({} when missing, too large or unreadable: it is rebuilt from the jobs)."""
    try:
        if path.stat().st_size > MAX_OWNERS_FILE:
            log.warning("%s is too large to read; starting a new one", path)
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s unreadable (%s); rebuilt from the jobs", path, exc)
        return {}
    return data if isinstance(data, dict) else {}
