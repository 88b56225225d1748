"""The v3 rules the emulator takes from tripo-api-v3.md §18 (issue 17), over real HTTP: retarget by rig model (R12,
C3), a template alone (C4), a 3D generation without `model` (C2), error codes of banned / expired / cancelled tasks
(C7), image-model options (C8), version-gated options (R4), face-limit clamping (R5), prices (R2, R3)."""

from __future__ import annotations

import pytest
import requests

from .helpers import auth, create_id, wait
from .helpers3 import create3, error3, get3, post3, run3, wait3

V31, V30, V25, P1 = "v3.1-20260211", "v3.0-20250812", "v2.5-20250123", "P1-20260311"


def _refused(emu, key: str, route: str, body: dict, word: str, code: int = 1004) -> str:
    r = requests.post(f"{emu.v3_base_url}/v3/{route}", json=body, headers=auth(key), timeout=30)
    assert error3(r) == (400, code), (route, body, r.text)
    assert word in r.json()["message"], r.json()["message"]
    return r.json()["message"]


@pytest.fixture(scope="module")
def biped(emulator, mkey) -> str:
    return run3(emulator, mkey, "generation/text-to-model", {"prompt": "a knight in armour", "model": V31})["task_id"]


@pytest.fixture(scope="module")
def rigs(emulator, mkey, biped) -> dict:
    """Rig task ids by (rig model, spec)."""
    out = {}
    for model, spec in (("v1.0-20240301", "tripo"), ("v1.0-20240301", "mixamo"), ("v2.5-20260210", "mixamo"),
                        ("v3.0-20260909", "mixamo")):
        out[model[:4], spec] = create3(emulator, mkey, "animations/rig", {"input": biped, "model": model,
                                                                          "spec": spec})
    for tid in out.values():
        assert wait3(emulator, mkey, tid)["status"] == "success"
    return out


# ------------------------------------------------------------------------------------------------------ retarget
def test_mixamo_rigs_of_v25_and_v30_retarget(emulator, mkey, rigs):
    for model in ("v2.5", "v3.0"):
        task = run3(emulator, mkey, "animations/retarget", {"input": rigs[model, "mixamo"],
                                                            "animations": ["preset:walk", "preset:chop"]})
        assert task["credits_consumed"] == 20.0 and len(task["output"]["model_urls"]) == 2


def test_only_a_v10_mixamo_rig_is_refused(emulator, mkey, rigs):
    body = {"input": rigs["v1.0", "mixamo"], "animation": "preset:biped:walk"}
    _refused(emulator, mkey, "animations/retarget", body, "v1.0 rig made with spec mixamo")
    # the v2 tier keeps v2's own rule (tripo-api.md: only spec tripo retargets)
    r = requests.post(f"{emulator.v2_base_url}/task", headers=auth(mkey), timeout=10,
                      json={"type": "animate_retarget", "original_model_task_id": rigs["v2.5", "mixamo"],
                            "animation": "preset:walk"})
    assert (r.status_code, r.json()["code"]) == (400, 1004) and "spec=tripo" in r.json()["message"]


def test_presets_by_rig_model(emulator, mkey, rigs):
    v10, v25 = rigs["v1.0", "tripo"], rigs["v2.5", "mixamo"]
    task = run3(emulator, mkey, "animations/retarget",
                {"input": v10, "animations": ["preset:biped:afraid", "preset:biped:dance_03", "preset:biped:walk"]})
    assert task["credits_consumed"] == 30.0
    same = run3(emulator, mkey, "animations/retarget", {"input": v10, "animation": "preset:walk"})   # disputed: taken
    assert same["credits_consumed"] == 10.0
    _refused(emulator, mkey, "animations/retarget", {"input": v10, "animation": "preset:chop_02"}, "chop_02")
    msg = _refused(emulator, mkey, "animations/retarget", {"input": v25, "animation": "preset:biped:walk"},
                   "preset:biped:walk")
    assert "names it preset:walk" in msg
    _refused(emulator, mkey, "animations/retarget", {"input": v25, "animation": "preset:dance_01"}, "dance_01")
    _refused(emulator, mkey, "animations/retarget", {"input": v10, "animation": "preset:biped:moonwalk"},
             "moonwalk")


