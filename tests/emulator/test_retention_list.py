"""Task retention (tripo-api-v3.md §18 R1: Tripo forgets task records after 7 days), the control route that forgets
one task at once, and the two shapes of v3 `tasks/list` (§18 C1), over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from .helpers import auth, create_id, download, get, run
from .helpers3 import create3, error3, get3, post3, run3

V31 = "v3.1-20260211"
ROOT = Path(__file__).resolve().parents[2]


def _forget(emu, task_id: str) -> requests.Response:
    return requests.delete(f"{emu.root_url}/_emulator/tasks/{task_id}", timeout=10)


def _v3_get(emu, key: str, task_id: str) -> requests.Response:
    return requests.get(f"{emu.v3_base_url}/v3/tasks/{task_id}", headers=auth(key), timeout=10)


def test_a_forgotten_task_answers_like_an_unknown_one(emulator, api_key):
    t = run3(emulator, api_key, "generation/text-to-image", {"prompt": "a tin robot"})
    kept = download(t["output"]["generated_image_url"])        # a file downloaded before stays the client's
    unknown = _v3_get(emulator, api_key, str(uuid.uuid4()))
    r = _forget(emulator, t["task_id"])
    assert r.status_code == 200 and r.json()["data"] == {"task_id": t["task_id"], "forgotten": True}
    gone = _v3_get(emulator, api_key, t["task_id"])
    assert error3(gone) == error3(unknown) == (404, 2001)
    assert gone.json()["message"] == unknown.json()["message"] == "Task not found."
    v2 = requests.get(f"{emulator.v2_base_url}/task/{t['task_id']}", headers=auth(api_key), timeout=10)
    assert (v2.status_code, v2.json()["code"]) == (404, 2001)
    d = post3(emulator, api_key, "tasks/list", {"task_ids": [t["task_id"]]})["data"]
    assert d["tasks"] == {} and d["missed"] == [t["task_id"]]
    assert t["task_id"] not in [row["task_id"] for row in get3(emulator, api_key, "account/usage")["data"]["items"]]
    assert _forget(emulator, t["task_id"]).status_code == 404                   # twice: nothing left to forget
    assert kept[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_step_chained_from_a_forgotten_task_is_refused_as_not_found(emulator, api_key):
    src = run3(emulator, api_key, "generation/text-to-model", {"prompt": "a wooden chair", "model": V31})
    before = get3(emulator, api_key, "account/balance")["data"]
    assert _forget(emulator, src["task_id"]).status_code == 200
    for route, body in (("models/convert", {"input": src["task_id"], "format": "FBX"}),
                        ("animations/rig", {"input": src["task_id"]}),
                        ("models/texture", {"input": src["task_id"]})):
        r = requests.post(f"{emulator.v3_base_url}/v3/{route}", json=body, headers=auth(api_key), timeout=10)
        assert error3(r) == (404, 2001), route
        assert "not found" in r.json()["message"].lower()
    r = requests.post(f"{emulator.v2_base_url}/task", headers=auth(api_key), timeout=10,
                      json={"type": "convert_model", "original_model_task_id": src["task_id"], "format": "FBX"})
    assert (r.status_code, r.json()["code"]) == (404, 2001)
    assert get3(emulator, api_key, "account/balance")["data"] == before           # nothing was charged


def test_forgetting_a_running_task_refunds_its_credits(slow_emulator, slow_key):
    tid = create3(slow_emulator, slow_key, "generation/text-to-model", {"prompt": "a vase", "model": V31})
    assert get3(slow_emulator, slow_key, "account/balance")["data"]["frozen"] > 0
    assert _forget(slow_emulator, tid).status_code == 200
    assert get3(slow_emulator, slow_key, "account/balance")["data"] == {"balance": 100_000.0, "frozen": 0.0}
    assert error3(_v3_get(slow_emulator, slow_key, tid)) == (404, 2001)


def test_unknown_task_on_the_control_route(emulator):
    r = _forget(emulator, str(uuid.uuid4()))
    assert (r.status_code, r.json()["code"]) == (404, 2001)


def test_tasks_are_forgotten_after_the_retention(tmp_path):
    from tripo_emulator import Emulator

    # 0.002 days = 172.8 s, x time_scale 0.01 = 1.7 s; a text-to-image takes 0.12 s here
    with Emulator(port=0, time_scale=0.01, data_dir=tmp_path, s3=False, api="v2", retention_days=0.002) as emu:
        key = "tsk_ret_" + uuid.uuid4().hex
        emu.add_account(key, 1000)
        assert emu.config()["retention_days"] == 0.002
        t = run3(emu, key, "generation/text-to-image", {"prompt": "a tin robot"})
        v2 = run(emu, key, {"type": "text_to_image", "prompt": "a tin robot"})
        assert get(emu, key, v2["task_id"])["status"] == "success"
        url = t["output"]["generated_image_url"]
        time.sleep(1.9)
        assert error3(_v3_get(emu, key, t["task_id"])) == (404, 2001)
        r = requests.get(f"{emu.v2_base_url}/task/{v2['task_id']}", headers=auth(key), timeout=10)
        assert (r.status_code, r.json()["code"]) == (404, 2001)
        assert requests.get(url, timeout=10).status_code == 404                  # its files went with it
        fresh = create_id(emu, key, {"type": "text_to_image", "prompt": "a cat"})  # newer tasks are still known
        assert get(emu, key, fresh)["task_id"] == fresh
        emu.configure(retention_days=None)                                      # for ever
        assert emu.config()["retention_days"] is None
        with pytest.raises(ValueError):
            emu.configure(retention_days=0)


@pytest.fixture
def list_shape(emulator):
    def set_shape(shape: str) -> None:
        r = requests.post(f"{emulator.root_url}/_emulator/config", json={"tasks_list_shape": shape}, timeout=10)
        assert r.status_code == 200 and r.json()["data"]["tasks_list_shape"] == shape

    yield set_shape
    emulator.configure(tasks_list_shape="object")


def test_tasks_list_in_both_shapes(emulator, api_key, list_shape):
    done = run3(emulator, api_key, "generation/text-to-image", {"prompt": "a tin robot"})
    ghost = str(uuid.uuid4())
    ids = [done["task_id"], ghost]
    assert emulator.tasks_list_shape == "object"
    obj = post3(emulator, api_key, "tasks/list", {"task_ids": ids})["data"]
    assert set(obj["tasks"]) == {done["task_id"]} and obj["missed"] == [ghost]
    list_shape("array")
    arr = post3(emulator, api_key, "tasks/list", {"task_ids": ids})["data"]
    assert isinstance(arr["tasks"], list) and arr["missed"] == [ghost]
    assert [t["task_id"] for t in arr["tasks"]] == [done["task_id"]]
    assert arr["tasks"][0]["status"] == "success" and arr["tasks"][0]["output"]["generated_image_url"]
    emulator.tasks_list_shape = "object"                 # settable on the object too
    assert isinstance(post3(emulator, api_key, "tasks/list", {"task_ids": ids})["data"]["tasks"], dict)
    r = requests.post(f"{emulator.root_url}/_emulator/config", json={"tasks_list_shape": "map"}, timeout=10)
    assert r.status_code == 400


def test_array_shape_keeps_order_and_running_tasks(slow_emulator, slow_key):
    slow_emulator.configure(tasks_list_shape="array")
    try:
        a = create3(slow_emulator, slow_key, "generation/text-to-model", {"prompt": "a vase", "model": V31})
        b = create3(slow_emulator, slow_key, "generation/text-to-model", {"prompt": "a cup", "model": V31})
        arr = post3(slow_emulator, slow_key, "tasks/list", {"task_ids": [b, a, b]})["data"]
        assert [t["task_id"] for t in arr["tasks"]] == [b, a]
        assert {t["status"] for t in arr["tasks"]} <= {"queued", "running"}
    finally:
        slow_emulator.configure(tasks_list_shape="object")
        for tid in (a, b):
            _forget(slow_emulator, tid)


def test_the_script_names_the_switches():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "tripo_emulator.py"), "--help"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert "--tasks-list-shape {object,array}" in out and "--retention-days" in out
    assert "DELETE" in out and "/_emulator/tasks/ID" in out


def test_the_emulator_refuses_an_unknown_shape(tmp_path):
    from tripo_emulator import Emulator

    with pytest.raises(ValueError, match="tasks_list_shape"):
        Emulator(port=0, data_dir=tmp_path, s3=False, tasks_list_shape="map")
