"""The persistent job log: one JSON file, written atomically, quarantined (never fatal) when unreadable.

Holds job records only (task ids, params, states, file paths). Jobs carry no secrets; the API key is never stored.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .job import Job

log = logging.getLogger(__name__)

FILE_NAME = "jobs.json"
_LATE_LOCK = threading.RLock()  # late-id records of every journal of this process (an old and a new engine)
VERSION = 1


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
        with self.lock:
            if self._closed:
                if important:
                    raise JournalError("the job log is closed (the engine was shut down)")
                return False
            if not important and time.monotonic() - self._last_write < self.min_interval:
                # coalesced: keep the source (a callable is only evaluated when the write happens)
                self._dirty = jobs if callable(jobs) else _records(jobs)
                return False
            records = _records(jobs() if callable(jobs) else jobs)
            try:
                self._write(records)
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


#: flock errors that mean "another process holds it"; any other (ENOLCK, ENOTSUP on NFS or SMB homes...) means this
#: filesystem cannot lock, and :class:`DirLock` falls back to an owner file.
_HELD_ERRNOS = frozenset({errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES})
_OWNED_HERE: set[str] = set()  # owner files this process holds (another DirLock here must see them as held)
_OWNED_LOCK = threading.Lock()
_warned: set[str] = set()


def _warn_once(key: str, msg: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(msg, *args)


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - never probed there (os.kill would end it)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, another user's
    return True


class DirLock:
    """An exclusive, non-blocking, inter-process lock on a file (flock on POSIX, msvcrt.locking on Windows).

    Held while the object is open; released by :meth:`release` or when the process ends (also after a crash).
    Only "would block" (EWOULDBLOCK/EAGAIN/EACCES) means another process holds it. A filesystem that cannot lock at
    all (ENOLCK, ENOTSUP: NFS or SMB home folders) falls back to an owner file ``<lock>.owner`` holding the pid and
    host name, created exclusively; one left by a process that has ended on this host is taken over. When even that
    cannot be written the lock is held without protection, with one warning (jobs are kept, never dropped).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fh = None
        self._owner: Path | None = None  # the owner file this object holds (fallback mode)
        self._token = ""
        self.mode = ""  # "flock", "owner-file" or "unlocked" while held

    def acquire(self) -> bool:
        """Try once; True if this object now holds the lock."""
        if self.held:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+b")  # noqa: SIM115 - kept open while the lock is held
        except OSError as exc:
            log.warning("cannot open lock file %s: %s", self.path, exc)
            return False
        try:
            if os.name == "nt":  # pragma: no cover - Windows
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            fh.close()
            if os.name == "nt" or exc.errno in _HELD_ERRNOS or exc.errno is None:
                return False
            _warn_once(f"nolock:{self.path.parent}", "the folder %s cannot be locked (%s): using an owner file "
                       "instead", self.path.parent, exc.strerror or exc)
            return self._acquire_owner_file()
        self._fh = fh
        self.mode = "flock"
        return True

    # -- fallback: an owner file (pid + host), for filesystems without locks ------------------------------------
    def _owner_path(self) -> Path:
        return self.path.with_name(self.path.name + ".owner")

    def _acquire_owner_file(self) -> bool:
        owner = self._owner_path()
        key = str(owner)
        token = f"{os.getpid()}-{time.time_ns()}"
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname()[:255], "token": token,
                             "since": time.time()})
        for _attempt in range(2):
            with _OWNED_LOCK:
                if key in _OWNED_HERE:
                    return False  # another object of this process holds it (as flock would say)
            try:
                fd = os.open(owner, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                if not self._stale(owner):
                    return False
                continue
            except OSError as exc:
                _warn_once(f"unlocked:{owner}", "the job list in %s is used without a lock (%s): do not run two "
                           "Blender instances on it at once", self.path.parent, exc.strerror or exc)
                self.mode, self._token = "unlocked", ""
                return True
            try:
                os.write(fd, record.encode("utf-8"))
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)
            with _OWNED_LOCK:
                _OWNED_HERE.add(key)
            self._owner, self._token, self.mode = owner, token, "owner-file"
            return True
        return False

    def _stale(self, owner: Path) -> bool:
        """True (and the file removed) when the owner file was left by a process of this host that has ended, or
        cannot be read at all (an interrupted write)."""
        try:
            raw = owner.read_bytes()[:4096]
        except FileNotFoundError:
            return True  # released meanwhile: try again
        except OSError:
            return False
        try:
            info = json.loads(raw.decode("utf-8"))
            pid, host = int(info["pid"]), str(info["host"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            info, pid, host = None, 0, ""
        if info is not None:
            if host != socket.gethostname()[:255]:
                _warn_once(f"host:{owner}", "the job list in %s is in use by Blender on %s (pid %s); if it is not "
                           "running there, delete %s", self.path.parent, host, pid, owner)
                return False
            if pid != os.getpid() and _pid_alive(pid):
                return False
            # our own pid here means a crashed earlier run whose pid came back (no object here holds it)
        elif time.time() - owner.stat().st_mtime < 10:
            return False  # being written right now
        try:
            if owner.read_bytes()[:4096] == raw:  # still the same stale record
                owner.unlink()
        except OSError:
            return False
        return True

    @property
    def held(self) -> bool:
        return self._fh is not None or bool(self.mode)

    def release(self) -> None:
        fh, self._fh = self._fh, None
        owner, self._owner = self._owner, None
        token, self._token, self.mode = self._token, "", ""
        if owner is not None:
            try:
                info = json.loads(owner.read_bytes()[:4096].decode("utf-8"))
                if isinstance(info, dict) and info.get("token") == token:
                    owner.unlink()
            except (OSError, ValueError, UnicodeDecodeError):
                pass
            with _OWNED_LOCK:
                _OWNED_HERE.discard(str(owner))
        if fh is None:
            return
        try:
            if os.name == "nt":  # pragma: no cover - Windows
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            fh.close()


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
