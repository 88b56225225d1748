"""Issue 10 in the Blender layer: no result lost by the task list, each event applied on its own (bpy module, real
HTTP to the emulator)."""

from __future__ import annotations

import time

import bpy
from blender_helpers import drain_until, new_objects


def _row(job_id):
    for item in bpy.context.window_manager.tripo.tasks:
        if item.job_id == job_id:
            return item
    return None


def _wait(predicate, timeout: float = 60.0, what: str = "condition"):
    """Wait WITHOUT draining (the main thread is busy elsewhere: the events pile up in the queue)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in time")


# ---------------------------------------------------------------------------------------------------- item 1
def test_removing_a_job_keeps_the_other_jobs_results(ext, connected):
    """Issue 10.1: Remove (forget) used to drain and drop every queued event: a job that finished meanwhile was never
    imported. A removed running job's row must not come back when its worker ends."""
    emu, key = connected.emulator, connected.api_key
    emu.inject(route="download", kind="slow_body", seconds=30, match={"owner": key, "type": "text_to_image"})
    rt = ext.runtime
    before = set(bpy.data.objects)
    done = rt.submit(ext.pipelines.text_to_model("a bowl that finishes"))
    slow = rt.submit(ext.pipelines.text_to_image("a picture that trickles in"))
    eng = rt.engine()
    _wait(lambda: eng.get(done)["state"] == "succeeded", what="the first job finished")
    _wait(lambda: eng.get(slow)["state"] == "downloading", what="the second job downloading")
    assert not eng.events.empty()  # the first job's events wait for the main thread

    assert bpy.ops.tripo.remove_job(job_id=slow) == {'FINISHED'}
    drain_until(ext, lambda: _row(done) is not None and _row(done).imported, timeout=20)
    assert new_objects(before)  # the finished job was imported
    _wait(lambda: not eng.is_running(slow), timeout=20, what="the removed job's worker ended")
    ext.drain.drain()
    assert _row(slow) is None  # its worker ended (cancelled) after the removal: no row comes back
    assert all(j["id"] != slow for j in eng.jobs())


# ---------------------------------------------------------------------------------------------------- item 2
def test_a_message_blender_cannot_store_does_not_lose_other_results(ext, connected):
    """Issue 10.2: a task error holding a lone surrogate made the row's string property raise, and drain() dropped
    the rest of the batch, so a finished job was never imported. Each event is applied on its own; the message is
    shown escaped."""
    emu, key = connected.emulator, connected.api_key
    emu.inject(route="create", kind="fail_task", error_code=4242, error_msg="bad byte \udc80 here",
               match={"key": key})
    rt = ext.runtime
    before = set(bpy.data.objects)
    bad = rt.submit(ext.pipelines.text_to_model("a thing that fails oddly"))
    eng = rt.engine()
    _wait(lambda: eng.get(bad)["state"] == "failed", what="the first job failed")
    assert "\udc80" in eng.get(bad)["error"]
    good = rt.submit(ext.pipelines.text_to_model("a cup that finishes"))
    _wait(lambda: eng.get(good)["state"] == "succeeded", what="the second job finished")

    drain_until(ext, lambda: _row(good) is not None and _row(good).imported, timeout=20)
    assert new_objects(before)
    row = _row(bad)
    assert row is not None and row.state == "failed"
    assert "bad byte \\udc80 here" in row.error  # shown, escaped


def test_an_event_that_fails_to_apply_is_reported_and_the_others_go_on(ext, connected):
    """Issue 10.2: any event that cannot be applied is reported on its row; the next events are still applied."""
    from bl_ext.dev.tripo_addon.jobs.events import Event

    rt = ext.runtime
    before = set(bpy.data.objects)
    first = rt.submit(ext.pipelines.text_to_model("a plate"))
    eng = rt.engine()
    _wait(lambda: eng.get(first)["state"] == "succeeded", what="the first job finished")
    drain_until(ext, lambda: _row(first) is not None and _row(first).imported, timeout=20)
    eng.events.put(Event(first, "notice", {"id": first, "progress": "lots"}, "a broken snapshot"))
    good = rt.submit(ext.pipelines.text_to_model("a spoon"))
    _wait(lambda: eng.get(good)["state"] == "succeeded", what="the second job finished")
    drain_until(ext, lambda: _row(good) is not None and _row(good).imported, timeout=20)
    assert len(new_objects(before)) >= 2
    assert "could not be shown" in _row(first).notice


