"""Jobs and steps: plain data, JSON round-trip, snapshots. No I/O, no threads, no bpy."""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import PurePath
from typing import Any

from ..api.inputs import Input
from ..api.v2.wire import LEGACY_KEYS, semantic_output
from .states import JobState

__all__ = ["Job", "JobState", "Ref", "Step", "new_id"]


@dataclass(frozen=True)
class Ref:
    """A value taken from an earlier step of the same job when this step is submitted.

    ``what`` is ``"task_id"`` or ``"output:<key>"`` (e.g. ``"output:rig_type"``, ``"output:generated_image"``).
    A URL output placed where a file is expected becomes ``{"type": <ext>, "url": <url>}``.
    """

    step: int
    what: str = "task_id"

    @property
    def output_key(self) -> str | None:
        return self.what.split(":", 1)[1] if self.what.startswith("output:") else None

    def to_json(self) -> dict:
        return {"$ref": {"step": self.step, "what": self.what}}


def encode_value(value: Any) -> Any:
    """Params -> JSON-able: Refs become ``{"$ref": ...}``, Inputs ``{"$input": ...}``, paths strings, tuples lists."""
    if isinstance(value, Ref):
        return value.to_json()
    if isinstance(value, Input):
        return value.to_json()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    return value


def plain_copy(value: Any) -> Any:
    """A copy of JSON-shaped data (dicts, lists, tuples as lists; scalars shared); anything else deep-copied.
    Journal saves and snapshots copy every job: ``copy.deepcopy`` made that ~30 us a job."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_copy(v) for v in value]
    return copy.deepcopy(value)


def decode_value(value: Any) -> Any:
    """Inverse of :func:`encode_value`."""
    if isinstance(value, dict):
        if set(value) == {"$ref"} and isinstance(value["$ref"], dict):
            r = value["$ref"]
            what = str(r.get("what", "task_id"))
            if what.startswith("output:") and what[7:] in LEGACY_KEYS:  # journals from before semantic outputs
                what = "output:" + LEGACY_KEYS[what[7:]]
            return Ref(int(r["step"]), what)
        if Input.is_json(value):
            return Input.from_json(value)
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def iter_refs(value: Any):
    """Yield every Ref inside a params value."""
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from iter_refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from iter_refs(v)


#: Longest error or notice text a job or step keeps (journaled, shown, logged); longer ones are cut with a marker.
MAX_STORED_TEXT = 2000
_CAPPED_FIELDS = frozenset({"error", "notice"})


def cap_stored(value: Any, limit: int = MAX_STORED_TEXT) -> Any:
    """A text cut to ``limit`` characters with a marker (other values unchanged)."""
    if not isinstance(value, str) or len(value) <= limit:
        return value
    marker = f" [... cut: {len(value):,} characters in all]"
    return value[: max(0, limit - len(marker))] + marker


class _CappedTexts:
    """Base: ``error`` and ``notice`` are capped whenever they are set (also from a loaded journal)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _CAPPED_FIELDS and isinstance(value, str) and len(value) > MAX_STORED_TEXT:
            value = cap_stored(value)
        object.__setattr__(self, name, value)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class Step(_CappedTexts):
    """One Tripo task of a job.

    ``params`` are the task's request fields except ``type``; values may be :class:`Ref`; ``file``/``files`` and
    ``texture_prompt`` images may be local paths (uploaded first: images directly, meshes through STS) or ready file
    objects (``{"type":..,"url"|"file_token"|"object":..}``).
    ``download``: fetch this step's result when it succeeds; ``outputs`` names the output keys to fetch (``None``: the
    main result, i.e. the model, the generated image). Missing optional keys are skipped.
    """

    task_type: str
    params: dict = field(default_factory=dict)
    upload: str = "auto"
    download: bool = True
    outputs: list[str] | None = None
    label: str = ""
    # filled by the engine (journaled)
    state: str = JobState.PENDING
    task_id: str | None = None
    status: str = ""  # Tripo's task status: queued, running, success, failed...
    progress: int = 0
    eta: int | None = None  # seconds left, when Tripo estimates it
    queue_position: int | None = None  # queuing_num
    credits: float | None = None  # credits consumed
    estimate: float | None = None  # credits expected (api.tasks.estimate_credits, decimals kept), set at submit
    error: str = ""
    files: list[str] = field(default_factory=list)
    output: dict = field(default_factory=dict)
    uploads: dict[str, dict] = field(default_factory=dict)  # local path -> uploaded file object (+ "_at")
    submitted_at: float | None = None
    finished_at: float | None = None
    #: What the last create sent, journaled before the POST (jobs/sent.sent_record): the wire body as Tripo echoes
    #: it in ``input`` (file tokens and input task ids, never a key or a local path), the local send time, Tripo's
    #: clock offset then and, once its answer was lost, ``lost_at``. None: not sent yet, or a journal from before.
    sent: dict | None = None

    def __post_init__(self) -> None:
        self.params = decode_value(encode_value(dict(self.params)))
        if self.outputs is not None:
            self.outputs = [str(k) for k in self.outputs]

    @property
    def done(self) -> bool:
        return self.state == JobState.SUCCEEDED

    def to_dict(self) -> dict:
        d = {name: getattr(self, name) for name in _STEP_FIELDS}
        for name in _STEP_CONTAINERS:
            d[name] = plain_copy(d[name])
        d["params"] = encode_value(self.params)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["params"] = decode_value(kw.get("params") or {})
        if isinstance(kw.get("output"), dict):  # journals from before semantic outputs hold v2 keys
            kw["output"] = semantic_output(kw["output"])
        if isinstance(kw.get("outputs"), list):
            kw["outputs"] = list(dict.fromkeys(LEGACY_KEYS.get(k, k) for k in kw["outputs"]))
        if not isinstance(kw.get("sent"), dict):
            kw.pop("sent", None)
        return cls(**kw)

    def snapshot(self, index: int) -> dict:
        d = self.to_dict()
        d.pop("uploads", None)
        d["index"] = index
        return d


