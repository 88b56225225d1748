"""The TripoError family, the table of documented error codes as plain sentences, and key redaction.

Every message, ``str()``, ``repr()`` and traceback line of these exceptions goes through :func:`redact`, so an API
key (``tsk_...``) or an ``Authorization: Bearer ...`` value can never leak into a log, a panel or a bug report.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "ERROR_TEXT",
    "TripoAPIError",
    "TripoAuthError",
    "TripoBadRequest",
    "TripoCancelled",
    "TripoChainError",
    "TripoContentRejected",
    "TripoDownloadError",
    "TripoError",
    "TripoFileError",
    "TripoInsufficientCredit",
    "TripoNetworkError",
    "TripoNotFound",
    "TripoOutcomeUnknown",
    "TripoPermissionError",
    "TripoRateLimited",
    "TripoServerError",
    "TripoStorageError",
    "TripoTaskFailed",
    "TripoTimeout",
    "TripoUnsafeArchive",
    "TripoUploadError",
    "TripoValidationError",
    "cap_text",
    "error_for_code",
    "redact",
]

#: Longest text kept from an error (message, suggestion, user message); the rest is cut with a marker, so a
#: megabytes-long answer cannot bloat the job journal, the log or a panel (issue 10 item 14).
MAX_TEXT = 2000


def cap_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to about ``limit`` characters, with a marker saying how long it was."""
    if not isinstance(text, str):
        text = str(text)
    if len(text) <= limit:
        return text
    marker = f" [... cut: {len(text):,} characters in all]"
    return text[: max(0, limit - len(marker))] + marker


_KEY_RE = re.compile(r"tsk_[^\s\"'<>,;)\]}]+")
_BEARER_RE = re.compile(r"(?i)\bBearer\s+[^\s\"'<>,;)\]}]+")
_SECRET_FIELDS_RE = re.compile(
    r"(?i)([\"']?(?:sts_sk|sts_ak|session_token|aws_secret_access_key|aws_session_token|authorization)[\"']?"
    r"\s*[:=]\s*[\"']?)([^\s\"',}]+)"
)


def redact(text: Any) -> str:
    """``text`` as a string with anything looking like a Tripo key, a Bearer token or an STS secret masked."""
    s = text if isinstance(text, str) else str(text)
    s = _BEARER_RE.sub("Bearer ***", s)
    s = _KEY_RE.sub("tsk_***", s)
    return _SECRET_FIELDS_RE.sub(lambda m: m.group(1) + "***", s)


#: One plain sentence per documented code (tripo-api.md §8): what is wrong and what to do.
ERROR_TEXT: dict[int, str] = {
    1000: "Tripo had an unexpected server error; wait a minute and try again, and contact Tripo support if it keeps "
    "happening.",
    1001: "Tripo had a fatal server error while handling this request; try again later, and contact Tripo support if "
    "it keeps happening.",
    1002: "Tripo did not accept your API key; check that it is copied completely (it starts with tsk_) and belongs to "
    "the right region (api.tripo3d.ai or api.tripo3d.com).",
    1003: "Tripo could not read the request; this is a bug in the add-on, please report it.",
    1004: "Tripo rejected one of the settings as invalid; check the values you entered and try again.",
    1005: "Tripo denied access to this feature for your API key; check your plan or the key's permissions on the "
    "Tripo website.",
    1007: "Too many requests were sent to Tripo in a short time; wait a moment and try again.",
    2000: "Your account already runs as many tasks as Tripo allows at once; wait for some to finish and try again.",
    2001: "Tripo cannot find this task; check the task id, and note that tasks are only visible to the API key that "
    "created them.",
    2002: "Tripo does not support this task type; update the add-on or pick another operation.",
    2003: "The input file is empty or could not be read by Tripo; check the file (or its URL) and upload it again.",
    2004: "Tripo does not support this file type; use a PNG, JPEG or WEBP image, or a GLB, OBJ, FBX or STL model.",
    2005: "The draft model to refine has not finished successfully; wait until it succeeds or pick another draft.",
    2006: "This operation cannot be applied to that kind of source task; choose a source made by a compatible step.",
    2007: "The source task has not finished successfully; wait until it succeeds before starting the next step.",
    2008: "Tripo rejected the input under its content policy; change the prompt or the image and try again.",
    2009: "The prompt contains characters Tripo does not accept (such as emoji); remove them and try again.",
    2010: "Your Tripo account does not have enough credits for this task; top up your balance on the Tripo website.",
    2011: "The source task has no model to check for rigging; use a task that produced a 3D model.",
    2012: "Animations can only be applied to a rigged model; rig the model first (animate_rig), then retarget.",
    2013: "Your account is not entitled to the requested task priority; leave the priority unset.",
    2014: "Tripo's content review service had an error; wait a minute and try again.",
    2015: "This model version is deprecated; choose a newer model version.",
    2016: "This task type is deprecated; use its replacement (for example animate_rig then animate_retarget).",
    2017: "Tripo does not recognise this model version for this task type; choose one from the list.",
    2018: "The model is too complex for this operation; simplify it or lower the face count and try again.",
    2019: "Tripo could not find the uploaded file in its storage; upload the file again.",
}

