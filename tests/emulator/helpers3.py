"""HTTP helpers of the emulator's v3 tests (real HTTP with requests against emu.v3_base_url)."""

from __future__ import annotations

import time

import requests

from .helpers import WAIT, auth

FINAL = ("success", "failed", "banned", "expired", "cancelled")


def post3(emu, key: str | None, route: str, body: dict, expect: int = 200) -> dict:
    r = requests.post(f"{emu.v3_base_url}/v3/{route}", json=body, headers=auth(key) if key else {}, timeout=30)
    assert r.status_code == expect, (r.status_code, r.text)
    return r.json()


def get3(emu, key: str | None, route: str, expect: int = 200, **params) -> dict:
    r = requests.get(f"{emu.v3_base_url}/v3/{route}", params=params, headers=auth(key) if key else {}, timeout=30)
    assert r.status_code == expect, (r.status_code, r.text)
    return r.json()


def create3(emu, key: str, route: str, body: dict) -> str:
    d = post3(emu, key, route, body)
    assert d["code"] == 0 and d["status"] == "success", d
    return d["data"]["task_id"]


def wait3(emu, key: str, task_id: str, timeout: float = WAIT) -> dict:
    end = time.monotonic() + timeout
    while True:
        d = get3(emu, key, f"tasks/{task_id}")["data"]
        if d["status"] in FINAL:
            return d
        assert time.monotonic() < end, f"task {task_id} still {d['status']}"
        time.sleep(0.05)


def run3(emu, key: str, route: str, body: dict, timeout: float = WAIT) -> dict:
    d = wait3(emu, key, create3(emu, key, route, body), timeout)
    assert d["status"] == "success", d
    return d


def upload3(emu, key: str, data: bytes, filename: str = "in.png") -> str:
    r = requests.post(f"{emu.v3_base_url}/v3/files", files={"file": (filename, data)}, headers=auth(key), timeout=30)
    assert r.status_code == 200, r.text
    token = r.json()["data"]["file_token"]
    assert token.startswith("file_")
    return token


def error3(r: requests.Response) -> tuple[int, int]:
    """(HTTP status, code) of a v3 error answer, checking its envelope."""
    body = r.json()
    assert body["status"] == "error" and body["message"] and "suggestion" in body and body["request_id"], body
    return r.status_code, body["code"]
