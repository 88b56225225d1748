"""Result downloads: streamed to a temporary file in the destination folder, verified, then atomically renamed.

- Signed output URLs are short-lived: an expired one (403/401/410/404, or an ``expires``-style query value in the
  past) is replaced by re-reading ``GET /task/{id}`` for a fresh URL of the same output key. "In the past" is judged
  by the server's clock (the offset learned from the ``Date`` of its answers), so a local clock minutes off neither
  costs a ``GET`` per result nor makes a fresh URL look expired; a fresh URL is always tried once.
- An address that does not parse (``https://[::1``) is a clear error of that task, never an unexpected one.
- File names come from the output key (``model.glb``, ``clips_1.fbx``; ``<task>_<key>`` outside the task's own
  folder), so two outputs of one task never overwrite each other, whatever their URLs are called.
- Truncated or corrupt bodies (Content-Length mismatch, cut connection, bad GLB header, broken zip) are retried.
- Zips are checked member by member: absolute paths, ``..`` components and symlinks are refused (never extracted).
- A full disk or an unwritable folder is reported as :class:`TripoStorageError` with a plain sentence.
- ``cancel`` stops between chunks; the partial file is removed.
- Bounded (:class:`DownloadLimits`): a file larger than its kind's maximum (declared by Content-Length, or counted
  as it arrives: an endless body) is refused; a transfer that stalls (less than ``stall_bytes`` in ``stall_seconds``,
  e.g. a trickle) is cut and retried a bounded number of times. A watchdog thread closes the connection on a stall
  or a cancel, so neither waits for the next byte. No partial file is ever left behind.
"""

from __future__ import annotations

import base64
import calendar
import email.utils
import errno
import json
import os
import re
import stat
import struct
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

import requests
import urllib3

from . import polling as _polling
from .download_limits import GB, LIMITS, MB, DownloadLimits, Watchdog, limits_of, size_text, too_large
from .errors import (
    TripoCancelled,
    TripoDownloadError,
    TripoStorageError,
    TripoUnsafeArchive,
)
from .images import sniff as sniff_image
from .models import TaskStatus

__all__ = ["GB", "LIMITS", "MB", "DownloadLimits", "download", "safe_extract", "check_zip", "verify_file"]

if TYPE_CHECKING:  # pragma: no cover
    from .client import TripoClient

CHUNK = 1 << 20
MAX_ATTEMPTS = 4          # transfers of one file (truncated, corrupt, 5xx, transport errors)
MAX_REFRESHES = 3         # fresh URLs fetched for one file
EXPIRY_MARGIN = 5.0       # seconds: a URL about to expire is refreshed first
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_BYTES = 4 << 30
ZIP_KINDS = ("zip", "usdz", "3mf")


#: Offsets larger than this (server minus local, seconds) are not believed: a broken Date header, not a clock.
MAX_CLOCK_OFFSET = 2 * 86400.0


class _Expired(Exception):
    pass


def _local_time() -> float:
    """This computer's clock (one place, so a test can set it minutes fast)."""
    return time.time()


class ServerClock:
    """What time the servers think it is: the offset (server minus local) from the ``Date`` header of their answers,
    the latest per host (and the latest of any host for a host not heard from yet). Thread-safe, bounded."""

    MAX_HOSTS = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_host: dict[str, float] = {}
        self._latest: float | None = None

    def note(self, host: str, date_header: str | None, received: float | None = None) -> None:
        if not date_header:
            return
        try:
            when = email.utils.parsedate_to_datetime(str(date_header)[:64])
            stamp = when.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        # Date has whole seconds: the server's time was somewhere in [stamp, stamp + 1)
        offset = stamp + 0.5 - (_local_time() if received is None else received)
        if offset != offset or abs(offset) > MAX_CLOCK_OFFSET:
            return
        with self._lock:
            if host not in self._by_host and len(self._by_host) >= self.MAX_HOSTS:
                self._by_host.pop(next(iter(self._by_host)))
            self._by_host[host] = offset
            self._latest = offset

    def offset(self, host: str = "") -> float | None:
        with self._lock:
            got = self._by_host.get(host)
            return got if got is not None else self._latest

    def now(self, host: str = "") -> float:
        """The server's time now (this computer's clock when nothing was heard yet)."""
        off = self.offset(host)
        return _local_time() + (off or 0.0)


#: The clock of the servers heard from in this session (the API's answers and the download hosts').
SERVER_CLOCK = ServerClock()


