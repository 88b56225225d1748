"""jobs/recover.py's rules on plain data: a lost create is matched only with certainty (time in Tripo's clock, known
ids, echoed input); everything else is a candidate with its reason, or not listed at all."""

from __future__ import annotations

from tripo_addon.api.dialect import UsageRow
from tripo_addon.api.models import Task
from tripo_addon.api.session import server_offset
from tripo_addon.jobs import recover
from tripo_addon.jobs.owners import Owners

T0 = 1_790_000_000.0


def sent(prompt: str, at: float = T0, offset: float | None = 0.0, lost_at: float | None = None) -> dict:
    rec = recover.sent_record({"prompt": prompt, "model": "v3.1"}, at, offset)
    if lost_at is not None:
        rec["lost_at"] = lost_at
    return rec


def lost_job(job_id: str, prompt: str, at: float = T0, **kw) -> dict:
    return {"id": job_id, "title": job_id, "state": "needs_attention", "task_ids": [],
            "steps": [{"task_type": "text_to_model", "state": "needs_attention", "task_id": None,
                       "submitted_at": at, "params": {"prompt": prompt, "model_version": "v3.1"},
                       "sent": sent(prompt, at, lost_at=at + 5, **kw)}]}


def task(task_id: str, prompt: str, created: float, model: str = "v3.1", ttype: str = "text_to_model") -> Task:
    return Task(task_id, ttype, "success", input={"prompt": prompt, "model": model}, created=created)


class History:
    """The two reads recovery makes (account/usage, tasks/list) over a fixed list, newest first."""

    def __init__(self, tasks: list[Task], offset: float | None = 0.0, missing: tuple[str, ...] = ()) -> None:
        self.tasks = sorted(tasks, key=lambda t: -(t.created or 0))
        self.server_offset = offset
        self.missing = missing

    def usage(self, limit: int, offset: int) -> list[UsageRow]:
        return [UsageRow(t.task_id, t.type, t.status, t.created, 10.0) for t in self.tasks[offset:offset + limit]]

    def get_tasks(self, ids: list[str]) -> dict[str, Task]:
        return {t.task_id: t for t in self.tasks if t.task_id in ids and t.task_id not in self.missing}


def test_the_one_task_made_then_with_the_same_input_is_found():
    h = History([task("mine", "blue sports car", T0 + 1), task("old", "blue sports car", T0 - 3600)])
    [f] = recover.find(h, [lost_job("j", "blue sports car")])
    assert f.found is not None and f.found.task_id == "mine" and f.candidates == []


def test_a_removed_jobs_task_with_another_prompt_is_never_attached():
    # 7bb37c0: the "red chair" task of a removed job (no longer in any snapshot) was attached to the lost
    # "blue sports car" create.
    h = History([task("red", "red chair", T0 + 1)])
    [f] = recover.find(h, [lost_job("j", "blue sports car")])
    assert f.found is None and f.candidates == []
    assert "red chair" in f.rejected[0].reason


def test_a_tombstoned_task_is_not_even_a_candidate():
    owners = Owners()
    owners.claim("red", "removed-job")
    owners.release("removed-job")
    h = History([task("red", "blue sports car", T0 + 1)])
    [f] = recover.find(h, [lost_job("j", "blue sports car")], known=owners.known)
    assert f.found is None and f.candidates == [] and f.rejected == []


def test_retry_does_not_take_the_old_failed_task():
    # 7bb37c0: Retry cleared the old task id, whose task (same prompt, created 30 s before the retry) was attached.
    h = History([task("old-failed", "a lamp", T0 - 30)])
    [f] = recover.find(h, [lost_job("j", "a lamp")])
    assert f.found is None and f.candidates == []


def test_a_website_task_made_later_is_not_attached():
    # 7bb37c0: a task made on the website 30 s later was attached (window up to 900 s after the send).
    h = History([task("web", "a robot", T0 + 30)])
    [f] = recover.find(h, [lost_job("j", "a robot")])
    assert f.found is None
    assert [c.task_id for c in f.candidates] == ["web"] and "after its answer was lost" in f.candidates[0].reason
    h = History([task("web", "something else", T0 + 3)])
    [f] = recover.find(h, [lost_job("j", "a robot")])
    assert f.found is None and f.candidates == []


