"""Issue 10 against the job engine and the local emulator (real HTTP, real TripoClient): capped stored texts (item
14), a busy account waits instead of failing (item 10), retention of the job history (item 15)."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path

from jobs_helpers import inject, posts
from sample_files import make_glb

from tripo_addon.api.client import TripoClient
from tripo_addon.api.errors import TripoError
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.job import Job, Step
from tripo_addon.jobs.journal import Journal

MAX_STORED_TEXT = 2000  # tripo_addon.jobs.job.MAX_STORED_TEXT

WAIT = 60.0
HUGE = 5 * 1024 * 1024




# ============================================================================================== item 14
def _assert_capped(text: str) -> None:
    assert len(text) <= MAX_STORED_TEXT, len(text)
    assert "cut: " in text and "characters in all" in text, text[-120:]


def test_error_texts_are_capped():
    err = TripoError("x" * HUGE, suggestion="y" * HUGE, user_message="z" * HUGE)
    for text in (err.message, err.suggestion, err.user_message, str(err), repr(err)):
        assert len(text) < 2 * MAX_STORED_TEXT + 200, len(text)
    assert err.user_message.startswith("zzz") and "5,242,880 characters" in err.user_message


def test_a_5mb_refusal_does_not_bloat_the_journal(engine, emulator, api_key, tmp_path):
    inject(emulator, api_key, "create", "status", status=400, code=1004, message="bad value " * (HUGE // 10))
    snap = engine.wait(engine.submit(pipelines.text_to_model("a chair")), WAIT)
    assert snap["state"] == "failed"
    _assert_capped(snap["error"])
    _assert_capped(snap["steps"][0]["error"])
    assert snap["error"].startswith("Tripo rejected one of the settings")
    engine.shutdown(timeout=5)
    size = (tmp_path / "state" / "jobs.json").stat().st_size
    assert size < 20_000, size


def test_a_5mb_task_failure_message_is_capped(engine, emulator, api_key, tmp_path):
    inject(emulator, api_key, "create", "fail_task", error_code=9999, error_msg="melted " * (HUGE // 7))
    snap = engine.wait(engine.submit(pipelines.text_to_model("a chair")), WAIT)
    assert snap["state"] == "failed"
    _assert_capped(snap["error"])
    assert "melted melted" in snap["error"]
    engine.shutdown(timeout=5)
    doc = json.loads((tmp_path / "state" / "jobs.json").read_text())
    assert Path(tmp_path / "state" / "jobs.json").stat().st_size < 20_000
    assert doc


# ============================================================================================== item 10
BUSY = "Waiting for a free slot on your Tripo account"


def _watch_notices(engine, job_id, seen: list[str]) -> None:
    for e in engine.drain():
        if e.job_id == job_id and e.snapshot.get("notice"):
            seen.append(e.snapshot["notice"])


def test_busy_account_waits_for_a_free_slot_instead_of_failing(engine, emulator, api_key):
    """429/2000 from tasks started elsewhere: more refusals than the client's own retries; the job waits, says so,
    and is created once the account has a free slot."""
    inject(emulator, api_key, "create", "status", status=429, code=2000, retry_after=0.05, count=8)
    job_id = engine.submit(pipelines.text_to_model("a chair"))
    seen: list[str] = []
    deadline = time.monotonic() + WAIT
    while engine.is_running(job_id) and time.monotonic() < deadline:
        _watch_notices(engine, job_id, seen)
        time.sleep(0.01)
    snap = engine.wait(job_id, WAIT)
    _watch_notices(engine, job_id, seen)
    assert snap["state"] == "succeeded", snap["error"]
    assert any(n.startswith(BUSY) and "Nothing was created or charged" in n for n in seen), seen
    assert snap["notice"] == ""  # cleared once the task exists
    reqs = posts(emulator, api_key)
    assert [r["status"] for r in reqs] == [429] * 8 + [200]  # exactly one task created


def test_busy_back_off_grows_and_is_jittered():
    from tripo_addon.api import polling as P

    firsts = [P.busy_delay(1, base=2, cap=60) for _ in range(200)]
    assert min(firsts) >= 1.0 and max(firsts) < 3.0 and len(set(firsts)) > 190  # not in lockstep
    assert all(P.busy_delay(6, base=2, cap=60) >= 30 for _ in range(50))  # grows up to the cap
    with_ra = [P.busy_delay(1, retry_after=10, base=2, cap=60) for _ in range(200)]
    assert min(with_ra) >= 10 and max(with_ra) > 10.5 and len(set(with_ra)) > 190  # Retry-After is a floor


def _disk_steps(state: Path) -> list[dict]:
    try:
        doc = json.loads((state / "jobs.json").read_text())
    except (OSError, ValueError):
        return []
    jobs = doc["jobs"] if isinstance(doc, dict) else doc
    return [s for j in jobs for s in j["steps"]]


def test_kill_during_a_busy_back_off_resumes_without_needing_attention(factory, emulator, api_key, tmp_path):
    """While the client backs off from 429/2000 the journal on disk says pending, not submitting: a kill then (the
    state dir copied as it is on disk) resumes the job and creates the task, instead of "needs attention"."""
    inject(emulator, api_key, "create", "status", status=429, code=2000, retry_after=2, count=-1)
    eng = Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    try:
        eng.submit(pipelines.text_to_model("a chair"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if posts(emulator, api_key) and [s["state"] for s in _disk_steps(tmp_path / "state")] == ["pending"]:
                break
            time.sleep(0.02)
        killed = tmp_path / "killed"
        killed.mkdir()
        shutil.copy2(tmp_path / "state" / "jobs.json", killed / "jobs.json")
        assert [s["state"] for s in _disk_steps(killed)] == ["pending"], _disk_steps(killed)
    finally:
        eng.shutdown(timeout=5)
    emulator.clear_faults()
    eng2 = Engine(factory, killed, tmp_path / "downloads2", poll_min=0.05, poll_max=0.5)
    try:
        (job_id,) = eng2.resume()
        snap = eng2.wait(job_id, WAIT)
        assert snap["state"] == "succeeded", snap["error"]
    finally:
        eng2.shutdown(timeout=5)


def test_after_a_restart_running_tasks_count_before_new_jobs_are_sent(slow_emulator, tmp_path):
    """10 tasks run on Tripo (the account's limit) and an 11th job waits for a slot; after a restart, whose first
    polls are slow, the 11th must not be sent: the running tasks hold the slots from the start."""
    emu = slow_emulator
    key = "tsk_test_" + uuid.uuid4().hex
    emu.add_account(key, balance=100_000)

    def make() -> TripoClient:
        return TripoClient(api_key=key, base_url=emu.base_url, poll_min=0.05, poll_max=0.5, retry_base=0.02,
                           retry_cap=0.1)

    eng = Engine(make, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    try:
        ids = [eng.submit(pipelines.text_to_model(f"a chair {i}")) for i in range(11)]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            snaps = [eng.get(i) for i in ids]
            if sum(bool(s["task_ids"]) for s in snaps) == 10 and snaps[-1]["notice"].startswith("Waiting"):
                break
            time.sleep(0.05)
        assert sum(bool(eng.get(i)["task_ids"]) for i in ids) == 10
    finally:
        eng.shutdown(timeout=5)
    before = len(posts(emu, key))
    assert before == 10
    emu.inject(route="poll", kind="delay", seconds=1.5, count=-1, match={"key": key})
    eng2 = Engine(make, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    try:
        assert sorted(eng2.resume()) == sorted(ids)
        time.sleep(1.2)  # the resumed jobs' first polls have not answered yet
        assert posts(emu, key)[before:] == []  # the 11th job was not sent past the limit
        assert not eng2.get(ids[-1])["task_ids"]
    finally:
        for i in ids:
            eng2.cancel(i)
        eng2.shutdown(timeout=5)
        emu.clear_faults()


def test_endless_busy_account_keeps_waiting_until_cancelled(engine, emulator, api_key):
    """An account that stays busy: the job never fails (nothing was created), its POSTs thin out (growing back-off)
    and cancel ends the wait at once."""
    inject(emulator, api_key, "create", "status", status=429, code=2000, count=-1)
    job_id = engine.submit(pipelines.text_to_model("a chair"))
    time.sleep(3.0)
    snap = engine.get(job_id)
    assert snap["state"] in ("pending", "submitting") and snap["notice"].startswith(BUSY), snap  # between tries
    times = [r["time"] if "time" in r else r.get("started") for r in posts(emulator, api_key)]
    assert 6 <= len(times) < 40, len(times)  # the client's 5 attempts, then the engine's slower ones
    t0 = time.monotonic()
    engine.cancel(job_id)
    snap = engine.wait(job_id, 5)
    assert snap["state"] == "cancelled" and time.monotonic() - t0 < 2
    assert all(r["status"] == 429 for r in posts(emulator, api_key))


# ============================================================================================== item 15
def _finished_job(i: int, t0: float) -> Job:
    step = Step("text_to_model", {"prompt": f"chair {i}"}, state="succeeded", task_id=str(uuid.uuid4()),
                status="success", progress=100, files=[f"/tmp/results/{i}/model.glb"])
    return Job(title=f"chair {i}", steps=[step], state="succeeded", imported=True, created=t0 + i, updated=t0 + i)


def test_old_finished_jobs_are_archived_at_start(factory, tmp_path):
    """260 finished jobs + 3 that still matter: the engine keeps the newest 200 finished and all 3 in the live
    journal, appends the 60 oldest to the archive, and does not archive them twice."""
    state = tmp_path / "state"
    t0 = time.time() - 100_000
    old = [_finished_job(i, t0) for i in range(260)]
    waiting = Job(title="not imported yet", steps=[Step("text_to_model", {"prompt": "x"}, state="succeeded",
                  task_id=str(uuid.uuid4()), status="success", files=["/tmp/r/x.glb"])], state="succeeded",
                  created=t0 - 10, updated=t0 - 10)
    attention = Job(title="needs attention", steps=[Step("text_to_model", {"prompt": "y"}, state="needs_attention")],
                    state="needs_attention", created=t0 - 9, updated=t0 - 9)
    failed_new = Job(title="failed recently", steps=[Step("text_to_model", {"prompt": "z"}, state="failed")],
                     state="failed", created=t0 + 500, updated=t0 + 500)
    Journal(state).save([waiting, attention, *old, failed_new])
    eng = Engine(factory, state, tmp_path / "downloads", keep_finished=200)
    try:
        ids = {j["id"] for j in eng.jobs()}
        assert len(ids) == 202 and waiting.id in ids and attention.id in ids and failed_new.id in ids
        assert ids >= {j.id for j in old[61:]} and not ids & {j.id for j in old[:61]}
    finally:
        eng.shutdown(timeout=5)
    archived = [json.loads(line) for line in (state / "jobs-archive.jsonl").read_text().splitlines()]
    assert [a["id"] for a in archived] == [j.id for j in old[:61]]
    assert len(json.loads((state / "jobs.json").read_text())["jobs"]) == 202
    again = Engine(factory, state, tmp_path / "downloads", keep_finished=200)
    again.shutdown(timeout=5)
    assert len((state / "jobs-archive.jsonl").read_text().splitlines()) == 61  # nothing archived twice


def test_archive_rotates(tmp_path):
    from tripo_addon.jobs.journal import archive_jobs

    jobs = [_finished_job(i, 0.0) for i in range(20)]
    for i in range(0, 20, 2):
        archive_jobs(tmp_path, jobs[i:i + 2], max_bytes=1000, files=2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["jobs-archive.1.jsonl", "jobs-archive.2.jsonl", "jobs-archive.jsonl"], names
    assert all(p.stat().st_size < 3000 for p in tmp_path.iterdir())  # bounded: the oldest file was dropped


def test_exported_mesh_is_deleted_once_the_job_succeeded(engine, tmp_path):
    """The mesh the add-on exported for upload (in exports/) goes once the task exists and the job succeeded; a
    mesh of the user's own is never touched."""
    exports = tmp_path / "exports"
    exports.mkdir()
    exported = make_glb(exports / "Cube.glb")
    own = make_glb(tmp_path / "my_model.glb")
    a = engine.submit(pipelines.import_model(str(exported)))
    b = engine.submit(pipelines.import_model(str(own)))
    assert engine.wait(a, WAIT)["state"] == "succeeded"
    assert engine.wait(b, WAIT)["state"] == "succeeded"
    assert not exported.exists()
    assert own.exists()


def test_jobs_refused_together_do_not_retry_in_lockstep(engine, emulator, api_key):
    """10 jobs (the generation limit) refused at once with the same Retry-After (2 s): each waits at least that
    long, and their next POSTs are spread out instead of all arriving in the same instant."""
    inject(emulator, api_key, "create", "status", status=429, code=2000, retry_after=2, count=10)
    ids = [engine.submit(pipelines.text_to_model(f"a stool {i}")) for i in range(10)]
    for job_id in ids:
        assert engine.wait(job_id, WAIT)["state"] == "succeeded"
    by_prompt: dict[str, list[float]] = {}
    for r in posts(emulator, api_key):
        by_prompt.setdefault(r["body"]["prompt"], []).append(r["time"])
    offsets = [t[1] - t[0] for t in by_prompt.values() if len(t) >= 2]
    assert len(offsets) == 10, by_prompt
    assert min(offsets) >= 1.99  # Retry-After is a floor
    assert max(offsets) - min(offsets) >= 0.3, sorted(offsets)  # jittered (up to +1 s): not in lockstep