def _host_of(url: str) -> str:
    try:
        return (urlparse(url).netloc or "").lower()
    except ValueError:
        return ""


def _note_response(resp: Any, *_args: Any, **_kwargs: Any) -> Any:
    """requests response hook: learn the server's clock from its Date header."""
    try:
        SERVER_CLOCK.note(_host_of(resp.url or ""), resp.headers.get("Date"))
    except Exception:  # noqa: BLE001 - a hook must never break a request
        pass
    return resp


def watch_clock(client: Any) -> None:
    """Learn the server's clock from every answer the client's session receives (installed once per session)."""
    session = getattr(client, "_session", None)
    hooks = getattr(session, "hooks", None)
    if not isinstance(hooks, dict):
        return
    got = hooks.setdefault("response", [])
    if isinstance(got, list) and _note_response not in got:
        got.append(_note_response)


def server_knows(client: Any, url: str) -> bool:
    """True when the server's clock is known (the client's own offset, or a Date heard from some server)."""
    off = getattr(client, "clock_offset", None)
    if isinstance(off, int | float) and not isinstance(off, bool):
        return True
    return SERVER_CLOCK.offset(_host_of(url)) is not None


def server_now(client: Any, url: str) -> float:
    """The time by which ``url``'s expiry is judged: the client's own server offset when it knows one, else the
    offset learned from the URL's host (or any server), else this computer's clock."""
    off = getattr(client, "clock_offset", None)
    if isinstance(off, int | float) and not isinstance(off, bool) and abs(off) <= MAX_CLOCK_OFFSET:
        return _local_time() + float(off)
    return SERVER_CLOCK.now(_host_of(url))


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


# ============================================================================================== URL helpers
def output_url(output: Mapping[str, Any] | None, key: str) -> str | None:
    """The URL under a semantic output ``key`` (``"clips.1"`` reaches the second clip)."""
    from .outputs import get

    cur = get(output, key)
    return cur if isinstance(cur, str) and cur.startswith(("http://", "https://")) else None


