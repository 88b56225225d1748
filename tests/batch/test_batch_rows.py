"""Batches without Blender: rows files, the plan, the journal, the runner on a real engine and the emulator."""

from __future__ import annotations

import json
import time

import pytest
from lost_batch_row import lost_batch_row
from wirelog import creates

from tripo_addon.jobs import batch


def _run(runner, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not runner.finished():
        runner.tick()
        assert time.monotonic() < deadline, [vars(r) for r in runner.records()]
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------------- rows files
def test_text_csv_json_rows(tmp_path):
    (tmp_path / "a.txt").write_text("a red chair\n\n# not a row\n  a   blue   teapot \n", "utf-8")
    rows = batch.parse_rows(tmp_path / "a.txt")
    assert [r.prompt for r in rows] == ["a red chair", "a blue teapot"]
    assert [r.key for r in rows] == ["0001-a-red-chair", "0002-a-blue-teapot"]

    (tmp_path / "pic.png").write_bytes(b"x")
    (tmp_path / "b.csv").write_text(
        'prompt,image,model,options,variants,texture_quality\n'
        'a chair,,v3.1-20260211,"{""face_limit"": 5000}",3,detailed\n'
        ',pic.png,,,,\n', "utf-8")
    a, b = batch.parse_rows(tmp_path / "b.csv")
    assert a.options == {"face_limit": 5000, "texture_quality": "detailed"} and a.variants == 3
    assert a.model == "v3.1-20260211"
    assert b.image == str((tmp_path / "pic.png").resolve()) and not b.prompt

    (tmp_path / "c.json").write_text(json.dumps({"rows": ["a lamp", {"prompt": "a cup", "pipeline": "text_to_final",
                                                                     "options": {"format": "FBX"}}]}), "utf-8")
    lamp, cup = batch.parse_rows(tmp_path / "c.json")
    assert lamp.prompt == "a lamp" and cup.pipeline == "text_to_final"
    job = batch.build_jobs(cup)[0]
    assert [s.task_type for s in job.steps] == ["text_to_model", "convert_model"]


@pytest.mark.parametrize("text, words", [
    ("prompt,variants\na chair,9\n", ["line 2", "variants", "1 to 8"]),
    ("prompt,pipeline\na chair,nope\n", ["line 2", "unknown pipeline", "text_to_final"]),
    ("prompt,image\na chair,x.png\n", ["line 2", "both a prompt and an image"]),
    ("prompt,options\na chair,{bad\n", ["line 2", "options", "JSON"]),
    ("name\nchair\n", ["first line", "prompt"]),
])
def test_bad_rows_named_before_anything(tmp_path, text, words):
    (tmp_path / "rows.csv").write_text(text, "utf-8")
    with pytest.raises(batch.BatchError) as info:
        batch.parse_rows(tmp_path / "rows.csv")
    for w in words:
        assert w in str(info.value), str(info.value)


def test_shard_every_nth_row(tmp_path):
    (tmp_path / "r.txt").write_text("\n".join(f"thing {i}" for i in range(10)), "utf-8")
    rows = batch.parse_rows(tmp_path / "r.txt")
    parts = [batch.shard(rows, f"{i}/3") for i in (1, 2, 3)]
    assert [r.index for r in parts[0]] == [0, 3, 6, 9] and [r.index for r in parts[1]] == [1, 4, 7]
    assert sorted(r.index for p in parts for r in p) == list(range(10))
    with pytest.raises(batch.BatchError, match="I/N"):
        batch.parse_shard("4")
    with pytest.raises(batch.BatchError, match="from 1 to N"):
        batch.parse_shard("4/3")


def test_variants_get_distinct_seeds_and_plan_counts_them(tmp_path):
    (tmp_path / "r.csv").write_text("prompt,variants\na chair,4\na lamp,1\n", "utf-8")
    chair, lamp = batch.parse_rows(tmp_path / "r.csv")
    seeds = [j.steps[0].params["model_seed"] for j in batch.build_jobs(chair)]
    assert len(set(seeds)) == 4 and seeds == [seeds[0] + i for i in range(4)]
    assert "model_seed" not in batch.build_jobs(lamp)[0].steps[0].params
    plan = batch.plan_rows([chair, lamp], "v3")
    one = batch.plan_rows([lamp], "v3").total
    assert one and plan.total == 5 * one and plan.tasks == 5
    assert "5 task(s)" in plan.text()


# ---------------------------------------------------------------------------------------------------- the runner
def test_runner_done_folders_summary(tmp_path, emulator, api_key, engine_factory):
    (tmp_path / "r.txt").write_text("a red chair\na blue teapot\n", "utf-8")
    eng = engine_factory()
    runner = batch.BatchRunner(eng, batch.parse_rows(tmp_path / "r.txt"), tmp_path / "out")
    assert runner.plan().total == 2 * batch.plan_rows(runner.rows[:1], eng.api).total
    _run(runner)
    s = runner.summary()
    assert (s["rows"], s["done"], s["failed"]) == (2, 2, 0) and runner.exit_code() == 0
    made = creates(emulator, api_key)
    assert sorted(c["body"]["prompt"] for c in made) == ["a blue teapot", "a red chair"]
    assert s["credits"] == sum(emulator.task(t).price for r in s["results"] for t in r["task_ids"]) > 0
    for r in s["results"]:
        folder = tmp_path / "out" / "rows" / r["row"]
        assert any(p.suffix == ".glb" for p in folder.iterdir()), list(folder.iterdir())
        assert (tmp_path / "out" / r["preview"]).is_file()
        assert json.loads((folder / "row.json").read_text())["task_ids"] == r["task_ids"]
    runner.write_summary()
    assert "2 of 2 row(s) done" in (tmp_path / "out" / "summary.txt").read_text()


def test_failed_row_retried_alone(tmp_path, emulator, api_key, engine_factory):
    (tmp_path / "r.txt").write_text("a red chair\na blue teapot\na green lamp\n", "utf-8")
    eng = engine_factory()
    rows = batch.parse_rows(tmp_path / "r.txt")
    emulator.inject(route="create", kind="fail_task", match={"key": api_key}, count=1)
    runner = batch.BatchRunner(eng, rows, tmp_path / "out", window=1)  # one at a time: the first row fails
    _run(runner)
    s = runner.summary()
    assert (s["done"], s["failed"]) == (2, 1) and runner.exit_code() == 2
    assert s["failures"][0]["row"] == "0001-a-red-chair" and s["failures"][0]["why"]
    before = len(creates(emulator, api_key))
    assert runner.retry() == ["0001-a-red-chair"]
    _run(runner)
    after = creates(emulator, api_key)
    assert len(after) == before + 1 and after[-1]["body"]["prompt"] == "a red chair"
    assert runner.summary()["done"] == 3 and runner.exit_code() == 0


def test_resume_sends_nothing_twice(tmp_path, emulator, api_key, engine_factory):
    """A second runner (after a quit) follows the recorded jobs; a recorded job the engine never journaled (the
    process died between the batch journal and the engine's) is sent once, under its recorded id."""
    (tmp_path / "r.txt").write_text("a red chair\na blue teapot\na green lamp\n", "utf-8")
    rows = batch.parse_rows(tmp_path / "r.txt")
    eng = engine_factory("s1")
    runner = batch.BatchRunner(eng, rows, tmp_path / "out", window=2)
    runner.tick()  # two rows recorded and submitted
    eng.shutdown(timeout=5)
    # a crash right after the batch journal recorded row 3's job id, before the engine heard of it:
    j = batch.BatchJournal(tmp_path / "out")
    lost = batch.build_jobs(rows[2])[0].id
    j.rows["0003-a-green-lamp"].jobs, j.rows["0003-a-green-lamp"].state = [lost], batch.SENT
    j.save()
    eng2 = engine_factory("s1")
    eng2.resume()
    runner2 = batch.BatchRunner(eng2, rows, tmp_path / "out")
    _run(runner2)
    made = creates(emulator, api_key)
    assert sorted(c["body"]["prompt"] for c in made) == ["a blue teapot", "a green lamp", "a red chair"]
    assert runner2.journal.rows["0003-a-green-lamp"].jobs == [lost]
    assert runner2.summary()["done"] == 3


def test_a_row_whose_create_answer_was_lost_is_found_in_the_history(tmp_path, emulator, api_key):
    """The headless batch's look-up (scripts/tripo_batch.py): a lost answer is found in the v3 history and attached
    to the row's job; the row ends done with one create, nothing sent again."""
    with lost_batch_row(tmp_path, emulator, api_key) as (eng, runner, client):
        rec = runner.records()[0]
        assert rec.state == "failed" and rec.error.startswith("needs attention"), vars(rec)
        with client() as c:
            found = runner.recover_lost(c)
        assert found == rec.jobs
        _run(runner)
        assert runner.records()[0].state == "done" and runner.exit_code() == 0
        assert len(creates(emulator, api_key)) == 1
        snap = eng.get(rec.jobs[0])
        assert "attached by itself" in snap["notice"] and snap["task_ids"][0]
