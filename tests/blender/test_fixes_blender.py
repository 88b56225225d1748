"""Issue 16 (others), the Blender side: clips keep their own names, a multi-clip retarget leaves its armature active,
redo after undoing an import, the redraw of a handled tick, and LOD limits that would pay for nothing. Real bpy, real
HTTP to the emulator."""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import drain_until, new_objects, posts


def _row(job_id):
    return next((i for i in bpy.context.window_manager.tripo.tasks if i.job_id == job_id), None)


def _decimations(emulator, key) -> list[int]:
    return [r["body"].get("face_limit") for r in posts(emulator, key)
            if r["body"].get("type") == "highpoly_to_lowpoly"]


# ==================================================================================================== clips
def _clip_file(path, *, animated: bool, shift: float) -> str:
    """A rigged clip file as Tripo sends one per preset (an armature; with ``animated``, its action)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.object.armature_add()
    arm = bpy.context.active_object
    arm.name = "Armature"
    if animated:
        bpy.ops.object.mode_set(mode='POSE')
        bone = arm.pose.bones[0]
        bone.location = (0.0, 0.0, 0.0)
        bone.keyframe_insert("location", frame=1)
        bone.location = (0.0, shift, 0.0)
        bone.keyframe_insert("location", frame=10)
        bpy.ops.object.mode_set(mode='OBJECT')
    bpy.ops.export_scene.gltf(filepath=str(path), export_format='GLB', export_animations=animated)
    return str(path)


def test_a_clip_without_animation_names_no_other_clip(ext, tmp_path):
    files = [_clip_file(tmp_path / "walk.glb", animated=True, shift=1.0),
             _clip_file(tmp_path / "run.glb", animated=False, shift=2.0),
             _clip_file(tmp_path / "jump.glb", animated=True, shift=3.0)]
    bpy.ops.wm.read_homefile(use_empty=True)
    before = set(bpy.data.actions)
    import importlib

    from blender_helpers import MODULE

    game_io = importlib.import_module(f"{MODULE}.blender.game_io")
    result = game_io.import_clips(bpy.context, files, ["preset:walk", "preset:run", "preset:jump"],
                                      title="a knight", provenance={"tripo_task_id": "t1"})
    arm = next(o for o in result.objects if o.type == 'ARMATURE')
    got = {a.name: a for a in bpy.data.actions if a not in before}
    assert sorted(got) == ["jump", "walk"]  # "run" had no animation: the jump is not called "run"
    assert [t.name for t in arm.animation_data.nla_tracks] == ["walk", "jump"]
    ys = [max(k.co[1] for c in _fcurves(got[n]) for k in c.keyframe_points) for n in ("walk", "jump")]
    assert ys == pytest.approx([1.0, 3.0])  # each action is its own clip's motion
    assert list(arm["tripo_clips"]) == ["walk", "jump"] and list(arm["tripo_clips_missing"]) == ["run"]
    assert bpy.context.active_object == arm and arm.select_get()


def _fcurves(action):
    curves = getattr(action, "fcurves", None)
    if curves is not None and len(curves):
        return list(curves)
    out = []  # Blender 5: layered actions
    for layer in getattr(action, "layers", ()):
        for strip in layer.strips:
            for bag in strip.channelbags:
                out += list(bag.fcurves)
    return out


@pytest.fixture
def v3(connected):
    connected.prefs.api_base_url = connected.emulator.v3_base_url
    yield connected


def test_retarget_of_several_clips_leaves_the_armature_active_as_the_readme_says(ext, v3):
    assert bpy.ops.tripo.text_to_model(prompt="a knight", wait=True) == {'FINISHED'}
    assert bpy.ops.tripo.animate_rig(model_version="v3.0-20260909", spec="unreal", wait=True) == {'FINISHED'}
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.animate_retarget(animations={"preset:walk", "preset:run", "preset:jump"},
                                          wait=True) == {'FINISHED'}
    arm = bpy.context.active_object  # the README's next line
    assert arm is not None and arm.type == 'ARMATURE' and arm in new_objects(before) and arm.select_get()
    assert sorted(t.name for t in arm.animation_data.nla_tracks) == ["jump", "run", "walk"]
    assert sorted(arm["tripo_clips"]) == ["jump", "run", "walk"]
    assert all(o.select_get() for o in new_objects(before) if o.name in bpy.context.view_layer.objects)


# ==================================================================================================== undo, redo
def test_redo_after_undoing_an_import_is_imported_again_not_removed(ext, connected):
    bpy.ops.mesh.primitive_cube_add(location=(0.0, 0.0, 3.0))
    bpy.ops.ed.undo_push(message="the user's cube")
    assert bpy.ops.tripo.text_to_model(prompt="a barrel") == {'FINISHED'}
    job_id = ext.runtime.engine().jobs()[-1]["id"]
    drain_until(ext, lambda: _row(job_id) is not None and _row(job_id).imported)
    eng = ext.runtime.engine()
    bpy.ops.ed.undo()  # the import's own undo step goes
    assert not [o for o in bpy.data.objects if o.get("tripo_task_id")]
    assert not _row(job_id).imported and _row(job_id).notice == ext.tasklist.UNDONE_TEXT
    bpy.ops.ed.redo()  # and comes back
    back = sorted(o.name for o in bpy.data.objects if o.get("tripo_task_id") and o.type == 'MESH')
    assert back
    row = _row(job_id)
    assert row.imported and row.notice != ext.tasklist.UNDONE_TEXT and eng.get(job_id)["imported"]
    ext.drain.drain()  # later updates keep saying so
    assert _row(job_id).imported and "Removed by undo" not in _row(job_id).notice
    bpy.ops.ed.undo()  # and the watch goes on: undone again, offered again
    assert not _row(job_id).imported and _row(job_id).notice == ext.tasklist.UNDONE_TEXT
    assert bpy.ops.tripo.import_result(job_id=job_id) == {'FINISHED'}
    meshes = [o.name for o in bpy.data.objects if o.get("tripo_task_id") and o.type == 'MESH']
    assert len(meshes) == len(back)  # one copy, not a duplicate


# ==================================================================================================== redraw
def test_a_handled_tick_redraws_the_sidebar_not_the_viewport(ext):
    regions = ext.tasklist.redraw_regions(bpy.context)
    areas = [a for w in bpy.context.window_manager.windows for a in w.screen.areas if a.type == 'VIEW_3D']
    assert areas  # the default layout has a 3D View
    sidebars = [r for a in areas for r in a.regions if r.type == 'UI']
    assert regions and all(r.type in ('UI', 'WINDOW') for r in regions)
    assert {r.as_pointer() for r in regions} >= {r.as_pointer() for r in sidebars}
    viewports = {r.as_pointer() for a in areas for r in a.regions if r.type != 'UI'}
    assert not viewports & {r.as_pointer() for r in regions}  # never the viewport, header or tools of a 3D View
    ext.tasklist.tag_redraw(bpy.context)


# ==================================================================================================== LODs
def _sphere(subdivisions: int):
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=subdivisions, radius=1.0)
    obj = bpy.context.active_object
    obj.name = "Crate"
    return obj


def test_a_repeated_face_limit_is_paid_once_and_said(ext, connected, capfd):
    _sphere(5)  # 5,120 faces
    assert bpy.ops.tripo.make_lods(face_limits="5000,5000", wait=True) == {'FINISHED'}
    assert _decimations(connected.emulator, connected.api_key) == [5000]
    coll = bpy.data.collections["Crate_LODs"]
    assert [o.name for o in coll.objects] == ["Crate_LOD0"]
    said = capfd.readouterr()
    assert "5,000 given more than once" in said.out + said.err


def test_levels_at_or_above_the_source_faces_cost_nothing(ext, connected, capfd):
    src = _sphere(4)  # 1,280 faces
    assert ext.operators.lod.source_faces([src]) == 1280
    n = len(posts(connected.emulator, connected.api_key, "upload"))
    with pytest.raises(RuntimeError, match=r"at or above the 1,280 faces of Crate"):
        bpy.ops.tripo.make_lods(face_limits="8000, 4000, 1500", wait=True)
    assert _decimations(connected.emulator, connected.api_key) == []
    assert len(posts(connected.emulator, connected.api_key, "upload")) == n  # not even uploaded
    assert bpy.ops.tripo.make_lods(face_limits="8000, 1000, 1000", wait=True) == {'FINISHED'}
    assert _decimations(connected.emulator, connected.api_key) == [1000]
    said = capfd.readouterr()
    text = said.out + said.err
    assert "8,000 at or above the source's 1,280 faces" in text and "1,000 given more than once" in text


def test_the_readmes_game_ready_example(ext, v3):
    """The README's scripting example, line by line, against the emulator (whose crate has 876 faces)."""
    bpy.ops.tripo.text_to_model(prompt="a knight", wait=True)
    bpy.ops.tripo.animate_rig(model_version="v3.0-20260909", spec="unreal", wait=True)
    bpy.ops.tripo.animate_retarget(animations={"preset:walk", "preset:run", "preset:jump"}, wait=True)
    arm = bpy.context.active_object                 # one armature; actions walk, run, jump
    assert arm.type == 'ARMATURE' and sorted(t.name for t in arm.animation_data.nla_tracks) == ["jump", "run", "walk"]
    bpy.ops.tripo.text_to_model(prompt="a wooden crate", wait=True)
    faces = ext.operators.lod.source_faces([bpy.context.active_object])
    assert faces < 1500  # every level of the example would be the crate itself again: refused, nothing paid
    with pytest.raises(RuntimeError, match=f"at or above the {faces:,} faces"):
        bpy.ops.tripo.make_lods(face_limits="8000, 4000, 1500", smart_uv=True, export_fbx=True, wait=True)
    assert _decimations(v3.emulator, v3.api_key) == []
    assert bpy.ops.tripo.make_lods(face_limits=f"8000, {faces - 100}, 600", smart_uv=True, export_fbx=True,
                                   wait=True) == {'FINISHED'}
    coll = bpy.data.collections["Wooden_crate_LODs"]  # (the name from the prompt: no article)
    assert sorted(o.name for o in coll.objects) == ["Wooden_crate_LOD0", "Wooden_crate_LOD1"]
    assert (ext.settings.download_dir() / "Wooden_crate_LODs.fbx").exists()


