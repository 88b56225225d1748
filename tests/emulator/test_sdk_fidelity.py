"""Tripo's own SDK (tripo3d==0.4.2), unchanged, pointed at the emulator: the emulator serves exactly the requests,
headers and fields the official client uses (create, wait, STS upload through boto3 over TLS, balance, download)."""

from __future__ import annotations

import asyncio

import pytest

from .helpers import glb_vertex_count, parse_glb, png_bytes

tripo3d = pytest.importorskip("tripo3d")


@pytest.fixture
def sdk(emulator, api_key, monkeypatch):
    """A TripoClient class pointed at the emulator (class attribute restored afterwards) and AWS env for boto3."""
    from tripo3d import TripoClient

    monkeypatch.setattr(TripoClient, "BASE_URL", emulator.base_url)
    monkeypatch.setenv("AWS_CA_BUNDLE", emulator.s3_ca_file)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    return TripoClient


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_sdk_text_to_model_wait_and_download(sdk, emulator, api_key, tmp_path):
    async def main():
        async with sdk(api_key=api_key) as client:
            task_id = await client.text_to_model(prompt="a small cat", model_seed=7)
            task = await client.wait_for_task(task_id, polling_interval=0.1)
            files = await client.download_task_models(task, str(tmp_path))
            return task, files

    task, files = _run(main())
    assert task.status == "success" and task.progress == 100
    assert task.output.pbr_model and task.output.rendered_image
    assert files["pbr_model"] and files["rendered_image"]
    data = open(files["pbr_model"], "rb").read()
    parse_glb(data)
    assert glb_vertex_count(data) > 100
    assert open(files["rendered_image"], "rb").read()[8:12] == b"WEBP"
    posts = [r for r in emulator.requests(method="POST", key=api_key) if r["path"].endswith("/task")]
    assert posts[-1]["body"] == {"type": "text_to_model", "prompt": "a small cat", "model_seed": 7}


def test_sdk_image_to_model_uploads_through_sts_and_boto3(sdk, emulator, api_key, tmp_path):
    image = tmp_path / "input.png"
    image.write_bytes(png_bytes(96, 96))

    async def main():
        async with sdk(api_key=api_key) as client:
            task_id = await client.image_to_model(image=str(image), texture=False)
            return await client.wait_for_task(task_id, polling_interval=0.1)

    task = _run(main())
    assert task.status == "success", (task.error_code, task.error_msg)
    assert task.output.base_model
    obj = task.input["file"]["object"]
    assert obj["bucket"] == "tripo-data" and obj["key"].endswith("/input.png")
    assert emulator.s3_get(obj["bucket"], obj["key"]) == image.read_bytes()
    assert any(r["path"].endswith("/upload/sts/token") for r in emulator.requests(key=api_key))


def test_sdk_balance(sdk, emulator, api_key):
    async def main():
        async with sdk(api_key=api_key) as client:
            return await client.get_balance()

    bal = _run(main())
    assert bal.balance == emulator.balance(api_key)["balance"] and bal.frozen == 0


def test_sdk_errors_surface_as_tripo_errors(sdk, api_key):
    from tripo3d.exceptions import TripoAPIError, TripoRequestError

    async def main():
        async with sdk(api_key=api_key) as client:
            await client.get_task("00000000-0000-4000-8000-000000000000")

    with pytest.raises((TripoAPIError, TripoRequestError)) as e:
        _run(main())
    assert "2001" in str(e.value) or "404" in str(e.value)


async def _poll(client, task_id):
    """Like wait_for_task without its 2 s minimum sleep (the SDK's get_task does every request)."""
    while True:
        task = await client.get_task(task_id)
        if task.status in ("success", "failed", "cancelled", "banned", "expired"):
            return task
        await asyncio.sleep(0.05)


def test_sdk_direct_upload_and_post_processing_chain(sdk, emulator, api_key, tmp_path):
    from tripo3d.models import Animation, RigType

    image = tmp_path / "front.png"
    image.write_bytes(png_bytes(128, 96))

    async def main():
        async with sdk(api_key=api_key) as client:
            token = await client._impl.upload_file(str(image))        # the SDK's no-boto3 fallback: POST /upload
            model = await _poll(client, await client.image_to_model(image=token))
            check = await _poll(client, await client.check_riggable(model.task_id))
            rig = await _poll(client, await client.rig_model(model.task_id, rig_type=RigType(check.output.rig_type)))
            anim = await _poll(client, await client.retarget_animation(rig.task_id, animation=Animation.WALK))
            conv = await _poll(client, await client.convert_model(anim.task_id, format="GLTF"))
            files = await client.download_task_models(conv, str(tmp_path))
            return token, model, check, rig, anim, conv, files

    token, model, check, rig, anim, conv, files = _run(main())
    assert model.status == "success" and model.input["file"] == {"type": "jpg", "file_token": token}
    assert check.output.riggable is True and check.output.rig_type in {r.value for r in RigType}
    assert rig.status == anim.status == conv.status == "success"
    assert files["model"].endswith(".zip")
    import zipfile

    assert any(n.endswith(".gltf") for n in zipfile.ZipFile(files["model"]).namelist())
    bodies = [r["body"] for r in emulator.requests(method="POST", key=api_key) if r["path"].endswith("/task")]
    assert bodies[-2] == {"type": "animate_retarget", "original_model_task_id": rig.task_id,
                          "animation": "preset:walk"}
