"""Every error code the emulator produces, with its HTTP status and the {code, message, suggestion} envelope."""

from __future__ import annotations

import struct
import uuid

import pytest
import requests

from .helpers import auth, create_id, error, png_bytes, run, wait

T2M = {"type": "text_to_model", "prompt": "a wooden chair"}


def post(emu, key, body, **kw):
    return requests.post(emu.base_url + "/task", json=body, headers=auth(key), timeout=30, **kw)


def expect(r: requests.Response, status: int, code: int) -> dict:
    assert error(r) == (status, code), r.text
    body = r.json()
    assert set(body) == {"code", "message", "suggestion"} and body["message"]
    assert r.headers["X-Tripo-Trace-ID"]
    return body


# ---------------------------------------------------------------------------------------------------- auth / body
@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-tripo-key", "tsk_abc"])
def test_1002_bad_authorization(emulator, header):
    headers = {"Authorization": header} if header is not None else {}
    expect(requests.get(emulator.base_url + "/user/balance", headers=headers), 401, 1002)
    expect(requests.post(emulator.base_url + "/task", json=T2M, headers=headers), 401, 1002)


def test_1002_unknown_key_when_strict(tmp_path):
    from tripo_emulator import Emulator

    with Emulator(port=0, data_dir=tmp_path, strict_keys=True, s3=False) as emu:
        expect(requests.get(emu.base_url + "/user/balance", headers=auth("tsk_nobody")), 401, 1002)
        emu.add_account("tsk_somebody", 50)
        r = requests.get(emu.base_url + "/user/balance", headers=auth("tsk_somebody"))
        assert r.json()["data"] == {"balance": 50, "frozen": 0}
        requests.post(emu.root_url + "/_emulator/accounts", json={"strict": False})
        assert requests.get(emu.base_url + "/user/balance", headers=auth("tsk_nobody")).status_code == 200


def test_1003_malformed_json(emulator, api_key):
    r = requests.post(emulator.base_url + "/task", data=b'{"type": "text_to_model",', headers=auth(api_key))
    expect(r, 400, 1003)
    r = requests.post(emulator.base_url + "/upload/sts/token", data=b"nope", headers=auth(api_key))
    expect(r, 400, 1003)


def test_1007_rate_limit_only_when_configured(tmp_path):
    from tripo_emulator import Emulator

    with Emulator(port=0, data_dir=tmp_path, rate_limit_per_minute=2, s3=False, time_scale=1) as emu:
        for _ in range(2):
            assert post(emu, "tsk_rl", {"type": "text_to_image", "prompt": "x"}).status_code == 200
        r = post(emu, "tsk_rl", {"type": "text_to_image", "prompt": "x"})
        expect(r, 429, 1007)
        assert int(r.headers["Retry-After"]) >= 1


