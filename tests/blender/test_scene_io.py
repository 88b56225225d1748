"""scene_io on files made by Blender itself: every importer, collections, provenance, placement, undo, zips."""

from __future__ import annotations

import math
import zipfile

import bpy
import pytest
from blender_helpers import new_objects

PROV = {"tripo_task_id": "t-123", "tripo_task_type": "text_to_model", "tripo_model_version": "v2.5-20250123"}


def _export(tmp_path, kind: str, *, rig: bool = False):
    """Write a file of the given kind from a fresh scene; returns its path. The scene is emptied again."""
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.mesh.primitive_monkey_add(location=(0, 0, 0))
    if rig:
        mesh = bpy.context.active_object
        bpy.ops.object.armature_add(location=(0, 0, 0))
        arm = bpy.context.active_object
        mesh.parent = arm
        mod = mesh.modifiers.new("Armature", 'ARMATURE')
        mod.object = arm
        vg = mesh.vertex_groups.new(name="Bone")
        vg.add(list(range(len(mesh.data.vertices))), 1.0, 'REPLACE')
        arm.animation_data_create()
        action = bpy.data.actions.new("Walk")
        arm.animation_data.action = action
        bpy.ops.object.mode_set(mode='POSE')
        bone = arm.pose.bones["Bone"]
        for frame, angle in ((1, 0.0), (10, 0.8)):
            bone.rotation_quaternion = (1.0, angle, 0.0, 0.0)
            bone.keyframe_insert("rotation_quaternion", frame=frame)
        bpy.ops.object.mode_set(mode='OBJECT')
        for o in (mesh, arm):
            o.select_set(True)
    path = tmp_path / f"model.{kind}"
    fp = str(path)
    if kind == "glb":
        bpy.ops.export_scene.gltf(filepath=fp, export_format='GLB')
    elif kind == "fbx":
        bpy.ops.export_scene.fbx(filepath=fp, bake_anim=rig)
    elif kind == "obj":
        bpy.ops.wm.obj_export(filepath=fp)
    elif kind == "stl":
        bpy.ops.wm.stl_export(filepath=fp) if hasattr(bpy.ops.wm, "stl_export") else \
            bpy.ops.export_mesh.stl(filepath=fp)
    elif kind == "usdz":
        bpy.ops.wm.usd_export(filepath=fp)
    bpy.ops.wm.read_homefile(use_empty=True)
    assert path.exists()
    return path


@pytest.mark.parametrize("kind", ["glb", "fbx", "obj", "stl", "usdz"])
def test_import_every_format(addon, ext, tmp_path, kind):
    path = _export(tmp_path, kind)
    before = set(bpy.data.objects)
    result = ext.scene_io.import_files(bpy.context, [str(path)], title="a red chair", provenance=PROV)
    objs = new_objects(before)
    assert objs and set(result.objects) == set(objs)
    coll = bpy.data.collections[result.collection_name]
    assert coll.name == "Red chair" and coll.name in bpy.context.scene.collection.children
    assert all(o.users_collection == (coll,) for o in objs)
    assert all(o["tripo_task_id"] == "t-123" and o["tripo_task_type"] == "text_to_model" for o in objs)
    assert all(o.select_get() for o in objs)
    assert bpy.context.view_layer.objects.active in objs
    assert any(o.type == 'MESH' and len(o.data.vertices) > 0 for o in objs)


def test_fbx_keeps_armature_and_action(addon, ext, tmp_path):
    path = _export(tmp_path, "fbx", rig=True)
    result = ext.scene_io.import_files(bpy.context, [str(path)], title="rigged", provenance=PROV)
    arms = [o for o in result.objects if o.type == 'ARMATURE']
    assert arms and arms[0].animation_data and arms[0].animation_data.action
    assert bpy.context.view_layer.objects.active == arms[0]


def test_one_undo_step_per_import(addon, ext, tmp_path):
    path = _export(tmp_path, "glb")
    bpy.ops.ed.undo_push(message="before")
    n_objects, n_colls = len(bpy.data.objects), len(bpy.data.collections)
    ext.scene_io.import_files(bpy.context, [str(path)], title="undo me", provenance=PROV)
    assert len(bpy.data.objects) == n_objects + 1
    bpy.ops.ed.undo()
    assert len(bpy.data.objects) == n_objects and len(bpy.data.collections) == n_colls


