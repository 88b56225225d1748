"""Every pipeline of the Tripo skill through the operators with wait=True: the expected objects land in the scene."""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import new_objects, posts


def make_png(path, size: int = 128, color=(0.8, 0.2, 0.1)):
    img = bpy.data.images.new(path.stem, size, size)
    px = []
    for y in range(size):
        for x in range(size):
            inside = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 3) ** 2
            px += [*color, 1.0] if inside else [1.0, 1.0, 1.0, 1.0]
    img.pixels = px
    img.filepath_raw = str(path)
    img.file_format = 'PNG'
    img.save()
    bpy.data.images.remove(img)
    return path


def meshes(objs):
    return [o for o in objs if o.type == 'MESH']


def has_material(objs) -> bool:
    return any(len(o.material_slots) and o.material_slots[0].material for o in meshes(objs))


def armature_with_action(objs):
    for o in objs:
        if o.type == 'ARMATURE':
            anim = o.animation_data
            if anim and (anim.action or any(t.strips for t in anim.nla_tracks)):
                return o
    return None


def run(op, **kwargs):
    before = set(bpy.data.objects)
    assert op(**kwargs, wait=True) == {'FINISHED'}
    return new_objects(before)


def tagged(objs, task_type):
    return all(o.get("tripo_task_type") == task_type and o.get("tripo_task_id") for o in objs)


# ------------------------------------------------------------------------------------------ the seven pipelines
def test_pipeline_text_to_final(connected):
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='TEXT_TO_FINAL', prompt="a wooden chair", format='FBX')
    assert meshes(objs) and has_material(objs) and tagged(objs, "convert_model")
    assert len(posts(connected.emulator, connected.api_key)) == 2


def test_pipeline_image_to_final(connected):
    png = make_png(connected.tmp / "chair.png")
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='IMAGE_TO_FINAL', image=str(png), format='USDZ')
    assert meshes(objs) and tagged(objs, "convert_model")


def test_pipeline_image_to_animated(connected):
    png = make_png(connected.tmp / "hero.png")
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='IMAGE_TO_ANIMATED', image=str(png),
               animation="preset:walk", format='FBX')
    assert armature_with_action(objs) is not None and meshes(objs)
    types = [p["body"]["type"] for p in posts(connected.emulator, connected.api_key)]
    assert types == ["image_to_model", "animate_prerigcheck", "animate_rig", "animate_retarget", "convert_model"]


def test_pipeline_mesh_editing(connected):
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='MESH_EDITING', prompt="a robot")
    assert meshes(objs) and tagged(objs, "mesh_completion")


def test_pipeline_import_and_process(connected, user_mesh):
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='IMPORT_AND_PROCESS', step="texture_model")
    assert meshes(objs) and has_material(objs) and tagged(objs, "texture_model")
    assert posts(connected.emulator, connected.api_key, "upload")
    assert user_mesh.hide_get()  # the result replaces it


def test_pipeline_text_to_image_to_model(connected):
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='TEXT_TO_IMAGE_TO_MODEL', prompt="a teapot")
    assert meshes(objs) and has_material(objs) and tagged(objs, "image_to_model")


def test_pipeline_low_poly_asset(connected):
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='LOW_POLY_ASSET', prompt="a barrel", face_limit=2000)
    assert meshes(objs) and tagged(objs, "convert_model")  # the skill's pipeline 7 ends with an FBX conversion
    bodies = [p["body"] for p in posts(connected.emulator, connected.api_key)]
    low = next(b for b in bodies if b["type"] == "highpoly_to_lowpoly")
    assert low["face_limit"] == 2000 and low["quad"] is True
    assert bodies[-1]["type"] == "convert_model" and bodies[-1]["format"] == "FBX"


# ------------------------------------------------------------------------------------------ chains of operators
def test_chain_on_the_active_object(connected):
    """text_to_model -> animate_rig (rig check first, automatically) -> retarget -> convert, each on the result."""
    objs = run(bpy.ops.tripo.text_to_model, prompt="a knight")
    assert meshes(objs) and has_material(objs) and tagged(objs, "text_to_model")
    assert bpy.context.active_object in objs
    rigged = run(bpy.ops.tripo.animate_rig)
    assert tagged(rigged, "animate_rig") and any(o.type == 'ARMATURE' for o in rigged)
    assert all(o.hide_get() for o in objs)  # replaced
    animated = run(bpy.ops.tripo.animate_retarget, animation="preset:run")
    assert armature_with_action(animated) is not None
    fbx = run(bpy.ops.tripo.convert_model, format='FBX')
    assert armature_with_action(fbx) is not None and tagged(fbx, "convert_model")
    for result in (rigged, animated, fbx):  # only the character: no bone-shape helper mesh left by the importer
        assert [o.type for o in result if o.type == 'MESH'] == ['MESH'], [o.name for o in result]
    types = [p["body"]["type"] for p in posts(connected.emulator, connected.api_key)]
    assert types == ["text_to_model", "animate_prerigcheck", "animate_rig", "animate_retarget", "convert_model"]


@pytest.mark.parametrize("fmt", ["GLTF", "OBJ", "STL", "3MF"])
def test_convert_formats(connected, fmt):
    run(bpy.ops.tripo.text_to_model, prompt="a vase")
    state = bpy.context.window_manager.tripo
    objs = run(bpy.ops.tripo.convert_model, format=fmt)
    row = state.tasks[state.active_task]
    if fmt == "3MF":
        assert objs == [] and row.saved_path.endswith(".3mf")
    else:
        assert meshes(objs) and tagged(objs, "convert_model")


