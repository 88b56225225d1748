"""Online access off: nothing connects and the UI says why. Resume across unregister/register and a new process.
The key never lands in a .blend file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import bpy
import pytest
from blender_helpers import MODULE, REPO, disable, drain_until, enable, get_prefs, posts, tripo_threads
from recorder import draw

TASK_OPS = ("text_to_image", "generate_image", "text_to_model", "image_to_model", "multiview_to_model",
            "refine_model", "texture_model", "import_model", "mesh_segmentation", "mesh_completion",
            "highpoly_to_lowpoly", "animate_prerigcheck", "animate_rig", "animate_retarget", "stylize_model",
            "convert_model")


def _set_prefs(connected):
    p = get_prefs()
    p.api_key = connected.api_key
    p.api_base_url = connected.emulator.base_url
    p.download_dir = str(connected.tmp / "downloads")
    p.ca_bundle = connected.emulator.s3_ca_file or ""
    return p


def test_offline_nothing_connects(ext, connected):
    bpy.ops.mesh.primitive_cube_add()  # an active mesh: only online access is missing
    bpy.context.preferences.system.use_online_access = False
    assert bpy.app.online_access is False
    live = [t for t in TASK_OPS if not ext.catalog.retired_reason(t)]  # retired ones say that first
    for name in (*live, "run_pipeline", "attach_task", "test_connection", "refresh_balance", "retry_job"):
        op = getattr(bpy.ops.tripo, name)
        assert op.poll() is False, name
        with pytest.raises(RuntimeError, match="Online access"):
            op(wait=True) if "wait" in op.get_rna_type().properties else op()
    assert "Online access" in draw(bpy.types.TRIPO_PT_generate).text()  # said once, where it is fixed
    assert "Online access" not in draw(bpy.types.TRIPO_PT_tasks).text()
    assert ext.runtime.ensure_resumed() == []
    ext.drain.drain()
    assert connected.emulator.requests(key=connected.api_key) == []


def _wait_for_task_id(ext):
    def task_id():
        ext.drain.drain()
        state = bpy.context.window_manager.tripo
        return state.tasks[0].task_id if len(state.tasks) else ""
    return drain_until(ext, task_id)


def test_resume_across_unregister_register(ext, connected):
    bpy.ops.tripo.text_to_model(prompt="a resumable chair")
    task_id = _wait_for_task_id(ext)
    disable()
    assert tripo_threads() == []
    bpy.ops.wm.read_homefile(use_empty=True)
    enable()
    _set_prefs(connected)  # disabling an add-on drops its preferences
    before = set(bpy.data.objects)
    drain_until(ext, lambda: len(bpy.context.window_manager.tripo.tasks)
                and bpy.context.window_manager.tripo.tasks[0].imported)
    assert [o for o in bpy.data.objects if o not in before]
    assert bpy.context.window_manager.tripo.tasks[0].task_id == task_id
    assert len(posts(connected.emulator, connected.api_key)) == 1  # never sent twice


def test_offline_register_does_not_resume(ext, connected):
    bpy.ops.tripo.text_to_model(prompt="a patient chair")
    _wait_for_task_id(ext)
    disable()
    bpy.context.preferences.system.use_online_access = False
    n = len(connected.emulator.requests(key=connected.api_key))
    enable()
    _set_prefs(connected)
    for _ in range(5):
        ext.drain.drain()
        time.sleep(0.05)
    assert len(connected.emulator.requests(key=connected.api_key)) == n
    assert len(bpy.context.window_manager.tripo.tasks) == 1  # shown from the journal, not followed
    assert tripo_threads() == []
    bpy.context.preferences.system.use_online_access = True
    drain_until(ext, lambda: bpy.context.window_manager.tripo.tasks[0].imported)
    assert len(posts(connected.emulator, connected.api_key)) == 1


CHILD = textwrap.dedent("""
    import json, os, sys, time
    import bpy, addon_utils
    cfg = json.loads(sys.argv[1])
    repos = bpy.context.preferences.extensions.repos
    if not any(r.module == cfg["repo"] for r in repos):
        repos.new(name=cfg["repo"], module=cfg["repo"], custom_directory=cfg["repo_dir"], source='USER')
    def fail(exc):
        raise exc
    addon_utils.enable(cfg["module"], default_set=True, handle_error=fail)
    bpy.context.preferences.system.use_online_access = True
    p = bpy.context.preferences.addons[cfg["module"]].preferences
    p.api_key, p.api_base_url, p.download_dir = cfg["key"], cfg["url"], cfg["downloads"]
    p.ca_bundle = cfg["ca"]
    import importlib
    runtime = importlib.import_module(cfg["module"] + ".blender.runtime")
    drain = importlib.import_module(cfg["module"] + ".blender.drain")
    runtime.engine_options.update(poll_min=0.05, poll_max=0.5)
    deadline = time.monotonic() + 60
    state = bpy.context.window_manager.tripo
    while time.monotonic() < deadline:
        drain.drain()
        if len(state.tasks) and state.tasks[0].imported:
            break
        time.sleep(0.05)
    print("RESULT " + json.dumps({"rows": len(state.tasks), "imported": bool(len(state.tasks)
          and state.tasks[0].imported), "objects": [o.name for o in bpy.data.objects],
          "task_id": state.tasks[0].task_id if len(state.tasks) else ""}))
    sys.stdout.flush()
    addon_utils.disable(cfg["module"], default_set=True)
    os._exit(0)
