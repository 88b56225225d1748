"""Emulator rules checked against tripo-api.md: chain rules, option families, prices, priority."""

from __future__ import annotations

import pytest
import requests

from .helpers import auth, error, png_bytes, run

T2M = {"type": "text_to_model", "prompt": "a wooden chair"}


def post(emu, key, body):
    return requests.post(emu.base_url + "/task", json=body, headers=auth(key), timeout=30)


# ---------------------------------------------------------------------------------------------------- chain rules
def test_lowpoly_takes_a_v14_source(emulator, api_key):
    """§5.3.11 / §6 put no version rule on highpoly_to_lowpoly (only texture, segmentation, prerigcheck, rig)."""
    draft = run(emulator, api_key, {**T2M, "model_version": "v1.4-20240625"})
    low = run(emulator, api_key, {"type": "highpoly_to_lowpoly", "original_model_task_id": draft["task_id"]})
    assert low["output"]["model"]
    for t in ("texture_model", "mesh_segmentation", "animate_rig"):
        assert error(post(emulator, api_key, {"type": t, "original_model_task_id": draft["task_id"]})) == (400, 2006)


# ---------------------------------------------------------------------------------------------------- families
V14 = "v1.4-20240625"


@pytest.mark.parametrize("extra", [{"negative_prompt": "x"}, {"image_seed": 1}, {"text_seed": 1},
                                   {"texture": True}, {"pbr": False}, {"texture_quality": "standard"},
                                   {"face_limit": 1000}, {"auto_size": False}, {"export_uv": True}])
def test_v14_text_to_model_takes_only_prompt_and_model_seed(emulator, api_key, extra):
    """§5.3.3 (v1.4: only prompt and model_seed) through catalog.FAMILY_OPTIONS (v1: no shared options)."""
    r = post(emulator, api_key, {**T2M, "model_version": V14, **extra})
    assert error(r) == (400, 1004), r.text
    assert next(iter(extra)).replace("text_seed", "image_seed") in r.json()["message"]


def test_v14_with_prompt_and_seed_only(emulator, api_key):
    d = run(emulator, api_key, {**T2M, "model_version": V14, "model_seed": -12})
    assert set(d["output"]) == {"model", "rendered_image"}


@pytest.mark.parametrize("version, extra, ok", [
    ("P1-20260311", {"quad": False}, False),                  # P1: refused even as false (§5.2, §12)
    ("P1-20260311", {"geometry_quality": None}, False),
    ("P1-20260311", {"texture_seed": 3, "auto_size": True}, True),
    ("Turbo-v1.0-20250506", {"smart_low_poly": True}, False),
    ("Turbo-v1.0-20250506", {"geometry_quality": "detailed"}, False),
    ("Turbo-v1.0-20250506", {"smart_low_poly": False, "geometry_quality": "standard", "quad": True}, True),
    ("v2.5-20250123", {"geometry_quality": "detailed"}, False),
    ("v2.5-20250123", {"smart_low_poly": True, "generate_parts": False}, True),
    ("v3.1-20260211", {"geometry_quality": "detailed", "smart_low_poly": True}, True),
])
def test_family_options(slow_emulator, slow_key, version, extra, ok):
    r = post(slow_emulator, slow_key, {**T2M, "model_version": version, **extra})
    assert (r.status_code == 200) is ok, r.text
    if not ok:
        assert error(r) == (400, 1004)


def test_catalog_family_options_match_the_reference():
    from tripo_emulator import catalog as C

    shared = {"texture", "pbr", "texture_seed", "texture_quality", "face_limit", "auto_size", "compress", "export_uv"}
    assert C.FAMILY_OPTIONS["P1"] == shared and C.FAMILY_OPTIONS["v1"] == set()
    assert C.FAMILY_OPTIONS["Turbo"] == shared | {"quad", "generate_parts"}
    assert C.FAMILY_OPTIONS["H2"] == C.FAMILY_OPTIONS["Turbo"] | {"smart_low_poly"}
    assert C.FAMILY_OPTIONS["H3"] == C.FAMILY_OPTIONS["H2"] | {"geometry_quality"}