# ---------------------------------------------------------------------------------------------------- 1004
BAD_BODIES = {
    "missing prompt": {"type": "text_to_model"},
    "empty prompt": {"type": "text_to_model", "prompt": "  "},
    "prompt > 1024": {"type": "text_to_model", "prompt": "a" * 1025},
    "negative > 255": {**T2M, "negative_prompt": "b" * 256},
    "texture not bool": {**T2M, "texture": "yes"},
    "seed not int": {**T2M, "model_seed": 1.5},
    "bad texture_quality": {**T2M, "texture_quality": "ultra"},
    "face_limit H2 > 500k": {**T2M, "face_limit": 500_001},
    "face_limit Turbo > 50k": {**T2M, "model_version": "Turbo-v1.0-20250506", "face_limit": 60_000},
    "face_limit P1 < 48": {**T2M, "model_version": "P1-20260311", "face_limit": 40},
    "face_limit P1 > 20k": {**T2M, "model_version": "P1-20260311", "face_limit": 20_001},
    "face_limit H3 > 1.5M": {**T2M, "model_version": "v3.1-20260211", "face_limit": 1_600_000},
    "face_limit -1": {**T2M, "face_limit": -1},
    "P1 quad": {**T2M, "model_version": "P1-20260311", "quad": False},
    "P1 smart_low_poly": {**T2M, "model_version": "P1-20260311", "smart_low_poly": True},
    "P1 generate_parts": {**T2M, "model_version": "P1-20260311", "generate_parts": False},
    "P1 geometry_quality": {**T2M, "model_version": "P1-20260311", "geometry_quality": "standard"},
    "H2 geometry_quality detailed": {**T2M, "geometry_quality": "detailed"},
    "Turbo smart_low_poly": {**T2M, "model_version": "Turbo-v1.0-20250506", "smart_low_poly": True},
    "smart_low_poly face_limit < 1000": {**T2M, "smart_low_poly": True, "face_limit": 800},
    "generate_parts with texture": {**T2M, "generate_parts": True},
    "generate_parts with quad": {**T2M, "generate_parts": True, "texture": False, "pbr": False, "quad": True},
    "compress true": {**T2M, "compress": True},
    "detailed no texture not v3.0": {**T2M, "texture": False, "pbr": False, "texture_quality": "detailed"},
    "image_to_model without file": {"type": "image_to_model"},
    "file with two sources": {"type": "image_to_model", "file": {"type": "png", "file_token": "x",
                                                                 "url": "http://127.0.0.1:1/a.png"}},
    "file with no source": {"type": "image_to_model", "file": {"type": "png"}},
    "multiview 3 slots": {"type": "multiview_to_model", "files": [{}, {}, {}]},
    "multiview files and original_task_id": {"type": "multiview_to_model", "files": [{}, {}, {}, {}],
                                             "original_task_id": "x"},
    "text_to_image negative > 255": {"type": "text_to_image", "prompt": "x", "negative_prompt": "n" * 256},
    "generate_image no prompt": {"type": "generate_image"},
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_1004_invalid_parameters(emulator, api_key, name):
    expect(post(emulator, api_key, BAD_BODIES[name]), 400, 1004)


def test_1004_multiview_slots(emulator, api_key):
    r = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                      headers=auth(api_key))
    f = {"type": "png", "file_token": r.json()["data"]["image_token"]}
    for files in ([{}, f, f, {}], [f, {}, {}, {}], [f, f, f, f, f]):
        expect(post(emulator, api_key, {"type": "multiview_to_model", "files": files}), 400, 1004)
    assert post(emulator, api_key, {"type": "multiview_to_model", "files": [f, {}, f, {}]}).status_code == 200


def test_1004_post_processing_rules(emulator, mkey, model_task, rig_task):
    src, rig = model_task["task_id"], rig_task["task_id"]
    bad = [
        {"type": "texture_model", "original_model_task_id": src, "texture": False, "pbr": False},
        {"type": "texture_model", "original_model_task_id": src, "texture": False, "pbr": False,
         "texture_quality": "detailed"},  # needs model_version v3.0-20250812
        {"type": "texture_model", "original_model_task_id": src, "texture_prompt": {"text": "a", "image": {}}},
        {"type": "animate_retarget", "original_model_task_id": rig,
         "animations": ["preset:walk", "preset:run", "preset:idle", "preset:jump", "preset:turn", "preset:fall"]},
        {"type": "animate_retarget", "original_model_task_id": rig, "animation": "preset:moonwalk"},
        {"type": "animate_retarget", "original_model_task_id": rig},
        {"type": "animate_retarget", "original_model_task_id": rig, "animation": "preset:quadruped:walk"},
        {"type": "animate_rig", "original_model_task_id": src, "rig_type": "dragon"},
        {"type": "animate_rig", "original_model_task_id": src, "out_format": "obj"},
        {"type": "convert_model", "original_model_task_id": rig, "format": "OBJ"},
        {"type": "convert_model", "original_model_task_id": rig, "format": "stl"},
        {"type": "convert_model", "original_model_task_id": rig, "format": "3MF"},
        {"type": "convert_model", "original_model_task_id": src, "format": "DAE"},
        {"type": "convert_model", "original_model_task_id": src},
        {"type": "convert_model", "original_model_task_id": src, "format": "FBX", "texture_size": 8192},
        {"type": "convert_model", "original_model_task_id": src, "format": "FBX", "export_orientation": "+z"},
        {"type": "stylize_model", "original_model_task_id": src, "style": "minecraft", "block_size": 20},
        {"type": "stylize_model", "original_model_task_id": src, "style": "minecraft", "block_size": 129},
        {"type": "stylize_model", "original_model_task_id": src, "style": "clay"},
        {"type": "highpoly_to_lowpoly", "original_model_task_id": src, "face_limit": 400},
        {"type": "highpoly_to_lowpoly", "original_model_task_id": src, "quad": True, "face_limit": 12_000},
        {"type": "mesh_completion", "original_model_task_id": src},  # 2006, checked below
    ]
    for body in bad[:-1]:
        expect(post(emulator, mkey, body), 400, 1004)
    ok = run(emulator, mkey, {"type": "texture_model", "original_model_task_id": src, "texture": False,
                              "pbr": False, "texture_quality": "detailed", "model_version": "v3.0-20250812"})
    assert ok["status"] == "success"


