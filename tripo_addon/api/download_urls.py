"""Download addresses (no bpy): what a signed URL says about its expiry, judged by the servers' clock (the offset
learned from the ``Date`` of their answers, not this computer's clock), whether an address is usable at all, and the
file name an output gets (by task and output key: two outputs never share one)."""

from __future__ import annotations

import base64
import calendar
import email.utils
import json
import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .errors import TripoDownloadError

EXPIRY_MARGIN = 5.0       # seconds: a URL about to expire is refreshed first
#: Offsets larger than this (server minus local, seconds) are not believed: a broken Date header, not a clock.
MAX_CLOCK_OFFSET = 2 * 86400.0


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

    def note(self, host: str, date_header: str | None, received: float | None = None, age: str | None = None) -> None:
        """One answer's ``Date`` (plus its ``Age``: a cache's copy was dated when the origin sent it)."""
        if not date_header:
            return
        try:
            when = email.utils.parsedate_to_datetime(str(date_header)[:64])
            stamp = when.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        if age and str(age).strip().isdigit() and len(str(age).strip()) < 9:
            stamp += int(str(age).strip())
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
        SERVER_CLOCK.note(_host_of(resp.url or ""), resp.headers.get("Date"), age=resp.headers.get("Age"))
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



# ============================================================================================== addresses
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
