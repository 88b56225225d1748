"""v3 batch polling refills a freed slot soon after Tripo frees it (issue 9 item 8): the engine against the emulator's
v3 over real HTTP, with the official 2 s polling rule (poll_min=2) and the default pool of 10."""

from __future__ import annotations

import math

import pytest

from tripo_addon.api import polling
from tripo_addon.api.client import TripoClient
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine
from tripo_emulator import Emulator

KEY = "tsk_refill_0001"
POLL_MIN = 2.0
JOBS = 30          # three waves of the v3 generation pool (10)
SCALE = 0.012      # text_to_model (4 s queued + 40 s running) -> about 0.5 s


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    e = Emulator(port=0, time_scale=SCALE, data_dir=tmp_path_factory.mktemp("emu_refill"), api="v3", s3=False)
    e.start()
    e.add_account(KEY, 1_000_000)
    yield e
    e.stop()


def _within_the_official_rule(log: list[dict], snaps: list[dict]) -> None:
    """No more tasks/list requests than polling each task on its own every POLL_MIN over its life would make."""
    lists = [r for r in log if r["route"] == "list"]
    lives = []
    for tid in (s["steps"][0]["task_id"] for s in snaps):
        asked = [r["time"] for r in lists if tid in r["body"]["task_ids"]]
        lives.append(max(asked) - min(asked))
    assert len(lists) <= sum(math.floor(life / POLL_MIN) + 1 for life in lives), (len(lists), lives)


def _creates(log: list[dict]) -> list[float]:
    """When the server accepted each create, in order."""
    return sorted(r["time"] for r in log if r["route"] == "create" and r["status"] == 200)


def test_durations_window_and_round_gap():
    d = polling.Durations(keep=3)
    assert d.window("text_to_model") is None
    d.record("text_to_model", None, 2.1)      # first seen done at 2.1 s, never seen running
    d.record("text_to_model", 0.7, 0.9)
    assert d.window("text_to_model") == (0.7, 2.1)  # a loose reading never widens the start once tight ones exist
    for _ in range(3):
        d.record("text_to_model", 0.7, 0.9)   # the oldest reading drops out
    assert d.window("text_to_model") == (0.7, 0.9)
    assert polling.Durations().window("x") is None
    loose = polling.Durations()
    loose.record("x", None, 2.0)
    assert loose.window("x") == (0.0, 2.0)     # only loose readings: they are all there is
    # never more batch requests than polling each waiting task every poll_min would make, never above 5 a second
    assert polling.round_gap(1, 2.0) == 2.0
    assert polling.round_gap(4, 2.0) == 0.5
    assert polling.round_gap(100, 2.0) == polling.ROUND_GAP_MIN


def test_expected_end_only_when_readings_agree_on_one_duration():
    """Readings that pin one duration down (seen running just before, done just after) give the age to aim a task's
    poll at; readings that disagree, or too few, give none (the window's every-round polling then)."""
    d = polling.Durations()
    for _ in range(polling.EXPECTED_MIN - 1):
        d.record("t", 0.85, 0.95)
    assert d.expected("t") is None                    # too few
    d.record("t", 0.86, 0.93)
    d.record("t", None, 3.0)                          # loose: first asked long after it ended, ignored
    assert d.expected("t") == pytest.approx(0.93, abs=0.03)
    assert 0.85 <= d.expected("t") <= 0.95
    v = polling.Durations()
    for lo, hi in ((0.8, 1.0), (2.0, 2.2), (3.4, 3.6), (5.0, 5.2), (1.4, 1.6)):
        v.record("t", lo, hi)                         # tasks of 1 to 5 s: no one duration
    assert v.expected("t") is None


def test_an_expected_end_aims_the_poll_there_and_rides_along_before():
    import time

    from tripo_addon.jobs.hub import PollHub

    hub = PollHub(lambda: None, poll_min=POLL_MIN)
    for _ in range(5):
        hub.durations.record("text_to_model", 0.6, 0.9)
    now = time.monotonic()
    delay, soon = hub.aim("text_to_model", now, POLL_MIN)
    assert delay == pytest.approx(0.9, abs=0.02)       # asked when it should be done, not at 2 s nor at 0.6 s
    assert soon == pytest.approx(now + 0.6, abs=0.02)  # and in any round from the window's start
    assert hub.aim("text_to_model", now, 0.3)[0] == pytest.approx(0.3, abs=0.01)  # never later than the rhythm
    late, _soon = hub.aim("text_to_model", now - 0.95, POLL_MIN)  # past it (a miss): every round, as before
    assert late == pytest.approx(hub.gap())


