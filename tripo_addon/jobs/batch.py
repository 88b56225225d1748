"""Batches: many rows (prompts, images) run as one resumable batch through an :class:`Engine`. No bpy.

The parts live along their seams: :mod:`.batch_rows` (rows files, shards, a row's jobs), :mod:`.batch_plan` (the cost
first), :mod:`.batch_journal` (job ids on disk before anything is sent), :mod:`.batch_runner` (the loop, folders,
summary). This module keeps every public name importable as ``jobs.batch.X``.
"""

from __future__ import annotations

from .batch_journal import JOURNAL_VERSION, BatchJournal, RowRecord, write_json_atomic
from .batch_plan import DONE, FAILED, PENDING, SENT, Plan, RowPlan, plan_rows
from .batch_rows import (
    COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_VARIANTS,
    BatchError,
    Row,
    build_jobs,
    parse_rows,
    parse_shard,
    shard,
)
from .batch_runner import WINDOW_PER_SLOT, BatchRunner, progress_line

__all__ = [
    "COLUMNS", "DONE", "FAILED", "JOURNAL_VERSION", "MAX_FILE_BYTES", "MAX_ROWS", "MAX_VARIANTS", "PENDING", "SENT",
    "WINDOW_PER_SLOT", "BatchError", "BatchJournal", "BatchRunner", "Plan", "Row", "RowPlan", "RowRecord",
    "build_jobs", "parse_rows", "parse_shard", "plan_rows", "progress_line", "shard", "write_json_atomic",
]
