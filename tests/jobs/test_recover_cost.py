"""jobs/recover.py (a lost create found in the account's history) and jobs/cost.py (cost before and after): pure."""

from __future__ import annotations

from tripo_addon.api.dialect import UsageRow
from tripo_addon.jobs import cost, pipelines, recover
from tripo_addon.jobs.job import Job, Step

T0 = 1_790_000_000.0


def _lost(job_id: str, task_type: str = "text_to_model", at: float = T0, task_ids=()) -> dict:
    return {"id": job_id, "state": "needs_attention", "current_step": 0, "title": job_id, "task_ids": list(task_ids),
            "steps": [{"task_type": task_type, "submitted_at": at, "task_id": None}]}


def _usage(rows):
    def usage(limit, offset):
        return rows[offset:offset + limit]
    return usage


def test_one_task_of_the_type_in_the_window_is_found():
    rows = [UsageRow("t-new", "text_to_model", "success", T0 + 3, 20.0),
            UsageRow("t-other-type", "texture_model", "success", T0 + 2, 10.0),
            UsageRow("t-old", "text_to_model", "success", T0 - 3600, 20.0)]
    findings = recover.find(_usage(rows), [_lost("j1")])
    assert [c.task_id for c in findings[0].candidates] == ["t-new"]
    assert [f.lost.job_id for f in recover.unique(findings)] == ["j1"]


def test_a_task_another_job_follows_is_never_a_candidate():
    rows = [UsageRow("t-known", "text_to_model", "success", T0 + 3, 20.0)]
    snaps = [_lost("j1"), {"id": "j2", "state": "succeeded", "task_ids": ["t-known"], "steps": []}]
    assert recover.find(_usage(rows), snaps)[0].candidates == []


def test_two_lost_jobs_sharing_candidates_attach_nothing_by_themselves():
    rows = [UsageRow("a", "text_to_model", "queued", T0 + 1, None), UsageRow("b", "text_to_model", "queued", T0 + 2,
                                                                              None)]
    findings = recover.find(_usage(rows), [_lost("j1"), _lost("j2", at=T0 + 1)])
    assert all(len(f.candidates) == 2 for f in findings) and recover.unique(findings) == []
    # one candidate each but the same one: still the user's choice
    findings = recover.find(_usage(rows[:1]), [_lost("j1"), _lost("j2", at=T0 + 1)])
    assert recover.unique(findings) == []


def test_history_is_read_until_the_window_start():
    rows = [UsageRow(f"t{i}", "text_to_model", "success", T0 + 10_000 - i * 10, 1.0) for i in range(1000)]
    calls = []

    def usage(limit, offset):
        calls.append(offset)
        return rows[offset:offset + limit]

    recover.find(usage, [_lost("j1", at=T0 + 9_500)])
    assert calls == [0]  # the first page already reaches back past the window
    recover.find(usage, [_lost("j1", at=T0)])
    assert len(calls) == 1 + recover.MAX_PAGES   # bounded


def test_nothing_to_recover_reads_nothing():
    assert recover.find(lambda *_: (_ for _ in ()).throw(AssertionError("no request")), []) == []


def test_costs_per_step_with_decimals_and_threshold():
    job = pipelines.low_poly_asset("a barrel", face_limit=4000, quad=False, lods=3)
    steps = cost.before(job, "v3")
    assert [c.task_type for c in steps] == ["text_to_model"] + ["highpoly_to_lowpoly"] * 3
    assert all(c.estimate is not None for c in steps)
    total = cost.total(steps)
    assert cost.needs_confirmation(steps, 0) is None and cost.needs_confirmation(steps, total) is None
    assert "above your confirmation threshold" in cost.needs_confirmation(steps, total - 0.5)
    assert cost.text(2.5) == "2.5" and cost.text(None) == "?"
    snap = Job("x", [Step("text_to_model", {"prompt": "p"}, estimate=20, credits=12.5)]).snapshot()
    after = cost.after(snap)
    assert after[0].used == 12.5 and cost.total(after, used=True) == 12.5


def test_lod_chain_builders():
    assert pipelines.lod_limits(60_000) == [20_000, 15_000, 6_000]
    job = pipelines.lod_chain("tid", [4000, 2000], smart_uv=True, name="My Crate!")
    assert job.meta["import_as"] == "lods" and job.meta["lod_name"] == "My_Crate"
    assert [s.params["face_limit"] for s in job.steps] == [4000, 2000]
    assert all(s.params["model_version"] == "v3.0" and s.params["smart_uv"] for s in job.steps)
