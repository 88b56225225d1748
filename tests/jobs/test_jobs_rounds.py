"""Errors belong to whom they hit (issue 16 item 3): a failed poll round is never a job's final failure, a refused key
pauses polling, a task we just created is not failed by one "not found", several waiters of one id are all served,
and numbers from the wire are bounded. Real HTTP to the emulator, real TripoClient."""

from __future__ import annotations

import math
import threading
import time

import pytest
from jobs_helpers import WAIT, inject

from tripo_addon.api import polling as api_polling
from tripo_addon.api import tasks as api_tasks
from tripo_addon.api.client import TripoClient
from tripo_addon.api.errors import TripoRateLimited, TripoValidationError, error_for_code
from tripo_addon.api.v3.dialect import DialectV3
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.hub import AUTH_PAUSED, PollHub
from tripo_addon.jobs.job import JobState


@pytest.fixture
def client_options() -> dict:
    """One try per request: a failed round shows at once."""
    return {"max_retries": 0}


def _submit(engine, n: int) -> list[str]:
    out = []
    for i in range(n):
        job = pipelines.text_to_model(f"a small wooden chair number {i}")
        job.steps[0].download = False
        out.append(engine.submit(job))
    return out


def _all_final(engine, ids, timeout=WAIT) -> list[dict]:
    return [engine.wait(jid, timeout=timeout) for jid in ids]


def _created_ids(emulator, api_key) -> list[str]:
    return [r["task_id"] for r in emulator.requests(method="POST", key=api_key)
            if r.get("route") == "create" and r.get("status") == 200 and r.get("task_id")]


# ------------------------------------------------------------------------------------------------- round failures
def test_a_refused_key_while_polling_pauses_every_job_and_fails_none(engine, emulator, api_key):
    """One 401 to tasks/list used to fail four paid running jobs; now polling pauses with one line and goes on."""
    seen: list[str] = []
    ids = _submit(engine, 4)
    inject(emulator, api_key, "poll", "status", status=401, code=1002, count=3)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not all(engine.get(j)["state"] in JobState.STOPPED for j in ids):
        for e in engine.drain():
            if e.message:
                seen.append(e.message)
            if e.snapshot.get("notice"):
                seen.append(e.snapshot["notice"])
        time.sleep(0.02)
    snaps = [engine.get(j) for j in ids]
    assert [s["state"] for s in snaps] == [JobState.SUCCEEDED] * 4, [s["error"] for s in snaps]
    assert any(AUTH_PAUSED in m for m in seen), seen
    assert not any(s["notice"] == AUTH_PAUSED for s in snaps)  # said no more once the key works again


@pytest.mark.parametrize("fault", [
    {"kind": "status", "status": 429, "code": 1007, "retry_after": math.inf},
    {"kind": "status", "status": 400, "code": 1004},
    {"kind": "malformed_json"},
    {"kind": "status", "status": 502},
], ids=["retry-after-infinity", "http-400", "garbage", "bad-gateway"])
def test_a_failed_poll_round_is_retried_never_a_jobs_failure(engine, emulator, api_key, fault):
    ids = _submit(engine, 3)
    inject(emulator, api_key, "poll", count=3, **fault)
    snaps = _all_final(engine, ids)
    assert [s["state"] for s in snaps] == [JobState.SUCCEEDED] * 3, [s["error"] for s in snaps]
    assert len(_created_ids(emulator, api_key)) == 3  # nothing sent twice


def test_not_found_right_after_our_own_create_does_not_fail_the_task(engine, emulator, api_key):
    inject(emulator, api_key, "poll", "status", status=404, code=2001, count=3)
    (jid,) = _submit(engine, 1)
    snap = engine.wait(jid, timeout=WAIT)
    assert snap["state"] == JobState.SUCCEEDED, snap["error"]
    assert len(_created_ids(emulator, api_key)) == 1


def test_an_attached_id_tripo_does_not_know_fails_only_that_job(engine, emulator, api_key):
    ids = _submit(engine, 2)
    bad = engine.attach("0c0ffee0-0000-4000-8000-000000000000")
    assert engine.wait(bad, timeout=WAIT)["state"] == JobState.FAILED
    assert [s["state"] for s in _all_final(engine, ids)] == [JobState.SUCCEEDED] * 2


