"""Dismiss (the History panel): a create whose possible tasks Refresh History lists can be dismissed by the user; it is
never listed or attached again, in this session or after a restart, by the headless batch neither, while the record
that it was sent stays in owners.json. Real HTTP to the emulator, the real engine and registry."""

from __future__ import annotations

import json
import threading
import time

from lost_batch_row import lost_batch_row
from test_recover_emulator import WAIT, creates, factory, lose_next_create, made  # noqa: F401
from test_recover_owners import Clock

from tripo_addon.jobs import pipelines, recover
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.owners import KEEP_SECONDS, MAX_DISMISSED, Owners


def _engine(factory, tmp_path) -> Engine:  # noqa: F811
    return Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5, api="v3")


def _refresh(engine: Engine, client) -> tuple[list[recover.Finding], list[recover.Finding]]:
    """What Refresh History does (operators/history.py), without Blender: read, skip the dismissed, settle."""
    owners = engine.owners
    findings = recover.find(client, engine.jobs(), known=owners.known, in_flight=owners.creates_in_flight(),
                            removed=owners.released, dismissed=owners.dismissed)

    def snap(job_id):
        try:
            return engine.get(job_id)
        except Exception:  # noqa: BLE001 - removed
            return None

    return recover.settle(findings, snap, lambda f: engine.attach(f.found.task_id, job_id=f.lost.job_id,
                                                                    notice=recover.attach_notice(f)), owners.known)


def _owners_file(tmp_path) -> dict:
    return json.loads((tmp_path / "state" / "owners.json").read_text("utf-8"))


def _wait_for(pred, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_dismissed_removed_jobs_create_is_not_listed_again_even_after_a_restart(factory, emulator, api_key,  # noqa: F811
                                                                                   tmp_path, monkeypatch):
    eng = _engine(factory, tmp_path)
    try:
        lose_next_create(emulator, api_key, created=True)
        job_id = eng.submit(pipelines.text_to_model("a dismissed lamp"))
        assert eng.wait(job_id, WAIT)["state"] == "needs_attention"
        (task,) = made(emulator, api_key)
        eng.forget(job_id)  # Remove: its create may have reached Tripo (it did)
        with factory() as c:
            attached, left = _refresh(eng, c)
        assert attached == [] and [f.lost.kind for f in left] == ["removed"]
        lost = left[0].lost
        assert [x.task_id for x in left[0].candidates] == [task]
        # the user dismisses it: written by a thread of its own (never an fsync on the caller's thread)
        import os

        fsynced: list[str] = []
        real_fsync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (fsynced.append(threading.current_thread().name), real_fsync(fd)))
        eng.owners.dismiss(lost.job_id, lost.step, lost.at)
        assert threading.current_thread().name not in fsynced
        _wait_for(lambda: _owners_file(tmp_path).get("dismissed"), "the dismissal never reached owners.json")
        assert fsynced and threading.current_thread().name not in fsynced
        monkeypatch.undo()
        usage = len(emulator.requests(route="usage", key=api_key))
        with factory() as c:
            assert _refresh(eng, c) == ([], [])
        assert len(emulator.requests(route="usage", key=api_key)) == usage  # nothing left to look for: not read
    finally:
        eng.shutdown(timeout=5)
    # the record that a create was sent stays (its task may exist): only the listing stops
    data = _owners_file(tmp_path)
    assert [r[:2] for r in data["in_flight"]] == [[job_id, 0]]
    assert [r[:3] for r in data["dismissed"]] == [[job_id, 0, data["in_flight"][0][2]]]
    eng = _engine(factory, tmp_path)  # a new session over the same user data
    try:
        assert eng.owners.creates_in_flight() == [(job_id, 0, data["in_flight"][0][2])]
        with factory() as c:
            assert _refresh(eng, c) == ([], [])
        assert not any(task in (j.get("task_ids") or []) for j in eng.jobs())  # never attached either
        assert len(creates(emulator, api_key)) == 1
    finally:
        eng.shutdown(timeout=5)