#: What a task's final status means for a user.
STATUS_TEXT: dict[str, str] = {
    "failed": "Tripo could not complete the task",
    "banned": "Tripo refused the task under its content policy",
    "expired": "The task expired on Tripo's side before it finished",
    "cancelled": "The task was cancelled on Tripo's side",
    "unknown": "Tripo reports the task's status as unknown",
}


class TripoError(Exception):
    """Base of every error the api raises.

    Attributes: ``code`` (Tripo error code or None), ``status`` (HTTP status or None), ``message`` (technical, from
    Tripo or local), ``suggestion`` (Tripo's hint), ``trace_id`` (``X-Tripo-Trace-ID``), ``user_message`` (one plain
    sentence for a user), ``retry_after`` (seconds, when Tripo said). None of them ever contains an API key.
    """

    default_user_message = "Something went wrong while talking to Tripo; try again."

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        status: int | None = None,
        suggestion: str = "",
        trace_id: str | None = None,
        user_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.status = status
        self.message = cap_text(redact(message or ""))
        self.suggestion = cap_text(redact(suggestion or ""))
        self.trace_id = cap_text(redact(trace_id), 200) if trace_id else None
        self.retry_after = retry_after
        self.user_message = cap_text(redact(user_message or self._default_user_message()))
        super().__init__(self.message or self.user_message)

    def _default_user_message(self) -> str:
        if self.code is not None and self.code in ERROR_TEXT:
            return ERROR_TEXT[self.code]
        return self.message or self.default_user_message

    def __str__(self) -> str:
        parts = [self.message or self.user_message]
        meta = []
        if self.code is not None:
            meta.append(f"code {self.code}")
        if self.status is not None:
            meta.append(f"HTTP {self.status}")
        if self.trace_id:
            meta.append(f"trace {self.trace_id}")
        if meta:
            parts.append(f"({', '.join(meta)})")
        return redact(" ".join(parts))

    def __repr__(self) -> str:
        return redact(f"{type(self).__name__}({self.message!r}, code={self.code!r}, status={self.status!r})")

    def __reduce__(self):  # picklable although __init__ takes keyword-only fields
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type, state: dict) -> TripoError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message") or state.get("user_message", ""))
    err.__dict__.update(state)
    return err


class TripoValidationError(TripoError, ValueError):
    """Refused locally: nothing was sent. ``param`` names the offending parameter when there is one."""

    def __init__(self, message: str = "", *, param: str | None = None, **kw: Any) -> None:
        self.param = param
        kw.setdefault("user_message", message)
        super().__init__(message, **kw)


class TripoNetworkError(TripoError):
    """The request could not be completed (connection, TLS, timeout) even after the retries."""

    default_user_message = "Could not reach Tripo; check your internet connection, proxy and firewall, then try again."


class TripoTimeout(TripoError):
    """``wait()`` gave up after its timeout; the task may still be running on Tripo."""


class TripoCancelled(TripoError):
    """Stopped by the caller's cancel event."""

    default_user_message = "Cancelled."


class TripoOutcomeUnknown(TripoError):
    """``POST /task`` was sent but its answer was lost: a task may or may not exist (and may be charged).

    It is never re-sent automatically. ``task_type``, ``body`` (what was sent, no key), ``sent_at`` (unix time) and
    ``reason`` let a caller tell the user to check the Tripo task history before retrying.
    """

    def __init__(
        self, message: str = "", *, task_type: str | None = None, body: dict | None = None,
        sent_at: float | None = None, reason: str = "", **kw: Any
    ) -> None:
        self.task_type = task_type
        self.body = body
        self.sent_at = sent_at
        self.reason = redact(reason)
        kw.setdefault(
            "user_message",
            f"The {task_type or 'task'} request reached Tripo but its answer was lost ({self.reason or 'no answer'}), "
            "so a task may or may not have been created and charged. It was not sent again; check your task history "
            "on the Tripo website before trying again.",
        )
        super().__init__(message, **kw)


class TripoTaskFailed(TripoError):
    """The task ended ``failed``, ``banned``, ``expired``, ``cancelled`` (or stayed ``unknown``). ``task`` is the
    last :class:`~tripo_addon.api.models.Task` seen."""

    def __init__(self, message: str = "", *, task: Any = None, **kw: Any) -> None:
        self.task = task
        super().__init__(message, **kw)


class TripoAPIError(TripoError):
    """Tripo answered with an error (an error envelope or an unexpected HTTP status)."""


class TripoAuthError(TripoAPIError):
    """401 / 1002: the key was not accepted."""


class TripoPermissionError(TripoAPIError):
    """403 / 1005 access denied, 2013 priority not allowed."""


class TripoRateLimited(TripoAPIError):
    """429: 2000 (concurrency limit) or 1007 (request rate). ``retry_after`` is set when Tripo said."""