# ---------------------------------------------------------------------------------------------------- item 5
def test_default_download_folder_is_the_users_own(ext, connected, monkeypatch, tmp_path):
    """Issue 10.5: with no folder set, results go to ~/Documents/Tripo (a folder the user owns and sees), never
    into the extension's user folder, which Blender deletes on uninstall; the preferences say where."""
    from pathlib import Path

    from recorder import Recorder

    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    connected.prefs.download_dir = ""
    rt = ext.runtime
    expected = home / "Documents" / "Tripo"
    assert ext.settings.default_download_dir() == expected
    ext_user = Path(bpy.utils.extension_path_user(ext.settings.base_package, create=False))
    assert not expected.is_relative_to(ext_user)

    layout = Recorder()
    connected.prefs.show_section = 'NETWORK'
    ext.preferences.draw_preferences(connected.prefs, layout, bpy.context)
    connected.prefs.show_section = 'ACCOUNT'
    text = layout.text()
    assert str(expected) in text and "stay there when the add-on is removed" in text

    assert bpy.ops.tripo.text_to_model(prompt="a kept result", wait=True) == {'FINISHED'}
    job = rt.engine().jobs()[-1]
    assert job["result_files"] and all(Path(f).is_relative_to(expected) for f in job["result_files"])
    assert all(Path(f).is_file() for f in job["result_files"])
    # a user with no Documents folder: ~/Tripo
    (home / "Documents").rename(home / "Docs")
    assert ext.settings.default_download_dir() == home / "Tripo"
    # a Linux desktop whose documents folder has another name (user-dirs.dirs)
    import sys

    if sys.platform.startswith("linux"):
        (home / ".config").mkdir()
        (home / ".config" / "user-dirs.dirs").write_text('XDG_DOCUMENTS_DIR="$HOME/Dokumente"\n')
        (home / "Dokumente").mkdir()
        assert ext.settings.default_download_dir() == home / "Dokumente" / "Tripo"


# ---------------------------------------------------------------------------------------------------- item 17
def _bad_folder(kind, tmp_path):
    if kind == "root":
        return "/"
    if kind == "relative-unsaved":
        return "//results"
    f = tmp_path / "a-file.txt"
    f.write_text("not a folder")
    return str(f)


@__import__("pytest").mark.parametrize("kind", ["root", "relative-unsaved", "regular-file"])
def test_unusable_download_folder_is_refused_with_a_remedy(ext, connected, kind, tmp_path, monkeypatch):
    """Issue 10.17: "/", "//relative" with an unsaved file and a regular file are refused before anything is sent,
    with what to do; attach is refused the same way; test connection and refresh balance work (no traceback)."""
    import os

    import pytest

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert not bpy.data.filepath
    connected.prefs.download_dir = _bad_folder(kind, tmp_path)
    emu, key = connected.emulator, connected.api_key
    with pytest.raises(RuntimeError) as info:
        bpy.ops.tripo.text_to_model(prompt="a chair", wait=True)
    msg = str(info.value)
    assert "download folder" in msg and "preferences" in msg and "Traceback" not in msg, msg
    with pytest.raises(RuntimeError) as info:
        bpy.ops.tripo.attach_task(task_id="1ec04ced-4b87-44f6-a296-beee80777941", wait=True)
    msg = str(info.value)
    assert "download folder" in msg and "preferences" in msg and "Traceback" not in msg, msg
    assert bpy.ops.tripo.test_connection(wait=True) == {'FINISHED'}
    assert bpy.ops.tripo.refresh_balance(wait=True) == {'FINISHED'}
    assert [r for r in emu.requests(method="POST", key=key) if r["route"] == "create"] == []
    assert os.listdir(cwd) == []  # nothing written where Blender was started
    assert ext.settings.download_folder_note(connected.prefs)  # the preferences show the problem