def test_an_id_the_api_refuses_is_refused_by_attach_before_it_reaches_a_round(engine, emulator, api_key):
    """`_abcdef` passed the engine's check and was refused by api/params inside the shared round: three jobs failed."""
    ids = _submit(engine, 3)
    with pytest.raises(TripoValidationError, match="does not look like a Tripo task id"):
        engine.attach("_abcdef")
    assert [s["state"] for s in _all_final(engine, ids)] == [JobState.SUCCEEDED] * 3


# ------------------------------------------------------------------------------------------------- several waiters
def test_two_waiters_of_one_task_id_are_both_answered(factory, emulator, api_key):
    """One waiter per id: the second waiter of a running task replaced the first, which then waited for ever."""
    client = factory()
    values = api_tasks.build_request("text_to_model", {"prompt": "a red chair"}, api=client.api)
    task_id = client.create_task("text_to_model", values)
    hub = PollHub(factory, poll_min=0.05)
    got: list[object] = []
    due = time.monotonic() + 0.5  # both waiting before the round
    stop = threading.Event()

    def follow():
        try:
            got.append(hub.get(task_id, due=due, stop=stop).status)
        except Exception as exc:  # noqa: BLE001
            got.append(exc)

    threads = [threading.Thread(target=follow) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    stop.set()
    for t in threads:
        t.join(2)
    hub.close()
    client.close()
    assert len(got) == 2 and all(isinstance(g, str) for g in got), got


# ------------------------------------------------------------------------------------------------- bounded numbers
@pytest.mark.parametrize("header", ["Infinity", "inf", "nan", "1e999", "-5", "99999999999"])
def test_retry_after_from_the_wire_is_bounded(header):
    value = api_polling.parse_retry_after(header)
    assert value is None or 0 <= value <= api_polling.RETRY_AFTER_MAX


def test_error_texts_survive_an_infinite_retry_after():
    exc = error_for_code(1007, 429, "slow down", "", None, math.inf)
    assert isinstance(exc, TripoRateLimited) and "inf" not in exc.user_message.lower()
    exc = DialectV3().error_from(429, {"code": 2000, "message": "busy"}, retry_after=math.inf)
    assert isinstance(exc, TripoRateLimited)


@pytest.mark.parametrize("missed", [1, "x", None, {"a": 1}, [1, None, "abc"]])
def test_a_task_list_with_an_absurd_missed_field_is_read(missed):
    tasks, out = DialectV3().tasks_from_list({"tasks": [], "missed": missed})
    assert tasks == {} and all(isinstance(m, str) for m in out)


def test_a_balance_with_an_infinite_retry_after_raises_no_overflow(emulator, api_key):
    inject(emulator, api_key, "balance", "status", status=429, code=1007, retry_after=math.inf, count=-1)
    client = TripoClient(api_key=api_key, base_url=emulator.base_url, retry_base=0.01, retry_cap=0.02, max_retries=1)
    try:
        with pytest.raises(TripoRateLimited):
            client.balance()
    finally:
        client.close()
        emulator.clear_faults()


def test_hub_remembers_a_success_over_a_later_contradictory_entry(factory):
    class _T:
        def __init__(self, status):
            self.status = status

    hub = PollHub(factory)
    ok = _T("success")
    assert hub._remember("t1", ok) is ok
    assert hub._remember("t1", _T("failed")) is ok
    hub.close()


# ------------------------------------------------------------------------------------------------- one validator
def test_an_uploaded_file_token_is_sent_as_a_token_not_uploaded_as_a_path(engine, factory, emulator, api_key,
                                                                         tmp_path):
    """`file_<uuid>` passed validation as a token, then the worker took it for a local path and failed to upload it."""
    from test_jobs_engine import make_png

    client = factory()
    try:
        ref = client.upload(str(make_png(tmp_path / "in.png")), mesh=False)
    finally:
        client.close()
    job = pipelines.image_to_model(ref.value)  # v3: file_<uuid>; v2: a UUID
    job.steps[0].download = False
    snap = engine.wait(engine.submit(job), timeout=WAIT)
    assert snap["state"] == JobState.SUCCEEDED, snap["error"]
    uploads = [r for r in emulator.requests(key=api_key) if r.get("route") == "upload"]
    assert len(uploads) == 1  # only ours above: the token was not "uploaded" again