def test_p1_multiview_refuses_autofix(emulator, api_key):
    token = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                          headers=auth(api_key)).json()["data"]["image_token"]
    f = {"type": "png", "file_token": token}
    body = {"type": "multiview_to_model", "files": [f, {}, f, {}], "model_version": "P1-20260311"}
    r = post(emulator, api_key, {**body, "enable_image_autofix": True})
    assert error(r) == (400, 1004) and "enable_image_autofix" in r.json()["message"]
    assert post(emulator, api_key, {**body, "enable_image_autofix": False}).status_code == 200
    assert post(emulator, api_key, {**body, "model_version": "v2.5-20250123", "enable_image_autofix": True}
                ).status_code == 200
    assert post(emulator, api_key, {"type": "image_to_model", "file": f, "model_version": "P1-20260311",
                                    "enable_image_autofix": True}).status_code == 200


# ---------------------------------------------------------------------------------------------------- generate_image
def test_flux_dev_is_upgraded_before_the_image_cap(emulator, api_key):
    token = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                          headers=auth(api_key)).json()["data"]["image_token"]
    f = {"type": "png", "file_token": token}
    body = {"type": "generate_image", "prompt": "x", "model_version": "flux.1_dev"}
    r = post(emulator, api_key, {**body, "files": [f] * 5})
    assert error(r) == (400, 1004) and "flux.1_kontext_pro" in r.json()["message"]
    assert post(emulator, api_key, {**body, "files": [f] * 4}).status_code == 200
    assert post(emulator, api_key, {**body, "model_version": "gpt_4o", "files": [f] * 10}).status_code == 200


# ---------------------------------------------------------------------------------------------------- prices
@pytest.mark.parametrize("extra, credits", [
    ({}, 5), ({"quad": False}, 10), ({"face_limit": 10_000}, 10), ({"scale_factor": 1}, 10),
    ({"flatten_bottom": False}, 10), ({"flatten_bottom_threshold": 0.01}, 10), ({"texture_size": 4096}, 10),
    ({"texture_format": "JPEG"}, 10), ({"pivot_to_center_bottom": False}, 10), ({"quad": None}, 5),
    ({"with_animation": True, "bake": True, "pack_uv": False, "export_orientation": "+x"}, 5),
])
def test_convert_surcharge_when_an_option_is_set(emulator, mkey, model_task, extra, credits):
    """§5.3.16: "+5 if any of quad, face_limit, ... is set", whatever the value."""
    d = run(emulator, mkey, {"type": "convert_model", "original_model_task_id": model_task["task_id"],
                             "format": "GLTF", **extra})
    assert d["consumed_credit"] == credits


# ---------------------------------------------------------------------------------------------------- priority
def test_priority_is_403_2013_unless_entitled(emulator, api_key, mkey, model_task):
    bodies = [{"type": "text_to_image", "prompt": "x"}, T2M,
              {"type": "convert_model", "original_model_task_id": model_task["task_id"], "format": "FBX"}]
    for body in bodies:
        key = mkey if body["type"] == "convert_model" else api_key
        r = post(emulator, key, {**body, "priority": 1})
        assert error(r) == (403, 2013), r.text
        assert set(r.json()) == {"code", "message", "suggestion"}
    assert emulator.balance(api_key) == {"balance": 100_000, "frozen": 0}
    for bad in (0, 4, "high", 2.5):
        assert error(post(emulator, api_key, {**T2M, "priority": bad})) == (400, 1004)
    emulator.set_priority(api_key, True)
    d = run(emulator, api_key, {"type": "text_to_image", "prompt": "x", "priority": 2})
    assert d["input"]["priority"] == 2 and d["consumed_credit"] == 5
    emulator.set_priority(api_key, False)
    assert error(post(emulator, api_key, {"type": "text_to_image", "prompt": "x", "priority": 2})) == (403, 2013)


def test_priority_flag_through_the_control_route(emulator):
    import uuid

    key = "tsk_prio_" + uuid.uuid4().hex
    r = requests.post(emulator.root_url + "/_emulator/accounts", json={"key": key, "balance": 50, "priority": True})
    assert r.json()["data"] == {"key": key, "balance": 50, "frozen": 0, "priority": True}
    assert post(emulator, key, {"type": "text_to_image", "prompt": "x", "priority": 3}).status_code == 200
    r = requests.post(emulator.root_url + "/_emulator/accounts", json={"key": key, "balance": 50})
    assert set(r.json()["data"]) == {"key", "balance", "frozen"}  # the reply as before
    assert emulator.accounts.get(key).priority is True  # unchanged unless given
    auto = "tsk_prio_auto_" + uuid.uuid4().hex    # auto-created accounts are not entitled
    assert error(post(emulator, auto, {"type": "text_to_image", "prompt": "x", "priority": 3})) == (403, 2013)