# ---------------------------------------------------------------------------------------------------- item 16
def test_parallel_tasks_applies_without_a_restart(ext, connected):
    """Issue 10.16: "Parallel Tasks" used to be read only when the engine started."""
    connected.prefs.max_parallel = 10
    rt = ext.runtime
    eng = rt.engine()
    first = rt.submit(ext.pipelines.text_to_model("a first pebble"))
    drain_until(ext, lambda: eng.get(first)["state"] == "succeeded", timeout=60)

    def gen():  # the account pool text_to_model counts against (named by the API's dialect)
        return next(s for name, s in eng.slots.items() if name.endswith("generation"))

    assert gen().limit == 10
    connected.prefs.max_parallel = 1  # the preference's update callback: the existing pool follows at once
    assert gen().limit == 1
    gen().peak = 0
    ids = [rt.submit(ext.pipelines.text_to_model(f"a pebble {i}")) for i in range(3)]
    seen: set[str] = set()

    def all_done():
        for item in bpy.context.window_manager.tripo.tasks:
            seen.add(item.notice)
        return all(eng.get(i)["state"] == "succeeded" for i in ids)

    drain_until(ext, all_done, timeout=60)
    assert gen().peak == 1  # one at a time
    assert any("Waiting for a free Tripo slot" in n for n in seen)
    connected.prefs.max_parallel = 10
    assert gen().limit == 10


def test_zip_results_are_extracted_once_in_the_worker(ext, connected, monkeypatch):
    """Issue 10.16: an OBJ (zip) result is extracted by the worker with the checked extractor; Import and Import
    Again only read the extracted files (no extraction on the main thread)."""
    from pathlib import Path

    connected.prefs.auto_import = False
    rt = ext.runtime
    job_id = rt.submit(ext.pipelines.text_to_final("a crate", format="OBJ"))
    eng = rt.engine()
    drain_until(ext, lambda: eng.get(job_id)["state"] in ("succeeded", "failed"), timeout=60)
    snap = eng.get(job_id)
    assert snap["state"] == "succeeded", snap["error"]
    zips = [Path(f) for f in snap["result_files"] if f.endswith(".zip")]
    assert zips
    members = zips[0].with_name(zips[0].stem + "_files")
    assert (members / ".tripo-extracted.json").is_file()  # extracted before the main thread saw the result
    assert any(p.suffix == ".obj" for p in members.rglob("*"))

    def no_extraction(*_a, **_k):
        raise AssertionError("a zip was extracted on the main thread")

    monkeypatch.setattr(ext.scene_io, "safe_extract", no_extraction)
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.import_result(job_id=job_id) == {'FINISHED'}
    first = new_objects(before)
    assert first
    assert bpy.ops.tripo.import_result(job_id=job_id) == {'FINISHED'}  # Import Again
    assert len(new_objects(before)) == 2 * len(first)


# ---------------------------------------------------------------------------------------------------- item 4
def test_saved_choices_survive_a_new_model_version(ext, tmp_path, monkeypatch):
    """Issue 10.4: Blender stores an enum's number; dynamic items numbered by position turned a saved v2.5 into
    another version once the catalogue gained one at the front. Items carry stable numbers now."""
    import dataclasses

    cat = ext.catalog
    settings = bpy.context.scene.tripo
    chosen = {}
    for name in ("model_version", "texture_quality", "geometry_quality"):
        p = cat.param("text_to_model", name)
        assert p is not None and len(p.choices) >= 2, name
        chosen[name] = str(p.choices[1])  # not the first, not Auto
        setattr(settings, name, chosen[name])
    path = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))

    real = cat.param

    def newer_catalogue(task_type, name):  # a release that adds a choice at the front of every list
        p = real(task_type, name)
        if p is None or not p.choices:
            return p
        return dataclasses.replace(p, choices=(f"new-{name}-first",) + tuple(p.choices))

    monkeypatch.setattr(cat, "param", newer_catalogue)
    cat._enum_cache.clear()
    bpy.ops.wm.open_mainfile(filepath=str(path))
    settings = bpy.context.scene.tripo
    for name, value in chosen.items():
        assert getattr(settings, name) == value, name
    numbers = [i[3] for i in cat.enum_items("text_to_model", "model_version")]
    assert len(set(numbers)) == len(numbers)  # no two items share a number
    monkeypatch.undo()
    cat._enum_cache.clear()
    bpy.ops.wm.read_homefile(use_empty=True)


