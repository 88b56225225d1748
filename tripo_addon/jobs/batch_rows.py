"""Batch rows: a rows file (text, CSV or JSON) read into :class:`Row` objects, shards, and a row's jobs. No bpy.

A rows file is a text file (one prompt a line; blank lines and ``#`` comments skipped), a CSV with a header, or a JSON
list of objects (or ``{"rows": [...]}``). Columns: ``prompt``, ``image`` (a path, relative to the rows file, or an
http(s) URL), ``model`` (model_version), ``options`` (a JSON object of task parameters), ``pipeline`` (a name of
:data:`pipelines.PIPELINES`; empty: one task, text_to_model or image_to_model), ``variants`` (1-8: that many seeds),
``label`` (what the contact sheet says); any other column is one task parameter.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api import outputs as out
from ..api import tasks as api_tasks
from . import pipelines
from .job import Job

MAX_ROWS = 10_000
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_VARIANTS = 8
COLUMNS = ("prompt", "image", "model", "options", "pipeline", "variants", "label")


class BatchError(ValueError):
    """A rows file or a row cannot be run (the message names the row and what to do); nothing was sent."""


@dataclass
class Row:
    """One line of a batch."""

    index: int  # 0-based position among the file's rows
    prompt: str = ""
    image: str = ""
    model: str = ""
    options: dict = field(default_factory=dict)
    pipeline: str = ""
    variants: int = 1
    label: str = ""

    @property
    def key(self) -> str:
        """Stable name of the row (its folder): number and a slug of its prompt or image."""
        text = self.label or self.prompt or os.path.basename(self.image) or "row"
        slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "row"
        return f"{self.index + 1:04d}-{slug}"

    @property
    def title(self) -> str:
        return self.label or self.prompt or os.path.basename(self.image) or self.key


def _coerce(value: str) -> Any:
    """A CSV cell as a plain value: JSON literals (numbers, true/false, lists) when they parse, else the text."""
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return json.loads(text)
    except ValueError:
        return text


def _row(index: int, rec: dict, base: Path, where: str) -> Row:
    rec = {str(k).strip().lower(): v for k, v in rec.items() if k is not None}
    row = Row(index)
    row.prompt = " ".join(str(rec.pop("prompt", "") or "").split())
    image = str(rec.pop("image", "") or "").strip()
    if image and not re.match(r"^https?://", image):
        image = str((base / os.path.expanduser(image)).resolve())
    row.image = image
    row.model = str(rec.pop("model", "") or "").strip()
    row.pipeline = str(rec.pop("pipeline", "") or "").strip()
    row.label = " ".join(str(rec.pop("label", "") or "").split())
    options = rec.pop("options", None) or {}
    if isinstance(options, str):
        try:
            options = json.loads(options) if options.strip() else {}
        except ValueError as exc:
            raise BatchError(f"{where}: options is not a JSON object ({exc}); write it as {{\"face_limit\": 5000}}.")
    if not isinstance(options, dict):
        raise BatchError(f"{where}: options must be a JSON object such as {{\"face_limit\": 5000}}.")
    variants = rec.pop("variants", None)
    for k, v in rec.items():  # any other column is one parameter
        if v not in (None, ""):
            options.setdefault(k, _coerce(v) if isinstance(v, str) else v)
    row.options = options
    variants = options.pop("variants", 1) if variants in (None, "") else variants
    try:
        row.variants = int(variants or 1)
    except (TypeError, ValueError):
        raise BatchError(f"{where}: variants must be a whole number from 1 to {MAX_VARIANTS}, not {variants!r}.")
    if not 1 <= row.variants <= MAX_VARIANTS:
        raise BatchError(f"{where}: variants must be from 1 to {MAX_VARIANTS}, not {row.variants}.")
    if not row.prompt and not row.image:
        raise BatchError(f"{where}: the row has neither a prompt nor an image; give one of them (or remove the row).")
    if row.pipeline and row.pipeline not in pipelines.PIPELINES:
        raise BatchError(f"{where}: unknown pipeline {row.pipeline!r}; choose one of "
                         f"{', '.join(sorted(pipelines.PIPELINES))} (or leave it empty for one task).")
    if row.pipeline and not _pipeline_input(row):
        raise BatchError(f"{where}: pipeline {row.pipeline} starts from {_pipeline_arg(row.pipeline)}; the row has "
                         "none.")
    if not row.pipeline and row.prompt and row.image:
        raise BatchError(f"{where}: the row has both a prompt and an image; image_to_model takes no prompt. Keep one "
                         "(a 'label' column names a row on the contact sheet), or name a pipeline.")
    return row


def _pipeline_arg(name: str) -> str:
    """What a pipeline starts from: "prompt", "image" or "mesh_path" (its builder's first parameter)."""
    import inspect

    return next(iter(inspect.signature(pipelines.PIPELINES[name]).parameters))


def _pipeline_input(row: Row) -> str:
    return row.prompt if _pipeline_arg(row.pipeline) == "prompt" else row.image


def parse_rows(path: str | os.PathLike, text: str | None = None) -> list[Row]:
    """The rows of a batch file (.csv, .json, or text: one prompt a line). Raises BatchError naming the row."""
    p = Path(path)
    if text is None:
        try:
            size = p.stat().st_size
        except OSError as exc:
            raise BatchError(f"Cannot read the rows file {p}: {exc.strerror or exc}.")
        if size > MAX_FILE_BYTES:
            raise BatchError(f"The rows file {p.name} is {size / 1048576:.1f} MB; at most "
                             f"{MAX_FILE_BYTES >> 20} MB is read. Split it into several batches.")
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    base = p.resolve().parent
    suffix = p.suffix.lower()
    records: list[tuple[str, dict]] = []
    if suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BatchError(f"{p.name} is not valid JSON ({exc}).")
        if isinstance(data, dict):
            data = data.get("rows")
        if not isinstance(data, list):
            raise BatchError(f"{p.name}: expected a list of rows (or {{\"rows\": [...]}}).")
        for i, rec in enumerate(data):
            if isinstance(rec, str):
                rec = {"prompt": rec}
            if not isinstance(rec, dict):
                raise BatchError(f"{p.name} row {i + 1}: a row is an object such as {{\"prompt\": \"a chair\"}}.")
            records.append((f"{p.name} row {i + 1}", rec))
    elif suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not any(c and c.strip().lower() in ("prompt", "image")
                                            for c in reader.fieldnames):
            raise BatchError(f"{p.name}: the first line must name the columns, with 'prompt' or 'image' among them "
                             f"(known columns: {', '.join(COLUMNS)}).")
        for rec in reader:
            if not any((v or "").strip() for v in rec.values() if isinstance(v, str)):
                continue
            records.append((f"{p.name} line {reader.line_num}", rec))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                records.append((f"{p.name} line {n}", {"prompt": line}))
    if len(records) > MAX_ROWS:
        raise BatchError(f"{p.name} has {len(records):,} rows; a batch takes at most {MAX_ROWS:,}. Split it.")
    if not records:
        raise BatchError(f"{p.name} has no rows.")
    rows = [_row(i, rec, base, where) for i, (where, rec) in enumerate(records)]
    return rows


def shard(rows: list[Row], spec: str | tuple[int, int] | None) -> list[Row]:
    """Every N-th row for shard ``I/N`` (1-based I): rows whose position modulo N is I-1."""
    i, n = parse_shard(spec)
    return [r for r in rows if r.index % n == i - 1]


def parse_shard(spec: str | tuple[int, int] | None) -> tuple[int, int]:
    if spec is None or spec == "":
        return 1, 1
    if isinstance(spec, tuple):
        i, n = spec
    else:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(spec))
        if not m:
            raise BatchError(f"--shard takes I/N such as 2/4 (this machine runs every 4th row from the 2nd), not "
                             f"{spec!r}.")
        i, n = int(m.group(1)), int(m.group(2))
    if not (n >= 1 and 1 <= i <= n):
        raise BatchError(f"--shard {i}/{n}: I must be from 1 to N.")
    return i, n