# ------------------------------------------------------------------------------------------------------ C2, C4
def test_a_3d_generation_without_model_is_v31(emulator, api_key):
    task = run3(emulator, api_key, "generation/text-to-model", {"prompt": "a wooden chair"})
    assert task["input"] == {"prompt": "a wooden chair"} and task["credits_consumed"] == 20.0
    assert emulator.task(task["task_id"]).plan.params["model_version"] == V31
    assert emulator.task(task["task_id"]).plan.params["v3_model"] == V31


def test_a_template_alone_makes_an_image(emulator, api_key):
    t2i = run3(emulator, api_key, "generation/text-to-image", {"template": "t_pose"})
    assert t2i["output"]["generated_image_url"] and t2i["credits_consumed"] == 5.0
    _refused(emulator, api_key, "generation/text-to-image", {}, "`prompt` is required")
    _refused(emulator, api_key, "generation/text-to-image", {"template": "selfie"}, "template")


# ------------------------------------------------------------------------------------------------------ C7
@pytest.mark.parametrize("status,code", [("banned", 2008), ("expired", 2018), ("cancelled", None)])
def test_final_states_carry_the_live_error_fields(emulator, api_key, status, code):
    emulator.inject("create", "fail_task", task_status=status, match={"key": api_key})
    v3 = wait3(emulator, api_key, create3(emulator, api_key, "generation/text-to-image", {"prompt": "a lamp"}))
    assert v3["status"] == status and v3.get("error_code") == code and v3["error_message"]
    if status == "expired":
        assert "expired" in v3["error_message"]
    emulator.inject("create", "fail_task", task_status=status, match={"key": api_key})
    v2 = wait(emulator, api_key, create_id(emulator, api_key, {"type": "text_to_image", "prompt": "a lamp"}))
    assert v2["status"] == status and v2.get("error_code") == code and v2["error_msg"]
    emulator.inject("create", "fail_task", task_status=status, error_code=2014, match={"key": api_key})
    forced = wait3(emulator, api_key, create3(emulator, api_key, "generation/text-to-image", {"prompt": "a lamp"}))
    assert forced["error_code"] == 2014                                  # an explicit code wins


# ------------------------------------------------------------------------------------------------------ C8
@pytest.mark.parametrize("body,word", [
    ({"model": "seedream_v4", "quality": "high"}, "`quality` is not supported by seedream_v4"),
    ({"model": "chat_image_2", "quality": "xhigh"}, "`quality` must be one of low, medium, high"),
    ({"model": "chat_image_2", "background": "transparent"}, "`background` is not supported"),
    ({"model": "chat_image_2.5_flare", "background": "transparent", "output_format": "jpeg"}, "png"),
    ({"model": "banana", "aspect_ratio": "7:5"}, "`aspect_ratio` must be one of"),
    ({"model": "seedream_v4", "aspect_ratio": "16:9"}, "banana"),
])
def test_image_model_options_are_checked(emulator, api_key, body, word):
    _refused(emulator, api_key, "generation/text-to-image", {"prompt": "a lamp", **body}, word)


def test_image_model_options_that_are_fine(emulator, api_key):
    for body in ({"model": "chat_image_2", "quality": "high"},
                 {"model": "chat_image_2.5_sunburst", "quality": "max", "background": "transparent"},
                 {"model": "banana_pro", "aspect_ratio": "16:9"}):
        tid = create3(emulator, api_key, "generation/text-to-image", {"prompt": "a lamp", **body})
        assert wait3(emulator, api_key, tid)["status"] == "success"


# ------------------------------------------------------------------------------------------------------ R4, R5
@pytest.mark.parametrize("option,value", [("quad", True), ("smart_low_poly", True), ("auto_size", True),
                                          ("texture_quality", "detailed"), ("compress", "geometry"),
                                          ("generate_parts", True), ("geometry_quality", "detailed")])