# ---------------------------------------------------------------------------------------------------- item 6
def test_a_result_started_in_another_file_is_offered_not_imported(ext, connected, tmp_path):
    """Issue 10.6: a result belongs to the .blend file it was started from; with another file open the row offers
    Import instead of importing by itself."""
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "a.blend"))
    assert bpy.ops.tripo.text_to_model(prompt="a chair for file A") == {'FINISHED'}
    job_id = ext.runtime.engine().jobs()[-1]["id"]
    bpy.ops.wm.read_homefile(use_empty=True)  # file B
    eng = ext.runtime.engine()
    drain_until(ext, lambda: eng.get(job_id)["state"] == "succeeded" and not ext.runtime.busy())
    for _ in range(3):
        ext.drain.drain()
    row = _row(job_id)
    assert list(bpy.data.objects) == [] and not row.imported and not eng.get(job_id)["imported"]
    assert "press Import" in row.notice
    assert bpy.ops.tripo.import_result(job_id=job_id) == {'FINISHED'}  # the user asks: it lands here
    assert list(bpy.data.objects) and _row(job_id).imported


def test_the_old_files_placement_is_not_applied_in_another_file(ext, connected, user_mesh):
    """Issue 10.6: a post-processed result goes where its source was, in the source's file only; elsewhere it is
    offered, lands at the 3D cursor and hides nothing (an object there may merely share the source's name)."""
    from mathutils import Vector

    assert tuple(ext.scene_export.source_location([user_mesh])) != (0.0, 0.0, 0.0)
    assert bpy.ops.tripo.import_model() == {'FINISHED'}  # send the selected mesh back to Tripo
    job_id = ext.runtime.engine().jobs()[-1]["id"]
    bpy.ops.wm.read_homefile(use_empty=True)  # another file, with an object of the same name
    bpy.ops.mesh.primitive_cube_add(location=(0.0, 0.0, 5.0))
    namesake = bpy.context.active_object
    namesake.name = "MyRock"
    eng = ext.runtime.engine()
    before = set(bpy.data.objects)
    drain_until(ext, lambda: eng.get(job_id)["state"] == "succeeded" and not ext.runtime.busy())
    ext.drain.drain()
    assert new_objects(before) == [] and "press Import" in _row(job_id).notice
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    assert bpy.ops.tripo.import_result(job_id=job_id) == {'FINISHED'}
    objs = new_objects(before)
    assert objs
    bpy.context.view_layer.update()
    assert (Vector(ext.scene_export.source_location(objs)) - Vector((0.0, 0.0, 0.0))).length < 1e-3  # at the cursor
    assert not namesake.hide_get() and not namesake.hide_render


# ---------------------------------------------------------------------------------------------------- item 7
def test_an_import_taken_away_by_undo_can_come_back(ext, connected):
    """Issue 10.7: an auto-import (pushed as its own undo step, from the poller's timer) can be undone, also by
    "Adjust Last Operation" on the user's previous operator; the engine must not keep saying "imported": the row
    offers Import again, and Import brings it back."""
    bpy.ops.mesh.primitive_cube_add(location=(0.0, 0.0, 3.0))  # the user's last operator
    bpy.ops.ed.undo_push(message="the user's cube")
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt="a barrel") == {'FINISHED'}
    job_id = ext.runtime.engine().jobs()[-1]["id"]
    drain_until(ext, lambda: _row(job_id) is not None and _row(job_id).imported)
    assert new_objects(before)
    bpy.ops.mesh.primitive_uv_sphere_add(location=(4.0, 0.0, 0.0))
    bpy.ops.ed.undo_push(message="a sphere")
    bpy.ops.ed.undo()  # an unrelated undo: the result stays, and so does "imported"
    assert [o for o in bpy.data.objects if o.get("tripo_task_id")] and _row(job_id).imported
    bpy.ops.ed.undo()  # the import's own undo step goes
    assert [o for o in bpy.data.objects if o.get("tripo_task_id")] == []
    row = _row(job_id)
    assert not row.imported and "press Import" in row.notice
    eng = ext.runtime.engine()
    assert not eng.get(job_id)["imported"]
    ext.drain.drain()  # later updates keep saying so
    assert "press Import" in _row(job_id).notice and not _row(job_id).imported
    assert bpy.ops.tripo.import_result(job_id=job_id) == {'FINISHED'}
    assert [o for o in bpy.data.objects if o.get("tripo_task_id")] and _row(job_id).imported
    assert eng.get(job_id)["imported"] and not _row(job_id).notice