def _seed(row: Row) -> int:
    return int(hashlib.sha256(row.key.encode()).hexdigest()[:7], 16)


def build_jobs(row: Row, batch_id: str = "") -> list[Job]:
    """The jobs of one row: one per variant (variant v gets seed base+v unless the row gives ``model_seed``)."""
    jobs = []
    for v in range(row.variants):
        params = dict(row.options)
        if row.model:
            params["model_version"] = row.model
        if row.variants > 1:
            params["model_seed"] = int(params.get("model_seed", _seed(row))) + v
        try:
            if row.pipeline:
                job = pipelines.PIPELINES[row.pipeline](_pipeline_input(row), **params)
            elif row.image:
                job = pipelines.image_to_model(row.image, **params)
            else:
                job = pipelines.text_to_model(row.prompt, **params)
        except TypeError as exc:  # a builder's own argument missing or unknown
            raise BatchError(f"Row {row.index + 1} ({row.title}): {exc}; check its options.") from None
        for step in job.steps:  # a preview for the contact sheet: the step that makes the model also fetches it
            spec = api_tasks.TASK_TYPES.get(step.task_type)
            if step.download and spec is not None and out.PREVIEW in spec.outputs and step.outputs is None:
                step.outputs = [out.MODEL, out.PREVIEW]
        job.title = row.title + (f" #{v + 1}" if row.variants > 1 else "")
        job.meta.update(batch=batch_id, batch_row=row.key, variant=v + 1)
        jobs.append(job)
    return jobs
