"""The HTTP plumbing every request shares: loopback detection, transport error reasons, whether a failed request
left this computer, and reading an answer within a size and time bound. No Tripo knowledge here (no routes, no
envelope); the client, the uploads and the downloads all use it, so none of them imports another.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
import warnings
from typing import Any

import requests
import urllib3

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
#: Largest API answer read (a task list of 100 tasks is well under 1 MB); bigger answers are refused unread.
MAX_API_BODY = 8 * 1024 * 1024


def quiet_loopback_tls_warnings() -> None:
    """No InsecureRequestWarning per request for loopback hosts (the emulator's self-signed S3); idempotent."""
    warnings.filterwarnings(
        "ignore",
        message=r"Unverified HTTPS request is being made to host '(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])'",
        category=urllib3.exceptions.InsecureRequestWarning,
    )


quiet_loopback_tls_warnings()


class Secret:
    """Holds the API key so that ``repr``/``str``/``vars()`` of a client never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def fingerprint(self, salt: bytes) -> str:
        """A short salted hash that tells two keys apart without revealing either (journaled with each job)."""
        return hashlib.blake2b(self._value.encode("utf-8"), key=salt[:64], digest_size=8).hexdigest()

    def __repr__(self) -> str:
        return "'tsk_***'"

    __str__ = __repr__

    def __reduce__(self):  # never pickled with the key
        raise TypeError("the API key holder cannot be pickled")


def is_loopback(host: str | None) -> bool:
    """True for localhost / 127.0.0.0/8 / ::1 (where TLS to a self-signed local server is acceptable)."""
    if not host:
        return False
    h = host.strip("[]").lower()
    if h in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def transport_reason(exc: BaseException) -> str:
    """A short human reason for a requests/urllib3 transport error."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return "its TLS certificate is not trusted (behind a company proxy? set a CA bundle in the preferences)"
        return "the secure (TLS) connection failed"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy refused or could not be reached"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connecting timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "the answer timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off"
    low = text.lower()
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo failed" in low \
            or "name resolution" in low or "failed to resolve" in low:
        return "the server name could not be resolved (DNS)"
    if "connection refused" in low:
        return "the connection was refused"
    if "remotedisconnected" in low or "connection aborted" in low or "connection reset" in low:
        return "the connection was dropped"
    return "the connection failed"


def request_not_sent(exc: BaseException) -> bool:
    """True when a transport error happened before any byte of the request reached the server (safe to resend)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):  # the handshake failed (nothing sent) or a later record did
        return _in_handshake(exc)
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema | requests.exceptions.InvalidHeader):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        if isinstance(reason, urllib3.exceptions.ProxyError):
            reason = reason.original_error if hasattr(reason, "original_error") else reason.args[-1]
            if type(reason) is OSError and str(reason).startswith("Tunnel connection failed"):
                return True  # the proxy refused the CONNECT (e.g. 403/502): the tunnel never opened
        return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)
    return False




#: Functions on the stack of a TLS error raised while the connection was being set up (before any request byte).
_HANDSHAKE_FRAMES = frozenset({"do_handshake", "wrap_socket", "ssl_wrap_socket", "_ssl_wrap_socket_impl",
                               "_ssl_wrap_socket_and_match_hostname", "_match_hostname", "match_hostname"})


def _in_handshake(exc: BaseException) -> bool:
    """True only when the TLS error provably came from the handshake (its traceback passes through it); a TLS error
    after the request was written (a bad record, a cut connection) means the outcome is unknown."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo and len(seen) < 32:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name in _HANDSHAKE_FRAMES:
                return True
            tb = tb.tb_next
        todo += [*e.args, getattr(e, "reason", None), e.__cause__, e.__context__]
    return False


class BodyTooLarge(Exception):
    """An answer exceeded the size bound (reading stopped there)."""


class BodyTooSlow(Exception):
    """An answer did not finish within the time bound."""


def read_body(resp: requests.Response, *, limit: int = MAX_API_BODY, deadline: float | None = None,
              cancel: threading.Event | None = None, chunk: int = 64 * 1024) -> bytes:
    """The body of a streamed response, at most ``limit`` bytes and finished by ``deadline`` (``time.monotonic()``).

    Raises BodyTooLarge (declared or actual size over the limit), BodyTooSlow (deadline passed while bytes still
    trickled in) and requests exceptions from the socket; returns early on ``cancel`` with what was read discarded
    (raises BodyTooSlow with "cancelled"). The response is closed in every case.
    """
    try:
        if getattr(resp, "_content_consumed", False) and isinstance(getattr(resp, "_content", None), bytes):
            if len(resp._content) > limit:  # a response hook read it already (requests keeps it)
                raise BodyTooLarge(f"the answer is larger than {limit:,} bytes")
            return resp._content
        declared = resp.headers.get("Content-Length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"the answer is {int(declared):,} bytes (the limit is {limit:,})")
        parts: list[bytes] = []
        size = 0
        for part in _arrivals(resp, chunk):
            if not part:
                continue
            size += len(part)
            if size > limit:
                raise BodyTooLarge(f"the answer is larger than {limit:,} bytes")
            parts.append(part)
            if cancel is not None and cancel.is_set():
                raise BodyTooSlow("cancelled")
            if deadline is not None and time.monotonic() > deadline:
                raise BodyTooSlow("the answer took too long to arrive")
        return b"".join(parts)
    finally:
        resp.close()



def _arrivals(resp: requests.Response, chunk: int):
    """The body as it arrives: ``read1`` returns whatever bytes are there, so a trickling answer still lets the caller
    check its deadline and cancel after every arrival (``iter_content`` would wait for a whole chunk)."""
    read1 = getattr(resp.raw, "read1", None)
    if read1 is None:  # pragma: no cover - urllib3 < 2
        yield from resp.iter_content(chunk)
        return
    while True:
        try:
            part = read1(chunk, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:  # the errors requests would have raised
            raise requests.exceptions.ReadTimeout(str(exc)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise requests.exceptions.ChunkedEncodingError(str(exc)) from None
        if not part:
            return
        yield part
