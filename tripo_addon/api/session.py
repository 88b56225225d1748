"""ApiSession: the HTTP session to the Tripo API with auth and the request loop (retries, bounded reads).

Money safety: a task creation is never re-sent when its outcome is unknown (the request may have created a task):
:class:`~tripo_addon.api.errors.TripoOutcomeUnknown` is raised instead; so is any 5xx or unreadable answer to it.
It is retried only when Tripo explicitly refused it (429 / 2000 / 1007: nothing created) or when the connection
failed before anything was sent. Answers are read within a size and time bound.

The task calls built on :meth:`ApiSession.request` are in :mod:`tripo_addon.api.client` (TripoClient).
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from . import __version__
from . import polling as _polling
from .dialect import GLOBAL_URL as DEFAULT_BASE_URL
from .dialect import KEY_CONSOLE, Dialect
from .dialects import dialect_for
from .errors import (
    TripoCancelled,
    TripoError,
    TripoNetworkError,
    TripoOutcomeUnknown,
    TripoServerError,
    TripoValidationError,
    redact,
)
from .transport import (
    MAX_API_BODY,
    BodyTooLarge,
    BodyTooSlow,
    Secret,
    is_loopback,
    read_body,
    request_not_sent,
    transport_reason,
)

log = logging.getLogger(__name__)

ENV_KEY = "TRIPO_API_KEY"
USER_AGENT = f"tripo-addon/{__version__}"
_KEY_RE = re.compile(r"^tsk_[\x21-\x7e]+$")
_MALFORMED = object()
#: HTTP statuses with which a create was certainly refused, even when the body cannot be read.
_DEFINITE_REFUSALS = frozenset({400, 401, 403, 404, 405, 413, 415, 422, 429})


def normalize_api_key(api_key: str | None) -> str:
    """The key with pasted whitespace/newlines around it removed; TripoValidationError when it is malformed.

    The key itself never appears in the message.
    """
    if api_key is None:
        api_key = os.environ.get(ENV_KEY)
    if api_key is None or not str(api_key).strip():
        raise TripoValidationError(
            f"No Tripo API key is set. Enter it in the add-on preferences (or set {ENV_KEY}); create one at "
            f"{KEY_CONSOLE} (Tripo's developer console).",
            param="api_key",
        )
    if not isinstance(api_key, str):
        raise TripoValidationError("The Tripo API key must be text.", param="api_key")
    key = api_key.strip()
    if any(ch.isspace() for ch in key):
        raise TripoValidationError(
            "The Tripo API key contains spaces or line breaks; copy it again as one piece.", param="api_key"
        )
    if not key.startswith("tsk_"):
        raise TripoValidationError(
            "This is not a Tripo API key: keys start with tsk_ (a tcli_ value is a client id, not a key). "
            f"Copy the key from {KEY_CONSOLE}.",
            param="api_key",
        )
    if not _KEY_RE.match(key) or len(key) > 512:
        raise TripoValidationError(
            "The Tripo API key contains characters a key cannot have; copy it again.", param="api_key"
        )
    return key


def normalize_base_url(base_url: str | None) -> str:
    """The API base URL without a trailing slash; plain http is accepted for loopback hosts only."""
    url = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise TripoValidationError(
            f"The API address {url!r} is not a valid http(s) URL; the default is {DEFAULT_BASE_URL}.",
            param="base_url",
        )
    if parsed.scheme == "http" and not is_loopback(parsed.hostname):
        raise TripoValidationError(
            f"The API address {url} uses plain http: your key would travel unencrypted. Use https:// "
            "(plain http is only allowed for a local emulator on this computer).",
            param="base_url",
        )
    if parsed.query or parsed.fragment:
        raise TripoValidationError(f"The API address {url} must not contain '?' or '#'.", param="base_url")
    return url


class ApiSession:
    """Session settings and the request loop of :class:`~tripo_addon.api.client.TripoClient`.

    ``api_key`` defaults to ``$TRIPO_API_KEY``; ``base_url`` to ``https://openapi.tripo3d.ai``. ``timeout`` is
    ``(connect, read)`` seconds or one number; an answer must also arrive whole within ``answer_deadline`` seconds
    and be at most ``max_answer`` bytes. ``max_retries`` bounds retries of safe requests (GETs, uploads) and of
    refused task creations (429). ``proxies`` ({"https": "http://proxy:3128"} or one URL) override the environment's
    proxy settings, which are honoured otherwise. ``ca_bundle`` is a PEM file of extra trusted certificates.
    ``poll_min``/``poll_max`` bound ``wait()``'s poll interval.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        max_retries: int = 4,
        proxies: Mapping[str, str] | str | None = None,
        ca_bundle: str | os.PathLike | None = None,
        poll_min: float = _polling.DEFAULT_POLL_MIN,
        poll_max: float = _polling.DEFAULT_POLL_MAX,
        user_agent: str = USER_AGENT,
        retry_base: float = 0.5,
        retry_cap: float = 20.0,
        retry_after_max: float = 30.0,
        unknown_polls: int = _polling.UNKNOWN_POLLS_LIMIT,
        max_answer: int = MAX_API_BODY,
        answer_deadline: float = 120.0,
        dialect: Dialect | None = None,
    ) -> None:
        self.__key = Secret(normalize_api_key(api_key))
        self.base_url = normalize_base_url(base_url)
        self.dialect: Dialect = dialect or dialect_for(self.base_url)
        self.api: str = self.dialect.name
        #: per-client state a dialect keeps (e.g. which v2 upload route answered)
        self.dialect_state: dict[str, Any] = {}
        self.timeout: tuple[float, float] = (
            (float(timeout), float(timeout)) if isinstance(timeout, int | float) else (float(timeout[0]),
                                                                                        float(timeout[1]))
        )
        self.max_retries = max(0, int(max_retries))
        self.retry_base = float(retry_base)
        self.retry_cap = float(retry_cap)
        self.retry_after_max = float(retry_after_max)
        self.poll_min = float(poll_min)
        self.poll_max = max(float(poll_max), self.poll_min)
        self.unknown_polls = max(1, int(unknown_polls))
        self.max_answer = int(max_answer)
        self.answer_deadline = float(answer_deadline)
        self.user_agent = user_agent
        if isinstance(proxies, str):
            proxies = {"http": proxies, "https": proxies} if proxies.strip() else None
        self.proxies: dict[str, str] | None = {k: v for k, v in proxies.items() if v} if proxies else None
        self.ca_bundle: str | None = None
        if ca_bundle:
            cab = Path(ca_bundle).expanduser()
            if not cab.exists():
                raise TripoValidationError(
                    f"The CA bundle {cab} does not exist; choose a PEM certificate file or clear the setting.",
                    param="ca_bundle",
                )
            self.ca_bundle = str(cab)
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": self.user_agent, "Accept": "application/json"})
        self._closed = False
        #: Tripo's clock minus ours in seconds, from the ``Date`` header of the latest answer (None until one came).
        #: Recovery places a lost create in Tripo's time with it (jobs/recover.py), never trusting the local clock.
        self.server_offset: float | None = None

    # ------------------------------------------------------------------------------------------ basics
    def key_fingerprint(self, salt: bytes) -> str:
        """A salted fingerprint of this client's key (see :meth:`Secret.fingerprint`); never the key."""
        return self.__key.fingerprint(salt)

    def __repr__(self) -> str:
        return f"TripoClient(base_url={self.base_url!r}, api={self.api!r}, api_key='tsk_***')"

    def __enter__(self) -> ApiSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        if not self._closed:
            self._closed = True
            self._session.close()

    @property
    def is_local(self) -> bool:
        """True when the API is on this computer (an emulator)."""
        return is_loopback(urlparse(self.base_url).hostname)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.__key.reveal()}", **self.dialect.request_headers()}

    def transport_options(self, url: str) -> dict[str, Any]:
        """``verify`` and ``proxies`` for a request to ``url``: TLS always verified except on loopback (unless a CA
        bundle is given), explicit proxies win over the environment, loopback never goes through a proxy."""
        host = urlparse(url).hostname
        local = is_loopback(host)
        verify: bool | str = self.ca_bundle if self.ca_bundle else (not local)
        if local:
            proxies: dict[str, str | None] = {"http": None, "https": None, "all": None}
        else:
            proxies = dict(self.proxies) if self.proxies else {}
        return {"verify": verify, "proxies": proxies}

    def _sleep(self, seconds: float, cancel: threading.Event | None) -> None:
        """Sleep, waking at once (TripoCancelled) when ``cancel`` is set."""
        if cancel is not None:
            if cancel.wait(max(0.0, seconds)):
                raise TripoCancelled("Cancelled while waiting.")
        elif seconds > 0:
            time.sleep(seconds)

    @staticmethod
    def _check_cancel(cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            raise TripoCancelled("Cancelled.")

    def _retry_delay(self, attempt: int, retry_after: float | None = None) -> float:
        return _polling.retry_delay(attempt, base=self.retry_base, cap=self.retry_cap, retry_after=retry_after,
                                    retry_after_cap=self.retry_after_max)

    # ------------------------------------------------------------------------------------------ core request
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        files: Any = None,
        create: bool = False,
        cancel: threading.Event | None = None,
        what: str = "",
    ) -> tuple[Any, str | None]:
        """Send an API request and return ``(data, request_id)`` from the success envelope.

        Safe requests (``create=False``: GETs, uploads) are retried on transport errors, 429, 5xx and unreadable
        answers, with exponential back-off + full jitter or ``Retry-After``. ``create=True`` is retried only on
        429 / 2000 / 1007 and on connection failures before sending; a 5xx, an unreadable answer or a lost answer
        raises TripoOutcomeUnknown (the task may exist: never sent again blindly).
        """
        if self._closed:
            raise TripoError("This TripoClient is closed.", user_message="Internal error: the Tripo client was closed.")
        url = self.base_url + path
        what = what or f"{method} {path}"
        wire = self.dialect
        attempt = 0
        while True:
            attempt += 1
            self._check_cancel(cancel)
            sent_at = time.time()
            try:
                resp = self._session.request(
                    method, url, json=json, files=files, headers=self._auth_headers(), timeout=self.timeout,
                    allow_redirects=False, stream=True, **self.transport_options(url),
                )
                status = resp.status_code
                headers = resp.headers
                offset = server_offset(headers.get("Date"), sent_at, time.time())
                if offset is not None:
                    self.server_offset = offset
                try:  # a create's answer is read whole even when cancelled: it may hold the id of a paid task
                    body = read_body(resp, limit=self.max_answer, cancel=None if create else cancel,
                                     deadline=time.monotonic() + self.answer_deadline)
                except BodyTooLarge as exc:  # read as unreadable: a create's outcome is then unknown
                    log.warning("Tripo %s: %s", what, exc)
                    body = _MALFORMED  # type: ignore[assignment]
            except BodyTooSlow as exc:
                if cancel is not None and cancel.is_set():
                    raise TripoCancelled("Cancelled.") from None
                reason = "the answer took too long to arrive"
                if create:
                    raise TripoOutcomeUnknown(
                        f"{method} {path} for {create_summary(what, json)}: {reason}.", task_type=what,
                        body=json, sent_at=sent_at, reason=reason) from None
                if attempt <= self.max_retries:
                    self._sleep(self._retry_delay(attempt), cancel)
                    continue
                raise TripoNetworkError(f"{what}: {reason} ({exc}).",
                                        user_message=f"Tripo at {urlparse(url).netloc} answered too slowly; try "
                                        "again.") from None
            except requests.RequestException as exc:
                reason = transport_reason(exc)
                not_sent = request_not_sent(exc)
                if create and not not_sent:
                    raise TripoOutcomeUnknown(
                        f"{method} {path} for {create_summary(what, json)}: {reason}.", task_type=what,
                        body=json, sent_at=sent_at, reason=reason,
                    ) from None
                retriable = not isinstance(exc, requests.exceptions.SSLError | requests.exceptions.InvalidURL
                                           | requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema)
                if retriable and attempt <= self.max_retries:
                    log.debug("Tripo %s: %s; retry %d", what, reason, attempt)
                    self._sleep(self._retry_delay(attempt), cancel)
                    continue
                host = urlparse(url).netloc
                raise TripoNetworkError(
                    f"{what}: {reason} ({type(exc).__name__}).",
                    user_message=f"Could not reach Tripo at {host}: {reason}. Check your internet connection, proxy "
                    "and firewall, then try again.",
                ) from None
            trace = headers.get(wire.trace_header)
            retry_after = _polling.parse_retry_after(headers.get("Retry-After"))
            try:
                doc: Any = _MALFORMED if body is _MALFORMED else wire.parse_json(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                doc = _MALFORMED
            if doc is not _MALFORMED and wire.is_success(status, doc):
                return doc.get("data"), wire.request_id(doc, trace)
            envelope = doc is not _MALFORMED and wire.is_error_envelope(doc)
            code = doc.get("code") if envelope and isinstance(doc.get("code"), int) else None
            trace = wire.request_id(doc, trace) if envelope else trace
            refused = status == 429 or code in wire.create_retry_codes
            if create:
                if refused and attempt <= self.max_retries:
                    log.debug("Tripo refused %s (HTTP %s, code %s); retry %d", what, status, code, attempt)
                    self._sleep(self._retry_delay(attempt, retry_after), cancel)
                    continue
                unreadable = doc is _MALFORMED or not envelope
                if not refused and (status >= 500 or (unreadable and status not in _DEFINITE_REFUSALS)):
                    reason = (f"HTTP {status}" + ("" if envelope else " without a readable Tripo answer")
                              + (f" (Tripo said: {redact(str(doc.get('message') or ''))[:200]})" if envelope else ""))
                    raise TripoOutcomeUnknown(
                        f"{method} {path} for {create_summary(what, json)}: {reason}.", task_type=what,
                        body=json, sent_at=sent_at, reason=reason, status=status, trace_id=trace,
                    )
            else:
                transient = refused or status >= 500 or (status == 200 and not envelope)
                if transient and attempt <= self.max_retries:
                    log.debug("Tripo %s: HTTP %s code %s; retry %d", what, status, code, attempt)
                    self._sleep(self._retry_delay(attempt, retry_after), cancel)
                    continue
            if doc is _MALFORMED or (200 <= status < 300 and not envelope):
                if 200 <= status < 300:
                    raise TripoServerError(
                        f"{what}: HTTP {status} with an unreadable body.", status=status, trace_id=trace,
                        user_message="Tripo sent an answer the add-on could not understand; try again in a moment.",
                    )
                raise wire.error_from(status, None, trace_id=trace, retry_after=retry_after)
            raise wire.error_from(status, doc, trace_id=trace, retry_after=retry_after)


#: Largest clock difference believed from a ``Date`` header (seconds); anything beyond is a broken header.
MAX_SERVER_OFFSET = 7 * 86400.0


def server_offset(date: str | None, sent: float, received: float) -> float | None:
    """Server clock minus local clock from an HTTP ``Date`` header (1 s resolution: the header's second plus 0.5,
    against the middle of the exchange), or None when the header is missing, unreadable or absurd."""
    if not isinstance(date, str) or len(date) > 64:
        return None
    try:
        when = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    try:
        offset = when.timestamp() + 0.5 - (sent + received) / 2.0
    except (OverflowError, OSError, ValueError):
        return None
    return offset if abs(offset) <= MAX_SERVER_OFFSET else None


def create_summary(what: str, body: Any) -> str:
    """A short description of a create for messages (redacted)."""
    parts = [str(what)]
    prompt = body.get("prompt") if isinstance(body, Mapping) else None
    if isinstance(prompt, str) and prompt:
        parts.append(repr(prompt[:40] + ("..." if len(prompt) > 40 else "")))
    return redact(" ".join(parts))
