"""Plain data the api hands out: Task, Balance, StsToken, and the task status constants (version-neutral)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class TaskStatus:
    """Task status strings (tripo-api.md §3)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    BANNED = "banned"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    ONGOING = frozenset({QUEUED, RUNNING})
    #: Final for certain. ``unknown`` is not here: see :mod:`tripo_addon.api.polling` for how it is handled.
    TERMINAL = frozenset({SUCCESS, FAILED, BANNED, EXPIRED, CANCELLED})
    FAILURES = frozenset({FAILED, BANNED, EXPIRED, CANCELLED})
    ALL = ONGOING | TERMINAL | {UNKNOWN}


@dataclass
class Task:
    """A task as ``GET /task/{id}`` describes it. ``output`` maps output keys to (signed, short-lived) URLs or, for
    ``animate_prerigcheck``, to ``riggable`` / ``rig_type`` values. ``raw`` is the untouched ``data`` object."""

    task_id: str
    type: str = ""
    status: str = TaskStatus.UNKNOWN
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    progress: int = 0
    create_time: int | None = None
    consumed_credit: float | None = None
    queuing_num: int | None = None           # None when not queued (the wire says -1)
    running_left_time: float | None = None   # seconds; None when unknown or final (the wire says -1)
    error_code: int | None = None
    error_msg: str | None = None
    thumbnail: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_final(self) -> bool:
        """True for success/failed/banned/expired/cancelled (``unknown`` is handled by ``wait()``)."""
        return self.status in TaskStatus.TERMINAL

    @property
    def is_success(self) -> bool:
        return self.status == TaskStatus.SUCCESS

    @property
    def model_version(self) -> str | None:
        """The model version the task ran with, when Tripo echoes it in ``input``."""
        mv = self.input.get("model_version") if isinstance(self.input, dict) else None
        return mv if isinstance(mv, str) and mv else None

    @property
    def chain_version(self) -> str | None:
        """The model version the chain rules go by when this task is a source: a generation's own version (None for
        the other task types, whose rules do not depend on it)."""
        from .tasks import GENERATION

        return self.model_version if self.type in GENERATION else None

    @property
    def model_key(self) -> str | None:
        """The output key holding the model URL (pbr_model > model > base_model), or None."""
        from .tasks import model_output_key

        return model_output_key(self.output)

    @property
    def model_url(self) -> str | None:
        key = self.model_key
        return self.output.get(key) if key else None

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able copy (``raw`` left out)."""
        d = asdict(self)
        d.pop("raw", None)
        return d


@dataclass
class Balance:
    """Credits: ``balance`` available, ``frozen`` held by running tasks."""

    balance: float
    frozen: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {"balance": self.balance, "frozen": self.frozen}


@dataclass
class StsToken:
    """Temporary S3 credentials from ``POST /upload/sts/token``. Secrets are kept out of ``repr``."""

    s3_host: str
    resource_bucket: str
    resource_uri: str
    session_token: str = field(repr=False)
    sts_ak: str = field(repr=False)
    sts_sk: str = field(repr=False)

    def file_object(self, file_type: str) -> dict[str, Any]:
        """The file input object that references the uploaded file."""
        return {"type": file_type, "object": {"bucket": self.resource_bucket, "key": self.resource_uri}}
