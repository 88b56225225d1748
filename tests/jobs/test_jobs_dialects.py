"""Jobs keep the API version they were sent with: a journal written before v3 (v2 jobs, v2 output keys) loads with
the dialect-neutral names, shows, imports again, and is never sent again to v3."""

from __future__ import annotations

import json
from pathlib import Path

from tripo_addon.api.client import TripoClient
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.journal import Journal

OLD_JOB = {  # a job record as the v2-only add-on journaled it (no "api", v2 output keys, v2 file objects)
    "id": "0123456789abcdef", "title": "a chair", "kind": "pipeline:text_to_final", "state": "running",
    "created": 1796390000.0, "updated": 1796390010.0, "imported": False, "error": "", "notice": "", "meta": {},
    "steps": [
        {"task_type": "text_to_model", "params": {"prompt": "a chair"}, "upload": "auto", "download": True,
         "outputs": ["rendered_image"], "state": "succeeded", "task_id": "11111111-2222-4333-8444-555555555555",
         "status": "success", "progress": 100, "output": {"pbr_model": "https://x/m.glb",
                                                          "rendered_image": "https://x/r.webp"},
         "files": [], "uploads": {}},
        {"task_type": "image_to_model", "params": {"file": {"$ref": {"step": 0, "what": "output:generated_image"}}},
         "upload": "auto", "download": True, "state": "running", "task_id": "66666666-7777-4888-8999-000000000000",
         "status": "running", "progress": 40, "output": {}, "files": [], "uploads": {}},
    ],
}


def _factory(emulator, api_key, url):
    def make() -> TripoClient:
        return TripoClient(api_key=api_key, base_url=url, poll_min=0.05, poll_max=0.5)
    return make


def test_old_journal_loads_with_neutral_names(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "jobs.json").write_text(json.dumps({"version": 1, "jobs": [OLD_JOB]}))
    jobs, _notices = Journal(state).load()
    job = jobs[0]
    assert job.api == "v2"  # journals from before v3 hold v2 jobs
    assert job.steps[0].output == {"model": "https://x/m.glb", "preview": "https://x/r.webp"}
    assert job.steps[0].outputs == ["preview"]
    assert job.steps[1].params["file"].what == "output:image"


def test_a_v2_job_is_never_sent_again_on_v3(emulator, api_key, tmp_path):
    """Resumed by an engine that speaks v3, a running v2 job is kept (its task ids shown), not re-sent, and says how
    to follow it."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "jobs.json").write_text(json.dumps({"version": 1, "jobs": [OLD_JOB]}))
    before = len([r for r in emulator.requests(key=api_key) if r["route"] == "create"])
    eng = Engine(_factory(emulator, api_key, emulator.v3_base_url), state, tmp_path / "dl", api="v3")
    try:
        eng.resume()
        snap = eng.get(OLD_JOB["id"])
        assert snap["state"] == "needs_attention"
        assert "API v2" in snap["error"] and "nothing is sent again" in snap["error"]
        assert snap["task_ids"] == [OLD_JOB["steps"][0]["task_id"], OLD_JOB["steps"][1]["task_id"]]
        assert len([r for r in emulator.requests(key=api_key) if r["route"] == "create"]) == before
    finally:
        eng.shutdown(5)


def test_a_finished_v2_job_still_imports(tmp_path):
    """A v2 job that succeeded and downloaded its file is offered for import whatever API the address speaks."""
    state = tmp_path / "state"
    state.mkdir()
    model = tmp_path / "dl" / "m.glb"
    model.parent.mkdir()
    model.write_bytes(b"glTF")
    done = json.loads(json.dumps(OLD_JOB))
    done["state"] = "succeeded"
    for step in done["steps"]:
        step["state"], step["status"] = "succeeded", "success"
    done["steps"][1]["files"] = [str(model)]
    (state / "jobs.json").write_text(json.dumps({"version": 1, "jobs": [done]}))
    eng = Engine(lambda: None, state, tmp_path / "dl", api="v3")
    try:
        eng.resume()
        snap = eng.get(done["id"])
        assert snap["state"] == "succeeded" and snap["can_import"] and snap["result_files"] == [str(model)]
    finally:
        eng.shutdown(5)
    assert Path(model).exists()


def test_an_address_change_while_a_job_runs_never_sends_it_to_the_other_api(emulator, api_key, tmp_path):
    """A job started on v3 whose worker starts again (resume) after the address moved to v2: its task exists on v3,
    so it is kept for the user, not followed or re-sent on v2."""
    from tripo_addon.jobs import pipelines

    state = tmp_path / "state"
    url = [emulator.v3_base_url]

    def factory() -> TripoClient:
        return TripoClient(api_key=api_key, base_url=url[0], poll_min=0.05, poll_max=0.5)

    eng = Engine(factory, state, tmp_path / "dl", api=lambda: "v3", poll_min=0.05, poll_max=0.5)
    try:
        emulator.inject("poll", "delay", seconds=0.5, count=-1, match={"key": api_key})
        job_id = eng.submit(pipelines.text_to_final("a chair", format="FBX"))
        import time

        deadline = time.monotonic() + 30
        while not eng.get(job_id)["task_ids"] and time.monotonic() < deadline:
            time.sleep(0.05)
        eng.pause()
        url[0] = emulator.v2_base_url  # the user switched the address
        creates = len([r for r in emulator.requests(key=api_key) if r["route"] == "create"])
        eng.resume()
        snap = eng.wait(job_id, 30)
        # kept for the user, by whichever check sees the move first: the API version or the address (region)
        assert snap["state"] == "needs_attention", snap
        assert "API v3" in snap["error"] or "made with another region" in snap["error"], snap["error"]
        assert "switch" in snap["error"].lower() or "set the api address back" in snap["error"].lower()
        assert len([r for r in emulator.requests(key=api_key) if r["route"] == "create"]) == creates
    finally:
        emulator.clear_faults()
        eng.shutdown(5)
