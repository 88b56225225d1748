"""scripts/tripo_batch.py as a user runs it (the bpy module in a child process) against the emulator: a 20-row batch
killed (SIGKILL) three times mid-batch and started again each time ends with every row done, its contact sheet and
summary, and the emulator saw exactly one create per row."""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import struct
import sys
import time
import uuid
from pathlib import Path

import pytest
from child_process import ChildProcess
from emulators import running
from wirelog import creates

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "tripo_batch.py"

pytestmark = pytest.mark.slow
needs_bpy = pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs the bpy module")


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory):
    """Tasks of ~4 s (text_to_model's 44 s at 0.1), so a 20-row batch through 10 slots lasts long enough to kill."""
    with running(tmp_path_factory.mktemp("emu_batch"), time_scale=0.1, api="v3") as emu:
        yield emu


class Life(ChildProcess):
    """One run of the script; its stdout lines are read in the background."""

    def __init__(self, args: list[str], env: dict):
        super().__init__([sys.executable, str(SCRIPT), *args], env, str(ROOT))

    def until(self, predicate, timeout: float = 120.0) -> None:
        """Read lines until predicate(all lines so far) holds."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen.append(self.lines.get(timeout=0.2))
            except queue.Empty:
                assert self.proc.poll() is None, self.log()
                continue
            if predicate(seen):
                return
        raise AssertionError("the batch did not get there in time:\n" + self.log())

    def kill(self) -> None:
        assert self.proc.poll() is None, "the batch ended before it could be killed:\n" + self.log()
        super().kill()


def _done(lines: list[str]) -> int:
    return len({ln.split()[1] for ln in lines if ln.startswith("[") and "  done  " in ln})


@needs_bpy
def test_twenty_rows_three_kills(tmp_path, slow_emulator):
    emu = slow_emulator
    key = "tsk_test_" + uuid.uuid4().hex
    emu.add_account(key, balance=100_000)
    prompts = [f"test object number {i}" for i in range(1, 21)]
    rows = tmp_path / "rows.txt"
    rows.write_text("\n".join(prompts) + "\n", "utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "TRIPO_API_KEY": key, "TRIPO_BASE_URL": emu.base_url, "PYTHONPATH": "",
           "TRIPO_BATCH_POLL_MIN": "0.1", "BLENDER_USER_RESOURCES": str(tmp_path / "user"), "TMPDIR": str(tmp_path)}
    args = [str(rows), "--out", str(out), "--yes"]
    lives = []
    # 1: killed while the first rows run; 2: after 5 rows are done; 3: after 12
    for stop in (lambda ls: sum("running" in ln for ln in ls) >= 3, lambda ls: _done(ls) >= 5,
                 lambda ls: _done(ls) >= 12):
        life = Life(args, env)
        lives.append(life)
        life.until(stop)
        life.kill()
        assert not (out / "summary.json").exists()  # it really died mid-batch
        assert json.loads((out / "batch.json").read_text("utf-8"))["rows"]  # the journal parses after SIGKILL
    last = Life(args, env)
    lives.append(last)
    rc = last.wait(300)
    assert rc == 0, last.log()

    # the emulator: one create per row, never twice
    made = creates(emu, key)
    assert sorted(c["body"]["prompt"] for c in made) == sorted(prompts), [c["body"].get("prompt") for c in made]
    assert len([t for t in emu.store.tasks.values() if t.account.key == key]) == 20

    # what the user finds in DIR
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert (summary["rows"], summary["done"], summary["failed"]) == (20, 20, 0)
    assert summary["credits"] == sum(emu.task(t).price for r in summary["results"] for t in r["task_ids"])
    assert "20 of 20 row(s) done" in (out / "summary.txt").read_text("utf-8")
    folders = sorted(p.name for p in (out / "rows").iterdir())
    assert len(folders) == 20 and folders[0] == "0001-test-object-number-1"
    for f in folders:
        assert any(p.suffix == ".glb" for p in (out / "rows" / f).iterdir())
    png = (out / "contact_sheet.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", png[16:24])
    assert w > 4 * 256 and h > 4 * 256  # 5 x 4 cells of 256 px
    text = "".join(last.out)
    assert text.count("  done  ") >= 20 and "20 done, 0 failed" in text
    for life in lives:  # the key never reached the output
        assert key not in "".join(life.out) + "".join(life.err)


@needs_bpy
def test_headless_plan_shard_library(tmp_path, emulator, api_key):
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(["a brass key", "a clay pot", "a tin cup"]), "utf-8")
    out = tmp_path / "out"
    env = {**os.environ, "TRIPO_API_KEY": api_key, "TRIPO_BASE_URL": emulator.base_url, "PYTHONPATH": "",
           "TRIPO_BATCH_POLL_MIN": "0.1", "BLENDER_USER_RESOURCES": str(tmp_path / "user"), "TMPDIR": str(tmp_path)}

    def run(*extra):
        life = Life([str(rows), "--out", str(out), *extra], env)
        return life.wait(240), "".join(life.out), life

    rc, text, life = run("--plan")
    assert rc == 0, life.log()
    assert "Plan: 3 row(s) to send, 3 task(s), about 60 credits" in text
    assert creates(emulator, api_key) == []  # --plan sends nothing

    rc, text, life = run("--shard", "2/2", "--library", str(tmp_path / "lib"), "--yes")
    assert rc == 0, life.log()
    assert [c["body"]["prompt"] for c in creates(emulator, api_key)] == ["a clay pot"]  # every 2nd row from the 2nd
    summary = json.loads((out / "summary-2-of-2.json").read_text("utf-8"))
    assert (summary["rows"], summary["done"]) == (1, 1) and (out / "contact_sheet-2-of-2.png").is_file()
    assert [p.name.split("_", 1)[1].rsplit("_", 1)[0] for p in (tmp_path / "lib" / "models").glob("*.blend")] \
        == ["a_clay_pot"]
    assert (tmp_path / "lib" / "blender_assets.cats.txt").is_file()

    rc, text, life = run("--shard", "2/2", "--yes")  # again: everything is done, nothing is sent
    assert rc == 0 and len(creates(emulator, api_key)) == 1, life.log()


@needs_bpy
def test_headless_exit_codes_progress_lines(tmp_path, emulator, api_key):
    """What a farm manager reads: a progress line per row, 0 all done, 2 partial, 1 nothing done (or bad input, with
    the row named and nothing sent); --retry-failed sends only the failed row and ends with 0."""
    rows = tmp_path / "rows.txt"
    rows.write_text("a brass key\na clay pot\na tin cup\n", "utf-8")
    env = {**os.environ, "TRIPO_API_KEY": api_key, "TRIPO_BASE_URL": emulator.base_url, "PYTHONPATH": "",
           "TRIPO_BATCH_POLL_MIN": "0.1", "BLENDER_USER_RESOURCES": str(tmp_path / "user"), "TMPDIR": str(tmp_path)}

    def run(rows_file, out, *extra):
        life = Life([str(rows_file), "--out", str(out), "--yes", *extra], env)
        return life.wait(240), "".join(life.out), life

    emulator.inject(route="create", kind="fail_task", match={"key": api_key}, count=1)
    out = tmp_path / "partial"
    rc, text, life = run(rows, out)
    assert rc == 2, life.log()
    for n, key in enumerate(("0001-a-brass-key", "0002-a-clay-pot", "0003-a-tin-cup"), 1):
        assert f"[{n}/3] {key}  " in text  # one progress line per row, numbered
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert (summary["done"], summary["failed"]) == (2, 1) and summary["failures"][0]["why"]
    assert "FAILED" in (out / "summary.txt").read_text("utf-8") and (out / "contact_sheet.png").is_file()
    assert "2 done, 1 failed" in text and f"FAILED {summary['failures'][0]['row']}" in text
    failed_prompt = summary["failures"][0]["title"]

    before = len(creates(emulator, api_key))
    rc, text, life = run(rows, out, "--retry-failed")
    assert rc == 0, life.log()
    made = creates(emulator, api_key)
    assert [c["body"]["prompt"] for c in made[before:]] == [failed_prompt]  # only the failed row, once
    assert json.loads((out / "summary.json").read_text("utf-8"))["done"] == 3

    one = tmp_path / "one.txt"
    one.write_text("a glass bottle\n", "utf-8")
    emulator.inject(route="create", kind="fail_task", match={"key": api_key}, count=1)
    rc, text, life = run(one, tmp_path / "failed")
    assert rc == 1, life.log()
    assert json.loads((tmp_path / "failed" / "summary.json").read_text("utf-8"))["done"] == 0

    bad = tmp_path / "bad.csv"
    bad.write_text("prompt,variants\na chair,12\n", "utf-8")
    before = len(creates(emulator, api_key))
    rc, text, life = run(bad, tmp_path / "bad")
    assert rc == 1 and "bad.csv line 2: variants must be from 1 to 8" in text, life.log()
    assert len(creates(emulator, api_key)) == before  # refused before any credit is spent
