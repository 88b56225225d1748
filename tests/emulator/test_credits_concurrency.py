"""Credits (frozen at creation, charged on success, refunded on failure, prices) and concurrency limits."""

from __future__ import annotations

import pytest
import requests

from .helpers import auth, create_id, error, png_bytes, run, wait


def balance(emu, key) -> dict:
    r = requests.get(emu.base_url + "/user/balance", headers=auth(key))
    assert r.status_code == 200
    return r.json()["data"]


def test_frozen_at_creation(slow_emulator, slow_key):
    create_id(slow_emulator, slow_key, {"type": "text_to_model", "prompt": "a lamp"})
    assert balance(slow_emulator, slow_key) == {"balance": 100_000 - 20, "frozen": 20}


def test_charged_on_success(emulator, api_key):
    d = run(emulator, api_key, {"type": "text_to_model", "prompt": "a lamp"})
    assert d["consumed_credit"] == 20
    assert balance(emulator, api_key) == {"balance": 100_000 - 20, "frozen": 0}
    assert emulator.balance(api_key) == {"balance": 100_000 - 20, "frozen": 0}


def test_refunded_on_failure(emulator, api_key):
    emulator.inject(route="create", kind="fail_task", error_code=2014, error_msg="audit down",
                    match={"key": api_key, "type": "text_to_model"})
    d = wait(emulator, api_key, create_id(emulator, api_key, {"type": "text_to_model", "prompt": "a lamp"}))
    assert d["status"] == "failed" and d["error_code"] == 2014 and d["error_msg"] == "audit down"
    assert d["consumed_credit"] == 0 and d["output"] == {} and d["result"] == {}
    assert balance(emulator, api_key) == {"balance": 100_000, "frozen": 0}


@pytest.mark.parametrize("status", ["banned", "expired", "cancelled"])
def test_other_final_states_refund(emulator, api_key, status):
    emulator.inject(route="create", kind="fail_task", task_status=status, match={"key": api_key})
    d = wait(emulator, api_key, create_id(emulator, api_key, {"type": "text_to_image", "prompt": "a lamp"}))
    assert d["status"] == status and d["consumed_credit"] == 0
    assert balance(emulator, api_key) == {"balance": 100_000, "frozen": 0}


PRICES = [
    ({"type": "text_to_model", "prompt": "x"}, 20),
    ({"type": "text_to_model", "prompt": "x", "texture": False}, 10),
    ({"type": "text_to_model", "prompt": "x", "texture_quality": "detailed"}, 30),
    ({"type": "text_to_model", "prompt": "x", "texture_quality": "extreme"}, 40),
    ({"type": "text_to_model", "prompt": "x", "model_version": "P1-20260311"}, 40),
    ({"type": "text_to_model", "prompt": "x", "model_version": "P1-20260311", "texture": False}, 30),
    ({"type": "text_to_model", "prompt": "x", "smart_low_poly": True}, 30),
    ({"type": "text_to_model", "prompt": "x", "texture": False, "pbr": False, "generate_parts": True}, 30),
    ({"type": "text_to_model", "prompt": "x", "model_version": "v3.0-20250812", "geometry_quality": "detailed"}, 40),
    ({"type": "text_to_image", "prompt": "x"}, 5),
    ({"type": "generate_image", "prompt": "x"}, 5),
    ({"type": "generate_image", "prompt": "x", "model_version": "midjourney"}, 10),
]


@pytest.mark.parametrize("body, credits", PRICES)
def test_prices(slow_emulator, slow_key, body, credits):
    create_id(slow_emulator, slow_key, body)
    assert balance(slow_emulator, slow_key)["frozen"] == credits


def test_image_prices_and_free_tasks(emulator, api_key, mkey, model_task):
    token = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                          headers=auth(api_key)).json()["data"]["image_token"]
    d = run(emulator, api_key, {"type": "image_to_model", "file": {"type": "png", "file_token": token}})
    assert d["consumed_credit"] == 30
    d = run(emulator, mkey, {"type": "animate_prerigcheck", "original_model_task_id": model_task["task_id"]})
    assert d["consumed_credit"] == 0


def test_2000_concurrency_limit_with_retry_after(slow_emulator, slow_key):
    body = {"type": "text_to_model", "prompt": "a lamp", "texture": False}
    for _ in range(10):
        create_id(slow_emulator, slow_key, body)
    r = requests.post(slow_emulator.base_url + "/task", json=body, headers=auth(slow_key))
    assert error(r) == (429, 2000)
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    token = requests.post(slow_emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                          headers=auth(slow_key)).json()["data"]["image_token"]
    r = requests.post(slow_emulator.base_url + "/task", headers=auth(slow_key),
                      json={"type": "image_to_model", "file": {"type": "png", "file_token": token}})
    assert error(r) == (429, 2000)   # image_to_model shares the bucket; P1 and other groups do not
    r = requests.post(slow_emulator.base_url + "/task", json={**body, "model_version": "P1-20260311"},
                      headers=auth(slow_key))
    assert r.status_code == 200
    assert create_id(slow_emulator, slow_key, {"type": "text_to_image", "prompt": "x"})
    assert slow_emulator.balance(slow_key)["frozen"] == 10 * 10 + 30 + 5


def test_2000_p1_limit_is_5(slow_emulator, slow_key):
    body = {"type": "text_to_model", "prompt": "a lamp", "model_version": "P1-20260311"}
    for _ in range(5):
        create_id(slow_emulator, slow_key, body)
    r = requests.post(slow_emulator.base_url + "/task", json=body, headers=auth(slow_key))
    assert error(r) == (429, 2000) and "Retry-After" in r.headers


def test_2000_multiview_image_limit_is_1(slow_emulator, slow_key):
    token = requests.post(slow_emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                          headers=auth(slow_key)).json()["data"]["image_token"]
    body = {"type": "generate_multiview_image", "file": {"type": "png", "file_token": token}}
    create_id(slow_emulator, slow_key, body)
    r = requests.post(slow_emulator.base_url + "/task", json=body, headers=auth(slow_key))
    assert error(r) == (429, 2000)


def test_limits_are_per_account(slow_emulator, slow_key):
    import uuid

    body = {"type": "text_to_image", "prompt": "x"}
    for _ in range(10):
        create_id(slow_emulator, slow_key, body)
    other = "tsk_other_" + uuid.uuid4().hex
    assert create_id(slow_emulator, other, body)


def test_limit_frees_up_when_tasks_finish(emulator, api_key):
    body = {"type": "text_to_image", "prompt": "x"}
    ids = [create_id(emulator, api_key, body) for _ in range(10)]
    for i in ids:
        wait(emulator, api_key, i)
    assert create_id(emulator, api_key, body)
