"""The batch runner: rows sent through an :class:`Engine` within a window, followed, collected into folders and
summed up. No bpy.

Money safety: every job id of a row is written to the batch journal (``<out>/batch[-shard].json``, atomically, with
fsync) before the job is handed to the engine, which itself journals a job before its worker starts and a task as
``submitting`` before its create. After a crash or quit the runner follows the recorded jobs; a recorded job the
engine never journaled was never sent, and is submitted again under the same id. Nothing is ever sent twice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..api import tasks as api_tasks
from . import cost
from .batch_journal import BatchJournal, RowRecord, write_json_atomic
from .batch_plan import DONE, FAILED, PENDING, SENT, Plan, plan_rows
from .batch_rows import Row, build_jobs, parse_shard, shard
from .job import Job, JobState

#: rows in flight at once, per slot of the engine (the engine queues them within the account's pools)
WINDOW_PER_SLOT = 2


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

    def recover_lost(self, client: Any) -> list[str]:
        """Rows whose create answer was lost: find their task in the account's history (``client``: a v3
        TripoClient) and attach it, by the same rules as Refresh History in Blender. Returns the jobs attached."""
        from . import recover

        eng = self.engine
        snaps = [s for s in (self._snapshot(j) for rec in self.records() for j in rec.jobs) if s is not None]
        owners = getattr(eng, "owners", None)
        known = owners.known if owners is not None else None
        # this batch's jobs only; find() asks nothing when none of them lost an answer
        findings = recover.find(client, snaps, known=known, identity=recover.identity_of(eng, client),
                                dismissed=owners.dismissed if owners is not None else None)  # (Refresh History's)

        def attach(f: Any) -> None:
            eng.attach(f.found.task_id, job_id=f.lost.job_id, notice=recover.attach_notice(f))

        done, _left = recover.settle(findings, self._snapshot, attach, known)
        found = [f.lost.job_id for f in done]
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
