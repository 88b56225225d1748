"""What a script gets back from a task operator with ``wait=True`` (the README's return-value table), one test per row,
for the single-task operators, ``run_pipeline`` and ``attach_task``, against the emulator."""

from __future__ import annotations

import re

import bpy
import pytest
from blender_helpers import drain_until, new_objects, posts

TASK_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _row():
    state = bpy.context.window_manager.tripo
    return state.tasks[state.active_task]


def _inject(connected, route, kind, **fields):
    match = {"key": connected.api_key, **fields.pop("match", {})}
    return connected.emulator.inject(route=route, kind=kind, match=match, **fields)


# ---------------------------------------------------------------------------------------------------- success
def test_success_returns_finished_with_the_result_active(connected):
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt="a wooden chest", wait=True) == {'FINISHED'}
    obj = bpy.context.active_object
    assert obj is not None and obj in new_objects(before)
    assert re.fullmatch(TASK_ID, obj["tripo_task_id"]) and obj["tripo_task_id"] == _row().task_id

    before = set(bpy.data.objects)
    assert bpy.ops.tripo.run_pipeline(pipeline='TEXT_TO_FINAL', prompt="a lamp", wait=True) == {'FINISHED'}
    assert bpy.context.active_object in new_objects(before)
    assert bpy.context.active_object["tripo_task_type"] == "convert_model"


# ---------------------------------------------------------------------------------------------------- refused
@pytest.mark.parametrize("call, message", [
    (lambda: bpy.ops.tripo.text_to_model(prompt="  ", wait=True), r"^Error: .*prompt"),
    (lambda: bpy.ops.tripo.image_to_model(file="/nonexistent/picture.png", wait=True), r"^Error: .*picture\.png"),
    (lambda: bpy.ops.tripo.run_pipeline(pipeline='TEXT_TO_FINAL', prompt="", wait=True),
     r"^Error: The prompt is missing"),
    (lambda: bpy.ops.tripo.attach_task(task_id="no such task", wait=True),
     r"^Error: 'no such task' does not look like"),
])
def test_refused_before_sending_raises_runtime_error_and_sends_nothing(connected, call, message):
    with pytest.raises(RuntimeError, match=message):
        call()
    assert posts(connected.emulator, connected.api_key) == []
    assert connected.emulator.requests(key=connected.api_key, method="GET") == []


def test_unavailable_raises_with_the_reason(connected):
    bpy.context.preferences.system.use_online_access = False
    try:
        for call in (lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True),
                     lambda: bpy.ops.tripo.run_pipeline(prompt="a chair", wait=True)):
            with pytest.raises(RuntimeError, match=r"poll\(\) Online access is off"):
                call()
    finally:
        bpy.context.preferences.system.use_online_access = True
    assert posts(connected.emulator, connected.api_key) == []


# ---------------------------------------------------------------------------------------------------- failed
def test_failed_on_tripos_side_raises_with_the_task_id(connected):
    _inject(connected, "create", "fail_task", error_msg="the prompt was refused")
    before = set(bpy.data.objects)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.tripo.text_to_model(prompt="a doomed statue", wait=True)
    task_id = _row().task_id
    assert re.fullmatch(TASK_ID, task_id)
    assert str(info.value).startswith(f"Error: Tripo task {task_id} failed: ")
    assert new_objects(before) == []


def test_failed_pipeline_step_names_that_step_task(connected):
    _inject(connected, "create", "fail_task", match={"type": "convert_model"})
    with pytest.raises(RuntimeError) as info:
        bpy.ops.tripo.run_pipeline(pipeline='TEXT_TO_FINAL', prompt="a vase", wait=True)
    convert = [p for p in posts(connected.emulator, connected.api_key) if p["body"]["type"] == "convert_model"]
    assert len(convert) == 1
    ids = _row().task_ids.split(", ")
    assert len(ids) == 2 and f"Tripo task {ids[1]} failed: " in str(info.value)


# ---------------------------------------------------------------------------------------------------- timeout
def _timeout_then_attach(connected, capfd, call, n_posts):
    rule = _inject(connected, "poll", "unknown_status", count=-1)  # the task never looks finished
    before = set(bpy.data.objects)
    capfd.readouterr()
    assert call() == {'CANCELLED'}
    out = capfd.readouterr()
    assert new_objects(before) == []  # nothing imported, nothing half done
    task_id = _row().task_id
    assert re.fullmatch(TASK_ID, task_id)
    assert f'attach_task(task_id="{task_id}", wait=True)' in out.out + out.err
    connected.emulator.faults.remove(rule["id"])
    assert bpy.ops.tripo.attach_task(task_id=task_id, wait=True) == {'FINISHED'}
    assert len(posts(connected.emulator, connected.api_key)) == n_posts  # the same job: nothing sent again
    obj = bpy.context.active_object
    assert obj in new_objects(before) and obj["tripo_task_id"] in _row().task_ids.split(", ")
    assert len(bpy.context.window_manager.tripo.tasks) == 1  # no second job for the same task
    return obj


def test_timeout_returns_cancelled_and_attach_imports_later(connected, capfd):
    obj = _timeout_then_attach(connected, capfd, lambda: bpy.ops.tripo.text_to_model(
        prompt="a slow chair", wait=True, wait_timeout=0.5), n_posts=1)
    assert obj["tripo_task_type"] == "text_to_model"


def test_pipeline_timeout_returns_cancelled_and_attach_imports_later(connected, capfd):
    obj = _timeout_then_attach(connected, capfd, lambda: bpy.ops.tripo.run_pipeline(
        pipeline='TEXT_TO_FINAL', prompt="a slow lamp", wait=True, wait_timeout=0.5), n_posts=2)
    assert obj["tripo_task_type"] == "convert_model"  # the whole pipeline ran on after the attach


def test_timed_out_result_does_not_land_during_a_later_call(connected):
    rule = _inject(connected, "poll", "unknown_status", count=2)  # a little slower than the timeout
    assert bpy.ops.tripo.text_to_model(prompt="a late chair", wait=True, wait_timeout=0.05) == {'CANCELLED'}
    late = _row().task_id
    connected.emulator.faults.remove(rule["id"])
    assert bpy.ops.tripo.text_to_model(prompt="a table", wait=True) == {'FINISHED'}
    assert {o.get("tripo_task_id") for o in bpy.data.objects} - {None} == {_row().task_id}
    assert bpy.ops.tripo.attach_task(task_id=late, wait=True) == {'FINISHED'}
    assert bpy.context.active_object["tripo_task_id"] == late


def test_timeout_before_tripo_answered_names_the_job_and_attach_works_later(ext, connected, capfd):
    rule = _inject(connected, "create", "delay", seconds=2.0)  # the create request is still in flight
    capfd.readouterr()
    assert bpy.ops.tripo.text_to_model(prompt="a hesitant chair", wait=True, wait_timeout=0.3) == {'CANCELLED'}
    out = capfd.readouterr()
    assert "\u201ca hesitant chair\u201d is still being sent" in out.out + out.err
    task_id = drain_until(ext, lambda: _row().task_id)  # the row shows the id once Tripo answers
    connected.emulator.faults.remove(rule["id"])
    assert bpy.ops.tripo.attach_task(task_id=task_id, wait=True) == {'FINISHED'}
    assert len(posts(connected.emulator, connected.api_key)) == 1
    assert bpy.context.active_object["tripo_task_id"] == task_id