def test_a_dismissed_lost_job_is_not_attached_when_it_becomes_sure_but_can_be_attached_by_hand(
        factory, emulator, api_key, tmp_path):  # noqa: F811
    eng = _engine(factory, tmp_path)
    try:
        for _ in range(2):  # the same input twice: which task is whose is unsure, both are listed
            lose_next_create(emulator, api_key, created=True)
        a = eng.submit(pipelines.text_to_model("a twin lantern"))
        assert eng.wait(a, WAIT)["state"] == "needs_attention"
        b = eng.submit(pipelines.text_to_model("a twin lantern"))
        assert eng.wait(b, WAIT)["state"] == "needs_attention"
        with factory() as c:
            attached, left = _refresh(eng, c)
        assert attached == [] and sorted(f.lost.job_id for f in left) == sorted([a, b])
        fa = next(f for f in left if f.lost.job_id == a)
        eng.owners.dismiss(a, fa.lost.step, fa.lost.at)
        t1, t2 = sorted(made(emulator, api_key))
        eng.attach(t1, job_id=b)  # the user picks one for b: the other becomes "sure" for a
        assert eng.wait(b, WAIT)["state"] == "succeeded"
        with factory() as c:
            attached, left = _refresh(eng, c)
        assert attached == [] and left == []  # a is dismissed: neither attached nor listed
        snap = eng.get(a)
        assert snap["state"] == "needs_attention" and snap["task_ids"] == []  # it stays, with its own buttons
        eng.attach(t2, job_id=a)  # Attach by ID still works
        assert eng.wait(a, WAIT)["state"] == "succeeded" and eng.get(a)["task_ids"] == [t2]
        assert len(creates(emulator, api_key)) == 2
    finally:
        eng.shutdown(timeout=5)


def test_the_headless_batch_does_not_attach_a_dismissed_create(tmp_path, emulator, api_key):
    with lost_batch_row(tmp_path, emulator, api_key) as (eng, runner, client):
        (job_id,) = runner.records()[0].jobs
        step = eng.get(job_id)["steps"][0]
        eng.owners.dismiss(job_id, 0, step["sent"]["at"])  # dismissed in Blender's History panel
        with client() as c:
            assert runner.recover_lost(c) == []
        assert eng.get(job_id)["state"] == "needs_attention" and eng.get(job_id)["task_ids"] == []
        assert len(made(emulator, api_key)) == 1 and len(creates(emulator, api_key)) == 1


def test_dismissals_are_bounded_in_number_and_age_and_keep_what_was_sent():
    clock = Clock()
    o = Owners(clock=clock)
    first, again = clock.t - 60.25, clock.t - 10.5
    o.in_flight("job", 0, first)
    o.in_flight("job", 0, again)  # Retry: the first is an earlier create
    o.dismiss("job", 0, first)
    o.dismiss("job", 0, again)
    assert o.dismissed("job", 0, first) and o.dismissed("job", 0, float(repr(again)))  # (the panel keeps a string)
    assert not o.dismissed("job", 1, first) and not o.dismissed("job", 0, first + 1)
    assert o.creates_in_flight() == [("job", 0, first), ("job", 0, again)]  # never deleted
    for i in range(MAX_DISMISSED + 5):
        clock.t += 0.001
        o.dismiss(f"j{i}", 1, 700.0 + i)
    data = o.to_json()
    assert len(data["dismissed"]) == MAX_DISMISSED
    assert not o.dismissed("job", 0, first) and not o.dismissed("j4", 1, 704.0)  # the oldest went first
    assert o.creates_in_flight()[:2] == [("job", 0, first), ("job", 0, again)]  # (what was sent stays)
    assert o.dismissed("j5", 1, 705.0)
    # a file with more (written by hand or damaged) is read bounded, and survives a round trip
    data["dismissed"] = [["bad", "0", 1, 2]] + [[f"x{i}", 0, 800.0 + i, clock.t] for i in range(MAX_DISMISSED * 2)]
    back = Owners.from_json(json.loads(json.dumps(data)), clock=clock)
    assert len(back.to_json()["dismissed"]) == MAX_DISMISSED and back.dismissed(f"x{MAX_DISMISSED * 2 - 1}", 0,
                                                                                800.0 + MAX_DISMISSED * 2 - 1)
    clock.t += KEEP_SECONDS + 1  # forgotten after the registry's keep time
    assert not back.dismissed(f"x{MAX_DISMISSED * 2 - 1}", 0, 800.0 + MAX_DISMISSED * 2 - 1)
    assert back.to_json()["dismissed"] == []