def test_tripos_clock_ten_minutes_off_is_read_from_its_date_header():
    # Tripo's clock is 600 s behind ours: our task shows created_at T0 - 600 + 1; a task made on the website ten
    # minutes later shows T0 + 1 (where the old window, in the local clock, looked).
    h = History([task("mine", "a boat", T0 - 599), task("web", "a boat", T0 + 1)], offset=-600.0)
    job = lost_job("j", "a boat")
    job["steps"][0]["sent"]["offset"] = None  # not recorded at the send: the offset read now is used
    [f] = recover.find(h, [job])
    assert f.found is not None and f.found.task_id == "mine"
    assert "web" not in [c.task_id for c in f.candidates]


def test_date_header_offset():
    assert abs(server_offset("Mon, 07 Dec 2026 03:00:00 GMT", 1796612400.0, 1796612400.0)) <= 1
    assert server_offset("Mon, 07 Dec 2026 03:00:00 GMT", 1796612400.0 + 600, 1796612400.0 + 600) < -598
    for bad in (None, "", "yesterday", "Mon, 07 Dec 1970 03:00:00 GMT", "x" * 100):
        assert server_offset(bad, T0, T0) is None


def test_a_task_another_job_is_still_creating_is_not_taken():
    # 7bb37c0: job B's create was still in flight; its task was attached to A's lost create, so both followed it.
    a = lost_job("A", "a cat")
    b = lost_job("B", "a cat", at=T0 + 1)
    b["state"] = "running"
    b["steps"][0]["state"] = "submitting"
    h = History([task("bs", "a cat", T0 + 2)])
    [f] = recover.find(h, [a, b])
    assert f.lost.job_id == "A" and f.found is None
    assert "B may have made it" in f.candidates[0].reason


def test_two_lost_creates_with_the_same_input_are_left_to_the_user():
    h = History([task("t1", "a cup", T0 + 1), task("t2", "a cup", T0 + 2)])
    findings = recover.find(h, [lost_job("A", "a cup"), lost_job("B", "a cup", at=T0 + 1)])
    assert all(f.found is None and f.candidates for f in findings)


def test_an_id_tripo_does_not_show_is_not_attached():
    # 7bb37c0: a usage row whose task Tripo does not know was attached.
    h = History([task("ghost", "a tree", T0 + 1)], missing=("ghost",))
    [f] = recover.find(h, [lost_job("j", "a tree")])
    assert f.found is None and "does not show" in f.candidates[0].reason


def test_another_model_or_input_is_not_ours_and_a_missing_echo_is_unsure():
    assert recover.compare({"prompt": "p", "model": "v3.1"}, {"prompt": "p", "model": "v3.1-20260211"})[0] == "same"
    assert recover.compare({"prompt": "p", "model": "v3.1"}, {"prompt": "p", "model": "v2.5"})[0] == "other"
    assert recover.compare({"input": "file_a"}, {"input": "file_b"})[0] == "other"
    assert recover.compare({"prompt": "p", "face_limit": 5000}, {"prompt": "p", "face_limit": 4000})[0] == "unsure"
    assert recover.compare({"prompt": "p"}, {})[0] == "unsure"
    assert recover.compare({"face_limit": 5}, {"face_limit": 5}, exact=False)[0] == "unsure"


def test_a_create_in_flight_at_a_crash_is_recovered_by_the_same_rules():
    owners = Owners()
    owners.in_flight("j", 0, T0)
    job = lost_job("j", "a crash")
    job["steps"][0]["state"] = "needs_attention"
    del job["steps"][0]["sent"]["lost_at"]
    h = History([task("made", "a crash", T0 + 1), task("other", "not this", T0 + 2)])
    [f] = recover.find(h, [job], known=owners.known, in_flight=owners.creates_in_flight())
    assert f.found is not None and f.found.task_id == "made"


def test_still_free_checks_again_on_the_main_thread():
    h = History([task("mine", "a hat", T0 + 1)])
    job = lost_job("j", "a hat")
    [f] = recover.find(h, [job])
    owners = Owners()
    assert recover.still_free(f, job, owners.known) is None
    owners.claim("mine", "other-job")
    assert "followed by a job here" in recover.still_free(f, job, owners.known)
    assert recover.still_free(f, None) == "the job was removed meanwhile"
    retried = dict(job, state="running", steps=[dict(job["steps"][0], state="pending")])
    assert "changed meanwhile" in recover.still_free(f, retried)
