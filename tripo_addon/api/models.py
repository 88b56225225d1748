"""Plain data the api hands out: Task, Balance and the task status constants (dialect-neutral)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class TaskStatus:
    """Task status values (the same eight in both API versions)."""

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
    """A task as the API describes it, in dialect-neutral terms. ``output`` maps semantic output names
    (:mod:`~tripo_addon.api.outputs`: model, preview, image, views, riggable, rig_type, clips, ...) to signed,
    short-lived URLs or values. ``raw`` is the untouched task object of the answer."""

    task_id: str
    type: str = ""
    status: str = TaskStatus.UNKNOWN
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    progress: int = 0
    created: float | None = None             # epoch seconds
    completed: float | None = None           # epoch seconds, once final
    credits: float | None = None             # credits consumed (decimals on v3)
    queuing_num: int | None = None           # position in Tripo's queue, when it says
    eta: float | None = None                 # seconds left, when Tripo estimates it
    error_code: int | None = None
    error_msg: str | None = None
    model_version: str | None = None         # the model version the task ran with, when echoed
    trace_id: str | None = None              # request id for Tripo's support
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_final(self) -> bool:
        """True for success/failed/banned/expired/cancelled (``unknown`` is handled by ``wait()``)."""
        return self.status in TaskStatus.TERMINAL

    @property
    def is_success(self) -> bool:
        return self.status == TaskStatus.SUCCESS

    @property
    def chain_version(self) -> str | None:
        """The model version the chain rules go by when this task is a source: a generation's own version, a rig's
        rig model (retarget names its clips by it); None for the other task types, whose rules do not depend on it."""
        from .tasks import GENERATION

        return self.model_version if self.type in GENERATION or self.type == "animate_rig" else None

    @property
    def model_key(self) -> str | None:
        """The output key of the main downloadable result (model > image > splat > depth), or None."""
        from .outputs import main_key

        return main_key(self.output)

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