def test_1004_uploads_and_sts(emulator, api_key):
    tiny = png_bytes(10, 10)
    r = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", tiny, "image/png")},
                      headers=auth(api_key))
    expect(r, 400, 1004)
    for fmt in ("gif", "jpg", "", None):
        r = requests.post(emulator.base_url + "/upload/sts/token", json={"format": fmt}, headers=auth(api_key))
        expect(r, 400, 1004)


# ---------------------------------------------------------------------------------------------------- 2xxx
def test_2001_other_keys_task(emulator, api_key, mkey, model_task):
    r = requests.get(f"{emulator.base_url}/task/{model_task['task_id']}", headers=auth(api_key))
    expect(r, 404, 2001)
    r = requests.get(f"{emulator.base_url}/task/{uuid.uuid4()}", headers=auth(api_key))
    expect(r, 404, 2001)
    expect(post(emulator, api_key, {"type": "animate_rig", "original_model_task_id": model_task["task_id"]}), 404,
           2001)
    expect(post(emulator, api_key, {"type": "animate_rig", "original_model_task_id": "nope"}), 404, 2001)


def test_2002_unknown_type(emulator, api_key):
    expect(post(emulator, api_key, {"type": "make_it_pretty"}), 400, 2002)


def test_2003_empty_upload_and_unreachable_url(emulator, api_key):
    r = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", b"", "image/png")},
                      headers=auth(api_key))
    expect(r, 400, 2003)
    r = requests.post(emulator.base_url + "/upload", files={"other": ("a.png", png_bytes(), "image/png")},
                      headers=auth(api_key))
    expect(r, 400, 2003)
    body = {"type": "image_to_model", "file": {"type": "png", "url": "http://127.0.0.1:9/missing.png"}}
    expect(post(emulator, api_key, body), 400, 2003)


def test_2004_unsupported_file_types(emulator, api_key):
    r = requests.post(emulator.base_url + "/upload", files={"file": ("a.txt", b"hello world", "text/plain")},
                      headers=auth(api_key))
    expect(r, 400, 2004)
    gif = b"GIF89a" + b"\x00" * 100
    r = requests.post(emulator.base_url + "/upload/sts", files={"file": ("a.gif", gif, "image/gif")},
                      headers=auth(api_key))
    expect(r, 400, 2004)
    key = f"tcli_test/20250101/{uuid.uuid4()}/input.glb"
    emulator.s3_put("tripo-data", key, png_bytes())
    body = {"type": "import_model", "file": {"type": "glb", "object": {"bucket": "tripo-data", "key": key}}}
    expect(post(emulator, api_key, body), 400, 2004)


def test_2005_refine_of_failed_draft(emulator, api_key):
    emulator.inject(route="create", kind="fail_task", match={"key": api_key})
    draft = wait(emulator, api_key, create_id(emulator, api_key, {**T2M, "model_version": "v1.4-20240625"}))
    assert draft["status"] == "failed"
    expect(post(emulator, api_key, {"type": "refine_model", "draft_model_task_id": draft["task_id"]}), 400, 2005)


