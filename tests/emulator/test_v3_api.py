"""The emulator's v3 dialect over real HTTP: envelope, auth, parameter errors, pools, tasks/list, usage, uploads,
real output files, faults and the request log (tripo-api-v3.md)."""

from __future__ import annotations

import datetime
import struct
import time
import uuid

import pytest
import requests

from .helpers import auth, download, parse_glb, png_bytes
from .helpers3 import create3, error3, get3, post3, run3, upload3, wait3

V31 = "v3.1-20260211"


@pytest.fixture(scope="module")
def t2m(emulator, mkey) -> dict:
    """A finished v3 text_to_model (a biped) owned by `mkey`."""
    return run3(emulator, mkey, "generation/text-to-model", {"prompt": "a knight in armour", "model": V31})


def _iso(s: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_envelope_and_task_object(emulator, api_key):
    created = post3(emulator, api_key, "generation/text-to-model", {"prompt": "a wooden chair", "model": V31})
    assert created["code"] == 0 and created["status"] == "success"
    assert created["data"]["type"] == "text_to_model" and created["data"]["status"] == "queued"
    task = wait3(emulator, api_key, created["data"]["task_id"])
    assert task["status"] == "success" and task["progress"] == 100
    assert task["input"] == {"prompt": "a wooden chair", "model": V31}
    assert isinstance(task["credits_consumed"], float) and task["credits_consumed"] > 0
    assert _iso(task["created_at"]) <= _iso(task["completed_at"])
    assert not {"create_time", "consumed_credit", "result", "queuing_num"} & set(task)   # v2-only fields
    assert set(task["output"]) == {"model_url", "rendered_image_url"}
    assert parse_glb(download(task["output"]["model_url"]))["meshes"]
    assert download(task["output"]["rendered_image_url"])[8:12] == b"WEBP"
    bal = get3(emulator, api_key, "account/balance")
    assert bal["status"] == "success" and bal["data"] == {"balance": 100_000 - task["credits_consumed"],
                                                          "frozen": 0.0}


def test_401_for_a_missing_or_malformed_key(emulator):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic tsk_x"}):
        r = requests.get(f"{emulator.v3_base_url}/v3/account/balance", headers=headers, timeout=10)
        assert error3(r) == (401, 1002)


@pytest.mark.parametrize("route,body,word", [
    ("generation/text-to-model", {"prompt": "a cat", "model": ""}, "Unknown model"),
    ("generation/text-to-model", {"prompt": "a cat", "model": "tripo-v3.1"}, "Unknown model"),
    ("generation/text-to-model", {"prompt": "a cat", "model": "Turbo-v1.0-20250506"}, "Unknown model"),
    ("generation/text-to-model", {"prompt": "a cat", "model": "P1-20260311", "quad": False}, "quad"),
    ("generation/text-to-model", {"prompt": "a cat", "model": "P2-20260801", "geometry_quality": "standard"},
     "geometry_quality"),
    ("generation/text-to-model", {"prompt": "a cat", "model": "P1-20260311", "smart_low_poly": False},
     "smart_low_poly"),
    ("generation/text-to-model", {"prompt": "a cat", "model": V31, "delight": True}, "delight"),
    ("generation/image-to-model", {"input": "data:image/png;base64,iVBORw0KGgo=", "model": V31}, "data: URI"),
    ("generation/image-to-model", {"file": {"type": "png", "data": "iVBORw0KGgo="}, "model": V31}, "Inline"),
    ("generation/image-to-model", {"input": "task_123", "model": V31}, "task_ prefix"),
    ("generation/text-to-image", {"prompt": "a cat", "model": V31}, "3D model version"),
    ("generation/image-to-image", {"input": "file_x", "model": "seedream_v4", "prompt": "x"}, "image model"),
])
def test_1004_for_bad_parameters(emulator, api_key, route, body, word):
    r = requests.post(f"{emulator.v3_base_url}/v3/{route}", json=body, headers=auth(api_key), timeout=10)
    assert error3(r) == (400, 1004)
    assert word in r.json()["message"]


def test_p2_takes_quad_and_its_own_face_range(emulator, api_key):
    ok = post3(emulator, api_key, "generation/text-to-model",
               {"prompt": "a crate", "model": "P2-20260801", "face_limit": 40_000, "texture": False, "pbr": False})
    assert ok["code"] == 0
    clamped = post3(emulator, api_key, "generation/text-to-model",   # out of range: clamped silently (§18 R5)
                    {"prompt": "a crate", "model": "P2-20260801", "quad": True, "face_limit": 40_000})
    assert emulator.task(clamped["data"]["task_id"]).plan.params["face_limit"] == 25_000


def test_chained_routes_check_versions_and_options(emulator, mkey, t2m):
    tid = t2m["task_id"]
    cases = [("animations/rig", {"input": tid, "spec": "unity"}, "needs rig model v2.5"),
             ("animations/rig", {"input": tid, "model": "v2.0-20250506"}, "retired"),
             ("animations/rig", {"input": tid, "rig_type": "quadruped"}, "bipeds only"),
             ("mesh/decimate", {"input": tid, "model": "v2.0", "smart_uv": True}, "smart_uv"),
             ("mesh/decimate", {"input": tid, "model": "P-v2.0-20251225"}, "Unknown decimate model"),
             ("mesh/segment", {"input": tid, "segmentation_granularity": "simple"}, "v2.0-20260430"),
             ("mesh/complete", {"input": tid, "completion_mode": "magic"}, "completion_mode"),
             ("models/texture", {"input": tid, "model": "v3.0-20250812", "delight": True}, "delight"),
             ("models/convert", {"input": tid, "format": "GLTF", "quad": True}, "GLTF"),
             ("models/import", {"input": tid}, "not a task"),
             ("animations/retarget", {"input": "file_abc", "animation": "preset:walk"}, "task id of an earlier"),
             ("mesh/complete", {"input": "https://example.invalid/m.glb"}, "task id of an earlier")]
    for route, body, word in cases:
        r = requests.post(f"{emulator.v3_base_url}/v3/{route}", json=body, headers=auth(mkey), timeout=10)
        assert error3(r) == (400, 1004), (route, body, r.text)
        assert word in r.json()["message"], (route, r.text)


def test_unknown_task_and_retired_or_unknown_routes(emulator, api_key):
    assert error3(requests.get(f"{emulator.v3_base_url}/v3/tasks/{uuid.uuid4()}", headers=auth(api_key),
                               timeout=10)) == (404, 2001)
    r = requests.post(f"{emulator.v3_base_url}/v3/models/refine", json={}, headers=auth(api_key), timeout=10)
    assert error3(r) == (404, 4001) and "retired" in r.json()["message"]
    r = requests.post(f"{emulator.v3_base_url}/v3/models/stylize", json={}, headers=auth(api_key), timeout=10)
    assert error3(r) == (404, 4001)
    assert error3(requests.get(f"{emulator.v3_base_url}/v3/nope", headers=auth(api_key), timeout=10)) == (404, 4001)
    r = requests.get(f"{emulator.v3_base_url}/v3/generation/text-to-model", headers=auth(api_key), timeout=10)
    assert error3(r) == (405, 1003)
    assert requests.get(emulator.v2_base_url + "/user/balance", headers=auth(api_key), timeout=10).json()["code"] == 0


def test_insufficient_credit_is_403_2010(emulator, api_key):
    emulator.set_balance(api_key, 5)
    r = requests.post(f"{emulator.v3_base_url}/v3/generation/text-to-model", headers=auth(api_key), timeout=10,
                      json={"prompt": "a cat", "model": V31})
    assert error3(r) == (403, 2010)


def test_pools_answer_429_with_retry_after(slow_emulator, slow_key, emulator, mkey, t2m):
    glb = download(t2m["output"]["model_url"])
    cases = [("generation/text-to-image", lambda: {"prompt": "a robot"}, 1),
             ("generation/text-to-model", lambda: {"prompt": "a robot", "model": "P1-20260311"}, 5),
             ("models/import", lambda: {"input": upload3(slow_emulator, slow_key, glb, "m.glb")}, 5)]
    for route, body, limit in cases:
        for _ in range(limit):
            create3(slow_emulator, slow_key, route, body())
        r = requests.post(f"{slow_emulator.v3_base_url}/v3/{route}", json=body(), headers=auth(slow_key), timeout=10)
        assert error3(r) == (429, 2000), route
        assert int(r.headers["Retry-After"]) >= 1
    # other pools are not full: H-series generation (10) still takes tasks
    assert create3(slow_emulator, slow_key, "generation/text-to-model", {"prompt": "a robot", "model": V31})


def test_rate_limit_is_1007(emulator, api_key):
    emulator.configure(rate_limit_per_minute=2)
    try:
        heads = []
        for _ in range(3):
            r = requests.post(f"{emulator.v3_base_url}/v3/generation/text-to-model", headers=auth(api_key),
                              timeout=10, json={"prompt": "a cat", "model": V31})
            heads.append((r.headers["X-RateLimit-Limit"], r.headers["X-RateLimit-Remaining"]))
        assert error3(r) == (429, 1007) and int(r.headers["Retry-After"]) >= 1
        assert heads == [("2", "1"), ("2", "0"), ("2", "0")]
        assert 0 < int(r.headers["X-RateLimit-Reset"]) - time.time() <= 61
    finally:
        emulator.configure(rate_limit_per_minute=None)


def test_tasks_list(emulator, api_key, mkey, t2m):
    mine = create3(emulator, api_key, "generation/text-to-model", {"prompt": "a vase", "model": V31})
    ghost = str(uuid.uuid4())
    d = post3(emulator, api_key, "tasks/list", {"task_ids": [mine, ghost, t2m["task_id"]]})["data"]
    assert set(d["tasks"]) == {mine} and d["missed"] == [ghost, t2m["task_id"]]   # another key's task is missed
    assert d["tasks"][mine]["task_id"] == mine and d["tasks"][mine]["type"] == "text_to_model"
    for ids in ([], [str(uuid.uuid4()) for _ in range(101)], "x"):
        r = requests.post(f"{emulator.v3_base_url}/v3/tasks/list", json={"task_ids": ids}, headers=auth(api_key),
                          timeout=10)
        assert error3(r) == (400, 1004)


def test_usage_pages_newest_first(emulator, api_key):
    ids = [create3(emulator, api_key, "generation/text-to-model", {"prompt": f"a cup {i}", "model": V31})
           for i in range(3)]
    for tid in ids:
        wait3(emulator, api_key, tid)
    rows = get3(emulator, api_key, "account/usage")["data"]["items"]
    assert [r["task_id"] for r in rows] == ids[::-1]
    assert set(rows[0]) == {"task_id", "type", "status", "created_at", "credits_consumed"}
    assert all(r["status"] == "success" and r["credits_consumed"] > 0 for r in rows)
    page = get3(emulator, api_key, "account/usage", limit=2, offset=1)["data"]
    assert [r["task_id"] for r in page["items"]] == [ids[1], ids[0]] and page["total"] == 3
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
        r = requests.get(f"{emulator.v3_base_url}/v3/account/usage", params=bad, headers=auth(api_key), timeout=10)
        assert error3(r) == (400, 1004)


def test_presigned_put_refuses_the_key_and_gives_a_usable_token(emulator, api_key):
    d = post3(emulator, api_key, "files/presign", {"format": "png"})["data"]
    url, token = d["presigned_url"], d["file_token"]
    assert token.startswith("file_") and d["expires_in"] > 0 and url.startswith(emulator.root_url)
    img = png_bytes(64, 64, seed=5)
    r = requests.put(url, data=img, headers={**auth(api_key), "Content-Type": "image/png"}, timeout=10)
    assert r.status_code == 400 and b"Authorization" in r.content
    r = requests.put(url.replace("sig=", "sig=0"), data=img, timeout=10)
    assert r.status_code == 403
    r = requests.put(url, data=img, headers={"Content-Type": "image/png"}, timeout=10)
    assert r.status_code == 200
    puts = emulator.requests(method="PUT", route="upload", api="v3")
    assert [p["authorization"] for p in puts[-3:]] == [True, False, False]
    task = run3(emulator, api_key, "generation/image-to-model", {"input": token, "model": V31})
    assert task["output"]["model_url"]


def test_inputs_in_every_form(emulator, api_key):
    tok = [upload3(emulator, api_key, png_bytes(64, 64, seed=i)) for i in range(3)]
    as_views = run3(emulator, api_key, "generation/multiview-to-model",
                    {"model": V31, "inputs": [{"back": tok[1]}, {"front": tok[0]}]})
    slots = run3(emulator, api_key, "generation/multiview-to-model",
                 {"model": V31, "inputs": [tok[0], "", tok[1], None]})
    legacy = run3(emulator, api_key, "generation/image-to-model",
                  {"model": V31, "file": {"type": "png", "file_token": tok[2]}})
    image = run3(emulator, api_key, "generation/text-to-image", {"prompt": "a red robot"})
    from_task = run3(emulator, api_key, "generation/image-to-model", {"model": V31, "input": image["task_id"]})
    views = run3(emulator, api_key, "generation/image-to-multiview", {"input": tok[0]})
    from_views = run3(emulator, api_key, "generation/multiview-to-model",
                      {"model": V31, "inputs": [{"task_id": views["task_id"]}]})
    for t in (as_views, slots, legacy, from_task, from_views):
        assert parse_glb(download(t["output"]["model_url"]))["meshes"]


def test_outputs_are_real_files(emulator, api_key, mkey, t2m):
    tok = upload3(emulator, api_key, png_bytes(96, 64, seed=2))
    splat = run3(emulator, api_key, "generation/image-to-splat", {"input": tok})
    data = download(splat["output"]["splat_url"])
    assert splat["output"]["splat_url"].split("?")[0].endswith(".splat") and len(data) % 32 == 0 and data
    x, y, z = struct.unpack("<3f", data[:12])
    assert all(abs(v) < 10 for v in (x, y, z))
    depth = run3(emulator, api_key, "generation/image-to-depth", {"input": tok, "process_res": 300})
    png = download(depth["output"]["depth_image_url"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (300, 200)
    views = run3(emulator, api_key, "generation/image-to-multiview", {"input": tok})["output"]
    assert all(download(views[f"{v}_view_url"])[:4] == b"\x89PNG" for v in ("front", "left", "back", "right"))
    uv = run3(emulator, mkey, "mesh/uv", {"input": t2m["task_id"]})["output"]
    assert download(uv["uv_render_url"])[:4] == b"\x89PNG" and parse_glb(download(uv["model_url"]))["meshes"]
    rig = run3(emulator, mkey, "animations/rig", {"input": t2m["task_id"], "model": "v2.5-20260210"})
    anim = run3(emulator, mkey, "animations/retarget",
                {"input": rig["task_id"], "animations": ["preset:walk", "preset:jump", "preset:idle"]})
    assert anim["credits_consumed"] == 30.0
    clips = [parse_glb(download(u)) for u in anim["output"]["model_urls"]]
    assert [len(c["animations"]) for c in clips] == [1, 1, 1]
    assert len(parse_glb(download(anim["output"]["model_url"]))["animations"]) == 3
    check = run3(emulator, mkey, "animations/rig-check", {"input": t2m["task_id"]})["output"]
    assert check == {"riggable": True, "rig_type": "biped"}


@pytest.mark.parametrize("route,call", [
    ("create", lambda e, k: requests.post(f"{e.v3_base_url}/v3/generation/text-to-image", json={"prompt": "x"},
                                          headers=auth(k), timeout=10)),
    ("list", lambda e, k: requests.post(f"{e.v3_base_url}/v3/tasks/list", json={"task_ids": [str(uuid.uuid4())]},
                                        headers=auth(k), timeout=10)),
    ("balance", lambda e, k: requests.get(f"{e.v3_base_url}/v3/account/balance", headers=auth(k), timeout=10)),
    ("usage", lambda e, k: requests.get(f"{e.v3_base_url}/v3/account/usage", headers=auth(k), timeout=10)),
    ("upload", lambda e, k: requests.post(f"{e.v3_base_url}/v3/files", files={"file": ("a.png", png_bytes())},
                                          headers=auth(k), timeout=10)),
    ("presign", lambda e, k: requests.post(f"{e.v3_base_url}/v3/files/presign", json={"format": "png"},
                                           headers=auth(k), timeout=10)),
])
def test_faults_hit_v3_routes_by_their_names(emulator, api_key, route, call):
    emulator.inject(route, "status", status=503, code=1000, retry_after=2, match={"key": api_key})
    r = call(emulator, api_key)
    assert error3(r) == (503, 1000) and r.headers["Retry-After"] == "2"
    log = emulator.requests(key=api_key, route=route, api="v3")
    assert log[-1]["fault"] == "status"
    assert call(emulator, api_key).status_code == 200            # count 1: the next one goes through


@pytest.mark.parametrize("status", ["banned", "expired", "cancelled"])
def test_fault_injection_ends_tasks_banned_expired_cancelled(emulator, api_key, status):
    emulator.inject("create", "fail_task", task_status=status, match={"key": api_key})
    tid = create3(emulator, api_key, "generation/text-to-model", {"prompt": "a cat", "model": V31})
    task = wait3(emulator, api_key, tid)
    assert task["status"] == status and task["output"] == {} and task["credits_consumed"] == 0.0
    assert get3(emulator, api_key, "account/balance")["data"]["frozen"] == 0.0


def test_poll_and_download_faults_on_v3(emulator, api_key):
    tid = create3(emulator, api_key, "generation/text-to-model", {"prompt": "a cat", "model": V31})
    wait3(emulator, api_key, tid)
    emulator.inject("poll", "unknown_status", match={"task_id": tid})
    assert get3(emulator, api_key, f"tasks/{tid}")["data"]["status"] == "unknown"
    emulator.inject("poll", "expire_urls", match={"task_id": tid})
    url = get3(emulator, api_key, f"tasks/{tid}")["data"]["output"]["model_url"]
    assert requests.get(url, timeout=10).status_code == 403
    emulator.inject("download", "status", status=502, match={"owner": api_key})
    url = get3(emulator, api_key, f"tasks/{tid}")["data"]["output"]["model_url"]
    assert requests.get(url, timeout=10).status_code == 502
    assert requests.get(url, timeout=10).status_code == 200
    assert emulator.requests(route="download", path=tid)[-1]["api"] == "v3"


def test_request_log_tells_the_dialects_apart(emulator, api_key):
    requests.post(emulator.v2_base_url + "/task", json={"type": "text_to_image", "prompt": "a cat"},
                  headers=auth(api_key), timeout=10)
    v3_id = create3(emulator, api_key, "generation/text-to-model", {"prompt": "a cat", "model": V31})
    creates = emulator.requests(key=api_key, route="create")
    assert [c["api"] for c in creates] == ["v2", "v3"] and creates[1]["task_id"] == v3_id
    assert [c["path"] for c in emulator.requests(key=api_key, route="create", api="v3")] == [
        "/v3/generation/text-to-model"]
    assert emulator.task(v3_id).api == "v3"


def test_base_url_follows_the_api_argument():
    from tripo_emulator import Emulator

    for api, tail in (("v2", "/v2/openapi"), ("v3", "")):
        emu = Emulator(port=0, s3=False, api=api)
        try:
            assert emu.base_url == emu.root_url + tail
            assert (emu.v2_base_url, emu.v3_base_url) == (emu.root_url + "/v2/openapi", emu.root_url)
        finally:
            emu.stop()
    default = Emulator(port=0, s3=False)
    default.stop()
    assert default.base_url.endswith("/v2/openapi")
    with pytest.raises(ValueError):
        Emulator(port=0, s3=False, api="v4")


def test_model_routes_take_a_file_directly(emulator, api_key, mkey, t2m):
    """texture/convert/rig... accept a file token or URL where a model task is expected: imported at once (free,
    not in the usage list) and worked on like an import_model task."""
    glb = download(t2m["output"]["model_url"])
    token = upload3(emulator, api_key, glb, "mine.glb")
    tex = run3(emulator, api_key, "models/texture", {"input": token, "texture_prompt": {"text": "gold"}})
    rig = run3(emulator, api_key, "animations/rig", {"input": t2m["output"]["model_url"], "model": "v2.5-20260210"})
    conv = run3(emulator, api_key, "models/convert", {"input": token, "format": "STL"})
    assert parse_glb(download(tex["output"]["model_url"]))["meshes"]
    assert parse_glb(download(rig["output"]["model_url"]))["skins"]
    assert download(conv["output"]["model_url"])[:5] != b"solid" and conv["output"]["model_url"].split("?")[0].endswith(
        ".stl")
    rows = get3(emulator, api_key, "account/usage")["data"]["items"]
    assert [r["type"] for r in rows] == ["convert_model", "animate_rig", "texture_model"]
    r = requests.post(f"{emulator.v3_base_url}/v3/models/texture", json={"input": upload3(emulator, api_key,
                                                                                            png_bytes())},
                      headers=auth(api_key), timeout=10)
    assert error3(r)[0] == 400


def test_v35_textures_take_fast_quality_and_delight(emulator, api_key):
    body = {"prompt": "a lamp", "model": V31, "texture_version": "v3.5-20260815", "texture_quality": "fast",
            "delight": False, "export_orientation": "-y"}
    task = run3(emulator, api_key, "generation/text-to-model", body)
    assert task["input"] == body and task["credits_consumed"] == 20.0
    params = emulator.task(task["task_id"]).plan.params
    assert (params["texture_quality"], params["delight"], params["export_orientation"]) == ("fast", False, "-y")
