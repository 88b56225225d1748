"""TripoClient: one keep-alive HTTP session to the Tripo API with auth, retries, error mapping and waiting.

Money safety: ``POST /task`` is never re-sent when its outcome is unknown (the request may have created a task):
:class:`~tripo_addon.api.errors.TripoOutcomeUnknown` is raised instead. It is retried only when Tripo explicitly
refused it (429 / 2000 / 1007: nothing created) or when the connection failed before anything was sent.

A client is meant for one thread at a time (one per worker); it holds no global state.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
import urllib3

from . import __version__
from . import polling as _polling
from . import tasks as _tasks
from .errors import (
    ERROR_TEXT,
    STATUS_TEXT,
    TripoAPIError,
    TripoCancelled,
    TripoError,
    TripoNetworkError,
    TripoOutcomeUnknown,
    TripoRateLimited,
    TripoServerError,
    TripoTaskFailed,
    TripoTimeout,
    TripoValidationError,
    redact,
)
from .models import Balance, StsToken, Task, TaskStatus
from .wire_v2 import CREATE_RETRY_CODES, WIRE, WireV2

log = logging.getLogger(__name__)

ENV_KEY = "TRIPO_API_KEY"
DEFAULT_BASE_URL = WIRE.default_base_url
USER_AGENT = f"tripo-addon/{__version__}"
_KEY_RE = re.compile(r"^tsk_[\x21-\x7e]+$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
_MALFORMED = object()



def quiet_loopback_tls_warnings() -> None:
    """No InsecureRequestWarning per request for loopback hosts (the emulator's self-signed S3); idempotent."""
    warnings.filterwarnings(
        "ignore",
        message=r"Unverified HTTPS request is being made to host '(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])'",
        category=urllib3.exceptions.InsecureRequestWarning,
    )


quiet_loopback_tls_warnings()


class _Secret:
    """Holds the API key so that ``repr``/``str``/``vars()`` of a client never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

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


def normalize_api_key(api_key: str | None) -> str:
    """The key with pasted whitespace/newlines around it removed; TripoValidationError when it is malformed.

    The key itself never appears in the message.
    """
    if api_key is None:
        api_key = os.environ.get(ENV_KEY)
    if api_key is None or not str(api_key).strip():
        raise TripoValidationError(
            f"No Tripo API key is set. Enter it in the add-on preferences (or set {ENV_KEY}); create one at "
            "https://platform.tripo3d.ai under API keys.",
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
            "Copy the key from the Tripo platform's API keys page.",
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


def _transport_reason(exc: BaseException) -> str:
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
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return True
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema | requests.exceptions.InvalidHeader):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        if isinstance(reason, urllib3.exceptions.ProxyError):
            reason = reason.original_error if hasattr(reason, "original_error") else reason.args[-1]
        return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)
    return False


def _summary(body: Mapping[str, Any]) -> str:
    """A short description of a task body for messages (no secrets in bodies; still redacted)."""
    parts = [str(body.get("type", "task"))]
    prompt = body.get("prompt")
    if isinstance(prompt, str) and prompt:
        parts.append(repr(prompt[:40] + ("..." if len(prompt) > 40 else "")))
    src = body.get("original_model_task_id") or body.get("draft_model_task_id")
    if src:
        parts.append(f"on {src}")
    return redact(" ".join(parts))


class TripoClient:
    """Client for the Tripo REST API (v2 wire by default).

    ``api_key`` defaults to ``$TRIPO_API_KEY``; ``base_url`` to ``https://api.tripo3d.ai/v2/openapi``. ``timeout`` is
    ``(connect, read)`` seconds or one number. ``max_retries`` bounds retries of safe requests (GETs, uploads) and
    of refused task creations (429). ``proxies`` ({"https": "http://proxy:3128"} or one URL) override the
    environment's proxy settings, which are honoured otherwise. ``ca_bundle`` is a PEM file of extra trusted
    certificates (company proxies; also used for the S3 upload host). ``poll_min``/``poll_max`` bound ``wait()``'s
    poll interval.
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
        wire: WireV2 | None = None,
    ) -> None:
        self.__key = _Secret(normalize_api_key(api_key))
        self.base_url = normalize_base_url(base_url)
        self.wire = wire or WIRE
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
        self._upload_path = self.wire.upload_path
        self._closed = False

    # ------------------------------------------------------------------------------------------ basics
    def __repr__(self) -> str:
        return f"TripoClient(base_url={self.base_url!r}, api_key='tsk_***')"

    def __enter__(self) -> TripoClient:
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
        return {"Authorization": f"Bearer {self.__key.reveal()}"}

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
        """Send an API request and return ``(data, trace_id)`` from the success envelope.

        Safe requests (``create=False``: GETs, uploads, STS tokens) are retried on transport errors, 429, 5xx and
        unreadable answers, with exponential back-off + full jitter or ``Retry-After``. ``create=True`` (``POST
        /task``) is retried only on 429 / 2000 / 1007 and on connection failures before sending; any other lost
        answer raises TripoOutcomeUnknown.
        """
        if self._closed:
            raise TripoError("This TripoClient is closed.", user_message="Internal error: the Tripo client was closed.")
        url = self.base_url + path
        what = what or f"{method} {path}"
        attempt = 0
        while True:
            attempt += 1
            self._check_cancel(cancel)
            sent_at = time.time()
            try:
                resp = self._session.request(
                    method, url, json=json, files=files, headers=self._auth_headers(), timeout=self.timeout,
                    allow_redirects=False, **self.transport_options(url),
                )
                body = resp.content
            except requests.RequestException as exc:
                reason = _transport_reason(exc)
                not_sent = request_not_sent(exc)
                if create and not not_sent:
                    raise TripoOutcomeUnknown(
                        f"POST {path} for {_summary(json or {})}: {reason}.",
                        task_type=(json or {}).get("type"), body=json, sent_at=sent_at, reason=reason,
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
            status = resp.status_code
            trace = resp.headers.get(self.wire.trace_header)
            retry_after = _polling.parse_retry_after(resp.headers.get("Retry-After"))
            try:
                doc: Any = self.wire.parse_json(body)
            except (ValueError, UnicodeDecodeError):
                doc = _MALFORMED
            if self.wire.is_success(status, doc):
                return doc.get("data"), trace
            envelope = doc is not _MALFORMED and self.wire.is_error_envelope(doc)
            code = int(doc["code"]) if envelope else None
            refused = status == 429 or code in CREATE_RETRY_CODES
            if create:
                if refused and attempt <= self.max_retries:
                    log.debug("Tripo refused %s (HTTP %s, code %s); retry %d", what, status, code, attempt)
                    self._sleep(self._retry_delay(attempt, retry_after), cancel)
                    continue
                if not refused and not envelope and (status == 200 or status >= 500):
                    reason = f"HTTP {status} without a readable Tripo answer"
                    raise TripoOutcomeUnknown(
                        f"POST {path} for {_summary(json or {})}: {reason}.", task_type=(json or {}).get("type"),
                        body=json, sent_at=sent_at, reason=reason, status=status, trace_id=trace,
                    )
            else:
                transient = refused or status >= 500 or (status == 200 and not envelope)
                if transient and attempt <= self.max_retries:
                    log.debug("Tripo %s: HTTP %s code %s; retry %d", what, status, code, attempt)
                    self._sleep(self._retry_delay(attempt, retry_after), cancel)
                    continue
            if doc is _MALFORMED or (status == 200 and not envelope):
                if status == 200:
                    raise TripoServerError(
                        f"{what}: HTTP 200 with an unreadable body.", status=status, trace_id=trace,
                        user_message="Tripo sent an answer the add-on could not understand; try again in a moment.",
                    )
                raise self.wire.error_from(status, None, trace_id=trace, retry_after=retry_after)
            raise self.wire.error_from(status, doc, trace_id=trace, retry_after=retry_after)

    # ------------------------------------------------------------------------------------------ tasks
    def create_task(self, body: Mapping[str, Any], *, cancel: threading.Event | None = None) -> str:
        """``POST /task`` with a body from :func:`tasks.build_request`; returns the task id.

        Never re-sent when the outcome is unknown (TripoOutcomeUnknown); retried, bounded, when Tripo refuses it
        with 429 / 2000 / 1007 (nothing created) or the connection failed before sending.
        """
        if not isinstance(body, Mapping) or not isinstance(body.get("type"), str):
            raise TripoValidationError("create_task needs a body with a task type; build it with api.tasks.")
        path, payload = self.wire.create_request(body)
        data, trace = self.request("POST", path, json=payload, create=True, cancel=cancel,
                                   what=f"create {body['type']}")
        try:
            return self.wire.task_id_from(data)
        except ValueError:
            raise TripoOutcomeUnknown(
                f"POST {path} for {_summary(payload)}: success without a task id.", task_type=str(body["type"]),
                body=payload, sent_at=time.time(), reason="Tripo answered without a task id", trace_id=trace,
            ) from None

    def get_task(self, task_id: str, *, cancel: threading.Event | None = None) -> Task:
        """``GET /task/{id}`` (retried on transient failures)."""
        tid = _tasks.check_task_id(task_id, "task_id")
        data, trace = self.request("GET", self.wire.task_path(tid), cancel=cancel, what=f"get task {tid}")
        try:
            return self.wire.task_from(data, trace_id=trace)
        except ValueError as exc:
            raise TripoServerError(f"GET /task/{tid}: {exc}.", trace_id=trace,
                                   user_message="Tripo sent a task description the add-on could not read.") from None

    def balance(self, *, cancel: threading.Event | None = None) -> Balance:
        """``GET /user/balance``."""
        data, trace = self.request("GET", self.wire.balance_path, cancel=cancel, what="get balance")
        try:
            return self.wire.balance_from(data)
        except ValueError as exc:
            raise TripoServerError(f"GET balance: {exc}.", trace_id=trace,
                                   user_message="Tripo sent a balance the add-on could not read.") from None

    def sts_token(self, fmt: str, *, cancel: threading.Event | None = None) -> StsToken:
        """``POST /upload/sts/token`` for a file format (webp, jpeg, png, glb, obj, fbx, stl)."""
        data, trace = self.request("POST", self.wire.sts_token_path, json=self.wire.sts_token_body(fmt),
                                   cancel=cancel, what="get upload credentials")
        try:
            return self.wire.sts_token_from(data)
        except ValueError as exc:
            raise TripoServerError(f"STS token: {exc}.", trace_id=trace,
                                   user_message="Tripo sent upload credentials the add-on could not read.") from None

    def wait(
        self,
        task_id: str,
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Poll until the task succeeds (returns it) or ends otherwise (raises TripoTaskFailed).

        The interval adapts to ``running_left_time``, progress and queue position (``polling.next_poll_delay``,
        within ``poll_min..poll_max``). ``unknown`` is polled on and treated as a failure after ``unknown_polls``
        consecutive answers. ``on_update(task)`` is called after every poll. ``timeout`` (seconds) raises
        TripoTimeout; setting ``cancel`` raises TripoCancelled promptly (sleeps are interruptible).
        """
        deadline = time.monotonic() + timeout if timeout is not None else None
        idle = unknown = 0
        last: tuple | None = None
        finish = _polling.FinishWindow()
        while True:
            self._check_cancel(cancel)
            task = self.get_task(task_id, cancel=cancel)
            finish.update(task.running_left_time, time.monotonic())
            if on_update is not None:
                on_update(task)
            if task.status == TaskStatus.SUCCESS:
                return task
            if task.status in TaskStatus.FAILURES:
                raise task_failed(task)
            unknown = unknown + 1 if task.status == TaskStatus.UNKNOWN else 0
            if unknown >= self.unknown_polls:
                raise task_failed(task, polls=unknown)
            sig = (task.status, task.progress, task.queuing_num)
            idle = 0 if sig != last else idle + 1
            last = sig
            delay = _polling.next_poll_delay(
                task.status, running_left_time=task.running_left_time, finish_left=finish.left(time.monotonic()),
                progress=task.progress,
                queuing_num=task.queuing_num, idle_polls=idle, poll_min=self.poll_min, poll_max=self.poll_max,
            )
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TripoTimeout(
                        f"Task {task_id} still {task.status} after {timeout:g} s.",
                        user_message=f"Gave up waiting for task {task_id} after {timeout:g} s; it may still finish on "
                        "Tripo. Attach it by its id later to get the result.",
                    )
                delay = min(delay, remaining)
            self._sleep(delay, cancel)

    # ------------------------------------------------------------------------------------------ uploads / downloads
    def upload_image(self, path: str | os.PathLike, *, cancel: threading.Event | None = None) -> dict[str, Any]:
        """Direct upload of a local image; returns the file object ``{"type": ..., "file_token": ...}``."""
        from .uploads import upload_image

        return upload_image(self, path, cancel=cancel)

    def upload_sts(
        self,
        path: str | os.PathLike,
        *,
        accelerate: bool = False,
        cancel: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> dict[str, Any]:
        """Upload a local image or model through STS + S3; returns ``{"type": ..., "object": {bucket, key}}``."""
        from .uploads import upload_sts

        return upload_sts(self, path, accelerate=accelerate, cancel=cancel, progress=progress)

    def download(
        self,
        task_id: str,
        output_key: str,
        dest_dir: str | os.PathLike,
        *,
        cancel: threading.Event | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        filename: str | None = None,
        output: Mapping[str, Any] | None = None,
    ) -> Path:
        """Download one output of a successful task into ``dest_dir``; verified, with fresh URLs when needed.

        ``output``: the task's output from a poll just made; its URL is used if still valid (one request saved)."""
        from .downloads import download

        return download(self, task_id, output_key, dest_dir, cancel=cancel, progress=progress, filename=filename,
                        output=output)

    # ------------------------------------------------------------------------------------------ conveniences
    def submit(
        self,
        task_type: str,
        params: Mapping[str, Any],
        *,
        source_type: str | None = None,
        source_model_version: str | None = None,
        upload: str = "auto",
        cancel: threading.Event | None = None,
    ) -> str:
        """Validate, upload local files found in file parameters, build the body and create the task.

        Everything is checked locally before the first request (local images are sniffed, meshes checked), so bad
        input sends nothing. ``upload``: "auto" (images direct, models through STS), "direct" or "sts".

        When the parameters name a source task (``original_model_task_id``, ``draft_model_task_id``, multiview's
        ``original_task_id``) and ``source_type`` is not given, the source is fetched first (``GET /task``, free; see
        :meth:`check_source`) and the task is refused before the POST when Tripo would refuse it (2005/2006/2007,
        2011/2012; 2001 for another key's task). Callers that already know the source's type pass ``source_type``
        (and ``source_model_version``) and skip that request.
        """
        from .uploads import check_local_file, find_local_files, replace_local_files

        local = find_local_files(task_type, params)
        for path, slot in local:
            check_local_file(path, slot, task_type)
        placeholder = replace_local_files(task_type, params, {p: _placeholder(p, task_type) for p, _ in local})
        _tasks.build_request(task_type, placeholder, source_type=source_type,
                             source_model_version=source_model_version)
        if source_type is None:
            field = _source_field(task_type)
            source_id = params.get(field) if field else None
            if source_id is None and field == "draft_model_task_id":
                source_id = params.get("rough_model_task_id")  # the legacy alias
            if isinstance(source_id, str) and source_id.strip():
                src = self.check_source(task_type, source_id, cancel=cancel)
                if _tasks.TASK_TYPES[task_type].source_field:  # the source-dependent rules (e.g. no OBJ for rigs)
                    source_type = src.type
                    if source_model_version is None:
                        source_model_version = src.chain_version
                    _tasks.build_request(task_type, placeholder, source_type=source_type,
                                         source_model_version=source_model_version)
        uploaded: dict[str, dict[str, Any]] = {}
        for path, _slot in local:
            if path in uploaded:
                continue
            use_sts = upload == "sts" or (upload == "auto" and (task_type == "import_model"
                                                                 or Path(path).suffix.lower() in _MESH_SUFFIXES))
            uploaded[path] = self.upload_sts(path, cancel=cancel) if use_sts else self.upload_image(path, cancel=cancel)
        body = _tasks.build_request(task_type, replace_local_files(task_type, params, uploaded),
                                    source_type=source_type, source_model_version=source_model_version)
        return self.create_task(body, cancel=cancel)

    def check_source(self, task_type: str, source_task_id: str, *, cancel: threading.Event | None = None) -> Task:
        """Fetch the source task of a ``task_type`` task (``GET /task``, free) and return it if Tripo would accept it.

        Raises TripoValidationError (nothing created; ``code`` = what Tripo would answer) when it has not finished
        successfully (2007; 2005 for a refine draft) or the chain rules (tripo-api.md §6) do not allow it (2006;
        2011 for prerigcheck, 2012 for retarget), naming the source's type and model version; TripoNotFound when it
        does not exist for this key (2001).
        """
        tt = _tasks.TASK_TYPES.get(task_type) if isinstance(task_type, str) else None
        field = _source_field(task_type)
        if tt is None or field is None:
            raise TripoValidationError(f"{task_type} does not start from an earlier task.", param=None)
        src = self.get_task(_tasks.check_task_id(source_task_id, field), cancel=cancel)
        kind = src.type or "task"
        version = src.chain_version
        made = f"{kind}, model version {version}" if version else kind
        if src.status != TaskStatus.SUCCESS:
            code = 2005 if task_type == "refine_model" else 2007
            what = "draft task" if code == 2005 else "source task"
            todo = ("wait until it succeeds before starting the next step" if src.status in TaskStatus.ONGOING
                    else "it cannot be used: pick a successful task or run it again")
            raise TripoValidationError(
                f"The {what} {src.task_id} ({made}) has not finished successfully (it is {src.status}); {todo}.",
                param=field, code=code)
        if task_type == "multiview_to_model":
            if src.type not in ("generate_multiview_image", "edit_multiview_image"):
                raise TripoValidationError(
                    f"multiview_to_model's original_task_id must be a generate_multiview_image or "
                    f"edit_multiview_image task; {src.task_id} is {made}. Pass the views as `files` instead.",
                    param=field, code=2006)
            return src
        try:
            _tasks.check_chain(task_type, src.type, version)
        except TripoValidationError as exc:
            code = {"animate_retarget": 2012, "animate_prerigcheck": 2011}.get(task_type, 2006)
            raise TripoValidationError(f"{exc.message} (Source task {src.task_id}: {made}.)", param=field,
                                       code=code) from None
        return src

    def run(
        self,
        task_type: str,
        params: Mapping[str, Any],
        *,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        on_update: Callable[[Task], None] | None = None,
        **kw: Any,
    ) -> Task:
        """:meth:`submit` then :meth:`wait`; returns the successful task."""
        task_id = self.submit(task_type, params, cancel=cancel, **kw)
        return self.wait(task_id, timeout=timeout, cancel=cancel, on_update=on_update)


_MESH_SUFFIXES = frozenset({".glb", ".obj", ".fbx", ".stl"})


def _source_field(task_type: str) -> str | None:
    """The parameter naming the task's source task (multiview's optional ``original_task_id`` included)."""
    tt = _tasks.TASK_TYPES.get(task_type) if isinstance(task_type, str) else None
    if tt is None:
        return None
    return tt.source_field or ("original_task_id" if tt.name == "multiview_to_model" else None)


def _placeholder(path: str, task_type: str) -> dict[str, Any]:
    ext = Path(path).suffix.lower().lstrip(".")
    if task_type == "import_model" or "." + ext in _MESH_SUFFIXES:
        return {"type": ext or "glb", "object": {"bucket": "tripo-data", "key": f"placeholder/input.{ext or 'glb'}"}}
    return {"type": "jpg" if ext in ("jpg", "jpeg") else (ext or "png"),
            "file_token": "00000000-0000-4000-8000-000000000000"}


def task_failed(task: Task, *, polls: int = 0) -> TripoTaskFailed:
    """The TripoTaskFailed for a task that ended without success (plain sentence included)."""
    base = STATUS_TEXT.get(task.status, f"The task ended with status {task.status!r}")
    detail = ""
    if task.error_code is not None:
        base += f" (error {task.error_code})"
        detail = ERROR_TEXT.get(task.error_code, "")
    if task.error_msg and not detail:
        detail = task.error_msg.rstrip(".") + "."
    if task.status == TaskStatus.UNKNOWN:
        detail = (f"it stayed unknown for {polls} checks in a row, so the add-on stopped waiting. Check the task on "
                  "the Tripo website; attach it again by id if it finishes.")
    elif task.status in (TaskStatus.FAILED, TaskStatus.EXPIRED) and not detail:
        detail = "Credits for a failed task are refunded; try again, perhaps with different input."
    user = f"{base}: {detail}" if detail else f"{base}."
    return TripoTaskFailed(
        f"Task {task.task_id} ({task.type or 'task'}) ended {task.status}"
        + (f", error {task.error_code}" if task.error_code is not None else "")
        + (f": {task.error_msg}" if task.error_msg else "."),
        code=task.error_code, trace_id=task.trace_id, user_message=user, task=task,
    )


__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_KEY",
    "TripoAPIError",
    "TripoClient",
    "TripoRateLimited",
    "USER_AGENT",
    "is_loopback",
    "normalize_api_key",
    "normalize_base_url",
    "request_not_sent",
    "task_failed",
]
