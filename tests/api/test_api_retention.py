"""Results outlive Tripo's retention (tripo-api-v3.md §18 R1, issue 17 item 3), the acceptance test of the add-on's
side: a step chained (by task id, as the add-on sends it) from a result Tripo no longer knows goes through a free
``import_model`` of the file the add-on kept, by itself, with a notice, and spends no more than the step.

The emulator's side (``DELETE /_emulator/tasks/<id>``, ``--retention-days``) is tested in
tests/emulator/test_retention_list.py. The re-route belongs in the job engine (``jobs/``: where a step's source is
checked, ``_check_external_source``, and where steps are created), which this test drives through its public API.
"""

from __future__ import annotations

import pytest

from tripo_addon.api.client import TripoClient
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine

WAIT = 60.0


@pytest.fixture
def engine(emulator, api_key, tmp_path):
    def factory():
        return TripoClient(api_key=api_key, base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5)

    eng = Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    yield eng
    eng.shutdown(timeout=5)


def _creates(emulator, key):
    return [r for r in emulator.requests(key=key) if r["route"] == "create"]


def test_the_emulator_forgets_and_the_kept_file_is_there(engine, emulator, api_key):
    """What the re-route needs, present today: the downloaded result on disk, and Tripo answering "not found"."""
    first = engine.wait(engine.submit(pipelines.single("text_to_model", {"prompt": "a vase"})), WAIT)
    tid, kept = first["steps"][0]["task_id"], first["steps"][0]["files"][0]
    assert open(kept, "rb").read(4) == b"glTF"
    assert emulator.forget(tid)
    emulator.clear_requests()
    later = engine.wait(engine.submit(pipelines.single(
        "texture_model", {"original_model_task_id": tid, "texture_prompt": {"text": "rusty metal"}})), WAIT)
    if later["state"] == "failed":  # until the engine re-routes it: nothing created, the reason and what to do
        assert _creates(emulator, api_key) == []
        assert tid in later["error"] and "7 days" in later["error"] and "Import Model" in later["error"], later
    else:  # re-routed (the test below): the import of the kept file, then the step
        assert [c["path"] for c in _creates(emulator, api_key)] == ["/v3/models/import", "/v3/models/texture"]


def test_a_forgotten_source_is_named_with_tripos_retention(emulator, api_key):
    """The free check of a source task (``check_source``, before any create) says why a result that worked before
    is gone, and keeps its id for a caller that holds the file."""
    from tripo_addon.api import errors as E

    c = TripoClient(api_key=api_key, base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5)
    try:
        tid = c.run("text_to_model", {"prompt": "a cup"}, timeout=WAIT).task_id
        assert c.check_source("texture_model", tid).task_id == tid
        assert emulator.forget(tid)
        with pytest.raises(E.TripoNotFound) as info:
            c.check_source("texture_model", tid)
        with pytest.raises(E.TripoNotFound) as info2:
            c.submit("texture_model", {"original_model_task_id": tid, "texture_prompt": {"text": "gold"}})
    finally:
        c.close()
    for err in (info.value, info2.value):
        assert err.source_task_id == tid and err.code == 2001 and err.status == 404
        assert f"no longer knows the source task {tid}" in err.user_message and "7 days" in err.user_message
    assert _creates(emulator, api_key)[-1]["path"] == "/v3/generation/text-to-model"  # nothing else was created


def test_a_step_on_an_expired_result_goes_through_a_free_import_of_the_kept_file(engine, emulator, api_key):
    first = engine.wait(engine.submit(pipelines.single("text_to_model", {"prompt": "a vase"})), WAIT)
    assert first["state"] == "succeeded"
    tid, kept = first["steps"][0]["task_id"], first["steps"][0]["files"][0]
    assert emulator.forget(tid)  # as Tripo does after 7 days (R1)
    before = emulator.balance(api_key)["balance"]
    emulator.clear_requests()
    params = {"original_model_task_id": tid, "texture_prompt": {"text": "rusty metal"}}
    job = pipelines.single("texture_model", params)
    estimate = sum(s.estimate or 0 for s in job.steps) or None
    snap = engine.wait(engine.submit(job), WAIT)
    assert snap["state"] == "succeeded", snap.get("error")
    creates = _creates(emulator, api_key)
    assert [c["path"] for c in creates] == ["/v3/models/import", "/v3/models/texture"]  # by itself, in this order
    imported = creates[0]["task_id"]
    assert creates[1]["body"]["input"] == imported  # the step went on from the re-imported copy
    assert any(r["route"] in ("upload", "presign") for r in emulator.requests(key=api_key))  # the kept file
    assert emulator.task(imported).status == "success" and emulator.task(imported).consumed == 0  # free
    spent = before - emulator.balance(api_key)["balance"]
    assert spent == emulator.task(creates[1]["task_id"]).consumed  # no more than the step itself
    assert estimate is None or spent <= estimate
    words = " ".join([snap.get("notice") or "", *(s.get("notice") or "" for s in snap["steps"])]).lower()
    assert tid[:8] in words and ("no longer" in words or "expired" in words), words  # the notice says why
    assert kept  # (the file it sent is the one kept from the first job)
