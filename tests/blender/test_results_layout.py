"""Clean results in the scene: the first at the 3D cursor, the next ones side by side in a row beside the last result
(never piled up), short names from the prompt (not importer defaults), Euler rotation, no empty helper collections,
images with data."""

from __future__ import annotations

import os
import shutil

import bpy
import pytest
from blender_helpers import drain_until, new_objects


def _bounds(ext, objs):
    bpy.context.view_layer.update()
    return ext.scene_io.world_bounds(objs)


def _overlap(a, b) -> bool:
    return all(a[0][i] < b[1][i] - 1e-6 and b[0][i] < a[1][i] - 1e-6 for i in range(3))


def _results():
    """The imported results of this file, by task id: {task id: [objects]}."""
    out: dict[str, list] = {}
    for o in bpy.data.objects:
        if o.get("tripo_task_id"):
            out.setdefault(o["tripo_task_id"], []).append(o)
    return out


def test_five_jobs_at_once_start_at_the_cursor_and_sit_side_by_side(ext, connected):
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0.0, 0.0, 0.0))  # what the default file has
    bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)
    prompts = ["a chair", "a table", "a lamp", "a vase", "a bell"]
    for prompt in prompts:  # from the sidebar: no wait, the poller imports them as they finish
        assert bpy.ops.tripo.text_to_model(prompt=prompt) == {'FINISHED'}
    drain_until(ext, lambda: len(_results()) == 5)
    boxes = {objs[0].users_collection[0].name: _bounds(ext, objs) for objs in _results().values()}
    assert sorted(boxes) == sorted(p[2:].capitalize() for p in prompts)  # short names from the prompts
    ordered = sorted(boxes.values(), key=lambda b: b[0].x)
    for i, box in enumerate(ordered):
        for other in ordered[i + 1:]:
            assert not _overlap(box, other), (box, other)
        assert (box[0].y + box[1].y) / 2 == pytest.approx(0.0, abs=1e-3)  # one row through the cursor
        assert box[0].z == pytest.approx(0.0, abs=1e-3)  # standing on the cursor's height
    first = ordered[0]
    assert (first[0].x + first[1].x) / 2 == pytest.approx(0.0, abs=1e-3)  # the first one on the cursor itself
    gaps = [b[0].x - a[1].x for a, b in zip(ordered, ordered[1:], strict=False)]
    assert all(0 < g < 2.0 for g in gaps), gaps  # side by side, not scattered


def test_a_result_lands_on_the_cursor_when_the_spot_is_free(ext, connected):
    bpy.context.scene.cursor.location = (4.0, -3.0, 1.0)
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.0, 0.0, 0.0))  # elsewhere: not in the way
    assert bpy.ops.tripo.text_to_model(prompt="a stool", wait=True) == {'FINISHED'}
    lo, hi = _bounds(ext, [o for o in bpy.data.objects if o.get("tripo_task_id")])
    assert ((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z) == pytest.approx((4.0, -3.0, 1.0), abs=1e-3)


def test_names_come_from_the_task_not_the_importer(ext, connected):
    assert bpy.ops.tripo.text_to_model(prompt="a wooden treasure chest", wait=True) == {'FINISHED'}
    chest = bpy.context.active_object
    assert chest.name == "Wooden treasure chest"
    assert chest.users_collection[0].name == "Wooden treasure chest"
    assert bpy.ops.tripo.convert_model(format='FBX', wait=True) == {'FINISHED'}
    fbx = bpy.context.active_object
    assert fbx.users_collection[0].name == "Wooden treasure chest \u00b7 Convert Model"
    assert fbx.name == "Wooden treasure chest \u00b7 Convert Model"
    state = bpy.context.window_manager.tripo
    assert state.tasks[state.active_task].name == "Wooden treasure chest \u2192 Convert Model"
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.convert_model(format='OBJ', wait=True) == {'FINISHED'}  # a step on a step
    assert bpy.context.active_object.users_collection[0].name == "Wooden treasure chest \u00b7 Convert Model 2"
    for obj in new_objects(before) + [chest, fbx]:
        assert obj.name.startswith("Wooden treasure chest"), obj.name
    assert chest["tripo_prompt"] == "a wooden treasure chest"  # the full prompt stays with the object
    assert chest.rotation_mode == 'XYZ'  # Euler, as objects made in Blender (glTF leaves quaternions)


def test_no_empty_helper_collections_are_left(ext, connected):
    assert bpy.ops.tripo.text_to_model(prompt="a knight", wait=True) == {'FINISHED'}
    assert bpy.ops.tripo.animate_rig(rig_type='biped', wait=True) == {'FINISHED'}  # a rigged glTF
    assert [c.name for c in bpy.data.collections if not c.all_objects] == []
    assert bpy.context.active_object.type == 'ARMATURE'
    assert bpy.context.active_object.name == "Knight \u00b7 Rig Model"
    connected.prefs.collection_per_task = False
    try:
        assert bpy.ops.tripo.text_to_model(prompt="a squire", wait=True) == {'FINISHED'}
        assert bpy.ops.tripo.animate_rig(rig_type='biped', wait=True) == {'FINISHED'}
    finally:
        connected.prefs.collection_per_task = True
    assert [c.name for c in bpy.data.collections if not c.all_objects] == []


def test_images_have_their_data_after_the_downloads_are_gone(ext, connected, tmp_path):
    """Every image a result brought is packed or points at a file that exists; a saved file still shows them
    after the download folder is deleted (packed), or names valid paths."""
    assert bpy.ops.tripo.text_to_model(prompt="a painted box", texture=True, wait=True) == {'FINISHED'}
    assert bpy.ops.tripo.convert_model(format='FBX', wait=True) == {'FINISHED'}
    images = [i for i in bpy.data.images if i.source == 'FILE']
    assert images, "the emulator's results carry textures"
    for img in images:  # packed with no path (as glTF does), or a file that exists
        path = bpy.path.abspath(img.filepath)
        assert (img.packed_file is not None and not img.filepath) or os.path.isfile(path), (img.name, path)
    blend = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    shutil.rmtree(connected.prefs.download_dir)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    for img in [i for i in bpy.data.images if i.source == 'FILE']:
        path = bpy.path.abspath(img.filepath)
        assert (img.packed_file is not None and not img.filepath) or os.path.isfile(path), (img.name, path)
        assert img.size[0] > 0, img.name  # the pixels are there


def test_long_prompts_keep_the_step_in_the_name(ext):
    long = "a friendly cartoon robot standing in a T-pose with a very long description"
    name = ext.scene_io.result_name(long + " \u2192 Rig Model", "animate_rig")
    assert name == "Friendly cartoon robot \u00b7 Rig Model"  # a short name from the prompt, whole words
    assert len(name.encode()) <= 56
    assert ext.scene_io.result_name(long, "text_to_model") == "Friendly cartoon robot"
    wide = ext.scene_io.result_name("\u4e00\u4e2a\u6728\u7bb1" * 10, "convert_model")  # 3 bytes a character
    assert len(wide.encode()) <= 56 and wide.endswith("\u00b7 Convert Model")