def test_refine_of_a_v14_draft(emulator, api_key):
    draft = run(emulator, api_key, {**T2M, "model_version": "v1.4-20240625"})
    d = run(emulator, api_key, {"type": "refine_model", "draft_model_task_id": draft["task_id"]})
    assert set(d["output"]) == {"model", "rendered_image"}
    expect(post(emulator, api_key, {"type": "texture_model", "original_model_task_id": draft["task_id"]}), 400,
           2006)


def test_2006_wrong_source_type(emulator, mkey, model_task, image_task):
    src = model_task["task_id"]
    for body in ({"type": "texture_model", "original_model_task_id": image_task["task_id"]},
                 {"type": "mesh_completion", "original_model_task_id": src},
                 {"type": "refine_model", "draft_model_task_id": src},
                 {"type": "stylize_model", "original_model_task_id": image_task["task_id"], "style": "lego"},
                 {"type": "multiview_to_model", "original_task_id": src},
                 {"type": "edit_multiview_image", "original_task_id": src,
                  "prompts": [{"view": "front", "prompt": "x"}]}):
        expect(post(emulator, mkey, body), 400, 2006)


def test_2007_source_not_finished(slow_emulator, slow_key):
    src = create_id(slow_emulator, slow_key, T2M)
    expect(post(slow_emulator, slow_key, {"type": "texture_model", "original_model_task_id": src}), 400, 2007)


def test_2007_source_failed(emulator, api_key):
    emulator.inject(route="create", kind="fail_task", match={"key": api_key})
    src = wait(emulator, api_key, create_id(emulator, api_key, T2M))
    assert src["status"] == "failed" and src["error_code"] == 1001
    expect(post(emulator, api_key, {"type": "animate_rig", "original_model_task_id": src["task_id"]}), 400, 2007)


@pytest.mark.parametrize("body", [
    {"type": "text_to_model", "prompt": "a forbiddenword statue"},
    {"type": "text_to_image", "prompt": "FORBIDDENWORD"},
    {"type": "text_to_model", "prompt": "a cat", "negative_prompt": "forbiddenword"},
])
def test_2008_content_policy(emulator, api_key, body):
    expect(post(emulator, api_key, body), 400, 2008)


def test_2008_configurable_banned_words(emulator, api_key):
    before = emulator.config()["banned_words"]
    requests.post(emulator.root_url + "/_emulator/config", json={"banned_words": before + ["zebra"]})
    try:
        expect(post(emulator, api_key, {"type": "text_to_image", "prompt": "a Zebra"}), 400, 2008)
    finally:
        emulator.configure(banned_words=before)


def test_2009_emoji_in_prompt(emulator, api_key):
    expect(post(emulator, api_key, {"type": "text_to_model", "prompt": "a cat \U0001F431"}), 400, 2009)
    assert post(emulator, api_key, {"type": "text_to_image", "prompt": "ein Kätzchen, 小猫"}).status_code == 200


def test_2010_insufficient_credit(emulator, api_key):
    emulator.set_balance(api_key, 15)
    body = expect(post(emulator, api_key, T2M), 403, 2010)
    assert "20" in body["message"]
    assert post(emulator, api_key, {**T2M, "texture": False}).status_code == 200  # 10 credits
    assert emulator.balance(api_key) in ({"balance": 5, "frozen": 10}, {"balance": 5, "frozen": 0})


def test_2011_prerigcheck_without_model(emulator, mkey, image_task):
    body = {"type": "animate_prerigcheck", "original_model_task_id": image_task["task_id"]}
    expect(post(emulator, mkey, body), 400, 2011)


def test_2012_retarget_needs_rig(emulator, mkey, model_task):
    body = {"type": "animate_retarget", "original_model_task_id": model_task["task_id"], "animation": "preset:walk"}
    expect(post(emulator, mkey, body), 400, 2012)


