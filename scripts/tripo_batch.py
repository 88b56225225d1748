"""Run a batch of Tripo generations from a rows file, headless, resumable, one folder per row.

    blender -b --python scripts/tripo_batch.py -- rows.csv --out DIR [--shard I/N] [--yes]
    PYTHONPATH=scripts python scripts/tripo_batch.py rows.csv --out DIR            (the bpy module)

Rows: a text file (one prompt a line), a CSV with a header (prompt, image, model, options, pipeline, variants, label,
or any task parameter) or JSON (a list of such objects). See docs/batch.md.

The key and address are read as in the README's headless recipe: the add-on's preferences, else ``TRIPO_API_KEY``;
``TRIPO_BASE_URL`` (when set) is the address. First the plan with its cost; above the add-on's confirmation threshold
nothing is sent without ``--yes``. Then one progress line per row as it changes; at the end ``DIR/contact_sheet.png``
and ``DIR/summary.json`` / ``summary.txt`` (``-I-of-N`` suffixes with ``--shard``).

Killed or stopped, run the same command again: rows already sent are followed, never sent again. ``--retry-failed``
sends the failed rows again (``--retry-unknown`` also those whose create answer was lost and that the account's
history did not settle). Exit status: 0 every row done, 2 some failed, 1 none done (or the batch could not run).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import tripo_bpy  # noqa: E402  (before bpy: a private Blender user folder for the bpy module)


def _argv() -> list[str]:
    argv = sys.argv
    if "--" in argv:
        return argv[argv.index("--") + 1:]
    return argv[1:]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tripo_batch.py", description="Run a Tripo batch from a rows file.")
    p.add_argument("rows", help="rows file: .txt (one prompt a line), .csv or .json")
    p.add_argument("--out", required=True, help="output folder (journal, one folder per row, contact sheet, summary)")
    p.add_argument("--shard", default="", help="I/N: run every N-th row starting with the I-th (1-based)")
    p.add_argument("--yes", action="store_true", help="send without asking even above the confirmation threshold")
    p.add_argument("--plan", action="store_true", help="print the plan and its cost, send nothing")
    p.add_argument("--retry-failed", action="store_true", help="send the failed rows again")
    p.add_argument("--retry-unknown", action="store_true",
                   help="with --retry-failed: also rows whose create answer was lost (may pay twice)")
    p.add_argument("--library", default="",
                   help="also save every result as an asset in this folder, registered as the Tripo asset library "
                        "when this Blender has none (a registered Tripo library is always used)")
    p.add_argument("--timeout", type=float, default=0.0, help="stop following after this many seconds (0: never)")
    return p


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    module = tripo_bpy.setup()
    import bpy

    batch = importlib.import_module(module + ".jobs.batch")
    cost = importlib.import_module(module + ".jobs.cost")
    sheet = importlib.import_module(module + ".blender.assets_sheet")
    library = importlib.import_module(module + ".blender.assets_library")
    settings = importlib.import_module(module + ".blender.settings")
    jobs = importlib.import_module(module + ".jobs")

    prefs = bpy.context.preferences.addons[module].preferences
    if os.environ.get("TRIPO_BASE_URL"):
        prefs.api_base_url = os.environ["TRIPO_BASE_URL"]
    settings.snapshot_config()
    key, url = settings.api_key(prefs), settings.base_url(prefs)
    problem = settings.settings_problem(key, url)
    if problem:
        say(f"tripo_batch: {problem}")
        return 1

    out = Path(args.out).resolve()
    try:
        rows = batch.parse_rows(args.rows)
    except batch.BatchError as exc:
        say(f"tripo_batch: {exc}")
        return 1
    try:
        i, n = batch.parse_shard(args.shard or None)
    except batch.BatchError as exc:
        say(f"tripo_batch: {exc}")
        return 1
    state = out / ".tripo-batch" / ("engine" if n == 1 else f"engine-{i}-of-{n}")
    poll_min = float(os.environ.get("TRIPO_BATCH_POLL_MIN", "") or 2.0)
    engine = jobs.Engine(settings.make_client, state / "state", state / "downloads", keep_finished=None,
                         poll_min=poll_min, poll_max=max(poll_min, 10.0),
                         max_parallel=int(getattr(prefs, "max_parallel", 10) or 10))
    stop = {"now": False}

    def on_signal(signum, _frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if args.library:
            try:
                library.register_library(Path(args.library).resolve())
            except ValueError as exc:
                say(f"tripo_batch: {exc}")
                return 1
        runner = batch.BatchRunner(engine, rows, out, shard_spec=(i, n), source=str(Path(args.rows).resolve()),
                                   on_done=library.save_batch_row)
        engine.resume()
        try:
            plan = runner.plan()
        except batch.BatchError as exc:
            say(f"tripo_batch: {exc}")
            return 1
        say(f"tripo_batch: {len(runner.rows)} row(s)" + (f" (shard {i}/{n})" if n > 1 else "")
            + f" from {args.rows} to {out}")
        say(plan.text())
        if args.plan:
            return 0
        threshold = float(getattr(prefs, "confirm_above", 0) or 0)
        if plan.total is not None and plan.tasks and threshold > 0 and plan.total > threshold and not args.yes:
            say(f"tripo_batch: about {cost.text(plan.total)} credits is above your confirmation threshold of "
                f"{cost.text(threshold)}: run again with --yes to send it (nothing was sent).")
            return 1
        if args.retry_failed:
            again = runner.retry(unknown=args.retry_unknown)
            say(f"tripo_batch: retrying {len(again)} failed row(s)")
        total = len(runner.rows)
        position = {r.key: k + 1 for k, r in enumerate(runner.rows)}
        last: dict[str, str] = {}
        looked = 0.0
        deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
        while not stop["now"]:
            runner.tick()
            for rec in runner.records():
                snaps = runner.snapshots(rec) if rec.state == "sent" else []
                line = batch.progress_line(rec, total, position[rec.key], snaps)
                if last.get(rec.key) != line and (rec.state != "pending"):
                    say(line)
                    last[rec.key] = line
            attention = [r for r in runner.records() if r.state == "failed" and r.error.startswith("needs attention")]
            if attention and time.monotonic() - looked > 5.0:
                looked = time.monotonic()
                client = settings.make_client()
                try:
                    found = runner.recover_lost(client) if getattr(client, "api", "") == "v3" else []
                except Exception as exc:  # noqa: BLE001 - the history is a help, never a reason to stop
                    say(f"tripo_batch: the account history could not be read ({exc})")
                    found = []
                finally:
                    client.close()
                if found:
                    say(f"tripo_batch: {len(found)} lost create(s) found in the account history and followed")
                    continue
            if runner.finished() and not (attention and looked == 0.0):
                break
            if deadline is not None and time.monotonic() > deadline:
                say("tripo_batch: --timeout reached; run the same command again to follow the rest")
                break
            time.sleep(0.2)
        if stop["now"]:
            say("tripo_batch: stopped; run the same command again to resume (nothing is sent twice)")
            return 1
        recs = [dict(vars(r)) for r in runner.records()]
        s = runner.summary()
        title = (f"Tripo batch {Path(args.rows).name}: {s['done']}/{s['rows']} done, "
                 f"{cost.text(s['credits'])} credits")
        name = "contact_sheet.png" if n == 1 else f"contact_sheet-{i}-of-{n}.png"
        png = sheet.batch_sheet(recs, out, name, title=title)
        jpath, tpath = runner.write_summary()
        say(f"tripo_batch: {s['done']} done, {s['failed']} failed, {cost.text(s['credits'])} credits; "
            f"{png.name}, {jpath.name}, {tpath.name} in {out}")
        for f in s["failures"]:
            say(f"  FAILED {f['row']}: {f['why']}")
        return runner.exit_code()
    finally:
        engine.shutdown()


if __name__ == "__main__":
    code = main(_argv())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # bpy 4.2 can crash at interpreter exit; the status must be ours