""")


def test_resume_in_a_new_process(ext, connected, repo_dir):
    bpy.ops.tripo.text_to_model(prompt="a chair from before")
    task_id = _wait_for_task_id(ext)
    disable()  # this process stops following it; the journal keeps it
    try:
        cfg = {"repo": REPO, "repo_dir": str(repo_dir), "module": MODULE, "key": connected.api_key,
               "url": connected.emulator.base_url, "downloads": str(connected.tmp / "downloads"),
               "ca": connected.emulator.s3_ca_file or ""}
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True,
                              timeout=180, env={**os.environ, "PYTHONPATH": ""})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
        result = json.loads(line[len("RESULT "):])
        assert result["imported"] and result["task_id"] == task_id and result["objects"]
        assert len(posts(connected.emulator, connected.api_key)) == 1
        assert connected.api_key not in proc.stdout + proc.stderr
    finally:
        enable()


def test_key_never_saved_in_blend(ext, connected, tmp_path):
    assert bpy.ops.tripo.text_to_model(prompt="a saved chair", wait=True) == {'FINISHED'}
    bpy.ops.tripo.refresh_balance(wait=True)
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=False)
    data = path.read_bytes()
    assert b"tripo_task_id" in data  # the file is searchable: provenance is in it
    assert connected.api_key.encode() not in data
    for f in ext.settings.state_dir().rglob("*"):
        if f.is_file():
            assert connected.api_key.encode() not in f.read_bytes(), f


def test_online_access_turned_off_mid_job_pauses_then_resumes(ext, connected):
    """Switching online access off while a job runs stops all traffic at once (the row says why); switching it on
    again continues the same task: one POST /task in all, and the result is imported."""
    system = bpy.context.preferences.system
    emu = connected.emulator
    scale = emu.time_scale
    emu.configure(time_scale=max(scale, 0.05))  # a 3 s task: still running when access goes off, on any machine
    try:
        bpy.ops.tripo.text_to_model(prompt="a paused lamp")
        task_id = _wait_for_task_id(ext)
    finally:
        emu.configure(time_scale=scale)
    system.use_online_access = False
    ext.drain.drain()
    row = bpy.context.window_manager.tripo.tasks[0]
    assert "online access is off" in row.notice.lower()
    deadline = time.monotonic() + 10
    while tripo_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t for t in tripo_threads() if t.name.startswith("tripo-job-")]
    seen = len(connected.emulator.requests(key=connected.api_key))
    time.sleep(1.0)
    ext.drain.drain()
    assert len(connected.emulator.requests(key=connected.api_key)) == seen  # nothing connects while offline
    assert not row.imported and ext.runtime.resumed() is False
    system.use_online_access = True
    drain_until(ext, lambda: bpy.context.window_manager.tripo.tasks[0].imported)
    assert bpy.context.window_manager.tripo.tasks[0].task_id == task_id
    assert len(posts(connected.emulator, connected.api_key)) == 1
    assert any(o.get("tripo_task_id") == task_id for o in bpy.data.objects)
