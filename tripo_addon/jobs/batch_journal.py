"""The batch journal: ``<out>/batch[-I-of-N].json`` keeps every row's job ids (written before they are submitted)
and outcomes, atomically. No bpy."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .batch_plan import PENDING
from .batch_rows import BatchError

JOURNAL_VERSION = 1


def write_json_atomic(path: Path, data: Any) -> None:
    """Temp file, fsync, replace, directory fsync: a reader (or a crash) sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # Windows: no directory fsync
        pass


@dataclass
class RowRecord:
    """What the batch journal keeps about one row."""

    key: str
    index: int
    title: str
    state: str = PENDING
    jobs: list[str] = field(default_factory=list)
    error: str = ""
    credits: float = 0.0
    estimate: float | None = None
    task_ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    previews: list[str] = field(default_factory=list)
    variant_credits: list[float] = field(default_factory=list)  # per job (variant), in order
    variant_tasks: list[str] = field(default_factory=list)  # the last task id of each job (variant)
    attempts: int = 0
    updated: float = 0.0
    notice: str = ""


class BatchJournal:
    """``<out>/batch[-I-of-N].json``: the rows' job ids (written before they are submitted) and outcomes."""

    def __init__(self, out_dir: str | os.PathLike, shard_spec: tuple[int, int] = (1, 1)) -> None:
        self.out_dir = Path(out_dir)
        i, n = shard_spec
        self.path = self.out_dir / ("batch.json" if n == 1 else f"batch-{i}-of-{n}.json")
        self.rows: dict[str, RowRecord] = {}
        self.meta: dict[str, Any] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text("utf-8"))
                self.meta = dict(data.get("meta") or {})
                known = set(RowRecord.__dataclass_fields__)
                for rec in data.get("rows") or []:
                    r = RowRecord(**{k: v for k, v in rec.items() if k in known})
                    self.rows[r.key] = r
            except (ValueError, TypeError, OSError) as exc:
                raise BatchError(f"The batch journal {self.path} cannot be read ({exc}); it is needed to resume "
                                 "without sending anything twice. Move it away only if no row of it was sent.")

    def save(self) -> None:
        write_json_atomic(self.path, {"version": JOURNAL_VERSION, "meta": self.meta,
                                      "rows": [asdict(r) for r in sorted(self.rows.values(), key=lambda r: r.index)]})
