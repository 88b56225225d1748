"""The owner registry (jobs/owners.py): one owner per task id, tombstones, foreign ids, creates in flight."""

from __future__ import annotations

import json
import threading

import pytest

from tripo_addon.jobs.owners import KEEP_SECONDS, Owners


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_claim_is_exclusive_and_idempotent():
    o = Owners()
    assert o.claim("t1", "jobA") is None
    assert o.claim("t1", "jobA") is None
    assert o.claim("t1", "jobB") == "jobA"
    assert o.owner("t1") == "jobA"
    assert o.known("t1") and not o.known("t2")
    assert o.owner("t2") is None


def test_retried_ids_stay_owned_by_their_job():
    o = Owners()
    o.claim("old", "job")
    o.claim("new", "job")
    assert o.tasks("job") == ["old", "new"]
    assert o.claim("old", "other") == "job"


def test_release_keeps_tombstones_recovery_can_see():
    o = Owners()
    o.claim("red-chair", "jobA")
    o.release("jobA")
    assert o.owner("red-chair") is None
    assert o.known("red-chair")
    assert "removed" in (o.why("red-chair") or "")
    # a late create answer of the removed job lands as a tombstone too
    assert o.claim("late", "jobA") is None
    assert o.owner("late") is None and o.known("late")
    # the user may attach a tombstoned id on purpose
    assert o.claim("red-chair", "jobB") is None
    assert o.owner("red-chair") == "jobB"


def test_release_without_tombstone_forgets():
    o = Owners()
    o.claim("t", "j")
    o.in_flight("j", 1, 5.0)
    o.release("j", tombstone=False)
    assert not o.known("t")
    assert o.creates_in_flight() == []


def test_retire_one_id():
    o = Owners()
    o.claim("a", "j")
    o.claim("b", "j")
    o.retire("a")
    assert o.tasks("j") == ["b"] and o.known("a") and o.owner("a") is None


def test_foreign_ids_are_known_but_ours_stay_ours():
    o = Owners()
    o.claim("mine", "j")
    o.add_foreign(["mine", "theirs", 7, "", "x" * 500])  # type: ignore[list-item]
    assert o.owner("mine") == "j"
    assert o.known("theirs") and o.why("theirs") == "followed by another Blender"
    assert not o.known("x" * 500)


def test_in_flight_and_landed():
    clock = Clock()
    o = Owners(clock=clock)
    o.in_flight("j2", 0, clock.t - 10)
    o.in_flight("j1", 1, clock.t - 20)
    assert o.creates_in_flight() == [("j1", 1, clock.t - 20), ("j2", 0, clock.t - 10)]
    o.landed("j1", 1)
    assert o.creates_in_flight() == [("j2", 0, clock.t - 10)]
    clock.t += 8 * 24 * 3600
    assert o.creates_in_flight() == []


def test_tombstones_are_bounded_in_time_and_count():
    clock = Clock()
    o = Owners(clock=clock, max_ids=3)
    for i in range(5):
        o.claim(f"t{i}", f"j{i}")
        o.release(f"j{i}")
    assert [o.known(f"t{i}") for i in range(5)] == [False, False, True, True, True]
    clock.t += KEEP_SECONDS + 1
    assert not any(o.known(f"t{i}") for i in range(5))


def test_json_round_trip_and_garbage():
    clock = Clock()
    o = Owners(clock=clock)
    o.claim("a", "j1")
    o.claim("b", "j2")
    o.release("j2")
    o.add_foreign(["f"])
    o.in_flight("j1", 2, clock.t - 5)
    data = json.loads(json.dumps(o.to_json()))
    p = Owners.from_json(data, clock=clock)
    assert p.owner("a") == "j1" and p.known("b") and p.owner("b") is None and p.known("f")
    assert p.released("j2")
    assert p.creates_in_flight() == [("j1", 2, clock.t - 5)]
    for bad in (None, [], {"owners": 5}, {"owners": {"j": [1, None, "ok"]}, "tombstones": [[1, 2]], "foreign": "x",
                                            "in_flight": [["j", True, 1.0], ["j", 1, float("inf")]]}):
        q = Owners.from_json(bad)  # type: ignore[arg-type]
        assert q.creates_in_flight() == []
    assert Owners.from_json({"owners": {"j": [1, None, "ok"]}}).owner("ok") == "j"


def test_concurrent_claims_have_one_winner():
    o = Owners()
    winners: list[str] = []
    start = threading.Barrier(8)

    def run(job: str) -> None:
        start.wait()
        if o.claim("t", job) is None:
            winners.append(job)

    threads = [threading.Thread(target=run, args=(f"j{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and o.owner("t") == winners[0]


def test_retry_never_follows_a_task_another_job_was_given(engine, emulator, api_key):
    # found by the random stateful run: Attach of an id Tripo does not know (job A fails), the same id attached again
    # (a new job B takes it: A stopped), then Retry of A: A followed the task B owns (two followers of one task)
    import uuid

    from tripo_addon.jobs.engine_common import S

    task_id = str(uuid.uuid4())
    a = engine.attach(task_id, "first")
    first = engine.wait(a, 60)
    assert first["state"] in S.STOPPED, first["state"]
    b = engine.attach(task_id, "second")
    assert b != a and engine.owners.owner(task_id) == b
    engine.wait(b, 60)
    with pytest.raises(Exception) as refused:
        engine.retry(a)
    assert task_id in getattr(refused.value, "user_message", ""), refused.value
    snap = engine.get(a)  # at once: a retried job following it would be queued or running now
    assert snap["state"] in S.STOPPED
    assert engine.owners.owner(task_id) == b
    followers = [j["id"] for j in engine.jobs() if task_id in j["task_ids"] and j["state"] not in S.STOPPED]
    assert followers in ([], [b])