_STEP_FIELDS = tuple(f.name for f in fields(Step))
#: the fields that hold dicts or lists (copied); the others hold scalars (shared)
_STEP_CONTAINERS = ("outputs", "files", "output", "uploads", "sent")


@dataclass
class Job(_CappedTexts):
    """A user-visible unit of work: one or more steps run in order."""

    title: str
    steps: list[Step]
    kind: str = "custom"
    id: str = field(default_factory=new_id)
    state: str = JobState.PENDING
    created: float = field(default_factory=time.time)
    updated: float = 0.0
    imported: bool = False
    error: str = ""  # why it failed / needs attention (plain sentence, no secrets)
    notice: str = ""  # informational message (e.g. "cancelled locally; Tripo has no cancel")
    meta: dict = field(default_factory=dict)  # free JSON-able data for the caller (e.g. the source object name)
    api: str = "v3"  # the Tripo API version its tasks were sent with (its task ids live there)
    address: str = ""  # the API address its tasks were sent to ("" until its first task; older journals)
    key_id: str = ""  # a salted fingerprint of the key they were sent with (never the key), "" when not known

    def __post_init__(self) -> None:
        if not self.updated:
            self.updated = self.created

    # -- derived -----------------------------------------------------------------------------------------------
    @property
    def final(self) -> bool:
        return self.state in JobState.FINAL

    @property
    def current_step(self) -> int:
        """Index of the first step not yet succeeded (len(steps) when all did)."""
        for i, s in enumerate(self.steps):
            if s.state != JobState.SUCCEEDED:
                return i
        return len(self.steps)

    @property
    def progress(self) -> int:
        """Overall 0..100 over all steps."""
        if not self.steps:
            return 0
        if self.state == JobState.SUCCEEDED:
            return 100
        total = sum(100 if s.state == JobState.SUCCEEDED else max(0, min(100, int(s.progress))) for s in self.steps)
        return int(total / len(self.steps))

    @property
    def files(self) -> list[str]:
        return [f for s in self.steps for f in s.files]

    @property
    def result_files(self) -> list[str]:
        """Files of the last step that downloaded something: what the user imports."""
        for s in reversed(self.steps):
            if s.files:
                return list(s.files)
        return []

    @property
    def task_ids(self) -> list[str]:
        return [s.task_id for s in self.steps if s.task_id]

    @property
    def credits(self) -> float:
        return float(sum(s.credits or 0 for s in self.steps))

    @property
    def estimated_credits(self) -> float | None:
        """Sum of the steps' estimates, decimals kept (v3 prices in decimals; None when a step has none)."""
        if any(s.estimate is None for s in self.steps):
            return None
        return round(float(sum(s.estimate or 0 for s in self.steps)), 2)

    # -- serialisation -----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = self._own_fields()
        d["steps"] = [s.to_dict() for s in self.steps]
        return d

    def _own_fields(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "state": self.state,
            "created": self.created,
            "updated": self.updated,
            "imported": self.imported,
            "error": self.error,
            "notice": self.notice,
            "meta": plain_copy(self.meta),
            "api": self.api,
            "address": self.address,
            "key_id": self.key_id,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Job:
        if not isinstance(d, dict) or not isinstance(d.get("id"), str) or not isinstance(d.get("steps"), list):
            raise ValueError("not a job record")
        state = d.get("state", JobState.PENDING)
        if state not in JobState.ALL:
            raise ValueError(f"unknown job state {state!r}")
        return cls(
            id=d["id"],
            title=str(d.get("title", "")),
            kind=str(d.get("kind", "custom")),
            state=state,
            created=float(d.get("created") or time.time()),
            updated=float(d.get("updated") or 0.0),
            imported=bool(d.get("imported", False)),
            error=str(d.get("error", "")),
            notice=str(d.get("notice", "")),
            meta=dict(d.get("meta") or {}),
            api=str(d.get("api") or "v2"),  # journals from before v3 hold v2 jobs
            address=str(d.get("address") or "")[:500],
            key_id=str(d.get("key_id") or "")[:64],
            steps=[Step.from_dict(s) for s in d["steps"]],
        )

    def snapshot(self) -> dict:
        """Plain JSON-able copy: the only thing that crosses to the main thread.

        Keys: id, title, kind, state, created, updated, imported, error, notice, meta, steps (step snapshots), plus
        derived: progress (0..100), current_step, final, can_import, files, result_files, task_ids, credits,
        estimated_credits.
        """
        d = self._own_fields()
        d["steps"] = [s.snapshot(i) for i, s in enumerate(self.steps)]
        d["progress"] = self.progress
        d["current_step"] = self.current_step
        d["final"] = self.final
        d["files"] = self.files
        d["result_files"] = self.result_files
        d["can_import"] = self.state == JobState.SUCCEEDED and not self.imported and bool(self.result_files)
        d["task_ids"] = self.task_ids
        d["credits"] = self.credits
        d["estimated_credits"] = self.estimated_credits
        return d