# ==================================================================================================== exports
def _exports(ext) -> set[str]:
    return {p.name for p in ext.settings.exports_dir().iterdir() if p.is_file()}


def test_exports_no_job_needs_are_cleared_and_the_others_kept(ext, connected, monkeypatch):
    from blender_helpers import get_prefs

    scene_export = ext.scene_export
    for old in ext.settings.exports_dir().iterdir():  # earlier tests' leftovers
        if old.is_file():
            old.unlink()
    monkeypatch.setattr(scene_export, "EXPORT_GRACE", 1.0)
    monkeypatch.setattr(scene_export, "SWEEP_EVERY", 0.0)
    # 1. refused before sending (the cost is above the threshold): its mesh was exported all the same
    _sphere(4)
    get_prefs().confirm_above = 0.5
    try:
        with pytest.raises(RuntimeError, match="above your confirmation threshold"):
            bpy.ops.tripo.make_lods(face_limits="600", wait=True)
    finally:
        get_prefs().confirm_above = 0.0
    refused = _exports(ext)
    assert len(refused) == 1
    # 2. refused by Tripo at the mesh's import: Retry sends the file again, so it is kept
    connected.emulator.inject(route="create", kind="status", status=400, code=1004, count=-1,
                              match={"key": connected.api_key, "type": "import_model"})
    bpy.context.active_object.name = "Rock"
    with pytest.raises(RuntimeError):
        bpy.ops.tripo.make_lods(face_limits="600", wait=True)
    connected.emulator.clear_faults()
    failed_job = ext.runtime.engine().jobs()[-1]["id"]
    kept = _exports(ext) - refused
    assert len(kept) == 1
    import time

    time.sleep(1.2)  # both older than the grace now
    assert scene_export.sweep_exports(wait=True) is not None
    assert _exports(ext) == kept  # the refused job's mesh went; the retryable one's stayed
    # 3. the next export sweeps by itself (in the background), and a removed job's mesh goes too
    ext.runtime.engine().forget(failed_job)
    bpy.context.active_object.name = "Pebble"
    assert bpy.ops.tripo.make_lods(face_limits="600", wait=True) == {'FINISHED'}
    scene_export.wait_sweep()
    assert not _exports(ext) & kept
    assert not any(p.startswith("Pebble") for p in _exports(ext))  # a sent, finished job's mesh is gone too
