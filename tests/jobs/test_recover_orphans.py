"""Lost creates whose job moved on before recovery ran (found by the random long stateful run, issue 16 item 8):
Retry sent the step again, or the job was removed. Real HTTP to the emulator, the real engine and registry. The task
the lost create made must end attached, under a tombstone, or listed as a candidate with a reason."""

from __future__ import annotations

from test_recover_emulator import WAIT, creates, engine, factory, lose_next_create, made, recover_now  # noqa: F401

from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine


def _listed(left) -> dict[str, str]:
    return {c.task_id: c.reason for f in left for c in f.candidates}


def _wait_made(emulator, api_key, n: int) -> set[str]:
    import time
    deadline = time.monotonic() + WAIT
    while len(made(emulator, api_key)) < n:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return made(emulator, api_key)


def test_a_lost_create_retried_before_recovery_is_still_listed(engine, factory, emulator, api_key):  # noqa: F811
    lose_next_create(emulator, api_key, created=True)
    job_id = engine.submit(pipelines.text_to_model("a cat number 1"))
    assert engine.wait(job_id, WAIT)["state"] == "needs_attention"
    (first,) = made(emulator, api_key)
    engine.retry(job_id)  # the user sends again without looking at the history
    snap = engine.wait(job_id, WAIT)
    assert snap["state"] == "succeeded" and first not in snap["task_ids"]
    with factory() as c:
        attached, left = recover_now(engine, c)
    assert attached == []
    assert first in _listed(left) or engine.owners.known(first), "the first create's paid task belongs to nobody"
    assert "Retry" in _listed(left).get(first, "Retry")
    assert len(creates(emulator, api_key)) == 2


def test_a_lost_create_of_a_removed_job_is_still_listed(engine, factory, emulator, api_key):  # noqa: F811
    lose_next_create(emulator, api_key, created=True)
    job_id = engine.submit(pipelines.text_to_model("a dog number 2"))
    assert engine.wait(job_id, WAIT)["state"] == "needs_attention"
    (task,) = made(emulator, api_key)
    engine.forget(job_id)
    with factory() as c:
        attached, left = recover_now(engine, c)
    assert attached == []
    assert task in _listed(left) or engine.owners.known(task), "the removed job's paid task belongs to nobody"


def test_a_retried_lost_create_survives_a_restart(factory, emulator, api_key, tmp_path):  # noqa: F811
    def new() -> Engine:
        return Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5, api="v3")

    eng = new()
    try:
        lose_next_create(emulator, api_key, created=True)
        job_id = eng.submit(pipelines.text_to_model("a fox number 3"))
        assert eng.wait(job_id, WAIT)["state"] == "needs_attention"
        (first,) = made(emulator, api_key)
        eng.retry(job_id)
        assert eng.wait(job_id, WAIT)["state"] == "succeeded"
    finally:
        eng.shutdown(timeout=5)
    eng = new()
    try:
        eng.resume()
        with factory() as c:
            attached, left = recover_now(eng, c)
        assert attached == [] and (first in _listed(left) or eng.owners.known(first))
    finally:
        eng.shutdown(timeout=5)


def test_a_lost_create_retried_with_another_key_is_listed_under_the_key_it_was_sent_with(emulator, api_key, tmp_path):
    import uuid

    from tripo_addon.api.client import TripoClient
    from tripo_addon.jobs import recover

    other_key = "tsk_test_" + uuid.uuid4().hex
    emulator.add_account(other_key, balance=100_000)
    keys = {"now": api_key}

    def client() -> TripoClient:
        return TripoClient(api_key=keys["now"], base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5)

    eng = Engine(client, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5, api="v3")
    try:
        lose_next_create(emulator, api_key, created=True)
        job_id = eng.submit(pipelines.text_to_model("a wolf number 4"))
        assert eng.wait(job_id, WAIT)["state"] == "needs_attention"
        (first,) = made(emulator, api_key)
        keys["now"] = other_key  # the user changed the key, then pressed Retry: sent (and stamped) with the new one
        eng.retry(job_id)
        assert eng.wait(job_id, WAIT)["state"] == "succeeded"
        keys["now"] = api_key  # Refresh History under the key the first create was sent with
        with client() as c:
            findings = recover.find(c, eng.jobs(), known=eng.owners.known, in_flight=eng.owners.creates_in_flight(),
                                    removed=eng.owners.released, identity=recover.identity_of(eng, c))
        attached, left = recover.settle(findings, eng.get, lambda f: None, eng.owners.known)
        assert attached == [] and first in _listed(left), "the first key's paid task belongs to nobody"
    finally:
        eng.shutdown(timeout=5)
