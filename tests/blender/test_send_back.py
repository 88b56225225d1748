"""The user's own mesh sent to Tripo: exported to GLB, uploaded through STS, import_model (+ a step) as one job."""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import new_objects, posts


def test_send_selected_round_trip_keeps_the_mesh(ext, connected, user_mesh):
    n_verts = len(user_mesh.data.vertices)
    n_faces = len(user_mesh.data.polygons)
    source_place = ext.scene_export.source_location([user_mesh])
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.import_model(wait=True) == {'FINISHED'}
    objs = new_objects(before)
    meshes = [o for o in objs if o.type == 'MESH']
    assert len(meshes) == 1
    back = meshes[0]
    assert len(back.data.vertices) == n_verts and len(back.data.polygons) == n_faces
    assert back["tripo_task_type"] == "import_model" and back["tripo_task_id"]
    assert user_mesh.hide_get() and bpy.context.active_object == back
    bpy.context.view_layer.update()
    assert ext.scene_export.source_location([back]) == pytest.approx(source_place, abs=1e-3)
    assert posts(connected.emulator, connected.api_key, "upload")  # the mesh went up (v2: STS, v3: /v3/files)
    body = posts(connected.emulator, connected.api_key)[-1]["body"]
    assert body["type"] == "import_model"
    upload = body["file"]
    assert ("object" in upload) if connected.emulator.base_url.endswith("/v2/openapi") else \
        str(upload).startswith("file_")


def test_step_on_own_mesh_is_one_job(ext, connected, user_mesh):
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.texture_model(texture_prompt="rusty metal", wait=True) == {'FINISHED'}
    objs = new_objects(before)
    assert objs and all(o["tripo_task_type"] == "texture_model" for o in objs)
    assert [p["body"]["type"] for p in posts(connected.emulator, connected.api_key)] == ["import_model",
                                                                                      "texture_model"]
    state = bpy.context.window_manager.tripo
    assert len(state.tasks) == 1 and state.tasks[0].steps == 2
    # and the result is a Tripo model now: its next steps go by task id, without another upload
    assert bpy.ops.tripo.animate_retarget.poll() is False
    assert bpy.ops.tripo.convert_model(format='FBX', wait=True) == {'FINISHED'}
    assert len(posts(connected.emulator, connected.api_key, "upload")) == 1


def test_rig_own_mesh_checks_first(ext, connected, user_mesh):
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.animate_rig(wait=True) == {'FINISHED'}
    assert any(o.type == 'ARMATURE' for o in new_objects(before))
    types = [p["body"]["type"] for p in posts(connected.emulator, connected.api_key)]
    assert types == ["import_model", "animate_prerigcheck", "animate_rig"]


def test_retarget_own_mesh_rigs_it_first(ext, connected, user_mesh):
    """Animating the user's own mesh: import, rig check, rig and retarget as one job; an animated armature lands."""
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.animate_retarget(animation="preset:walk", wait=True) == {'FINISHED'}
    objs = new_objects(before)
    arm = next((o for o in objs if o.type == 'ARMATURE'), None)
    assert arm is not None and arm.animation_data is not None
    assert arm.animation_data.action or any(t.strips for t in arm.animation_data.nla_tracks)
    assert all(o["tripo_task_type"] == "animate_retarget" for o in objs)
    types = [p["body"]["type"] for p in posts(connected.emulator, connected.api_key)]
    assert types == ["import_model", "animate_prerigcheck", "animate_rig", "animate_retarget"]
    state = bpy.context.window_manager.tripo
    assert len(state.tasks) == 1 and state.tasks[0].steps == 4


def test_send_without_a_mesh_is_refused(ext, connected):
    bpy.ops.object.empty_add()
    with pytest.raises(RuntimeError, match="(?i)mesh"):
        bpy.ops.tripo.import_model(wait=True)
    assert connected.emulator.requests(key=connected.api_key) == []


def test_late_result_after_opening_another_file_hides_nothing(ext, connected, user_mesh, tmp_path):
    """A step on MyRock finishes after another file (with its own "MyRock") was opened: it is not imported there by
    itself (issue 10.6: results belong to their file), the row offers Import; imported by hand, it lands and that
    object stays visible."""
    assert bpy.ops.tripo.texture_model(texture_prompt="moss") == {'FINISHED'}  # not waited for
    bpy.ops.wm.read_homefile(use_empty=True)  # (load_post runs, as for any file opened)
    bpy.ops.mesh.primitive_cube_add()
    other = bpy.context.active_object
    other.name = "MyRock"
    before = set(bpy.data.objects)
    row = lambda: bpy.context.window_manager.tripo.tasks[-1]  # noqa: E731
    from blender_helpers import drain_until

    eng = ext.runtime.engine()
    job_id = eng.jobs()[-1]["id"]
    drain_until(ext, lambda: eng.get(job_id)["state"] == "succeeded" and not ext.runtime.busy())
    ext.drain.drain()
    assert new_objects(before) == [] and not row().imported and "press Import" in row().notice
    assert bpy.ops.tripo.import_result(job_id=job_id) == {'FINISHED'}
    assert new_objects(before) and row().imported
    assert not other.hide_get() and not other.hide_render