class TripoInsufficientCredit(TripoAPIError):
    """403 / 2010: not enough credits."""


class TripoNotFound(TripoAPIError):
    """404 / 2001: no such task for this key."""


class TripoBadRequest(TripoAPIError):
    """400: the request was refused as invalid (1003, 1004, 2002, 2009, 2015-2018, ...)."""


class TripoChainError(TripoBadRequest):
    """The source task cannot be used (2005, 2006, 2007, 2011, 2012)."""


class TripoFileError(TripoBadRequest):
    """An input file is empty, of the wrong type or missing from storage (2003, 2004, 2019)."""


class TripoContentRejected(TripoBadRequest):
    """2008: refused under the content policy."""


class TripoServerError(TripoAPIError):
    """5xx, 1000, 1001, 2014, or an answer that could not be understood."""

    default_user_message = "Tripo's servers had a problem answering; wait a minute and try again."


class TripoUploadError(TripoError):
    """The file could not be stored through the STS / S3 path."""


class TripoDownloadError(TripoError):
    """A result file could not be downloaded or failed verification."""


class TripoUnsafeArchive(TripoDownloadError):
    """A downloaded zip holds absolute paths, ``..`` components or links: it is refused, never extracted."""


class TripoStorageError(TripoDownloadError):
    """The local disk refused the file (full, read-only, no permission)."""


_CODE_CLASSES: dict[int, type[TripoAPIError]] = {
    1000: TripoServerError, 1001: TripoServerError, 1002: TripoAuthError, 1003: TripoBadRequest,
    1004: TripoBadRequest, 1005: TripoPermissionError, 1007: TripoRateLimited, 2000: TripoRateLimited,
    2001: TripoNotFound, 2002: TripoBadRequest, 2003: TripoFileError, 2004: TripoFileError, 2005: TripoChainError,
    2006: TripoChainError, 2007: TripoChainError, 2008: TripoContentRejected, 2009: TripoBadRequest,
    2010: TripoInsufficientCredit, 2011: TripoChainError, 2012: TripoChainError, 2013: TripoPermissionError,
    2014: TripoServerError, 2015: TripoBadRequest, 2016: TripoBadRequest, 2017: TripoBadRequest,
    2018: TripoBadRequest, 2019: TripoFileError,
}
_STATUS_CLASSES: dict[int, type[TripoAPIError]] = {
    400: TripoBadRequest, 401: TripoAuthError, 403: TripoPermissionError, 404: TripoNotFound, 429: TripoRateLimited,
}
# Codes whose server message usually names the specific problem (worth showing to the user).
_DETAILED = frozenset({1004, 2002, 2004, 2006, 2009, 2015, 2016, 2017, 2018})


def error_for_code(
    code: int | None,
    status: int | None,
    message: str = "",
    suggestion: str = "",
    trace_id: str | None = None,
    retry_after: float | None = None,
) -> TripoAPIError:
    """The right TripoAPIError subclass for an error answer, with a user message for every documented code."""
    cls = _CODE_CLASSES.get(code) if code is not None else None
    if cls is None:
        if status is not None and status >= 500:
            cls = TripoServerError
        else:
            cls = _STATUS_CLASSES.get(status or 0, TripoAPIError)
    msg = (message or "").strip()
    if code in ERROR_TEXT:
        user = ERROR_TEXT[code]
        if code in _DETAILED and msg and msg.rstrip(".").lower() not in user.lower():
            user = f"{user} (Tripo said: {msg.rstrip('.')}.)"
        wait = wait_text(retry_after) if code in (2000, 1007) else ""
        if wait:
            user = f"{user} {wait}"
    elif code is not None:
        user = f"Tripo refused the request with error {code}: {msg or 'no details'}; check the settings and try again."
    elif status is not None and status >= 500:
        user = f"Tripo's servers had a problem (HTTP {status}); wait a minute and try again."
    elif status == 401:
        user = ERROR_TEXT[1002]
    elif status == 404:
        user = f"Tripo answered 'not found' (HTTP 404){': ' + msg if msg else ''}; check the API address and task id."
    elif status == 429:
        user = ERROR_TEXT[1007]
    else:
        user = f"Tripo answered with HTTP {status}{': ' + msg if msg else ''}; try again."
    return cls(
        msg or (f"HTTP {status}" if status else "Tripo error"),
        code=code,
        status=status,
        suggestion=suggestion,
        trace_id=trace_id,
        user_message=user,
        retry_after=retry_after,
    )


def wait_text(retry_after: object) -> str:
    """"Tripo suggests waiting N s." for a sane ``Retry-After`` (finite, positive, at most a day); "" otherwise."""
    if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
        return ""
    try:
        seconds = float(retry_after)
    except (OverflowError, ValueError):
        return ""
    if not 0 < seconds <= 86400:  # (NaN fails this too)
        return ""
    return f"Tripo suggests waiting {max(1, int(round(seconds)))} s."