def _retired_in_v3(connected, op, **kw) -> bool:
    """Under v3 the retired operator refuses before anything is sent (True); under v2 the test goes on (False)."""
    if connected.emulator.base_url.endswith("/v2/openapi"):
        return False
    before = len(posts(connected.emulator, connected.api_key))
    with pytest.raises(RuntimeError, match="retired"):
        op(wait=True, **kw)
    assert len(posts(connected.emulator, connected.api_key)) == before
    return True


def test_stylize_minecraft_is_saved(connected):
    run(bpy.ops.tripo.text_to_model, prompt="a house")
    if _retired_in_v3(connected, bpy.ops.tripo.stylize_model, style="minecraft"):
        return
    objs = run(bpy.ops.tripo.stylize_model, style="minecraft")
    state = bpy.context.window_manager.tripo
    assert objs == [] and state.tasks[state.active_task].saved_path.endswith(".schem")
    objs = run(bpy.ops.tripo.stylize_model, style="lego")
    assert meshes(objs) and tagged(objs, "stylize_model")


def test_prerigcheck_result_lands_on_the_object(connected):
    objs = run(bpy.ops.tripo.text_to_model, prompt="a dog")
    assert run(bpy.ops.tripo.animate_prerigcheck) == []
    main = bpy.context.active_object
    assert main in objs and main.get("tripo_rig_type") and "tripo_riggable" in main
    run(bpy.ops.tripo.animate_rig)  # uses the known rig type: no second check
    types = [p["body"]["type"] for p in posts(connected.emulator, connected.api_key)]
    assert types == ["text_to_model", "animate_prerigcheck", "animate_rig"]
    assert posts(connected.emulator, connected.api_key)[-1]["body"]["rig_type"] == main["tripo_rig_type"]


def test_other_model_steps(connected):
    run(bpy.ops.tripo.text_to_model, prompt="a statue")
    assert tagged(run(bpy.ops.tripo.texture_model, texture_prompt="marble"), "texture_model")
    seg = run(bpy.ops.tripo.mesh_segmentation)
    assert meshes(seg) and tagged(seg, "mesh_segmentation")
    assert tagged(run(bpy.ops.tripo.mesh_completion), "mesh_completion")
    low = run(bpy.ops.tripo.highpoly_to_lowpoly, face_limit=1000)
    assert meshes(low) and tagged(low, "highpoly_to_lowpoly")


def test_refine_a_draft(connected):
    if _retired_in_v3(connected, bpy.ops.tripo.refine_model):
        return
    run(bpy.ops.tripo.text_to_model, prompt="a lamp", model_version="v1.4-20240625")
    refined = run(bpy.ops.tripo.refine_model)
    assert meshes(refined) and tagged(refined, "refine_model")


def test_image_generation(connected):
    before = set(bpy.data.images)
    assert bpy.ops.tripo.text_to_image(prompt="a castle", wait=True) == {'FINISHED'}
    images = [i for i in bpy.data.images if i not in before]
    assert images and images[0].get("tripo_task_type") == "text_to_image" and images[0].size[0] > 0
    ref = make_png(connected.tmp / "castle.png")
    assert bpy.ops.tripo.generate_image(prompt="image[1] at night", file=str(ref), wait=True) == {'FINISHED'}


def test_image_and_multiview_to_model(connected):
    png = make_png(connected.tmp / "front.png")
    objs = run(bpy.ops.tripo.image_to_model, file=str(png))
    assert meshes(objs) and tagged(objs, "image_to_model")
    views = {v: str(make_png(connected.tmp / f"{v}.png", color=c)) for v, c in
             (("front", (1, 0, 0)), ("left", (0, 1, 0)), ("back", (0, 0, 1)))}
    objs = run(bpy.ops.tripo.multiview_to_model, front_image=views["front"], left_image=views["left"],
               back_image=views["back"])
    assert meshes(objs) and tagged(objs, "multiview_to_model")
    files = posts(connected.emulator, connected.api_key)[-1]["body"]["files"]
    assert len(files) == 4 and files[3] == {} and all(files[:3])  # the missing right view is an empty slot


def test_text_to_image_to_model_sends_the_model_options(connected):
    """The Generate panel's "Via Image" mode: its model options reach the image_to_model step."""
    # texture_quality needs model v3.0 or newer on v3 (tripo-api-v3.md §18 R4)
    options = '{"texture_quality": "detailed", "face_limit": 8000, "model_version": "v3.1-20260211"}'
    objs = run(bpy.ops.tripo.run_pipeline, pipeline='TEXT_TO_IMAGE_TO_MODEL', prompt="a blue teapot",
               model_options=options)
    assert meshes(objs)
    bodies = [p["body"] for p in posts(connected.emulator, connected.api_key)]
    assert [b["type"] for b in bodies] == ["text_to_image", "image_to_model"]
    assert bodies[1]["texture_quality"] == "detailed" and bodies[1]["face_limit"] == 8000


def test_bad_model_options_are_refused_before_sending(connected):
    with pytest.raises(RuntimeError, match="Model Options is not valid JSON"):
        bpy.ops.tripo.run_pipeline(pipeline='TEXT_TO_FINAL', prompt="a chair", model_options="{texture: no}",
                                   wait=True)
    with pytest.raises(RuntimeError, match="(?i)texture_quaility"):
        bpy.ops.tripo.run_pipeline(pipeline='TEXT_TO_FINAL', prompt="a chair",
                                   model_options='{"texture_quaility": "detailed"}', wait=True)
    assert posts(connected.emulator, connected.api_key) == []
