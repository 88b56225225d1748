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

import errno
import json
import os
import re
import stat
import struct
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
import urllib3

from . import download_urls as _urls
from . import polling as _polling
from .download_limits import GB, LIMITS, MB, DownloadLimits, Watchdog, limits_of, size_text, too_large
from .download_urls import (  # noqa: F401 - re-exported: the download API's address helpers
    EXPIRY_MARGIN,
    ServerClock,
    _host_of,
    output_url,
    safe_file_name,
    server_knows,
    server_now,
    unreadable_url,
    url_expired,
    url_expiry,
    url_problem,
    watch_clock,
)
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
    from .dialect import Client

CHUNK = 1 << 20
MAX_ATTEMPTS = 4          # transfers of one file (truncated, corrupt, 5xx, transport errors)
MAX_REFRESHES = 3         # fresh URLs fetched for one file
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_BYTES = 4 << 30
ZIP_KINDS = ("zip", "usdz", "3mf")


class _Expired(Exception):
    pass


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


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
def _fresh_url(client: Client, task_id: str, key: str, cancel: threading.Event | None) -> str:
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


def _stream(client: Client, url: str, tmp: Path, cancel: threading.Event | None,
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
        _urls.SERVER_CLOCK.note(_host_of(url), resp.headers.get("Date"), age=resp.headers.get("Age"))  # the URL's judge
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
    client: Client,
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
