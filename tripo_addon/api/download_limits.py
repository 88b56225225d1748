"""Bounds of a result download (issue 10 item 12): the largest plausible file per kind, what counts as a stall, and
the watchdog thread that closes a streaming response on a stall or a cancel (a blocked read then ends at once)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from .errors import TripoDownloadError

GB = 1 << 30
MB = 1 << 20


@dataclass
class DownloadLimits:
    """Bounds of one result download. ``max_bytes`` per file kind (extension; ``"*"`` for the others);
    ``stall_seconds``/``stall_bytes``: fewer bytes than that in that many seconds is a stall.

    The module default is :data:`LIMITS`; a client may carry its own as ``client.download_limits``."""

    max_bytes: dict[str, int] = field(default_factory=lambda: {
        "*": 2 * GB, "png": 256 * MB, "jpg": 256 * MB, "jpeg": 256 * MB, "webp": 256 * MB})
    stall_seconds: float = 60.0
    stall_bytes: int = 64 * 1024

    def max_for(self, kind: str) -> int:
        return int(self.max_bytes.get(kind.lower(), self.max_bytes.get("*", 2 * GB)))


#: The default bounds (change them here, or give a client its own ``download_limits``).
LIMITS = DownloadLimits()


def limits_of(client: Any) -> DownloadLimits:
    limits = getattr(client, "download_limits", None)
    return limits if isinstance(limits, DownloadLimits) else LIMITS


def size_text(n: float) -> str:
    for unit, div in (("GB", GB), ("MB", MB), ("KB", 1024)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} bytes"


def too_large(name: str, kind: str, limit: int, what: str) -> TripoDownloadError:
    return TripoDownloadError(
        f"Download of {name} refused: {what}; the limit for .{kind or 'unknown'} results is {size_text(limit)}.",
        user_message=f"The download of {name} was stopped: {what}, more than the {size_text(limit)} a .{kind or '?'} "
        "result may plausibly be. Nothing was kept. Try the download again later; if it keeps happening, report "
        "the task to Tripo support.",
    )


class Watchdog:
    """Closes a streaming response when ``cancel`` is set or the transfer stalls, so a blocked read returns."""

    def __init__(self, resp: requests.Response, cancel: threading.Event | None, limits: DownloadLimits) -> None:
        self.resp, self.cancel, self.limits = resp, cancel, limits
        self.done = 0
        self.reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tripo-download-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        window = max(0.05, float(self.limits.stall_seconds))
        tick = min(0.25, window / 4)
        start, mark = time.monotonic(), 0
        while not self._stop.wait(tick):
            if self.cancel is not None and self.cancel.is_set():
                self.reason = "cancelled"
            elif time.monotonic() - start >= window:
                if self.done - mark < self.limits.stall_bytes:
                    self.reason = (f"the transfer stalled (only {size_text(self.done - mark)} arrived in the last "
                                   f"{window:g} s)")
                start, mark = time.monotonic(), self.done
            if self.reason:
                _abort(self.resp)
                return


def _abort(resp: requests.Response) -> None:
    """Shut the response's socket down (from another thread): a blocked read then ends at once."""
    raw = getattr(resp, "raw", None)
    conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is None:
        fp = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