def test_the_hub_times_its_readings_from_its_rounds(emu):
    """Durations are learned from the rounds' own times (ride-alongs included): the last round that saw the task
    running and the one that saw it done bracket its end on the server."""
    import threading
    import time

    from tripo_addon.jobs.hub import PollHub

    key = "tsk_refill_readings"
    emu.add_account(key, 1000)
    client = TripoClient(api_key=key, base_url=emu.v3_base_url)
    tid = client.create_task("text_to_model", {"prompt": "a brass bell"})
    t0 = time.monotonic()
    hub = PollHub(lambda: TripoClient(api_key=key, base_url=emu.v3_base_url), poll_min=0.1)
    stop = threading.Event()
    try:
        seen = hub.get(tid, due=time.monotonic(), stop=stop)
        assert seen.status in ("queued", "running")
        running = hub.last_running(tid)
        assert running is not None and t0 <= running <= time.monotonic()
        while str(seen.status) not in ("success", "failed"):
            seen = hub.get(tid, due=time.monotonic() + 0.1, stop=stop)
        assert str(seen.status) == "success"
        done = hub.asked_at(tid)
        assert done is not None and hub.last_running(tid) < done
        end = emu.store.find(tid).deadline  # the emulator's own end of the task (monotonic, this process)
        assert hub.last_running(tid) <= end + 0.01 and end <= done + 0.01
        assert done - hub.last_running(tid) <= 0.5  # one round apart: the end is known to a round
    finally:
        hub.close()
        client.close()


def test_a_task_slower_than_any_seen_still_rides_along():
    """Past the learned window a task keeps its own (2 s or slower) due time, so it triggers no round, but it is
    asked in every round other tasks make: its finish is noticed at the next round instead of on the 2 s rhythm."""
    import time

    from tripo_addon.jobs.hub import PollHub

    hub = PollHub(lambda: None, poll_min=POLL_MIN)
    now = time.monotonic()
    assert hub.aim("text_to_model", now - 5.0, 2.0) == (2.0, math.inf)  # nothing learned yet: the 2 s rule alone
    hub.durations.record("text_to_model", 0.7, 0.9)
    _delay, soon = hub.aim("text_to_model", now - 0.1, 2.0)  # before the window: rides along from its start
    assert soon == pytest.approx(now + 0.6, abs=0.05)
    delay, soon = hub.aim("text_to_model", now - 5.0, 2.0)  # far past the window
    assert delay == 2.0                                     # no round of its own sooner than before
    assert soon <= time.monotonic()                         # ... but asked in every round others trigger


def test_the_2s_rhythm_counts_from_the_ask_not_from_the_answer():
    """A round asked a few ms after its grid point; the worker reads the answer later. The next 2 s poll is due 2 s
    after that ask (the grid point 2 s on), not at the grid point after "answer read + 2 s" (a 2.5 s rhythm)."""
    import time

    from tripo_addon.jobs import hub as hub_mod

    hub = hub_mod.PollHub(lambda: None, poll_min=POLL_MIN)
    now = time.monotonic()
    g = math.floor(now / hub.grid) * hub.grid
    if now - g < 0.01:
        g -= hub.grid
    hub._asked["t1"] = g + 0.005  # the round that asked about t1 began 5 ms after its grid point
    due = hub.due_time(POLL_MIN, task_id="t1")
    assert due == pytest.approx(g + POLL_MIN)                  # the 2 s rhythm stays 2 s ...
    assert due >= hub._asked["t1"] + POLL_MIN - hub_mod.GRID_SLACK  # ... and never noticeably faster
    assert hub.due_time(POLL_MIN) >= now + POLL_MIN            # never asked: counted from now, rounded up


def test_freed_slot_is_refilled_before_the_2s_poll(emu, tmp_path):
    def factory() -> TripoClient:
        return TripoClient(api_key=KEY, base_url=emu.v3_base_url)

    eng = Engine(factory, tmp_path / "state", tmp_path / "dl", poll_min=POLL_MIN, poll_max=30.0)
    try:
        ids = [eng.submit(pipelines.text_to_model(f"a clay pot {i}")) for i in range(JOBS)]
        snaps = [eng.wait(j, 120.0) for j in ids]
    finally:
        eng.shutdown(timeout=5)
    assert [s["state"] for s in snaps] == ["succeeded"] * JOBS
    log = emu.requests(key=KEY)
    creates = _creates(log)
    assert len(creates) == JOBS
    assert not [r for r in log if r["status"] == 429]  # the engine never sent more than the pool holds
    # The third wave starts when the second one's tasks are seen done. Those were aimed at the end learned from the
    # first wave, so they are noticed (and their slots refilled) before a 2 s poll would even have asked.
    assert creates[20] - creates[10] < POLL_MIN, creates
    # ... without more requests than the official rule (each waiting task every 2 s) would have sent
    _within_the_official_rule(log, snaps)


