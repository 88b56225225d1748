"""The job list's inter-process lock (:class:`DirLock`): flock, or on filesystems that cannot lock (NFS, SMB homes)
an owner file with the pid and host name. No bpy here."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

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
