"""The seven pipelines of the Tripo skill at the API level (v2 tier), each ending with a downloaded, verified file."""

from __future__ import annotations

from api_helpers import V2, WAIT, assert_model_file, make_glb, make_image, posts

from tripo_addon.api.client import TripoClient
from tripo_addon.api.models import Task
from tripo_addon.api.v2 import catalog as C2


def step(client: TripoClient, task_type: str, values: dict) -> Task:
    task = client.wait(client.create_task(task_type, values), timeout=WAIT)
    assert task.status == "success" and task.type == task_type, task
    return task


def test_1_text_to_final_model(client, emulator, api_key, tmp_path):
    model = step(client, "text_to_model", V2.text_to_model("a carved wooden owl"))
    final = step(client, "convert_model", V2.convert_model(model.task_id, "FBX", source_type="text_to_model"))
    path = client.download(final.task_id, "model", tmp_path)
    assert path.suffix == ".fbx"
    assert_model_file(path)
    assert [r["body"]["type"] for r in posts(emulator, api_key)] == ["text_to_model", "convert_model"]


def test_2_image_to_final_model(client, emulator, api_key, tmp_path):
    fobj = client.upload(make_image(tmp_path / "photo.png", "PNG", (300, 300)))
    assert fobj.kind == "token" and fobj.ext == "png" and fobj.value
    model = step(client, "image_to_model", V2.image_to_model(fobj))
    final = step(client, "convert_model", V2.convert_model(model.task_id, "USDZ", source_type="image_to_model"))
    path = client.download(final.task_id, "model", tmp_path)
    assert path.suffix == ".usdz"
    assert_model_file(path)


def test_3_image_to_animated_character(client, emulator, api_key, tmp_path):
    fobj = client.upload(make_image(tmp_path / "hero.jpg", "JPEG", (256, 384)))
    model = step(client, "image_to_model", V2.image_to_model(fobj))
    check = step(client, "animate_prerigcheck",
                 V2.animate_prerigcheck(model.task_id, source_type="image_to_model"))
    assert isinstance(check.output["riggable"], bool)
    rig_type = check.output["rig_type"]
    rig = step(client, "animate_rig",
               V2.animate_rig(model.task_id, rig_type=rig_type, source_type="image_to_model"))
    anim = C2.ANIMATIONS[1] if rig_type == "biped" else f"preset:{rig_type}:walk"
    if anim not in C2.ANIMATIONS:
        anim = "preset:idle"
    moved = step(client, "animate_retarget",
                 V2.animate_retarget(rig.task_id, animation=anim, source_type="animate_rig"))
    final = step(client, "convert_model", V2.convert_model(moved.task_id, "FBX", source_type="animate_retarget"))
    path = client.download(final.task_id, "model", tmp_path)
    assert path.suffix == ".fbx"
    assert_model_file(path)
    bodies = [r["body"] for r in posts(emulator, api_key)]
    assert [b["type"] for b in bodies] == ["image_to_model", "animate_prerigcheck", "animate_rig",
                                           "animate_retarget", "convert_model"]
    assert bodies[2].get("rig_type", "biped") == rig_type


def test_4_mesh_editing(client, tmp_path):
    model = step(client, "text_to_model", V2.text_to_model("a robot with two arms"))
    seg = step(client, "mesh_segmentation", V2.mesh_segmentation(model.task_id, source_type="text_to_model"))
    done = step(client, "mesh_completion", V2.mesh_completion(seg.task_id, source_type="mesh_segmentation"))
    path = client.download(done.task_id, "model", tmp_path)
    assert path.suffix == ".glb"
    assert_model_file(path)


def test_5_import_and_post_process(client, emulator, api_key, tmp_path):
    fobj = client.upload(make_glb(tmp_path / "mine.glb"))  # a model: STS + S3 on v2
    assert fobj.kind == "object" and fobj.bucket == "tripo-data" and fobj.key.endswith("/input.glb")
    imported = step(client, "import_model", V2.import_model(fobj))
    textured = step(client, "texture_model", V2.texture_model(
        imported.task_id, texture_prompt={"text": "weathered bronze"}, source_type="import_model"))
    final = step(client, "convert_model", V2.convert_model(textured.task_id, "GLTF", source_type="texture_model"))
    path = client.download(final.task_id, "model", tmp_path)
    assert path.suffix == ".zip"
    assert_model_file(path)
    sts = [r for r in emulator.requests(method="POST", key=api_key) if r["route"] == "sts_token"]
    assert [r["body"] for r in sts] == [{"format": "glb"}]
    assert posts(emulator, api_key)[0]["body"]["file"] == {"type": "glb", "object": {"bucket": "tripo-data",
                                                                                   "key": fobj.key}}
    assert emulator.s3_get("tripo-data", fobj.key) == (tmp_path / "mine.glb").read_bytes()


def test_6_text_to_image_to_model(client, emulator, api_key, tmp_path):
    image = step(client, "text_to_image", V2.text_to_image("a tin toy robot, studio light"))
    url = image.output["image"]
    assert image.raw["output"]["generated_image"] == url  # the wire keeps v2's key
    img_path = client.download(image.task_id, "image", tmp_path / "img")
    assert_model_file(img_path)
    model = step(client, "image_to_model", V2.image_to_model(url))  # linked by URL, not by task id
    body = posts(emulator, api_key)[-1]["body"]
    assert body["file"]["url"] == url and "original_model_task_id" not in body
    path = client.download(model.task_id, model.model_key, tmp_path)
    assert path.suffix == ".glb"
    assert_model_file(path)


def test_7_low_poly_game_asset(client, emulator, api_key, tmp_path):
    """Skill pipeline 7: text -> low poly (quad) -> convert to FBX for a game engine."""
    model = step(client, "text_to_model", V2.text_to_model("a treasure chest", model_version="v2.5-20250123"))
    low = step(client, "highpoly_to_lowpoly",
               V2.highpoly_to_lowpoly(model.task_id, face_limit=5000, quad=True, source_type="text_to_model"))
    final = step(client, "convert_model", V2.convert_model(low.task_id, "FBX", source_type="highpoly_to_lowpoly"))
    body = posts(emulator, api_key)[-1]["body"]
    assert body == {"type": "convert_model", "original_model_task_id": low.task_id, "format": "FBX"}
    path = client.download(final.task_id, "model", tmp_path)
    assert path.suffix == ".fbx"
    assert_model_file(path)