def url_problem(url: str) -> str | None:
    """Why a download address cannot be used (it does not parse, has no host, is absurdly long), or None."""
    if len(url) > 16_384:
        return "it is longer than any real address"
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        return "it contains spaces or control characters"
    try:
        parts = urlparse(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"it does not parse ({exc})"
    if parts.scheme not in ("http", "https") or not host:
        return "it names no server"
    return None


def unreadable_url(task_id: str, key: str, why: str) -> TripoDownloadError:
    what = key.split(".")[0].replace("_", " ")
    return TripoDownloadError(
        f"Task {task_id}: the download address for {key!r} is unusable: {why}.",
        user_message=f"Tripo returned an unreadable download address for the {what}; the task {task_id} itself "
        "succeeded, so try the download again later (Import), or get the file from the Tripo website.",
    )


def url_expiry(url: str) -> float | None:
    """Unix time when a signed URL stops working, when the URL says: ``expires``/``Expires`` (epoch), S3
    ``X-Amz-Date`` + ``X-Amz-Expires``, a CloudFront ``Policy`` (``DateLessThan``), or BOS ``auth_key``."""
    q = {k.lower(): v[0] for k, v in parse_qs(urlparse(url).query, keep_blank_values=True).items() if v}
    for name in ("expires", "x-expires", "e"):
        v = q.get(name)
        if v and re.fullmatch(r"\d{9,11}", v):
            return float(v)
    if "x-amz-date" in q and "x-amz-expires" in q:
        try:
            t = time.strptime(q["x-amz-date"], "%Y%m%dT%H%M%SZ")
            return calendar.timegm(t) + float(q["x-amz-expires"])
        except (ValueError, OverflowError):
            return None
    if "policy" in q:
        try:
            raw = q["policy"].replace("-", "+").replace("_", "=").replace("~", "/")
            doc = json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4)))
            return float(doc["Statement"][0]["Condition"]["DateLessThan"]["AWS:EpochTime"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None
    if "auth_key" in q:
        m = re.match(r"^(\d{9,11})-", q["auth_key"])
        if m:
            return float(m.group(1))
    return None


def url_expired(url: str, *, now: float | None = None, margin: float = EXPIRY_MARGIN) -> bool:
    """True when the URL says it stops working within ``margin`` seconds of ``now`` (default: the clock of the
    servers heard from, see :data:`SERVER_CLOCK`)."""
    try:
        exp = url_expiry(url)
    except ValueError:
        return False  # unparseable: url_problem() says why
    return exp is not None and exp - margin <= (SERVER_CLOCK.now(_host_of(url)) if now is None else now)


def _slug(text: str, limit: int = 120) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:limit]


def safe_file_name(url: str, task_id: str, key: str, *, own_folder: bool = False) -> str:
    """A file name for the download, unique per task and output key and the same every time: ``<task_id>_<key>``
    (``key`` alone in the task's own folder: ``model.glb``, ``clips_1.fbx``) with the URL's file extension. Two
    outputs never share a name, however their URLs are called."""
    try:
        base = unquote(PurePosixPath(urlparse(url).path).name)
    except ValueError:
        base = ""
    ext = os.path.splitext(base)[1].lower()
    ext = ext if re.fullmatch(r"\.[a-z0-9]{1,10}", ext) else ""
    stem = _slug(key) or "output"
    if not own_folder:
        stem = f"{_slug(task_id, 80) or 'task'}_{stem}"
    return stem + ext


# ============================================================================================== verification
def glb_problem(path: str | os.PathLike) -> str | None:
    """Why a .glb file is broken (bad magic, version, length, first chunk), or None."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(20)
        if len(head) < 20 or head[:4] != b"glTF":
            return "it is not a GLB file"
        version, length, chunk_len, chunk_type = struct.unpack("<III4s", head[4:20])
        if version != 2:
            return f"unsupported glTF version {version}"
        if length != size:
            return f"its header says {length} bytes but {size} arrived"
        if chunk_type != b"JSON" or 20 + chunk_len > size:
            return "its JSON chunk is damaged"
        try:
            json.loads(f.read(chunk_len).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return "its JSON chunk does not parse"
    return None


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    mode = (info.external_attr >> 16) & 0xFFFF
    if stat.S_ISLNK(mode):
        return f"{name} is a symbolic link"
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) or norm.startswith("//"):
        return f"{name} is an absolute path"
    if ".." in norm.split("/"):
        return f"{name} points outside the folder"
    if "\x00" in name:
        return f"{name!r} has a NUL character"
    return None


def check_zip(path: str | os.PathLike, *, safety: bool = True) -> list[zipfile.ZipInfo]:
    """Check a zip's integrity (CRCs) and, with ``safety``, that no member is absolute, uses ``..`` or is a link.
    Raises TripoUnsafeArchive (unsafe) or TripoDownloadError (corrupt); returns the members."""
    name = Path(path).name
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if safety:
                for info in infos:
                    why = _unsafe_member(info)
                    if why:
                        raise TripoUnsafeArchive(
                            f"{name}: {why}.",
                            user_message=f"The downloaded archive {name} was refused because {why}; it was not "
                            "extracted. Report this task to Tripo support.",
                        )
                if len(infos) > ZIP_MAX_MEMBERS or sum(i.file_size for i in infos) > ZIP_MAX_BYTES:
                    raise TripoUnsafeArchive(f"{name}: too many or too large members.",
                                             user_message=f"The downloaded archive {name} is implausibly large; "
                                             "it was not extracted.")
            bad = zf.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise TripoDownloadError(f"{name} is not a valid zip: {exc}") from None
    if bad is not None:
        raise TripoDownloadError(f"{name}: member {bad} is damaged")
    return infos


def safe_extract(zip_path: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Extract a checked zip into ``dest`` (created); refuses unsafe members before writing anything."""
    infos = check_zip(zip_path)
    root = Path(dest).resolve()
    root.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    with zipfile.ZipFile(zip_path) as zf:
        for info in infos:
            target = (root / info.filename.replace("\\", "/")).resolve()
            if target != root and root not in target.parents:  # belt and braces after check_zip
                raise TripoUnsafeArchive(f"{info.filename} escapes {root}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                while True:
                    block = src.read(CHUNK)
                    if not block:
                        break
                    dst.write(block)
            out.append(target)
    return out


def verify_file(path: str | os.PathLike, kind: str) -> None:
    """Check a downloaded file by its kind (extension). Raises _Transient when it looks damaged (worth a retry),
    TripoUnsafeArchive when a zip is unsafe."""
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        raise _Transient("the file arrived empty")
    with p.open("rb") as f:
        head = f.read(64)
    if kind not in ("html", "htm") and head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        raise _Transient("an HTML page arrived instead of the file")
    if kind == "glb":
        problem = glb_problem(p)
        if problem:
            raise _Transient(f"the GLB is damaged ({problem})")
    elif kind in ZIP_KINDS:
        try:
            check_zip(p, safety=kind == "zip")
        except TripoUnsafeArchive:
            raise
        except TripoDownloadError as exc:
            raise _Transient(f"the archive is damaged ({exc.message})") from None
    elif kind in ("png", "jpg", "jpeg", "webp"):
        with p.open("rb") as f:
            if sniff_image(f.read(1 << 16)) is None:
                raise _Transient("the image is damaged")


# ============================================================================================== storage errors
def _storage_error(exc: OSError, folder: Path, name: str) -> TripoStorageError:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return TripoStorageError(
            f"No space left in {folder} for {name}.",
            user_message=f"There is not enough free disk space in {folder} to save {name}; free some space or choose "
            "another download folder in the preferences, then download again.",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or isinstance(exc, PermissionError):
        return TripoStorageError(
            f"Cannot write to {folder}: {exc.strerror or exc}.",
            user_message=f"The download folder {folder} cannot be written to ({exc.strerror or 'permission denied'}); "
            "choose another download folder in the preferences, then download again.",
        )
    return TripoStorageError(
        f"Saving {name} in {folder} failed: {exc.strerror or exc}.",
        user_message=f"Saving {name} in {folder} failed ({exc.strerror or exc}); check the download folder.",
    )


# ============================================================================================== download
def _fresh_url(client: TripoClient, task_id: str, key: str, cancel: threading.Event | None) -> str:
    watch_clock(client)  # this answer's Date tells the server's time (judging the new URL's expiry)
    task = client.get_task(task_id, cancel=cancel)
    if task.status != TaskStatus.SUCCESS:
        if task.status in TaskStatus.FAILURES:
            from .failures import task_failed

            raise task_failed(task)
        raise TripoDownloadError(
            f"Task {task_id} is {task.status}; nothing to download yet.",
            user_message=f"Task {task_id} has not finished yet ({task.status}); download it when it has succeeded.",
        )
    url = output_url(task.output, key)
    if url is None:
        have = ", ".join(sorted(k for k, v in task.output.items() if isinstance(v, str | dict))) or "nothing"
        raise TripoDownloadError(
            f"Task {task_id} has no output {key!r} (it has: {have}).",
            user_message=f"Task {task_id} did not return a {key.replace('_', ' ')} file (it returned: {have}).",
        )
    why = url_problem(url)
    if why:
        raise unreadable_url(task_id, key, why)
    return url


def _body_chunks(resp: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: ``read1`` returns whatever is there (so cancel and progress stay responsive on slow
    links) instead of waiting for a full chunk; older urllib3 falls back to 64 KB ``iter_content``."""
    read1 = getattr(resp.raw, "read1", None)
    if read1 is None:  # pragma: no cover - urllib3 < 2
        yield from resp.iter_content(64 * 1024)
        return
    while True:
        chunk = read1(CHUNK, decode_content=True)
        if not chunk:
            return
        yield chunk


def _stream(client: TripoClient, url: str, tmp: Path, cancel: threading.Event | None,
            progress: Callable[[int, int | None], None] | None, folder: Path, name: str) -> None:
    limits = limits_of(client)
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    limit = limits.max_for(kind)
    try:
        resp = client._session.get(url, stream=True, timeout=client.timeout, headers={"Accept": "*/*"},
                                   **client.transport_options(url))
    except requests.RequestException as exc:
        from .transport import transport_reason

        raise _Transient(transport_reason(exc)) from None
    with resp:
        SERVER_CLOCK.note(_host_of(url), resp.headers.get("Date"))  # the host that judges the URL's expiry
        status = resp.status_code
        if status in (401, 403, 404, 410):
            raise _Expired()
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}", _polling.parse_retry_after(resp.headers.get("Retry-After")))
        if status != 200:
            raise TripoDownloadError(f"Download of {name} answered HTTP {status}.",
                                     user_message=f"Downloading {name} failed (HTTP {status}); try again later.")
        encoding = resp.headers.get("Content-Encoding", "identity").lower()
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() and encoding in ("", "identity") else None
        if total is not None and total > limit:
            raise too_large(name, kind, limit, f"the server announced {size_text(total)}")
        done = 0
        try:
            f = tmp.open("wb")
        except OSError as exc:
            raise _storage_error(exc, folder, name) from None
        with f, Watchdog(resp, cancel, limits) as dog:
            chunks = _body_chunks(resp)
            while True:
                if cancel is not None and cancel.is_set():
                    raise TripoCancelled(f"Download of {name} cancelled.")
                try:
                    chunk = next(chunks, None)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    if dog.reason:
                        break
                    from .transport import transport_reason

                    raise _Transient(f"the transfer was interrupted ({transport_reason(exc)})") from None
                if chunk is None or dog.reason:
                    break
                if not chunk:
                    continue
                done += len(chunk)
                dog.done = done
                if done > limit:
                    raise too_large(name, kind, limit, f"more than {size_text(limit)} arrived"
                                     + (" without a declared size" if total is None else ""))
                if total is not None and done > total:
                    raise too_large(name, kind, limit, f"more than the announced {size_text(total)} arrived")
                try:
                    f.write(chunk)
                except OSError as exc:
                    raise _storage_error(exc, folder, name) from None
                if progress is not None:
                    progress(done, total)
            if dog.reason == "cancelled" or (cancel is not None and cancel.is_set()):
                raise TripoCancelled(f"Download of {name} cancelled.")
            if dog.reason:
                raise _Transient(dog.reason)
            try:
                f.flush()
                os.fsync(f.fileno())
            except OSError as exc:
                raise _storage_error(exc, folder, name) from None
        if total is not None and done != total:
            raise _Transient(f"only {done} of {total} bytes arrived")


def download(
    client: TripoClient,
    task_id: str,
    output_key: str,
    dest_dir: str | os.PathLike,
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    filename: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    max_refreshes: int = MAX_REFRESHES,
    output: Mapping[str, Any] | None = None,
) -> Path:
    """Download ``output_key`` of a successful task into ``dest_dir`` and return the verified file's path.

    ``output``: the task's output as the caller just polled it. Its URL is used when it is not (about to be)
    expired, which saves a ``GET /task``; a refused or expired URL is replaced by a fresh one as always.
    """
    folder = Path(dest_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage_error(exc, folder, output_key) from None
    watch_clock(client)
    url = output_url(output, output_key) if output else None
    if url is not None and (url_problem(url) or (server_knows(client, url)
                                                 and url_expired(url, now=server_now(client, url)))):
        url = None  # unusable or expired by the server's clock: ask for a fresh one
    if url is None:
        url = _fresh_url(client, task_id, output_key, cancel)
    name = filename or safe_file_name(url, task_id, output_key, own_folder=folder.name == str(task_id))
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    final = folder / name
    refreshes = failures = 0
    last_reason = ""
    while True:
        client._check_cancel(cancel)
        # judged by the server's clock only: with none heard yet the URL is tried (the host refuses an expired one,
        # which fetches another, bounded below), so no local clock, however wrong, makes a result undownloadable
        if server_knows(client, url) and url_expired(url, now=server_now(client, url)):
            if refreshes >= max_refreshes:
                raise TripoDownloadError(f"The download links for {name} keep expiring.",
                                         user_message=f"Tripo keeps handing out download links for {name} that have "
                                         "already expired; try again later.")
            refreshes += 1
            url = _fresh_url(client, task_id, output_key, cancel)
            continue
        tmp = folder / f".{name}.{uuid.uuid4().hex[:8]}.part"
        try:
            _stream(client, url, tmp, cancel, progress, folder, name)
            verify_file(tmp, kind)
            try:
                os.replace(tmp, final)
            except OSError as exc:
                raise _storage_error(exc, folder, name) from None
            return final
        except _Expired:
            if refreshes >= max_refreshes:
                raise TripoDownloadError(
                    f"The download link for {name} was refused {refreshes + 1} times.",
                    user_message=f"Tripo refused the download link for {name} even after fetching fresh ones; try "
                    "again later.",
                ) from None
            refreshes += 1
            url = _fresh_url(client, task_id, output_key, cancel)
        except _Transient as exc:
            failures += 1
            last_reason = exc.reason
            if failures >= max_attempts:
                raise TripoDownloadError(
                    f"Download of {name} failed {failures} times: {last_reason}.",
                    user_message=f"Downloading {name} failed {failures} times ({last_reason}); check your connection "
                    "and try again.",
                ) from None
            client._sleep(client._retry_delay(failures, exc.retry_after), cancel)
        finally:
            if tmp.exists():
                try:
                    tmp.unlink()
                except OSError:
                    pass
