"""Batches: many rows (prompts, images) run as one resumable batch through an :class:`Engine`. No bpy.

A rows file is a text file (one prompt a line; blank lines and ``#`` comments skipped), a CSV with a header, or a JSON
list of objects (or ``{"rows": [...]}``). Columns: ``prompt``, ``image`` (a path, relative to the rows file, or an
http(s) URL), ``model`` (model_version), ``options`` (a JSON object of task parameters), ``pipeline`` (a name of
:data:`pipelines.PIPELINES`; empty: one task, text_to_model or image_to_model), ``variants`` (1-8: that many seeds),
``label`` (what the contact sheet says); any other column is one task parameter.

Money safety: every job id of a row is written to the batch journal (``<out>/batch[-shard].json``, atomically, with
fsync) before the job is handed to the engine, which itself journals a job before its worker starts and a task as
``submitting`` before its create. After a crash or quit the runner follows the recorded jobs; a recorded job the
engine never journaled was never sent, and is submitted again under the same id. Nothing is ever sent twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..api import outputs as out
from ..api import tasks as api_tasks
from . import cost, pipelines
from .job import Job, JobState

MAX_ROWS = 10_000
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_VARIANTS = 8
COLUMNS = ("prompt", "image", "model", "options", "pipeline", "variants", "label")
JOURNAL_VERSION = 1
#: rows in flight at once, per slot of the engine (the engine queues them within the account's pools)
WINDOW_PER_SLOT = 2

PENDING, SENT, DONE, FAILED = "pending", "sent", "done", "failed"


class BatchError(ValueError):
    """A rows file or a row cannot be run (the message names the row and what to do); nothing was sent."""


# ==================================================================================================== rows
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


# ==================================================================================================== jobs
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


# ==================================================================================================== plan
@dataclass
class RowPlan:
    key: str
    title: str
    tasks: int
    estimate: float | None
    state: str = PENDING


@dataclass
class Plan:
    rows: list[RowPlan]
    total: float | None  # credits of the rows still to send (None: a price is unknown)
    sent: int  # rows already sent earlier (not counted again)

    @property
    def tasks(self) -> int:
        return sum(r.tasks for r in self.rows if r.state == PENDING)

    def text(self) -> str:
        todo = [r for r in self.rows if r.state == PENDING]
        s = (f"Plan: {len(todo)} row(s) to send, {self.tasks} task(s), about {cost.text(self.total)} credits"
             + (f" ({self.sent} row(s) already sent or done earlier, not counted)" if self.sent else ""))
        return s


def plan_rows(rows: list[Row], api: str, states: dict[str, str] | None = None,
              validate: Callable[[Job], None] | None = None) -> Plan:
    """The cost of every row from the published prices; ``validate`` (Engine.validate) checks each job first."""
    states = states or {}
    out_rows: list[RowPlan] = []
    total: float | None = 0.0
    for row in rows:
        jobs = build_jobs(row)
        if validate is not None and states.get(row.key, PENDING) == PENDING:
            for job in jobs:
                job.api = api
                try:
                    validate(job)
                except Exception as exc:  # noqa: BLE001 - TripoValidationError: name the row
                    raise BatchError(f"Row {row.index + 1} ({row.title}): "
                                     f"{getattr(exc, 'user_message', None) or exc}") from None
        costs = [c for job in jobs for c in cost.before(job, api)]
        est = cost.total(costs)
        state = states.get(row.key, PENDING)
        out_rows.append(RowPlan(row.key, row.title, len(costs), est, state))
        if state == PENDING:
            total = None if total is None or est is None else total + est
    return Plan(out_rows, total, sum(1 for r in out_rows if r.state != PENDING))


# ==================================================================================================== journal
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


# ==================================================================================================== runner
def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        tmp = dst.with_name(f".{dst.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


_PREVIEW_EXT = (".webp", ".png", ".jpg", ".jpeg")


class BatchRunner:
    """Runs rows through ``engine`` (its public API only). Call :meth:`tick` repeatedly (a timer, or a loop)."""

    def __init__(self, engine: Any, rows: list[Row], out_dir: str | os.PathLike, *,
                 shard_spec: str | tuple[int, int] | None = None, source: str = "", window: int | None = None,
                 on_done: Callable[[Any, RowRecord], Any] | None = None) -> None:
        self.engine = engine
        self.on_done = on_done  # called (runner, record) when a row is done and its files are in its folder
        self.shard = parse_shard(shard_spec)
        self.rows = shard(rows, self.shard)
        self.out_dir = Path(out_dir)
        self.journal = BatchJournal(self.out_dir, self.shard)
        self.journal.meta.setdefault("id", hashlib.sha256(f"{source}|{self.out_dir}".encode()).hexdigest()[:12])
        self.journal.meta.update(source=str(source), shard=list(self.shard))
        self.window = window or max(1, int(getattr(engine, "max_parallel", 10))) * WINDOW_PER_SLOT
        for row in self.rows:
            if row.key not in self.journal.rows:
                self.journal.rows[row.key] = RowRecord(row.key, row.index, row.title)
        self._by_key = {r.key: r for r in self.rows}

    @property
    def batch_id(self) -> str:
        return str(self.journal.meta["id"])

    def records(self) -> list[RowRecord]:
        return [self.journal.rows[r.key] for r in self.rows]

    def plan(self, validate: bool = True) -> Plan:
        states = {r.key: r.state for r in self.records()}
        api = str(getattr(self.engine, "api", api_tasks.DEFAULT_API))
        return plan_rows(self.rows, api, states, self.engine.validate if validate else None)

    def finished(self) -> bool:
        return all(r.state in (DONE, FAILED) for r in self.records())

    # ------------------------------------------------------------------------------------------ the loop
    def tick(self) -> list[RowRecord]:
        """Follow the rows in flight, send the next ones within the window. Returns the rows that changed."""
        changed = [rec for rec in self.records() if rec.state == SENT and self._follow(rec)]
        in_flight = sum(1 for r in self.records() if r.state == SENT)
        todo = [r for r in self.records() if r.state == PENDING][: max(0, self.window - in_flight)]
        if todo:
            changed += self._send(todo)
        if changed:
            self.journal.save()
        return changed

    def _snapshot(self, job_id: str) -> dict | None:
        try:
            return self.engine.get(job_id)
        except KeyError:
            return None

    def snapshots(self, rec: RowRecord) -> list[dict]:
        """The engine's snapshots of a row's jobs (those it knows)."""
        return [s for s in (self._snapshot(j) for j in rec.jobs) if s is not None]

    def _send(self, recs: list[RowRecord]) -> list[RowRecord]:
        built: list[tuple[RowRecord, list[Job]]] = []
        for rec in recs:
            jobs = build_jobs(self._by_key[rec.key], self.batch_id)
            rec.jobs = [j.id for j in jobs]
            rec.state, rec.error, rec.updated = SENT, "", time.time()
            rec.attempts += 1
            built.append((rec, jobs))
        self.journal.save()  # every job id on disk before the engine may send anything
        for rec, jobs in built:
            self._submit(rec, jobs)
        return recs

    def _submit(self, rec: RowRecord, jobs: list[Job]) -> None:
        for job in jobs:
            try:
                self.engine.submit(job)
            except Exception as exc:  # noqa: BLE001 - refused before sending: the row fails with the reason
                rec.state = FAILED
                rec.error = str(getattr(exc, "user_message", None) or exc)
                return

    def _follow(self, rec: RowRecord) -> bool:
        """Update a sent row from its jobs; resubmit (same id) a recorded job the engine never journaled."""
        snaps: list[dict] = []
        for i, job_id in enumerate(rec.jobs):
            snap = self._snapshot(job_id)
            if snap is None:  # recorded, never journaled by the engine: never sent. Send it now, same id.
                job = build_jobs(self._by_key[rec.key], self.batch_id)[i]
                job.id = job_id
                self._submit(rec, [job])
                if rec.state == FAILED:
                    return True
                snap = self._snapshot(job_id)
                if snap is None:
                    return False
            snaps.append(snap)
        states = [s.get("state") for s in snaps]
        if any(s not in JobState.STOPPED for s in states):
            return False
        rec.task_ids = [t for s in snaps for t in s.get("task_ids") or []]
        rec.variant_credits = [float(s.get("credits") or 0) for s in snaps]
        rec.variant_tasks = [(s.get("task_ids") or [""])[-1] for s in snaps]
        rec.credits = float(sum(rec.variant_credits))
        ests = [s.get("estimated_credits") for s in snaps]
        rec.estimate = None if any(e is None for e in ests) else float(sum(ests))
        rec.updated = time.time()
        if all(s == JobState.SUCCEEDED for s in states):
            self._collect(rec, snaps)
            rec.state, rec.error = DONE, ""
            if self.on_done is not None:
                try:
                    self.on_done(self, rec)
                except Exception as exc:  # noqa: BLE001 - an extra (the asset library) never fails a paid row
                    rec.notice = f"done, but: {exc}"
        else:
            bad = next(s for s in snaps if s.get("state") != JobState.SUCCEEDED)
            why = bad.get("error") or bad.get("notice") or bad.get("state")
            if bad.get("state") == JobState.NEEDS_ATTENTION:
                why = f"needs attention: {why}"
            rec.state, rec.error = FAILED, str(why)
        return True

    def _collect(self, rec: RowRecord, snaps: list[dict]) -> None:
        """The row's files into ``<out>/rows/<key>/`` (``v1``, ``v2``... for variants) and its ``row.json``."""
        folder = self.out_dir / "rows" / rec.key
        files, previews = [], []
        for v, snap in enumerate(snaps, 1):
            dest = folder / f"v{v}" if len(snaps) > 1 else folder
            for f in snap.get("files") or []:
                src = Path(f)
                if not src.is_file():
                    continue
                target = dest / src.name
                _link_or_copy(src, target)
                rel = str(target.relative_to(self.out_dir))
                files.append(rel)
                if src.suffix.lower() in _PREVIEW_EXT and v not in {p[0] for p in previews}:
                    previews.append((v, rel))
        rec.files = files
        rec.previews = [p for _, p in previews]
        row = self._by_key[rec.key]
        write_json_atomic(folder / "row.json", {"row": asdict(row), "task_ids": rec.task_ids, "credits": rec.credits,
                                                "files": files, "jobs": rec.jobs})

    # ------------------------------------------------------------------------------------------ actions
    def retry(self, keys: Iterable[str] | None = None, *, unknown: bool = False) -> list[str]:
        """Send failed rows again (``keys``: those only). A row whose create answer was lost (needs attention) is
        retried only with ``unknown=True``: look in the Tripo history first, it may have been created."""
        wanted = set(keys) if keys is not None else None
        again = []
        for rec in self.records():
            if rec.state != FAILED or (wanted is not None and rec.key not in wanted):
                continue
            if rec.error.startswith("needs attention") and not unknown:
                continue
            retried = False
            for job_id in rec.jobs:
                snap = self._snapshot(job_id)
                if snap is not None and snap.get("state") in (JobState.FAILED, JobState.CANCELLED,
                                                              JobState.NEEDS_ATTENTION):
                    self.engine.retry(job_id)  # its succeeded steps are kept; failed tasks are sent again
                    retried = True
            if not retried and not any(self._snapshot(j) for j in rec.jobs):
                rec.state = PENDING  # the engine forgot the jobs: new jobs, new ids
                rec.jobs = []
            else:
                rec.state = SENT
            rec.error = ""
            rec.attempts += 1
            again.append(rec.key)
        if again:
            self.journal.save()
        return again

    def recover_lost(self, usage: Callable[[int, int], list[Any]]) -> list[str]:
        """Rows whose create answer was lost: find their task in the account's history and attach it (v3)."""
        from . import recover

        snaps = [s for s in (self._snapshot(j) for rec in self.records() for j in rec.jobs) if s is not None]
        if not recover.lost_steps(snaps):
            return []
        found = []
        for finding in recover.unique(recover.find(usage, snaps)):
            if recover.attach_found(self.engine, finding):
                found.append(finding.lost.job_id)
        for rec in self.records():
            if rec.state == FAILED and any(j in found for j in rec.jobs):
                rec.state, rec.error = SENT, ""
        if found:
            self.journal.save()
        return found

    # ------------------------------------------------------------------------------------------ the end
    def summary(self) -> dict:
        recs = self.records()
        done = [r for r in recs if r.state == DONE]
        failed = [r for r in recs if r.state == FAILED]
        return {
            "batch": self.batch_id, "source": self.journal.meta.get("source", ""), "shard": list(self.shard),
            "rows": len(recs), "done": len(done), "failed": len(failed),
            "pending": len(recs) - len(done) - len(failed),
            "credits": round(sum(r.credits for r in recs), 2),
            "failures": [{"row": r.key, "title": r.title, "why": r.error} for r in failed],
            "results": [{"row": r.key, "title": r.title, "task_ids": r.task_ids, "credits": r.credits,
                         "files": r.files, "preview": r.previews[0] if r.previews else ""} for r in done],
        }

    def exit_code(self) -> int:
        """0 every row done, 2 some done and some failed, 1 none done."""
        s = self.summary()
        if s["rows"] and s["done"] == s["rows"]:
            return 0
        return 2 if s["done"] else 1

    def write_summary(self) -> tuple[Path, Path]:
        s = self.summary()
        i, n = self.shard
        stem = "summary" if n == 1 else f"summary-{i}-of-{n}"
        jpath, tpath = self.out_dir / f"{stem}.json", self.out_dir / f"{stem}.txt"
        write_json_atomic(jpath, s)
        lines = [f"Tripo batch {s['batch']} ({s['source']}){'' if n == 1 else f', shard {i}/{n}'}",
                 f"{s['done']} of {s['rows']} row(s) done, {s['failed']} failed, {s['pending']} not finished; "
                 f"{cost.text(s['credits'])} credits used", ""]
        lines += [f"done    {r['row']}  {cost.text(r['credits'])} cr  {', '.join(r['task_ids'])}" for r in s["results"]]
        lines += [f"FAILED  {f['row']}  {f['why']}" for f in s["failures"]]
        tmp = tpath.with_name(f".{tpath.name}.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, tpath)
        return jpath, tpath


def progress_line(rec: RowRecord, total: int, position: int, snaps: list[dict] | None = None) -> str:
    """One line a terminal shows for a row: ``[ 3/20] 0003-a-red-chair  done  20 credits``."""
    head = f"[{position:>{len(str(total))}}/{total}] {rec.key}"
    if rec.state == DONE:
        return f"{head}  done  {cost.text(rec.credits)} credits  {', '.join(rec.task_ids)}"
    if rec.state == FAILED:
        return f"{head}  FAILED  {rec.error}"
    if snaps:
        prog = int(sum(int(s.get("progress") or 0) for s in snaps) / len(snaps))
        return f"{head}  {snaps[0].get('state', 'sent')}  {prog}%"
    return f"{head}  {rec.state}"