def test_target_size_and_cursor(addon, ext, tmp_path):
    path = _export(tmp_path, "glb")
    bpy.context.scene.cursor.location = (3.0, -2.0, 1.0)
    opts = ext.scene_io.ImportOptions(place_at_cursor=True, target_size=4.0)
    result = ext.scene_io.import_files(bpy.context, [str(path)], title="sized", options=opts)
    bpy.context.view_layer.update()
    lo, hi = ext.scene_io.world_bounds(result.objects)
    assert max(hi - lo) == pytest.approx(4.0, rel=1e-3)
    assert ((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z) == pytest.approx((3.0, -2.0, 1.0), abs=1e-3)


@pytest.mark.parametrize("turn", [90.0, -90.0, 180.0])
def test_turn_about_the_vertical_axis(addon, ext, tmp_path, turn):
    """The Turn import option spins the model around its bottom centre; the footprint stays on the cursor."""
    path = _export(tmp_path, "glb")
    plain = ext.scene_io.import_files(bpy.context, [str(path)], title="plain")
    bpy.context.view_layer.update()
    lo0, hi0 = ext.scene_io.world_bounds(plain.objects)
    bpy.context.scene.cursor.location = (5.0, 0.0, 0.0)
    opts = ext.scene_io.ImportOptions(place_at_cursor=True, turn=turn)
    result = ext.scene_io.import_files(bpy.context, [str(path)], title="turned", options=opts)
    bpy.context.view_layer.update()
    lo, hi = ext.scene_io.world_bounds(result.objects)
    size0, size = hi0 - lo0, hi - lo
    if turn == 180.0:
        assert (size.x, size.y) == pytest.approx((size0.x, size0.y), rel=1e-3)
    else:
        assert (size.x, size.y) == pytest.approx((size0.y, size0.x), rel=1e-3)  # footprint turned a quarter
    assert size.z == pytest.approx(size0.z, rel=1e-3)
    assert ((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z) == pytest.approx((5.0, 0.0, lo0.z), abs=1e-3)
    rot = result.objects[0].matrix_world.to_euler().z
    assert abs(abs(rot) - abs(math.radians(turn))) < 1e-3


def test_zip_extracted_and_imported(addon, ext, tmp_path):
    obj = _export(tmp_path, "obj")
    z = tmp_path / "result.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(obj, "model/model.obj")
        mtl = obj.with_suffix(".mtl")
        if mtl.exists():
            zf.write(mtl, "model/model.mtl")
    result = ext.scene_io.import_files(bpy.context, [str(z)], title="zipped", provenance=PROV)
    assert result.objects and not result.saved


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_zip_slip_refused(addon, ext, tmp_path, member):
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(member, "x")
    with pytest.raises(ext.scene_io.ImportFailed):
        ext.scene_io.safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_unimportable_formats_are_saved(addon, ext, tmp_path):
    for name in ("model.3mf", "castle.schem"):
        (tmp_path / name).write_bytes(b"\0" * 16)
        result = ext.scene_io.import_files(bpy.context, [str(tmp_path / name)], title="x")
        assert result.objects == [] and result.saved == [str(tmp_path / name)]


def test_image_result_loads_into_images(addon, ext, tmp_path):
    img = bpy.data.images.new("gen", 4, 4)
    img.filepath_raw = str(tmp_path / "generated_image.png")
    img.file_format = 'PNG'
    img.save()
    bpy.data.images.remove(img)
    result = ext.scene_io.import_files(bpy.context, [str(tmp_path / "generated_image.png")], title="a cat",
                                       provenance={"tripo_task_id": "img-1", "tripo_task_type": "text_to_image"})
    assert result.images and bpy.data.images[result.images[0]]["tripo_task_id"] == "img-1"


def test_export_selection_glb(addon, ext, tmp_path):
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    bpy.ops.mesh.primitive_monkey_add(location=(3, 0, 0))
    monkey = bpy.context.active_object
    bpy.ops.object.empty_add()
    cube.select_set(False)
    monkey.select_set(True)
    bpy.context.view_layer.objects.active = monkey
    path = ext.scene_export.export_selection_glb(bpy.context, tmp_path, "monkey")
    assert path.suffix == ".glb" and path.stat().st_size > 1000
    assert monkey.select_get() and not cube.select_get()  # selection restored
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(path))
    assert [o.type for o in bpy.data.objects] == ['MESH']


def test_export_without_mesh_refused(addon, ext, tmp_path):
    bpy.ops.object.empty_add()
    with pytest.raises(ext.scene_io.ImportFailed):
        ext.scene_export.export_selection_glb(bpy.context, tmp_path)


def test_broken_file_fails_cleanly(addon, ext, tmp_path):
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF\x02\x00\x00\x00garbage")
    n = len(bpy.data.objects)
    with pytest.raises(ext.scene_io.ImportFailed, match="broken.glb"):
        ext.scene_io.import_files(bpy.context, [str(bad)], title="broken")
    assert len(bpy.data.objects) == n and "broken" not in bpy.data.collections
