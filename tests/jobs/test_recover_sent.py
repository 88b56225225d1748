"""What a step sent is journaled before its create (``Step.sent``), so recovery compares a lost create's file inputs
with what Tripo echoes: real HTTP to the emulator, a real engine restarted on its journal (issue 16 item 4)."""

from __future__ import annotations

import json
from pathlib import Path

from test_jobs_engine import make_png
from test_recover_emulator import WAIT, creates, factory, lose_next_create, made, recover_now  # noqa: F401

from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.job import Step


def _engine(factory, tmp_path: Path) -> Engine:  # noqa: F811 - the fixture's value
    return Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5, api="v3")


def _image_job(image: Path):
    job = pipelines.image_to_model(str(image))
    job.steps[0].download = False
    return job


def test_a_lost_image_create_whose_echoed_upload_token_matches_is_attached_after_a_restart(
        factory, emulator, api_key, tmp_path):  # noqa: F811
    image = make_png(tmp_path / "chair.png")
    lose_next_create(emulator, api_key, created=True)  # Tripo made the task, its answer never came
    eng = _engine(factory, tmp_path)
    try:
        job_id = eng.submit(_image_job(image))
        assert eng.wait(job_id, WAIT)["state"] == "needs_attention"
    finally:
        eng.shutdown(timeout=5)
    eng = _engine(factory, tmp_path)  # Blender restarted: what was sent comes from the journal
    try:
        eng.resume()
        step = eng.get(job_id)["steps"][0]
        sent = step["sent"]
        (task_id,) = made(emulator, api_key)
        token = emulator.task(task_id).plan.echo["input"]
        assert sent["body"]["input"] == token and str(image) not in json.dumps(sent)
        assert api_key not in json.dumps(sent)
        with factory() as c:
            attached, left = recover_now(eng, c)
        assert [f.lost.job_id for f in attached] == [job_id] and left == []
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == "succeeded" and "same input" in snap["notice"]
        assert snap["task_ids"] == [task_id]
        assert len(creates(emulator, api_key)) == 1  # nothing sent again
    finally:
        eng.shutdown(timeout=5)


def test_a_task_whose_echoed_image_differs_is_not_attached_nor_listed(factory, emulator, api_key, tmp_path):  # noqa: F811
    lose_next_create(emulator, api_key, created=False)  # nothing was made for our request
    eng = _engine(factory, tmp_path)
    try:
        job_id = eng.submit(_image_job(make_png(tmp_path / "chair.png")))
        assert eng.wait(job_id, WAIT)["state"] == "needs_attention"
        with factory() as web:  # another tool, same key, another image at the same time
            other = web.submit("image_to_model", {"file": str(make_png(tmp_path / "lamp.png", 32, 32))})
        with factory() as c:
            attached, left = recover_now(eng, c)
        assert attached == []
        assert other not in [c.task_id for f in left for c in f.candidates]
        assert any(c.task_id == other and "`input`" in c.reason for f in left for c in f.rejected)
        assert eng.get(job_id)["task_ids"] == []
    finally:
        eng.shutdown(timeout=5)


def test_a_journal_without_the_sent_record_still_loads():
    old = Step("image_to_model", {"file": "/tmp/a.png"}).to_dict()
    old.pop("sent")
    assert Step.from_dict(old).sent is None
    assert Step.from_dict(dict(old, sent="garbage")).sent is None