def test_v25_takes_none_of_the_gated_options(emulator, api_key, option, value):
    body = {"prompt": "a crate", "model": V25, option: value}
    if option == "generate_parts":
        body.update(texture=False, pbr=False)
    _refused(emulator, api_key, "generation/text-to-model", body, option)
    ok = post3(emulator, api_key, "generation/text-to-model",
               {"prompt": "a crate", "model": V25, option: False if value is True else "standard"
                if option.endswith("quality") else ""})
    assert ok["code"] == 0


@pytest.mark.parametrize("body,expected", [
    ({"model": V31, "face_limit": 3_000_000}, 1_500_000),
    ({"model": V31, "face_limit": 3_000_000, "geometry_quality": "detailed"}, 2_000_000),
    ({"model": V30, "face_limit": 1_200_000}, 1_000_000),
    ({"model": V25, "face_limit": 900_000}, 500_000),
    ({"model": P1, "face_limit": 10}, 50),
    ({"model": P1, "face_limit": 90_000}, 20_000),
    ({"model": V31, "face_limit": 400_000, "quad": True}, 150_000),
    ({"model": V31, "face_limit": 100, "smart_low_poly": True}, 500),
    ({"model": V31, "face_limit": 15_000, "smart_low_poly": True, "quad": True}, 10_000),
    ({"model": V31, "face_limit": 12_000}, 12_000),
])
def test_face_limit_is_clamped_silently(emulator, api_key, body, expected):
    tid = post3(emulator, api_key, "generation/text-to-model", {"prompt": "a crate", "texture": False,
                                                                 **body})["data"]["task_id"]
    assert emulator.task(tid).plan.params["face_limit"] == expected
    assert emulator.task(tid).plan.echo["face_limit"] == body["face_limit"]   # the input echo keeps what was sent
    emulator.forget(tid)                                                      # (no need to build it)


def test_face_limit_must_still_be_an_integer(emulator, api_key):
    _refused(emulator, api_key, "generation/text-to-model", {"prompt": "a crate", "model": V31, "face_limit": "x"},
             "face_limit")


# ------------------------------------------------------------------------------------------------------ R2, R3
@pytest.mark.parametrize("route,body,credits", [
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "texture": False, "pbr": False}, 10),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31}, 20),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "texture": False, "pbr": True}, 20),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "texture_quality": "detailed"}, 30),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "texture_quality": "extreme"}, 40),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "geometry_quality": "detailed"}, 40),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "quad": True}, 25),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "smart_low_poly": True}, 30),
    ("generation/text-to-model", {"prompt": "a crate", "model": V31, "texture": False, "pbr": False,
                                  "generate_parts": True}, 30),
    ("generation/text-to-model", {"prompt": "a crate", "model": P1, "texture": False, "pbr": False}, 30),
    ("generation/text-to-model", {"prompt": "a crate", "model": P1}, 40),
    ("generation/text-to-model", {"prompt": "a crate", "model": P1, "texture_quality": "extreme"}, 60),
])
def test_generation_prices_follow_the_published_table(emulator, api_key, route, body, credits):
    tid = create3(emulator, api_key, route, body)
    assert emulator.task(tid).price == credits
    emulator.forget(tid)   # refunds: the account's balance is back where it was
    assert get3(emulator, api_key, "account/balance")["data"] == {"balance": 100_000.0, "frozen": 0.0}


def test_post_processing_prices(emulator, mkey, biped):
    def price(route: str, body: dict) -> float:
        tid = create3(emulator, mkey, route, body)
        p = emulator.task(tid).price
        emulator.forget(tid)
        return p

    assert [price("models/texture", {"input": biped, "texture_quality": q}) for q in
            ("standard", "detailed", "extreme")] == [10, 20, 30]
    assert price("animations/rig", {"input": biped}) == 25
    assert price("mesh/segment", {"input": biped}) == 40
    assert price("mesh/decimate", {"input": biped, "face_limit": 5000}) == 30
    assert price("models/convert", {"input": biped, "format": "FBX"}) == 5
    assert price("models/convert", {"input": biped, "format": "FBX", "texture_size": 1024}) == 10
    assert price("animations/rig-check", {"input": biped}) == 0
