"""Dismiss in the Account History panel: a candidate Refresh History lists (a lost create, an earlier create before
Retry) can be dismissed; it is not listed again, not after a restart, never attached, and what was sent stays on disk.
The real bpy module, the emulator's v3 over HTTP, the operators as a user (or a script) runs them."""

from __future__ import annotations

import json
from types import SimpleNamespace

import bpy
import pytest
from recorder import draw


@pytest.fixture
def v3(connected):
    """The add-on speaking v3 to the emulator (its root)."""
    connected.prefs.api_base_url = connected.emulator.v3_base_url
    connected.ext = None
    yield connected


def _history():
    return bpy.context.window_manager.tripo_history


def _lose_creates(v3, n: int, prompt: str) -> None:
    v3.emulator.inject(route="create", kind="status", status=503, after=True, count=n, match={"key": v3.api_key})
    for _ in range(n):
        with pytest.raises(RuntimeError, match="answer was lost"):
            bpy.ops.tripo.text_to_model(prompt=prompt, wait=True)


def _no_automatic_look(ext) -> None:
    history = ext.operators.history
    if bpy.app.timers.is_registered(history._look):
        bpy.app.timers.unregister(history._look)


def _dismiss_buttons() -> list[dict]:
    return draw(bpy.types.TRIPO_PT_history).op_values("tripo.dismiss_lost")


def _owners_file(ext) -> dict:
    return json.loads((ext.settings.state_dir() / "owners.json").read_text("utf-8"))


def test_an_earlier_create_dismissed_is_not_listed_again_not_after_a_restart_and_stays_recorded(ext, v3):
    _lose_creates(v3, 1, "a stone lantern")
    _no_automatic_look(ext)
    eng = ext.runtime.engine()
    job_id = eng.jobs()[-1]["id"]
    assert bpy.ops.tripo.retry_job(job_id=job_id) == {'FINISHED'}
    snap = eng.wait(job_id, 30)
    assert snap["state"] == "succeeded"
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    st = _history()
    (item,) = st.attention
    assert item.title.endswith("(before Retry)") and "possible task" in st.text
    pick = item.candidates.split(",")[0]
    assert pick and pick not in snap["task_ids"]
    # the panel draws Dismiss beside Attach; its tooltip says nothing is deleted
    (values,) = _dismiss_buttons()
    assert values["job_id"] == job_id and values["step"] == 0 and values["sent_at"]
    tip = bpy.types.TRIPO_OT_dismiss_lost.description(bpy.context, SimpleNamespace(**values))
    assert "nothing is deleted" in tip and "\n" not in tip
    assert bpy.ops.tripo.dismiss_lost(**values) == {'FINISHED'}
    assert len(st.attention) == 0 and st.text == ""
    assert _dismiss_buttons() == []
    # the next refresh does not list it, nor mention it
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    assert len(st.attention) == 0 and "lantern" not in st.text and "possible" not in st.text
    # a new session over the same user data: still dismissed
    ext.runtime.shutdown()
    data = _owners_file(ext)
    assert [r[:2] for r in data["earlier"]] == [[job_id, 0]]  # the record that a task may exist stays
    assert [r[:3] for r in data["dismissed"]] == [data["earlier"][0][:3]]
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    st = _history()
    assert len(st.attention) == 0 and "possible" not in st.text
    eng = ext.runtime.engine()
    assert not any(pick in (j.get("task_ids") or []) for j in eng.jobs())  # never attached
    assert (job_id, 0, data["earlier"][0][2]) in eng.owners.creates_in_flight()
    assert len(v3.emulator.requests(route="create", key=v3.api_key)) == 2  # nothing sent again


def test_a_lost_job_dismissed_stays_in_needs_attention_and_can_still_be_attached_by_hand(ext, v3):
    _lose_creates(v3, 2, "a twin lantern")  # the same input twice: which task is whose is unsure
    _no_automatic_look(ext)
    eng = ext.runtime.engine()
    a, b = (j["id"] for j in eng.jobs()[-2:])
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    st = _history()
    assert sorted(it.job_id for it in st.attention) == sorted([a, b]) and st.text.count("possible task") == 2
    rec = draw(bpy.types.TRIPO_PT_history)
    buttons = [c for c in rec.calls if c[0] == "operator" and c[1][0] == "tripo.dismiss_lost"]
    assert len(buttons) == 2 and all("Needs attention" in c[2]["text"] for c in buttons)
    values = next(v for v in rec.op_values("tripo.dismiss_lost") if v["job_id"] == a)
    tip = bpy.types.TRIPO_OT_dismiss_lost.description(bpy.context, SimpleNamespace(**values))
    assert "stays in Needs attention" in tip and "Retry" in tip
    assert bpy.ops.tripo.dismiss_lost(**values) == {'FINISHED'}
    assert [it.job_id for it in st.attention] == [b] and st.text.count("possible task") == 1
    # the automatic look (a lost create's timer) and Refresh History both leave it out
    ext.operators.history._look()
    ext.runtime.background.join(30)
    ext.drain.drain(budget=None)
    assert [it.job_id for it in st.attention] == [b] and st.text.count("possible task") == 1
    # b takes one task: the other would now be a's for sure, but a was dismissed: not attached, not listed
    t1, t2 = st.attention[0].candidates.split(",")
    assert bpy.ops.tripo.history_import(task_id=t1, job_id=b, wait=True) == {'FINISHED'}
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    assert len(st.attention) == 0 and "attached" not in st.text and "possible" not in st.text
    assert eng.get(a)["state"] == "needs_attention" and eng.get(a)["task_ids"] == []
    row = next(t for t in bpy.context.window_manager.tripo.tasks if t.job_id == a)
    assert row.state == "needs_attention"  # still in the task list with Retry, Attach and Remove
    # Attach by ID still works for it
    assert bpy.ops.tripo.attach_task(task_id=t2, job_id=a) == {'FINISHED'}
    assert eng.wait(a, 30)["state"] == "succeeded" and eng.get(a)["task_ids"] == [t2]
    assert len(v3.emulator.requests(route="create", key=v3.api_key)) == 2
