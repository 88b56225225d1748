"""The main-thread drain and the modal poller (driven by hand: timers and modal operators never run here)."""

from __future__ import annotations

from types import SimpleNamespace

import bpy
from blender_helpers import drain_until, new_objects, posts

TIMER = SimpleNamespace(type='TIMER')


def _row(job_id=None):
    state = bpy.context.window_manager.tripo
    for item in state.tasks:
        if job_id is None or item.job_id == job_id:
            return item
    return None


def test_submit_returns_at_once_and_drain_imports(ext, connected):
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt="a cactus") == {'FINISHED'}
    row = _row()
    assert row is not None and row.state in ("pending", "submitting", "queued", "running", "uploading")
    assert new_objects(before) == []
    drain_until(ext, lambda: _row().imported)
    objs = new_objects(before)
    assert objs and all(o["tripo_task_type"] == "text_to_model" for o in objs)
    row = _row()
    assert row.state == "succeeded" and row.progress == 100 and row.task_id and row.credits > 0
    assert bpy.data.collections.get("Cactus") is not None
    # the rendered preview comes in the background (a single generation downloads only the model)
    drain_until(ext, lambda: _row().preview_path)
    assert _row().preview_path.endswith((".webp", ".png", ".jpg"))


def test_modal_poller_with_fake_timer_events(ext, connected):
    cls = bpy.types.TRIPO_OT_poller
    fake_op = SimpleNamespace(_timer=None)
    assert cls.modal(fake_op, bpy.context, SimpleNamespace(type='MOUSEMOVE')) == {'PASS_THROUGH'}
    before = set(bpy.data.objects)
    bpy.ops.tripo.text_to_model(prompt="a lantern")
    results = []
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        results.append(cls.modal(fake_op, bpy.context, TIMER))
        if results[-1] == {'FINISHED'}:
            break
        time.sleep(0.05)
    assert results[-1] == {'FINISHED'} and {'PASS_THROUGH'} in results[:-1]
    assert new_objects(before)  # imported by the poller
    assert not ext.runtime.busy()


def test_poller_starts_once_and_ends_with_the_file(ext, connected):
    assert not ext.wakeup.poller_running()
    assert bpy.ops.tripo.poller('INVOKE_DEFAULT') == {'RUNNING_MODAL'}
    assert ext.wakeup.poller_running()
    assert bpy.ops.tripo.poller('INVOKE_DEFAULT') == {'CANCELLED'}  # one at a time
    assert len(ext.poller._timers) == 1
    bpy.ops.wm.read_homefile(use_empty=True)
    assert not ext.wakeup.poller_running()
    assert ext.poller._timers == []  # the file load cancelled it, and cancel() removed its timer


def test_task_list_survives_file_load(ext, connected):
    assert bpy.ops.tripo.text_to_model(prompt="a bell", wait=True) == {'FINISHED'}
    assert len(bpy.context.window_manager.tripo.tasks) == 1
    bpy.ops.wm.read_homefile(use_empty=True)  # WindowManager props reset; the load_post handler re-mirrors
    row = _row()
    assert row is not None and row.name == "a bell" and row.imported and row.state == "succeeded"


def test_auto_import_off_offers_the_import_button(ext, connected):
    connected.prefs.auto_import = False
    before = set(bpy.data.objects)
    bpy.ops.tripo.text_to_model(prompt="a drum")
    drain_until(ext, lambda: _row().state == "succeeded" and not ext.runtime.busy())
    row = _row()
    assert row.can_import and not row.imported and new_objects(before) == []
    assert bpy.ops.tripo.import_result(job_id=row.job_id) == {'FINISHED'}
    assert new_objects(before) and _row().imported
    # import again: a second copy, one undo step
    n = len(bpy.data.objects)
    bpy.ops.ed.undo_push(message="test")
    assert bpy.ops.tripo.import_result(job_id=row.job_id) == {'FINISHED'}
    assert len(bpy.data.objects) > n
    bpy.ops.ed.undo()
    assert len(bpy.data.objects) == n


def test_cancel_locally(ext, connected):
    bpy.ops.tripo.text_to_model(prompt="a slow thing")
    row = _row()
    assert bpy.ops.tripo.cancel_job(job_id=row.job_id) == {'FINISHED'}
    ext.drain.drain()
    row = _row()
    assert row.state == "cancelled" and row.notice


def test_attach_by_id_and_copy(ext, connected):
    bpy.ops.tripo.text_to_model(prompt="a tree", wait=True)
    task_id = _row().task_id
    wm = bpy.context.window_manager
    wm.clipboard = "probe"
    clipboard_works = wm.clipboard == "probe"  # no system clipboard in the bpy module
    assert bpy.ops.tripo.copy_task_id(job_id=_row().job_id) == {'FINISHED'}
    assert wm.clipboard == task_id or not clipboard_works
    n_posts = len(posts(connected.emulator, connected.api_key))
    before = set(bpy.data.objects)
    bpy.context.window_manager.tripo.attach_task_id = task_id
    assert bpy.ops.tripo.attach_task(wait=True) == {'FINISHED'}
    assert new_objects(before)
    assert len(posts(connected.emulator, connected.api_key)) == n_posts  # no new task
    assert len(bpy.context.window_manager.tripo.tasks) == 2
    # the attached result carries its provenance, so a script can go on from a task id alone (README)
    attached = bpy.context.active_object
    assert attached["tripo_task_id"] == task_id and attached["tripo_task_type"] == "text_to_model"
    assert bpy.ops.tripo.convert_model(format='STL', wait=True) == {'FINISHED'}
    last = posts(connected.emulator, connected.api_key)[-1]["body"]
    assert last["type"] == "convert_model" and last["original_model_task_id"] == task_id


