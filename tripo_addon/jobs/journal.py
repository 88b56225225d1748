"""The persistent job log: one JSON file, written atomically, quarantined (never fatal) when unreadable.

Holds job records only (task ids, params, states, file paths). Jobs carry no secrets; the API key is never stored.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .dirlock import DirLock  # noqa: F401 - the engine takes it from here
from .job import Job
from .states import JobState as S

log = logging.getLogger(__name__)

FILE_NAME = "jobs.json"
_LATE_LOCK = threading.RLock()  # late-id records of every journal of this process (an old and a new engine)
VERSION = 1
#: Lines of the side file of sends read at load (a long session's file is emptied by every covering write).
SENT_LINES_MAX = 10_000
#: A side file of sends this big is cut to the lines a write did not cover yet (bytes).
SENT_COMPACT_BYTES = 1 << 20


class JournalError(OSError):
    """The log could not be written."""


class Journal:
    """Atomic JSON log of jobs under ``state_dir``.

    ``save(jobs, important=False)`` coalesces progress-only writes (at most one per ``min_interval`` seconds; the
    latest data is kept dirty and written by the next important save or :meth:`flush`). Important saves always write
    (temp file + flush + fsync + ``os.replace`` + directory fsync) and raise :class:`JournalError` on failure.
    """

    def __init__(self, state_dir: str | os.PathLike, *, min_interval: float = 2.0, name: str = FILE_NAME) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / name
        self.name = name
        self.min_interval = min_interval
        self.lock = threading.RLock()  # held across serialise + write so writes never go back in time
        self._last_write = 0.0
        self._dirty: list[dict] | Callable[[], Iterable[Job | dict]] | None = None
        self._closed = False
        self.writes = 0  # number of files written (tests, diagnostics)
        # group commit: an important save asked while another is being written is covered by the next write that
        # starts after it was asked (records are built when a write starts), so N workers saving at once cost about
        # two writes, not N fsyncs in a row
        self._tickets = threading.Lock()
        self._asked = 0     # important saves asked
        self._covered = 0   # every save asked up to this number is on disk
        self._sent_lock = threading.Lock()  # the side file of creates about to be sent (note_sent)

    # -- reading -----------------------------------------------------------------------------------------------
    def load(self) -> tuple[list[Job], list[str]]:
        """Read the log. Returns (jobs, notices). Never raises: a bad log is moved aside with a notice."""
        notices: list[str] = []
        with self.lock:
            for stale in self.dir.glob(f"{self.name}.*.tmp"):  # left by a crash mid-write; the log itself is intact
                try:
                    stale.unlink()
                except OSError:
                    pass
            if not self.path.exists():
                return [], notices
            try:
                raw = self.path.read_bytes()
                data = json.loads(raw.decode("utf-8"))
                if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
                    raise ValueError("unexpected structure")
            except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                moved = self._quarantine(move=True)
                notices.append(
                    f"The Tripo job log could not be read ({type(exc).__name__}); "
                    + (
                        f"it was moved to {moved.name} and a new log was started."
                        if moved
                        else "a new log was started."
                    )
                )
                log.warning("job log unreadable: %s", exc)
                return [], notices
            jobs: list[Job] = []
            bad = 0
            for rec in data["jobs"]:
                try:
                    jobs.append(Job.from_dict(rec))
                except (TypeError, ValueError, KeyError) as exc:
                    bad += 1
                    log.warning("skipping bad job record: %s", exc)
            if bad:
                copied = self._quarantine(move=False)
                where = f" (the original log was copied to {copied.name})" if copied else ""
                notices.append(f"{bad} unreadable job record(s) in the Tripo job log were skipped{where}.")
            self._apply_sent(jobs)
            return jobs, notices

    def _quarantine(self, *, move: bool) -> Path | None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = self.path.with_name(f"{self.name}.corrupt-{stamp}")
        n = 1
        while dest.exists():
            dest = self.path.with_name(f"{self.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            if move:
                os.replace(self.path, dest)
            else:
                shutil.copy2(self.path, dest)
            return dest
        except OSError as exc:
            log.warning("could not quarantine the job log: %s", exc)
            if move:
                try:
                    self.path.unlink()
                except OSError:
                    pass
            return None

    # -- writing -----------------------------------------------------------------------------------------------
    def save(self, jobs: Iterable[Job | dict] | Callable[[], Iterable[Job | dict]], *, important: bool = True) -> bool:
        """Write the jobs or job records (or those returned by a callable, evaluated under the journal lock).

        Returns True if the file was written. Raises JournalError only for important saves.
        """
        ticket = 0
        if important and callable(jobs):
            with self._tickets:
                self._asked += 1
                ticket = self._asked
        with self.lock:
            if self._closed:
                if important:
                    raise JournalError("the job log is closed (the engine was shut down)")
                return False
            if ticket and self._covered >= ticket:
                return True  # a write that started after this save was asked has put it on disk
            if not important and time.monotonic() - self._last_write < self.min_interval:
                # coalesced: keep the source (a callable is only evaluated when the write happens)
                self._dirty = jobs if callable(jobs) else _records(jobs)
                return False
            with self._tickets:
                covers = self._asked  # every save asked so far changed its jobs before asking: these records hold it
            sent = self._sent_size() if callable(jobs) else -1  # sends noted so far are in the records built now
            records = _records(jobs() if callable(jobs) else jobs)
            try:
                self._write(records)
                if callable(jobs):
                    self._covered = max(self._covered, covers)
                    self._drop_sent(sent)
            except OSError as exc:
                self._dirty = records
                if important:
                    raise JournalError(f"could not write the job log {self.path}: {exc}") from exc
                log.warning("job log write failed: %s", exc)
                return False
            return True

    def flush(self) -> None:
        """Write pending coalesced data, if any (errors are logged, not raised)."""
        with self.lock:
            if self._dirty is not None and not self._closed:
                try:
                    self._write(self._dirty)
                except OSError as exc:
                    log.warning("job log flush failed: %s", exc)

    def close(self) -> None:
        """Flush, then refuse further writes (a shut-down engine must not overwrite a newer engine's log)."""
        with self.lock:
            self.flush()
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    # -- creates about to be sent ------------------------------------------------------------------------------
    # A step's "submitting" record (what is sent, when) is on disk before its POST, so a crash during the create is
    # looked up, never sent again. Rewriting the whole log for it would cost every refill of a pool slot a full
    # serialise and write; one line appended to a side file and fsynced does the same. load() applies the lines newer
    # than the log's own record of the step; a full write that covers every line empties the file.
    @property
    def sent_path(self) -> Path:
        return self.dir / f"{self.name}.sent"

    def note_sent(self, job_id: str, step: int, sent: dict | None, submitted_at: float) -> None:
        """Make a step's send durable before its POST (the step is already ``submitting`` in memory). Raises
        JournalError when it cannot: the create is not sent then."""
        line = json.dumps({"job": job_id, "step": int(step), "sent": sent, "submitted_at": float(submitted_at)},
                          sort_keys=True) + "\n"
        with self._sent_lock:
            if self._closed:
                raise JournalError("the job log is closed (the engine was shut down)")
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                new = not self.sent_path.exists()
                with open(self.sent_path, "a", encoding="utf-8") as fh:
                    fh.write(line)
                    fh.flush()
                    os.fsync(fh.fileno())
                if new:
                    _fsync_dir(self.dir)
            except OSError as exc:
                raise JournalError(f"could not write {self.sent_path}: {exc}") from exc

    def _sent_size(self) -> int:
        with self._sent_lock:
            try:
                return self.sent_path.stat().st_size
            except OSError:
                return 0

    def _drop_sent(self, covered: int) -> None:
        """After a full write whose records were built once the side file was ``covered`` bytes long: empty it when
        nothing was noted since; else keep it (a later write empties it), cut to the lines since once it is big."""
        if covered <= 0:
            return
        with self._sent_lock:
            try:
                size = self.sent_path.stat().st_size
                if size == covered:
                    os.truncate(self.sent_path, 0)
                elif covered >= SENT_COMPACT_BYTES and size > covered:
                    with open(self.sent_path, "rb") as fh:
                        fh.seek(covered)
                        rest = fh.read()
                    tmp = self.sent_path.with_name(self.sent_path.name + ".tmp")
                    with open(tmp, "wb") as fh:
                        fh.write(rest)
                        fh.flush()
                        os.fsync(fh.fileno())
                    _replace(str(tmp), self.sent_path)
                    _fsync_dir(self.dir)
            except OSError as exc:
                log.debug("could not tidy %s: %s", self.sent_path, exc)

    def _apply_sent(self, jobs: list[Job]) -> None:
        """Give loaded steps the sends noted after the log last wrote them (``submitting``: recovery looks them up)."""
        try:
            text = self.sent_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        by_id = {j.id: j for j in jobs}
        for line in text.splitlines()[-SENT_LINES_MAX:]:
            try:
                rec = json.loads(line)
                job, idx, at = by_id.get(str(rec["job"])), int(rec["step"]), float(rec["submitted_at"])
            except (ValueError, TypeError, KeyError):
                continue
            if job is None or not 0 <= idx < len(job.steps):
                continue
            step = job.steps[idx]
            if step.task_id or at <= float(step.submitted_at or 0.0):
                continue  # the log holds this send (or a later one) or its task
            step.submitted_at = at
            step.sent = rec.get("sent") if isinstance(rec.get("sent"), dict) else step.sent
            step.state = S.SUBMITTING
            if job.state in S.ACTIVE:  # a stopped job keeps its state, as the log would have kept it
                job.state = S.SUBMITTING

    # -- late task ids -----------------------------------------------------------------------------------------
    # A POST /task answered after the log was closed (quit or disable with a request in flight) must not lose the
    # id of a task that exists (and is paid for). It goes to a small side file, appended and fsynced, which also works
    # after close() (it never overwrites another engine's log); the next engine reads it and gives the step its id.
    @property
    def late_path(self) -> Path:
        return self.dir / f"{self.name}.late-ids"

    def note_task_id(self, job_id: str, step: int, task_id: str) -> None:
        """Record a created task's id for a step whose journaling failed or came too late (raises OSError)."""
        line = json.dumps({"job": job_id, "step": int(step), "task_id": task_id, "at": time.time()}) + "\n"
        with _LATE_LOCK:
            self.dir.mkdir(parents=True, exist_ok=True)
            with open(self.late_path, "a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            _fsync_dir(self.dir)

    def late_ids(self) -> list[dict]:
        """The recorded late task ids (never raises; unreadable lines are skipped)."""
        with _LATE_LOCK:
            try:
                text = self.late_path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return []
        out: list[dict] = []
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("task_id"), str) and isinstance(rec.get("step"), int):
                out.append(rec)
        return out

    def drop_late_ids(self, done: Callable[[dict], bool]) -> None:
        """Remove the records ``done`` says are now in the log (or moot); keep the others (and any added since)."""
        with _LATE_LOCK:
            keep = [r for r in self.late_ids() if not done(r)]
            try:
                if keep:
                    tmp = self.late_path.with_name(self.late_path.name + ".tmp")
                    tmp.write_text("".join(json.dumps(r) + "\n" for r in keep), encoding="utf-8")
                    os.replace(tmp, self.late_path)
                else:
                    self.late_path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not tidy %s: %s", self.late_path, exc)

    def _write(self, records: list[dict] | Callable[[], Iterable[Job | dict]]) -> None:
        if callable(records):
            records = _records(records())
        self.dir.mkdir(parents=True, exist_ok=True)
        # One job per line, each through json's C encoder (indent= would use the pure-Python one, ~10x slower: this
        # runs on every important save, with the engine's lock held while the records are built).
        head = json.dumps({"saved": time.time(), "version": VERSION}, sort_keys=True)[:-1]
        lines = ",\n".join(json.dumps(r, sort_keys=True) for r in records)
        payload = f'{head}, "jobs": [\n{lines}\n]}}\n' if records else f'{head}, "jobs": []}}\n'
        fd, tmp = tempfile.mkstemp(prefix=self.name + ".", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            _replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(self.dir)
        self._dirty = None
        self._last_write = time.monotonic()
        self.writes += 1


def _records(jobs: Iterable[Job | dict]) -> list[dict]:
    return [j.to_dict() if isinstance(j, Job) else j for j in jobs]


def _replace(src: str, dst: Path, attempts: int = 5) -> None:
    """os.replace, retried briefly on Windows, where a reader (a virus scanner, a backup tool) may hold the target."""
    for attempt in range(attempts):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ================================================================================================ retention
#: Finished jobs kept in the live journal (the newest); older ones go to the archive when the engine starts.
KEEP_FINISHED = 200
ARCHIVE_NAME = "jobs-archive.jsonl"
#: The archive rotates past this size: jobs-archive.jsonl -> .1.jsonl -> ... -> .<ARCHIVE_FILES>.jsonl (dropped).
ARCHIVE_MAX_BYTES = 16 << 20
ARCHIVE_FILES = 3


def is_finished(job: Job) -> bool:
    """Done with for good: succeeded (and imported, or with nothing to import), failed or cancelled. A result not
    imported yet and a job that needs attention are never archived."""
    from .job import JobState

    if job.state not in JobState.FINAL:
        return False
    return not (job.state == JobState.SUCCEEDED and not job.imported and job.result_files)


def split_retained(jobs: Iterable[Job], keep: int | None = KEEP_FINISHED) -> tuple[list[Job], list[Job]]:
    """(live, archived): every unfinished job and the ``keep`` most recently updated finished ones stay live."""
    jobs = list(jobs)
    if keep is None:
        return jobs, []
    finished = sorted((j for j in jobs if is_finished(j)), key=lambda j: (j.updated or j.created, j.created))
    old = finished[: max(0, len(finished) - max(0, int(keep)))]
    if not old:
        return jobs, []
    gone = {id(j) for j in old}
    return [j for j in jobs if id(j) not in gone], old


def archive_jobs(state_dir: str | os.PathLike, jobs: Iterable[Job], *, name: str = ARCHIVE_NAME,
                 max_bytes: int = ARCHIVE_MAX_BYTES, files: int = ARCHIVE_FILES) -> Path:
    """Append the jobs (one JSON line each) to the rotating archive and fsync it; raises OSError on failure.

    The archive is for the record (task ids, files, errors of old jobs); the add-on never reads it back."""
    folder = Path(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    try:
        big = path.stat().st_size > max_bytes
    except OSError:
        big = False
    if big:
        stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
        for i in range(files, 0, -1):
            older = folder / f"{stem}.{i}.jsonl"
            newer = path if i == 1 else folder / f"{stem}.{i - 1}.jsonl"
            if newer.exists():
                os.replace(newer, older)  # the oldest (.<files>) is overwritten: dropped
    payload = "".join(json.dumps(j.to_dict(), sort_keys=True) + "\n" for j in jobs)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(folder)
    return path
