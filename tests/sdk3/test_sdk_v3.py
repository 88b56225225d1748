"""Tripo's v3 SDK (tripo3d 1.0.0), unchanged, against the emulator: every call the add-on's v3 dialect relies on,
asserting on what the SDK returns and on what the emulator received."""

from __future__ import annotations

import os
import uuid

import pytest

from .helpers import created, finish, glb_json, image_file, run

V31 = "v3.1-20260211"


@pytest.fixture(scope="session")
def client(sdk, emulator, key):
    return sdk.TripoClient(api_key=key, v3_base_url=emulator.v3_base_url)


@pytest.fixture(scope="session")
def model_task(client):
    """A finished text_to_model (a biped) every chained call starts from."""
    return finish(client, run(client.text_to_model("a knight in armour", model_version=V31, model_seed=7)))


@pytest.fixture(scope="session")
def rig_task(client, model_task):
    return finish(client, run(client.rig(model_task.task_id, model="v2.5-20260210", spec="unity")))


@pytest.fixture(scope="session")
def multiview_task(client, tmp_path_factory):
    img = image_file(tmp_path_factory.mktemp("mv") / "robot.png", seed=3)
    return finish(client, run(client.image_to_multiview(str(img))))


def downloads(client, task, tmp_path) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = run(client.download_task_models(task, str(tmp_path)))
    assert all(out.values()), out
    return out


def no_key_on_files(emulator, task_id: str) -> None:
    """Downloads of a task reached the emulator, none of them with an Authorization header."""
    got = [r for r in emulator.requests(route="download", path=task_id)]
    assert got and not any(r["authorization"] for r in got)


# ------------------------------------------------------------------------------------------------------ generation
def test_text_to_model(client, emulator, key, model_task, tmp_path):
    req = created(emulator, key, model_task.task_id)
    assert req["path"] == "/v3/generation/text-to-model" and req["api"] == "v3"
    assert req["body"] == {"prompt": "a knight in armour", "model": V31, "model_seed": 7}
    assert model_task.type == "text_to_model" and model_task.progress == 100
    assert model_task.credits_consumed and model_task.credits_consumed > 0
    assert model_task.raw["created_at"].endswith("Z") and model_task.completed_at
    files = downloads(client, model_task, tmp_path)
    assert set(files) == {"model", "pbr_model", "rendered_image"}
    assert files["model"] == files["pbr_model"]                 # one model_url: the SDK fetches it once
    assert glb_json(open(files["model"], "rb").read())["meshes"]
    assert open(files["rendered_image"], "rb").read()[8:12] == b"WEBP"
    no_key_on_files(emulator, model_task.task_id)


def test_image_to_model_uploads_a_local_image(client, emulator, key, tmp_path):
    img = image_file(tmp_path / "chair.png", seed=1)
    emulator.clear_requests()
    task = finish(client, run(client.image_to_model(str(img), model_version="P1-20260311", face_limit=2000)))
    up = emulator.requests(route="upload", api="v3", key=key)
    assert len(up) == 1 and up[0]["path"] == "/v3/files"
    assert up[0]["body"]["multipart"]["file"]["filename"] == "chair.png"
    assert up[0]["body"]["multipart"]["file"]["size"] == img.stat().st_size
    body = created(emulator, key, task.task_id)["body"]
    assert body["input"].startswith("file_") and body["model"] == "P1-20260311" and body["face_limit"] == 2000
    assert "quad" not in body and "geometry_quality" not in body   # the SDK leaves defaults out: P1 accepts it
    assert task.output.model_url.split("?")[0].endswith(".glb")


def test_multiview_to_model_with_an_empty_slot(client, emulator, key, tmp_path):
    views = [image_file(tmp_path / f"{v}.png", seed=i) for i, v in enumerate(("front", "left", "back", "right"))]
    task = finish(client, run(client.multiview_to_model([str(views[0]), None, str(views[2]), str(views[3])],
                                                        model_version=V31)))
    inputs = created(emulator, key, task.task_id)["body"]["inputs"]
    assert inputs[1] is None and all(i.startswith("file_") for i in (inputs[0], inputs[2], inputs[3]))
    assert task.type == "multiview_to_model" and task.output.model_url


