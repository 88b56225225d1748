"""Issue 12, game-ready with v3 (items 4, 5, 7, 8): rigs and clips for engines, the LOD chain, cost before and after,
segmentation v2.0 and texture v3.5, from the operators (as a script with ``wait=True``) against the emulator's v3.

Every test looks at what a user gets: objects, actions and NLA tracks, collection and object names, the FBX on disk,
the cost shown, the requests Tripo received.
"""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import get_prefs, new_objects


@pytest.fixture
def v3(connected):
    """The add-on speaking v3 to the emulator (its root)."""
    connected.prefs.api_base_url = connected.emulator.v3_base_url
    connected.ext = None
    yield connected


def creates(emulator, key: str, path: str) -> list[dict]:
    return [r for r in emulator.requests(method="POST", key=key) if r["path"].rstrip("/").endswith(path)]


def _model(prompt: str = "a knight character standing") -> bpy.types.Object:
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt=prompt, wait=True) == {'FINISHED'}
    objs = new_objects(before)
    meshes = [o for o in objs if o.type == 'MESH']
    assert meshes
    bpy.context.view_layer.objects.active = meshes[0]
    return meshes[0]


# ==================================================================================================== 4. rigs and clips
def test_rig_for_unreal_with_v3_and_the_rig_checks_type(ext, v3):
    _model()
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.animate_rig(model_version="v3.0-20260909", spec="unreal", wait=True) == {'FINISHED'}
    arms = [o for o in new_objects(before) if o.type == 'ARMATURE']
    assert len(arms) == 1 and arms[0]["tripo_task_type"] == "animate_rig"
    check = creates(v3.emulator, v3.api_key, "/animations/rig-check")
    rig = creates(v3.emulator, v3.api_key, "/animations/rig")[-1]["body"]
    assert len(check) == 1  # the rig type came from Tripo's rig check
    assert rig["model"] == "v3.0-20260909" and rig["spec"] == "unreal" and rig.get("rig_type", "biped") == "biped"


def test_engine_skeleton_with_rig_v1_is_refused_before_sending(ext, v3):
    _model()
    n = len(v3.emulator.requests(method="POST", key=v3.api_key))
    with pytest.raises(RuntimeError, match="unity skeleton needs rig model v2.5 or v3.0"):
        bpy.ops.tripo.animate_rig(model_version="v1.0-20240301", spec="unity", wait=True)
    assert len(v3.emulator.requests(method="POST", key=v3.api_key)) == n


def test_three_clips_become_one_armature_with_an_action_per_preset(ext, v3):
    _model()
    assert bpy.ops.tripo.animate_rig(wait=True) == {'FINISHED'}
    rigged = bpy.context.active_object
    assert rigged.type == 'ARMATURE'
    before = set(bpy.data.objects)
    actions_before = set(bpy.data.actions)
    assert bpy.ops.tripo.animate_retarget(animations={"preset:walk", "preset:run", "preset:jump"},
                                          animate_in_place=True, wait=True) == {'FINISHED'}
    objs = new_objects(before)
    arms = [o for o in objs if o.type == 'ARMATURE']
    assert len(arms) == 1, [o.name for o in objs]  # ONE armature, however many clips
    arm = arms[0]
    tracks = [t.name for t in arm.animation_data.nla_tracks]
    names = sorted(a.name for a in bpy.data.actions if a not in actions_before)
    assert names == ["jump", "run", "walk"]
    assert sorted(tracks) == ["jump", "run", "walk"]
    assert all(len(t.strips) == 1 and t.strips[0].action.name == t.name for t in arm.animation_data.nla_tracks)
    assert [t.mute for t in arm.animation_data.nla_tracks].count(False) == 1
    assert all(getattr(t.strips[0], "action_slot", True) for t in arm.animation_data.nla_tracks)  # 4.4+: it plays
    body = creates(v3.emulator, v3.api_key, "/animations/retarget")[-1]["body"]
    assert sorted(body["animations"]) == ["preset:jump", "preset:run", "preset:walk"]
    assert body["animate_in_place"] is True
    meshes = [o for o in objs if o.type == 'MESH']
    assert len(meshes) == 1  # the other clip files' copies of the mesh are not left behind


# ==================================================================================================== 5. LOD chain
def test_lod_chain_one_collection_engine_names_and_one_fbx(ext, v3, tmp_path):
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=5, radius=1.0)  # the user's own mesh: imported first
    src = bpy.context.active_object
    src.name = "Crate.001"
    faces = sum(len(p.vertices) - 2 for p in src.data.polygons)
    fbx = tmp_path / "crate_lods.fbx"
    assert bpy.ops.tripo.make_lods(face_limits="4000, 2000, 1000", smart_uv=True, export_fbx=True,
                                   fbx_path=str(fbx), wait=True) == {'FINISHED'}
    base = ext.operators.lod.base_name(src.name)
    assert base == "Crate"
    coll = bpy.data.collections[f"{base}_LODs"]
    names = sorted(o.name for o in coll.objects)
    assert names == [f"{base}_LOD0", f"{base}_LOD1", f"{base}_LOD2"]
    tris = [sum(len(p.vertices) - 2 for p in bpy.data.objects[n].data.polygons) for n in names]
    assert tris[0] > tris[1] > tris[2] and tris[0] <= 4000 < faces
    assert all(bpy.data.objects[n].data.uv_layers for n in names)
    assert not bpy.data.objects[f"{base}_LOD0"].hide_get() and bpy.data.objects[f"{base}_LOD1"].hide_get()
    bodies = [r["body"] for r in creates(v3.emulator, v3.api_key, "/mesh/decimate")]
    assert [b["face_limit"] for b in bodies] == [4000, 2000, 1000]
    assert all(b["model"] == "v3.0" and b["smart_uv"] is True for b in bodies)
    # one FBX with the three levels, as Unity/Unreal read it
    assert fbx.exists()
    before = set(bpy.data.objects)
    bpy.ops.import_scene.fbx(filepath=str(fbx))
    assert sorted(o.name.split(".")[0] for o in new_objects(before) if o.type == 'MESH') == names


def test_lod_defaults_follow_the_source_faces(ext):
    lim = ext.pipelines.lod_limits
    assert lim(60_000) == [20_000, 15_000, 6_000]          # clamped to 20,000; repeats dropped
    assert lim(8_000) == [8_000, 4_000, 2_000, 800]
    assert lim(900) == [900, 500]


def test_text_to_low_poly_pipeline_with_lods(ext, v3):
    assert bpy.ops.tripo.run_pipeline(pipeline='LOW_POLY_ASSET', prompt="a wooden barrel", face_limit=4000,
                                      quad=False, lods=3, wait=True) == {'FINISHED'}
    coll = next(c for c in bpy.data.collections if c.name.endswith("_LODs"))
    assert sorted(o.name for o in coll.objects) == ["a_wooden_barrel_LOD0", "a_wooden_barrel_LOD1",
                                                    "a_wooden_barrel_LOD2"]
    assert [r["body"]["face_limit"] for r in creates(v3.emulator, v3.api_key, "/mesh/decimate")] == [4000, 2000,
                                                                                                     1000]
    assert not creates(v3.emulator, v3.api_key, "/models/convert")
