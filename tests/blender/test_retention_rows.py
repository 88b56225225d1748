"""Results that outlive Tripo's 7 days (tripo-api-v3.md §18 R1): the task row says Tripo's copy expired, and a next
step on the result imports the kept file (free) and goes on."""

from __future__ import annotations

import time

import bpy
from blender_helpers import posts
from recorder import draw

DAY = 86400.0


def _row(job_id: str):
    return next(item for item in bpy.context.window_manager.tripo.tasks if item.job_id == job_id)


def _age(ext, job_id: str, days: float) -> None:
    eng = ext.runtime.engine()
    with eng.store.lock:
        job = eng.store.jobs[job_id]
        for step in job.steps:
            step.finished_at = (step.finished_at or time.time()) - days * DAY
        job.updated -= days * DAY
    ext.tasklist.mirror(eng.get(job_id))


def test_an_expired_result_is_marked_and_its_next_step_imports_the_kept_copy(ext, connected):
    assert bpy.ops.tripo.text_to_model(prompt="a clay teapot", wait=True) == {'FINISHED'}
    teapot = bpy.context.active_object
    job_id = next(item.job_id for item in bpy.context.window_manager.tripo.tasks)
    assert _row(job_id).notice == ""  # Tripo still keeps it
    _age(ext, job_id, 8)
    row = _row(job_id)
    assert "expired" in row.notice and "downloaded copy is kept" in row.notice, row.notice
    state = bpy.context.window_manager.tripo
    state.active_task = list(state.tasks).index(row)
    assert "Tripo's copy has expired" in draw(bpy.types.TRIPO_PT_tasks).text()

    task_id = teapot["tripo_task_id"]
    assert connected.emulator.forget(task_id)  # as Tripo does after 7 days
    before = connected.emulator.balance(connected.api_key)["balance"]
    n = len(posts(connected.emulator, connected.api_key))
    bpy.context.view_layer.objects.active = teapot
    teapot.select_set(True)
    assert bpy.ops.tripo.texture_model(texture_prompt="glazed blue clay", wait=True) == {'FINISHED'}
    made = posts(connected.emulator, connected.api_key)[n:]
    assert [p["body"]["type"] for p in made] == ["import_model", "texture_model"], made
    textured = bpy.context.active_object
    assert textured is not teapot and textured["tripo_task_type"] == "texture_model"
    spent = before - connected.emulator.balance(connected.api_key)["balance"]
    assert spent == connected.emulator.task(textured["tripo_task_id"]).consumed  # the import was free