def test_text_to_image(client, emulator, key, tmp_path):
    task = finish(client, run(client.text_to_image("a red robot", model="seedream_v4")))
    assert created(emulator, key, task.task_id)["body"] == {"prompt": "a red robot", "model": "seedream_v4"}
    assert task.type == "text_to_image" and task.output.generated_image_url
    assert task.raw["output"]["image_urls"] == [task.output.generated_image_url]
    files = downloads(client, task, tmp_path)
    assert open(files["image"], "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_to_multiview_gives_four_views(client, multiview_task, tmp_path):
    out = multiview_task.raw["output"]
    assert {f"{v}_view_url" for v in ("front", "left", "back", "right")} <= set(out)
    files = downloads(client, multiview_task, tmp_path)
    assert set(files) == {"front_view", "left_view", "back_view", "right_view"}
    assert len({open(p, "rb").read() for p in files.values()}) == 4


def test_edit_multiview_changes_the_prompted_view(client, emulator, key, multiview_task, tmp_path):
    prompts = [{"view": "left", "prompt": "make it blue"}]
    task = finish(client, run(client.edit_multiview(multiview_task.task_id, prompts)))
    assert created(emulator, key, task.task_id)["body"] == {"input": multiview_task.task_id, "prompts": prompts}
    before = downloads(client, multiview_task, tmp_path / "a")
    after = downloads(client, task, tmp_path / "b")
    same = {v: open(before[v], "rb").read() == open(after[v], "rb").read() for v in before}
    assert same == {"front_view": True, "left_view": False, "back_view": True, "right_view": True}


# ------------------------------------------------------------------------------------------------------ models/*
def test_texture_model_with_a_text_prompt(client, emulator, key, model_task):
    task = finish(client, run(client.texture_model(model_task.task_id, text_prompt="rusty metal",
                                                   model_version="v3.5-20260815", delight=True)))
    body = created(emulator, key, task.task_id)["body"]
    assert body == {"input": model_task.task_id, "model": "v3.5-20260815", "texture_prompt": {"text": "rusty metal"},
                    "delight": True}
    assert task.type == "texture_model" and task.output.model_url != model_task.output.model_url


def test_convert_model_to_fbx(client, emulator, key, model_task, tmp_path):
    task = finish(client, run(client.convert_model(model_task.task_id, "FBX")))
    assert created(emulator, key, task.task_id)["body"] == {"input": model_task.task_id, "format": "FBX"}
    files = downloads(client, task, tmp_path)
    assert files["model"].endswith(".fbx")
    assert open(files["model"], "rb").read().startswith(b"Kaydara FBX Binary")


def test_import_model_of_a_local_glb(client, emulator, key, model_task, tmp_path):
    glb = downloads(client, model_task, tmp_path)["model"]
    local = tmp_path / "mine.glb"
    local.write_bytes(open(glb, "rb").read())
    task = finish(client, run(client.import_model(str(local))))
    assert created(emulator, key, task.task_id)["body"]["input"].startswith("file_")
    assert task.type == "import_model"
    data = open(downloads(client, task, tmp_path / "out")["model"], "rb").read()
    assert data == local.read_bytes()


def test_large_files_go_through_a_presigned_put_without_the_key(client, sdk, emulator, key, model_task, tmp_path):
    big = sdk.TripoClient(api_key=key, v3_base_url=emulator.v3_base_url)
    big.MULTIPART_MAX_BYTES = 0          # the SDK's own switch: files above it use presign + PUT
    local = tmp_path / "big.glb"
    local.write_bytes(open(downloads(client, model_task, tmp_path)["model"], "rb").read())
    emulator.clear_requests()
    token = run(big.upload_file(str(local)))["file_token"]
    presign, put = emulator.requests(route="presign"), emulator.requests(route="upload")
    assert presign[0]["body"] == {"format": "glb"} and presign[0]["key"] == key
    assert put[0]["method"] == "PUT" and put[0]["status"] == 200 and not put[0]["authorization"]
    task = finish(client, run(client.import_model(token)))
    assert task.output.model_url


# ------------------------------------------------------------------------------------------------------ animations/*
def test_rig_check(client, emulator, key, model_task):
    task = finish(client, run(client.rig_check(model_task.task_id)))
    assert created(emulator, key, task.task_id)["body"] == {"input": model_task.task_id}
    assert task.type == "animate_prerigcheck"
    assert task.output.riggable is True and task.output.rig_type == "biped"


def test_rig_v25_with_a_spec(client, emulator, key, model_task, rig_task):
    body = created(emulator, key, rig_task.task_id)["body"]
    assert body == {"input": model_task.task_id, "model": "v2.5-20260210", "spec": "unity"}
    assert rig_task.type == "animate_rig"
    assert rig_task.raw["input"]["spec"] == "unity"


def test_rig_v25_mixamo_then_retarget_as_in_tripos_examples(client, emulator, key, model_task, tmp_path):
    """Tripo's rig-and-animate examples: rig v2.5 with spec mixamo, then retarget (§18 C3, R12: only a v1.0 mixamo
    rig is refused)."""
    rig = finish(client, run(client.rig(model_task.task_id, model="v2.5-20260210", spec="mixamo")))
    assert created(emulator, key, rig.task_id)["body"] == {"input": model_task.task_id, "model": "v2.5-20260210",
                                                           "spec": "mixamo"}
    task = finish(client, run(client.retarget(rig.task_id, animation="preset:walk")))
    assert created(emulator, key, task.task_id)["body"] == {"input": rig.task_id, "animation": "preset:walk"}
    assert task.credits_consumed == 10.0
    path = tmp_path / "walk.glb"
    run(client.download_file(task.output.model_url, str(path)))
    assert [a["name"] for a in glb_json(path.read_bytes())["animations"]] == ["walk"]


def test_a_v10_mixamo_rig_cannot_be_retargeted(client, sdk, model_task):
    rig = finish(client, run(client.rig(model_task.task_id, model="v1.0-20240301", spec="mixamo")))
    with pytest.raises(sdk.TripoAPIError) as e:
        run(client.retarget(rig.task_id, animation="preset:biped:walk"))
    assert e.value.code == 1004 and "v1.0 rig made with spec mixamo" in str(e.value)


def test_retarget_two_clips_gives_one_file_per_clip(client, emulator, key, rig_task, tmp_path):
    task = finish(client, run(client.retarget(rig_task.task_id, animations=["preset:walk", "preset:run"])))
    assert created(emulator, key, task.task_id)["body"] == {"input": rig_task.task_id,
                                                            "animations": ["preset:walk", "preset:run"]}
    assert task.credits_consumed == 20.0                      # billed per clip
    urls = task.raw["output"]["model_urls"]
    assert len(urls) == 2 and task.output.model_url not in urls
    clips = []
    for i, url in enumerate(urls):
        path = tmp_path / f"clip{i}.glb"
        run(client.download_file(url, str(path)))
        clips.append(glb_json(path.read_bytes()))
    assert [len(c["animations"]) for c in clips] == [1, 1]
    assert len(glb_json(open(downloads(client, task, tmp_path)["model"], "rb").read())["animations"]) == 2


# ------------------------------------------------------------------------------------------------------ mesh/*
def test_mesh_segment_then_complete(client, emulator, key, model_task):
    seg = finish(client, run(client.mesh_segment(model_task.task_id, model="v2.0-20260430",
                                                 segmentation_granularity="detailed")))
    assert created(emulator, key, seg.task_id)["body"] == {"input": model_task.task_id, "model": "v2.0-20260430",
                                                           "segmentation_granularity": "detailed"}
    done = finish(client, run(client.mesh_complete(seg.task_id, completion_mode="quick_cap")))
    assert created(emulator, key, done.task_id)["body"] == {"input": seg.task_id, "completion_mode": "quick_cap"}
    assert seg.type == "mesh_segmentation" and done.type == "mesh_completion" and done.output.model_url


def test_mesh_decimate(client, emulator, key, model_task, tmp_path):
    task = finish(client, run(client.mesh_decimate(model_task.task_id, model="v3.0", face_limit=800, smart_uv=True)))
    assert created(emulator, key, task.task_id)["body"] == {"input": model_task.task_id, "model": "v3.0",
                                                            "face_limit": 800, "smart_uv": True}
    g = glb_json(open(downloads(client, task, tmp_path)["model"], "rb").read())
    assert task.type == "highpoly_to_lowpoly" and g["meshes"]


def test_mesh_uv(client, emulator, key, model_task, tmp_path):
    task = finish(client, run(client.mesh_uv(model_task.task_id)))
    assert created(emulator, key, task.task_id)["body"] == {"input": model_task.task_id}
    files = downloads(client, task, tmp_path)
    assert set(files) == {"model", "pbr_model", "uv_render"}
    assert open(files["uv_render"], "rb").read()[:4] == b"\x89PNG"
    assert "TEXCOORD_0" in glb_json(open(files["model"], "rb").read())["meshes"][0]["primitives"][0]["attributes"]


# ------------------------------------------------------------------------------------------------------ account
def test_list_tasks(client, model_task, rig_task):
    ghost = str(uuid.uuid4())
    res = run(client.list_tasks([model_task.task_id, rig_task.task_id, ghost]))
    assert set(res.tasks) == {model_task.task_id, rig_task.task_id} and res.missed == [ghost]
    assert res.tasks[rig_task.task_id].type == "animate_rig"
    assert res.tasks[model_task.task_id].status.value == "success"


def test_get_usage_newest_first(client, emulator, key, model_task, rig_task):
    rows = run(client.get_usage(limit=200))
    ids = [r.task_id for r in rows]
    assert ids.index(rig_task.task_id) < ids.index(model_task.task_id)
    assert rows[ids.index(model_task.task_id)].credits_consumed == model_task.credits_consumed
    assert [r.task_id for r in run(client.get_usage(limit=1, offset=1))] == ids[1:2]
    assert emulator.requests(route="usage")[-1]["query"] == {"limit": "1", "offset": "1"}


def test_get_balance(client, emulator, key, model_task):
    bal = run(client.get_balance())
    assert isinstance(bal.balance, float) and bal.balance == emulator.balance(key)["balance"]
    assert bal.balance < 100_000


# ------------------------------------------------------------------------------------------------------ errors
def test_errors_reach_the_caller_as_tripo_api_errors(client, sdk, emulator):
    with pytest.raises(sdk.TripoAPIError) as e:
        run(client.text_to_model("a cat", model_version="P1-20260311", quad=True))
    assert e.value.code == 1004 and "quad" in str(e.value)
    bad = sdk.TripoClient(api_key="tsk_not_a_real_key!", v3_base_url=emulator.v3_base_url)
    with pytest.raises(sdk.TripoAPIError) as e:
        run(bad.get_balance())
    assert e.value.code == 1002
    with pytest.raises(sdk.TripoAPIError) as e:
        run(client.get_task(str(uuid.uuid4())))
    assert e.value.code == 2001


def test_the_fallback_transport_too(sdk, emulator, key, tmp_path):
    """Without aiohttp the SDK speaks HTTP/1.1 over asyncio streams: the same calls work."""
    from tripo3d._http import FallbackBackend

    c = sdk.TripoClient(api_key=key, v3_base_url=emulator.v3_base_url)
    c._http = FallbackBackend(key, emulator.v3_base_url)
    task = finish(c, run(c.image_to_model(str(image_file(tmp_path / "x.png", seed=9)), model_version=V31)))
    files = run(c.download_task_models(task, str(tmp_path)))
    assert files["model"] and os.path.getsize(files["model"]) > 1000


def test_the_0x_method_names_still_work(client, emulator, key, model_task, rig_task, tmp_path):
    """tripo3d 1.0 keeps 0.x names (ComfyUI-Tripo calls them): they send v2-style fields the emulator accepts."""
    img = image_file(tmp_path / "ref.png", seed=4)
    token = run(client.upload_file(str(img)))["file_token"]
    legacy = finish(client, run(client.create_task({"type": "image_to_model", "model_version": V31,
                                                    "file": {"type": "png", "file_token": token}})))
    assert created(emulator, key, legacy.task_id)["body"] == {"model_version": V31,
                                                              "file": {"type": "png", "file_token": token}}
    calls = {
        "check_riggable": client.check_riggable(model_task.task_id),
        "rig_model": client.rig_model(model_task.task_id),
        "retarget_animation": client.retarget_animation(rig_task.task_id, "preset:jump"),
        "smart_lowpoly": client.smart_lowpoly(model_task.task_id, model_version="P-v2.0-20251225", face_limit=600),
        "mesh_segmentation": client.mesh_segmentation(model_task.task_id),
        "generate_image": client.generate_image("a robot in the same pose", file=str(img)),
    }
    for name, coro in calls.items():
        task = finish(client, run(coro))
        assert task.status.value == "success", name
    bodies = {r["path"]: r["body"] for r in emulator.requests(route="create", key=key)}
    assert bodies["/v3/animations/rig"] == {"input": model_task.task_id, "model": "v1.0-20240301"}
    assert bodies["/v3/mesh/decimate"] == {"input": model_task.task_id, "model": "v2.0", "face_limit": 600}
    assert bodies["/v3/generation/image-to-image"]["input"].startswith("file_")


def test_model_calls_take_a_file_token(client, emulator, key, model_task, tmp_path):
    """The SDK documents texture_model(<file_token of a model>): the emulator imports it on the spot."""
    local = tmp_path / "mine.glb"
    local.write_bytes(open(downloads(client, model_task, tmp_path)["model"], "rb").read())
    token = run(client.upload_file(str(local)))["file_token"]
    task = finish(client, run(client.texture_model(token, text_prompt="gold leaf")))
    assert created(emulator, key, task.task_id)["body"]["input"] == token
    assert glb_json(open(downloads(client, task, tmp_path / "t")["model"], "rb").read())["meshes"]


def test_image_to_splat_and_depth(client, emulator, key, tmp_path):
    img = image_file(tmp_path / "statue.png", seed=6)
    splat = finish(client, run(client.image_to_splat(str(img), model_seed=3)))
    assert created(emulator, key, splat.task_id)["body"]["model_seed"] == 3 and splat.type == "image_to_splat"
    path = tmp_path / "s.splat"
    run(client.download_file(splat.output.urls["splat_url"], str(path)))
    assert path.stat().st_size and path.stat().st_size % 32 == 0
    depth = finish(client, run(client.image_to_depth(str(img), kind="color", process_res=256)))
    assert created(emulator, key, depth.task_id)["body"]["kind"] == "color"
    png = open(downloads(client, depth, tmp_path / "d")["depth_image"], "rb").read()
    assert png[:4] == b"\x89PNG" and png[16:24] == (256).to_bytes(4, "big") * 2
