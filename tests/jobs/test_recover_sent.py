"""What a step sent is journaled before its create (``Step.sent``), so recovery compares a lost create's file inputs
with what Tripo echoes: real HTTP to the emulator, a real engine restarted on its journal (issue 16 item 4); the send
is one fsynced line of a side file, not a rewrite of the whole log (issue 16 item 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_jobs_engine import make_png
from test_recover_emulator import WAIT, creates, factory, lose_next_create, made, recover_now  # noqa: F401

from tripo_addon.api.client import TripoClient
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.job import Job, Step
from tripo_addon.jobs.journal import Journal, JournalError


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


def test_a_send_is_on_disk_when_tripo_receives_the_create(emulator, api_key, tmp_path):
    """What a create sends is on disk before its POST (a restarted Blender finds the step "submitting" and looks its
    task up, never sends it again), without rewriting the whole job log on the way to the POST."""
    state = tmp_path / "state"
    seen: list[tuple[str, dict | None, int]] = []

    class Watching(TripoClient):
        def create_task(self, task_type, values, **kw):
            jobs, _notes = Journal(state).load()  # what a Blender started at this moment would read
            step = jobs[0].steps[0]
            seen.append((step.state, step.sent, eng.store.journal.writes))
            return super().create_task(task_type, values, **kw)

    eng = Engine(lambda: Watching(api_key=api_key, base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5),
                 state, tmp_path / "downloads", poll_min=0.05, poll_max=0.5, api="v3")
    try:
        job = pipelines.text_to_model("a tin robot")
        job.steps[0].download = False
        writes = eng.store.journal.writes
        job_id = eng.submit(job)
        assert eng.wait(job_id, WAIT)["state"] == "succeeded"
    finally:
        eng.shutdown(timeout=5)
    assert len(seen) == 1
    state_on_disk, sent, writes_at_post = seen[0]
    assert state_on_disk == "submitting"
    assert sent and "a tin robot" in json.dumps(sent)
    assert writes_at_post - writes <= 1  # the job's own first save; the send is one line of a side file


def test_sends_noted_after_the_log_was_written_come_back_at_load(tmp_path):
    """The side file of sends: a send newer than the log's record of its step comes back as "submitting" (a
    stopped job keeps its state), an older one changes nothing, and a write that covers every line empties it."""
    j = Journal(tmp_path)
    a, b = Job("text", [Step("text_to_model", {"prompt": "a red kite"})]), Job("text", [Step("text_to_model", {})])
    b.state = "cancelled"
    b.steps[0].submitted_at = 100.0
    jobs = [a, b]
    assert j.save(lambda: jobs, important=True)
    j.note_sent(a.id, 0, {"body": {"prompt": "a red kite"}}, 200.0)
    j.note_sent(b.id, 0, {"body": {}}, 50.0)      # older than the log's own record of that step: nothing to do
    j.note_sent(b.id, 0, {"body": {}}, 150.0)     # newer: it was sent while the job was being cancelled
    j.note_sent("no-such-job", 0, None, 300.0)   # ignored
    loaded = {x.id: x for x in Journal(tmp_path).load()[0]}
    sa, sb = loaded[a.id].steps[0], loaded[b.id].steps[0]
    assert (loaded[a.id].state, sa.state, sa.submitted_at, sa.sent) == (
        "submitting", "submitting", 200.0, {"body": {"prompt": "a red kite"}})
    assert (loaded[b.id].state, sb.state, sb.submitted_at) == ("cancelled", "submitting", 150.0)

    def records_then_another_send():
        out = list(loaded.values())
        j.note_sent(a.id, 0, {"body": {}}, 400.0)  # noted after these records were built: not covered
        return out

    assert j.save(records_then_another_send, important=True)
    assert j.sent_path.stat().st_size > 0
    assert Journal(tmp_path).load()[0][0].steps[0].submitted_at == 400.0  # kept for the next load
    assert j.save(lambda: list(loaded.values()), important=True)
    assert j.sent_path.stat().st_size == 0       # covered by a full write: emptied
    j.close()
    with pytest.raises(JournalError):
        j.note_sent(a.id, 0, None, 500.0)  # a closed log refuses: the create is not sent


def test_a_side_file_of_sends_that_a_busy_engine_never_empties_is_cut_to_what_is_not_covered(tmp_path, monkeypatch):
    """Sends noted during every write keep the side file from being emptied; once it is big, a covering write cuts
    it to the lines noted since (those still come back at load)."""
    from tripo_addon.jobs import journal as journal_mod

    monkeypatch.setattr(journal_mod, "SENT_COMPACT_BYTES", 2000)
    j = Journal(tmp_path)
    job = Job("text", [Step("text_to_model", {"prompt": "a green lamp"})])
    for i in range(40):
        j.note_sent(job.id, 0, {"body": {"prompt": "a green lamp", "n": i}}, 100.0 + i)
    assert j.sent_path.stat().st_size > 2000

    def records_then_another_send():
        j.note_sent(job.id, 0, {"body": {"n": "late"}}, 999.0)
        return [job]

    assert j.save(records_then_another_send, important=True)
    assert j.sent_path.stat().st_size < 200           # only the send noted after the records were built
    back = Journal(tmp_path).load()[0][0].steps[0]
    assert (back.state, back.submitted_at, back.sent) == ("submitting", 999.0, {"body": {"n": "late"}})