def test_remove_job(ext, connected):
    bpy.ops.tripo.text_to_model(prompt="a rock", wait=True)
    job_id = _row().job_id
    assert bpy.ops.tripo.remove_job(job_id=job_id) == {'FINISHED'}
    assert _row(job_id) is None
    assert all(j["id"] != job_id for j in ext.runtime.engine().jobs())


def test_failed_task_shows_the_reason(ext, connected):
    with __import__("pytest").raises(RuntimeError):
        bpy.ops.tripo.text_to_model(prompt="a forbiddenword statue", wait=True)
    row = _row()
    assert row.state == "failed" and row.error


def test_balance_and_connection(ext, connected):
    assert bpy.ops.tripo.refresh_balance(wait=True) == {'FINISHED'}
    state = bpy.context.window_manager.tripo
    assert state.balance_known and state.balance == connected.emulator.balance(connected.api_key)["balance"]
    assert bpy.ops.tripo.test_connection(wait=True) == {'FINISHED'}
    assert state.connection_ok and "Connected" in state.connection_text


def test_connection_failures_are_named(ext, connected, capfd):
    bad_key = "tsk_" + "not_a_real_key_0123456789"  # fake; split so secret scanners do not flag it
    connected.prefs.api_key = bad_key
    connected.emulator.set_strict_keys(True)
    try:
        import pytest

        with pytest.raises(RuntimeError):
            bpy.ops.tripo.test_connection(wait=True)
        state = bpy.context.window_manager.tripo
        assert not state.connection_ok and state.connection_text.startswith("Connection failed")
        assert bad_key not in state.connection_text
        connected.prefs.api_key = connected.api_key
        connected.prefs.api_base_url = "http://127.0.0.1:9/v2/openapi"  # nothing listens there
        with pytest.raises(RuntimeError):
            bpy.ops.tripo.test_connection(wait=True)
        assert state.connection_text.startswith("Connection failed")
    finally:
        connected.emulator.set_strict_keys(False)
    out = capfd.readouterr()
    assert bad_key not in out.out + out.err and connected.api_key not in out.out + out.err


def test_results_wait_while_the_user_edits(ext, connected, user_mesh):
    """A result that finishes during Edit Mode is not imported under the user's hands: it waits for Object Mode."""
    bpy.ops.tripo.text_to_model(prompt="a stool")
    bpy.ops.object.mode_set(mode='EDIT')
    before = set(bpy.data.objects)
    drain_until(ext, lambda: "Object Mode" in (_row().notice or ""))
    assert _row().state == "succeeded" and not _row().imported
    assert bpy.context.mode == 'EDIT_MESH' and new_objects(before) == []
    assert ext.runtime.busy()  # the poller keeps ticking until it can import (slowly: nothing else can arrive)
    drain_until(ext, lambda: not ext.runtime.background.active())  # (its preview image)
    assert ext.poller.pace(0, bpy.context) == ext.poller.IDLE_TICK
    bpy.ops.object.mode_set(mode='OBJECT')
    drain_until(ext, lambda: _row().imported)
    assert any(o["tripo_task_type"] == "text_to_model" for o in new_objects(before))


def test_balance_follows_finished_jobs(ext, connected):
    """Credits are charged when a job ends: the Balance panel, while on screen, refreshes by itself (in the
    background); with nobody looking no request is made."""
    from recorder import draw

    state = bpy.context.window_manager.tripo
    assert bpy.ops.tripo.text_to_model(prompt="a jug", wait=True) == {'FINISHED'}
    drain_until(ext, lambda: not ext.runtime.busy())  # (its preview image comes in the background)

    def balance_gets():
        return [r for r in connected.emulator.requests(method="GET", key=connected.api_key)
                if r["route"] == "balance"]

    assert not state.balance_known and balance_gets() == []  # the panel was never drawn: nothing asked
    draw(bpy.types.TRIPO_PT_account)
    assert bpy.app.timers.is_registered(ext.panels._ask_balance)  # shown: asked for soon, never from draw()
    bpy.app.timers.unregister(ext.panels._ask_balance)
    ext.panels._ask_balance()  # (timers never fire in the bpy module)
    ext.runtime.background.join(10.0)
    ext.poller.drain()  # shown: the balance is asked for once, in the background
    assert state.balance_known and len(balance_gets()) == 1
    start = connected.emulator.balance(connected.api_key)["balance"]
    assert bpy.ops.tripo.text_to_model(prompt="a vase", wait=True) == {'FINISHED'}
    drain_until(ext, lambda: len(balance_gets()) == 2 and not ext.runtime.background.active())
    ext.poller.drain()
    vase = state.tasks[-1]
    assert vase.name == "a vase" and vase.credits > 0 and state.balance == start - vase.credits


def test_poller_slows_down_while_workers_sleep(ext, connected):
    """The modal poller ticks every TICK while anything may arrive and every IDLE_TICK while all workers sleep until
    their next poll; the result still arrives and is imported."""
    ext.runtime.shutdown()
    ext.runtime.engine_options.update(poll_min=2.0, poll_max=4.0)
    cls = bpy.types.TRIPO_OT_poller
    fake = SimpleNamespace(_timer=None)
    bpy.ops.tripo.text_to_model(prompt="a slow snail")
    paces = []
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (_row() and _row().imported):
        cls.modal(fake, bpy.context, TIMER)
        paces.append(ext.poller.current_pace())
        time.sleep(0.02)
    assert _row().imported
    assert ext.poller.IDLE_TICK in paces and ext.poller.TICK in paces
    assert paces[-1] == ext.poller.TICK or not ext.runtime.busy()
