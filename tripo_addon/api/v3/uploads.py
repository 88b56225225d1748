"""v3 uploads: ``POST /v3/files`` (multipart, up to 50 MB) or, for larger files, ``POST /v3/files/presign`` then a
``PUT`` of the raw bytes to the presigned URL. The API key never goes to the upload host. Files are checked locally
first (:mod:`~tripo_addon.api.localfiles`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import requests

from ..errors import TripoCancelled, TripoNetworkError, TripoServerError, TripoUploadError
from ..inputs import Input, token
from ..localfiles import MIME, check_local_file
from ..transport import read_body, transport_reason

if TYPE_CHECKING:  # pragma: no cover
    from ..dialect import Client

DIRECT_MAX = 50 * 1024 * 1024
#: The API's cap for any upload (tripo-api-v3.md §17: 150 MB).
UPLOAD_MAX = 150 * 1024 * 1024
FILES_PATH = "/v3/files"
PRESIGN_PATH = "/v3/files/presign"


def upload(client: Client, path: str | os.PathLike, *, mesh: bool, method: str = "auto",
           cancel: threading.Event | None = None,
           progress: Callable[[int, int | None], None] | None = None) -> Input:
    """Check the file, upload it, and return the Input (its ``file_<uuid>`` token)."""
    p = Path(path)
    fmt = check_local_file(p, "file", "import_model" if mesh else "")
    ext = "jpg" if fmt == "jpeg" else fmt
    size = p.stat().st_size
    if size > UPLOAD_MAX:
        raise TripoUploadError(f"{p.name} is {size / 1048576:.0f} MB",
                               user_message=f"{p.name} is {size / 1048576:.0f} MB; Tripo accepts uploads up to 150 "
                               "MB. Simplify the model or compress its textures.")
    if method != "presign" and size <= DIRECT_MAX:
        files = {"file": (p.stem + "." + ext, p.read_bytes(), MIME.get(fmt, "application/octet-stream"))}
        data, trace = client.request("POST", FILES_PATH, files=files, cancel=cancel, what=f"upload {p.name}")
        if progress is not None:
            progress(size, size)
        return token(_token_from(data, trace, p.name), ext)
    data, trace = client.request("POST", PRESIGN_PATH, json={"format": ext}, cancel=cancel,
                                 what=f"prepare the upload of {p.name}")
    tok = _token_from(data, trace, p.name)
    url = data.get("presigned_url") or data.get("upload_url") if isinstance(data, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise TripoServerError("presign: no upload URL", trace_id=trace,
                               user_message="Tripo sent no upload address for the file; try again.")
    _put(client, url, p, MIME.get(fmt, "application/octet-stream"), size, cancel, progress)
    return token(tok, ext)


def _token_from(data: Any, trace: str | None, name: str) -> str:
    tok = data.get("file_token") if isinstance(data, Mapping) else None
    if not isinstance(tok, str) or not tok.strip() or len(tok) > 256:
        raise TripoUploadError(f"upload {name}: no file token in the answer", trace_id=trace,
                               user_message="Tripo accepted the file but sent no token; upload it again.")
    return tok.strip()


class _Reader:
    """A file object that reports progress and stops on cancel while requests streams it."""

    def __init__(self, f: BinaryIO, size: int, cancel: threading.Event | None,
                 progress: Callable[[int, int | None], None] | None) -> None:
        self.f, self.size, self.cancel, self.progress, self.done = f, size, cancel, progress, 0

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise TripoCancelled("Upload cancelled.")
        chunk = self.f.read(n if n and n > 0 else 1024 * 1024)
        self.done += len(chunk)
        if self.progress is not None and chunk:
            self.progress(self.done, self.size)
        return chunk


def _put(client: Client, url: str, p: Path, mime: str, size: int, cancel: threading.Event | None,
         progress: Callable[[int, int | None], None] | None) -> None:
    """PUT the raw bytes to the presigned URL: no API key, Content-Type and Content-Length only. Sending the same
    bytes to the same URL again is harmless, so a failed connection, a 5xx or a 429 is retried like any safe
    request (``client.max_retries``, with back-off)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            status, detail = _put_once(client, url, p, mime, size, cancel, progress)
        except TripoNetworkError:
            if attempt > client.max_retries:
                raise
            client._sleep(client._retry_delay(attempt), cancel)
            continue
        if (status >= 500 or status == 429) and attempt <= client.max_retries:
            client._sleep(client._retry_delay(attempt), cancel)
            continue
        break
    if not 200 <= status < 300:
        raise TripoUploadError(f"upload of {p.name}: HTTP {status} {detail}",
                               user_message=f"Tripo's storage refused the upload of {p.name} (HTTP {status}); try "
                               "again. If it keeps failing the upload address may have expired: check your clock.")


def _put_once(client: Client, url: str, p: Path, mime: str, size: int, cancel: threading.Event | None,
              progress: Callable[[int, int | None], None] | None) -> tuple[int, str]:
    """One PUT: (HTTP status, the start of the answer)."""
    try:
        with p.open("rb") as f:
            resp = requests.put(url, data=_Reader(f, size, cancel, progress),
                                headers={"Content-Type": mime, "Content-Length": str(size),
                                         "User-Agent": client.user_agent},
                                timeout=client.timeout, allow_redirects=False, stream=True,
                                **client.transport_options(url))
            status = resp.status_code
            detail = read_body(resp, limit=64 * 1024).decode("utf-8", "replace")[:300]
    except TripoCancelled:
        raise
    except requests.RequestException as exc:
        if cancel is not None and cancel.is_set():
            raise TripoCancelled("Upload cancelled.") from None
        reason = transport_reason(exc)
        raise TripoNetworkError(f"upload of {p.name}: {reason}",
                                user_message=f"The upload of {p.name} to Tripo's storage failed: {reason}. Check "
                                "your connection and try again.") from None
    except Exception as exc:  # read_body's bounds
        raise TripoUploadError(f"upload of {p.name}: {exc}",
                               user_message=f"The upload of {p.name} failed ({exc}); try again.") from None
    return status, detail