def test_the_round_budget_is_the_2s_rule_over_time():
    """Rounds spent from the budget: a task's first ask at once, then one round per 2 s per waiting task, never
    two rounds closer than BUDGET_GAP_MIN, and never more in all than polling each task on its own would make."""
    b = polling.RoundBudget(poll_min=POLL_MIN)
    t = 1000.0
    b.accrue(t, 0)
    assert b.ready_at(t, 1) > t + 1.9          # nothing asked yet, nothing to spend: one task earns a round in 2 s
    b.first_ask(1)
    assert b.ready_at(t, 1) == t              # its first ask, at once
    b.spend(t)
    assert b.ready_at(t, 1) == pytest.approx(t + POLL_MIN)  # then the 2 s rhythm of one task
    for _ in range(10):
        b.first_ask(10)                        # ten tasks created together
    assert b.ready_at(t + 0.01, 10) == pytest.approx(t + polling.BUDGET_GAP_MIN)  # bursts, but not closer than this
    rounds, now = 0, t + 0.01
    while now < t + 20.0:                      # ten tasks waiting 20 s, asking as often as allowed
        now = b.ready_at(now, 10)
        b.spend(now)
        rounds += 1
    assert rounds <= 10 + 10 * 20.0 / POLL_MIN + 2  # their first asks, then each task every 2 s


def test_early_asks_of_a_type_never_seen_ending():
    step, first = polling.FIRST_STEP, polling.FIRST_ASK
    c = 1000.03                                           # created just after a grid point
    at = polling.first_ask_at(c, -math.inf)
    assert at >= c + first and at - (c + first) < step and at % step == pytest.approx(0.0, abs=1e-9)
    assert polling.first_ask_at(c + 0.1, -math.inf) == at   # tasks created about then share the round
    nxt = polling.first_ask_at(c, at)
    assert nxt == pytest.approx(at + step)                 # then every step on the same grid
    assert polling.first_ask_at(c, at + 0.01) == pytest.approx(at + step)  # never two asks closer than half a step
    assert polling.first_ask_at(c, c + 1.9) == math.inf    # 2 s old: the rhythm takes over


def test_the_first_wave_is_noticed_before_the_2s_poll_while_jobs_wait(emu, tmp_path):
    """Nothing is known of a type at first, so the 2 s rule would notice the first wave's half-second tasks at 2 s
    while 10 jobs wait for their slots. While jobs wait, a task of a type never seen ending is asked at 0.5 s and
    1 s (rounds from the budget): the second wave starts about a second after the first, within the official rule's
    requests."""
    key = "tsk_refill_first_wave"
    emu.add_account(key, 1_000_000)

    def factory() -> TripoClient:
        return TripoClient(api_key=key, base_url=emu.v3_base_url)

    eng = Engine(factory, tmp_path / "state", tmp_path / "dl", poll_min=POLL_MIN, poll_max=30.0)
    try:
        ids = [eng.submit(pipelines.text_to_model(f"a glass fish {i}")) for i in range(20)]
        snaps = [eng.wait(j, 120.0) for j in ids]
    finally:
        eng.shutdown(timeout=5)
    assert [s["state"] for s in snaps] == ["succeeded"] * 20
    log = emu.requests(key=key)
    creates = _creates(log)
    assert len(creates) == 20 and not [r for r in log if r["status"] == 429]
    assert creates[10] - creates[0] < 1.6, creates  # before: the first poll at 2 s, so the second wave after 2 s
    _within_the_official_rule(log, snaps)


def test_jobs_that_start_waiting_after_the_first_creates_still_get_early_asks(emu, tmp_path):
    """Artists submit one by one: the first ten tasks were created while no job waited (their workers chose the 2 s
    rhythm), then ten more jobs queue behind them. The hub decides early asks at each round, so the first wave is
    still noticed (and the second started) well before 2 s, within the official rule's requests."""
    import time

    key = "tsk_refill_late_queue"
    emu.add_account(key, 1_000_000)

    def factory() -> TripoClient:
        return TripoClient(api_key=key, base_url=emu.v3_base_url)

    eng = Engine(factory, tmp_path / "state", tmp_path / "dl", poll_min=POLL_MIN, poll_max=30.0)

    try:
        ids = [eng.submit(pipelines.text_to_model(f"a paper boat {i}")) for i in range(10)]
        deadline = time.monotonic() + 30
        while sum(h.waiting() for h in list(eng.following.hubs.values())) < 10:  # all ten wait for a poll,
            assert time.monotonic() < deadline                                       # nobody for a slot yet
            time.sleep(0.005)
        ids += [eng.submit(pipelines.text_to_model(f"a paper boat {i}")) for i in range(10, 20)]
        snaps = [eng.wait(j, 120.0) for j in ids]
    finally:
        eng.shutdown(timeout=5)
    assert [s["state"] for s in snaps] == ["succeeded"] * 20
    log = emu.requests(key=key)
    made = _creates(log)
    assert len(made) == 20 and not [r for r in log if r["status"] == 429]
    assert made[10] - made[0] < 1.6, made  # before: the first ten were asked at 2 s, so the second wave after 2 s
    _within_the_official_rule(log, snaps)
