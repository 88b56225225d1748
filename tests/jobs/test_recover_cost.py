"""jobs/recover.py (a lost create found in the account's history) and jobs/cost.py (cost before and after): pure."""

from __future__ import annotations

from tripo_addon.api.dialect import UsageRow
from tripo_addon.jobs import cost, pipelines, recover
from tripo_addon.jobs.job import Job, Step

T0 = 1_790_000_000.0


def _lost(job_id: str, at: float = T0) -> dict:
    return {"id": job_id, "state": "needs_attention", "title": job_id, "task_ids": [],
            "steps": [{"task_type": "text_to_model", "state": "needs_attention", "submitted_at": at, "task_id": None,
                       "sent": recover.sent_record({"prompt": "p"}, at, 0.0)}]}


class _Paged:
    def __init__(self, rows):
        self.rows, self.calls, self.server_offset = rows, [], 0.0

    def usage(self, limit, offset):
        self.calls.append(offset)
        return self.rows[offset:offset + limit]

    def get_tasks(self, ids):
        return {}


def test_history_is_read_until_the_window_start():
    rows = [UsageRow(f"t{i}", "text_to_model", "success", T0 + 10_000 - i * 10, 1.0) for i in range(1000)]
    h = _Paged(rows)
    recover.find(h, [_lost("j1", at=T0 + 9_500)])
    assert h.calls == [0]  # the first page already reaches back past the window
    h = _Paged(rows)
    recover.find(h, [_lost("j1", at=T0)])
    assert len(h.calls) == 1 + recover.MAX_PAGES   # bounded


def test_nothing_to_recover_reads_nothing():
    assert recover.find(None, []) == []


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