def test_2015_deprecated_version(emulator, api_key):
    expect(post(emulator, api_key, {**T2M, "model_version": "v1.3-20240522"}), 400, 2015)


def test_2016_animate_model(emulator, api_key):
    expect(post(emulator, api_key, {"type": "animate_model", "original_model_task_id": "x"}), 400, 2016)


@pytest.mark.parametrize("body", [
    {**T2M, "model_version": "v9.9-20300101"},
    {"type": "multiview_to_model", "files": [{}, {}, {}, {}], "model_version": "Turbo-v1.0-20250506"},
    {"type": "generate_image", "prompt": "x", "model_version": "dall-e-3"},
])
def test_2017_invalid_model_version(emulator, api_key, body):
    expect(post(emulator, api_key, body), 400, 2017)


def test_2017_post_processing_versions(emulator, mkey, model_task):
    src = model_task["task_id"]
    for body in ({"type": "mesh_segmentation", "original_model_task_id": src, "model_version": "v2.0-20260430"},
                 {"type": "highpoly_to_lowpoly", "original_model_task_id": src, "model_version": "P-v9"},
                 {"type": "animate_rig", "original_model_task_id": src, "model_version": "v0.1"},
                 {"type": "texture_model", "original_model_task_id": src, "model_version": "v1.4-20240625"}):
        expect(post(emulator, mkey, body), 400, 2017)


def test_2018_too_complex_prompt(emulator, api_key):
    src = run(emulator, api_key, {"type": "text_to_model", "prompt": "a too complex clockwork", "texture": False})
    expect(post(emulator, api_key, {"type": "highpoly_to_lowpoly", "original_model_task_id": src["task_id"]}), 400,
           2018)
    expect(post(emulator, api_key, {"type": "convert_model", "original_model_task_id": src["task_id"],
                                    "format": "FBX", "quad": True}), 400, 2018)


def test_2018_too_complex_import(emulator, api_key):
    from tripo_emulator.assets.glb import pack_glb

    faces = 200_001
    idx = struct.pack(f"<{faces * 3}I", *([0, 1, 2] * faces))
    pos = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    gltf = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
            "buffers": [{"byteLength": len(pos) + len(idx)}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(pos)},
                            {"buffer": 0, "byteOffset": len(pos), "byteLength": len(idx)}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                           "min": [0, 0, 0], "max": [1, 1, 0]},
                          {"bufferView": 1, "componentType": 5125, "count": faces * 3, "type": "SCALAR"}]}
    key = f"tcli_test/20250101/{uuid.uuid4()}/input.glb"
    emulator.s3_put("tripo-data", key, pack_glb(gltf, pos + idx))
    imp = run(emulator, api_key, {"type": "import_model", "file": {"type": "glb", "object": {"bucket": "tripo-data",
                                                                                           "key": key}}})
    expect(post(emulator, api_key, {"type": "highpoly_to_lowpoly", "original_model_task_id": imp["task_id"]}), 400,
           2018)


def test_2019_missing_storage_objects(emulator, api_key):
    body = {"type": "import_model", "file": {"type": "glb", "object": {"bucket": "tripo-data", "key": "nope.glb"}}}
    expect(post(emulator, api_key, body), 404, 2019)
    body = {"type": "image_to_model", "file": {"type": "png", "file_token": str(uuid.uuid4())}}
    expect(post(emulator, api_key, body), 404, 2019)


def test_2019_other_keys_image_token(emulator, api_key, mkey):
    r = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                      headers=auth(mkey))
    body = {"type": "image_to_model", "file": {"type": "png", "file_token": r.json()["data"]["image_token"]}}
    expect(post(emulator, api_key, body), 404, 2019)


def test_unknown_routes(emulator, api_key):
    r = requests.get(emulator.base_url + "/nothing/here", headers=auth(api_key))
    assert r.status_code == 404 and r.json()["code"] == 9404
    r = requests.delete(emulator.base_url + "/task/abc", headers=auth(api_key))
    assert r.status_code == 405
