"""Happy paths of every v2 endpoint over real HTTP."""

from __future__ import annotations

import uuid

import requests

from .helpers import auth, create_id, download, get, parse_glb, png_bytes, run, wait


def test_text_to_model_create_poll_download(emulator, api_key):
    r = requests.post(emulator.base_url + "/task", json={"type": "text_to_model", "prompt": "a red chair"},
                      headers=auth(api_key))
    assert r.status_code == 200 and r.json()["code"] == 0
    uuid.UUID(r.headers["X-Tripo-Trace-ID"])
    task_id = r.json()["data"]["task_id"]
    uuid.UUID(task_id)
    first = get(emulator, api_key, task_id)
    assert first["status"] in ("queued", "running")
    assert first["type"] == "text_to_model" and first["input"]["prompt"] == "a red chair"
    d = wait(emulator, api_key, task_id)
    assert d["status"] == "success" and d["progress"] == 100
    assert d["queuing_num"] == -1 and d["running_left_time"] == -1
    assert set(d["output"]) == {"pbr_model", "rendered_image"}
    assert d["result"]["pbr_model"] == {"type": "glb", "url": d["output"]["pbr_model"]}
    assert d["thumbnail"] == d["output"]["rendered_image"]
    assert f"tripo_pbr_model_{task_id}.glb" in d["output"]["pbr_model"]
    g = parse_glb(download(d["output"]["pbr_model"]))
    assert g["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]["index"] == 0
    assert g["images"][0]["mimeType"] == "image/png"
    assert download(d["output"]["rendered_image"])[8:12] == b"WEBP"


def test_balance(emulator, api_key):
    r = requests.get(emulator.base_url + "/user/balance", headers=auth(api_key))
    assert r.status_code == 200
    assert r.json() == {"code": 0, "data": {"balance": 100_000, "frozen": 0}}


def test_direct_upload_both_paths(emulator, api_key):
    for path in ("/upload", "/upload/sts"):
        r = requests.post(emulator.base_url + path, files={"file": ("a.png", png_bytes(64, 64), "image/png")},
                          headers=auth(api_key))
        assert r.status_code == 200, r.text
        uuid.UUID(r.json()["data"]["image_token"])


def test_image_to_model_with_file_token(emulator, api_key):
    r = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(64, 64), "image/png")},
                      headers=auth(api_key))
    token = r.json()["data"]["image_token"]
    d = run(emulator, api_key, {"type": "image_to_model", "file": {"type": "png", "file_token": token}})
    parse_glb(download(d["output"]["pbr_model"]))


def test_unknown_well_formed_key_gets_an_account(emulator):
    key = "tsk_auto_" + uuid.uuid4().hex
    r = requests.get(emulator.base_url + "/user/balance", headers=auth(key))
    assert r.json()["data"] == {"balance": 10_000, "frozen": 0}
    assert create_id(emulator, key, {"type": "text_to_image", "prompt": "a fox"})
