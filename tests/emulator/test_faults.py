"""Every fault kind, on the routes they apply to, plus rule matching and counting."""

from __future__ import annotations

import time

import pytest
import requests

from .helpers import auth, get, png_bytes

T2I = {"type": "text_to_image", "prompt": "a fox"}


def post_task(emu, key, body=T2I, **kw):
    return requests.post(emu.base_url + "/task", json=body, headers=auth(key), timeout=30, **kw)


def posts(emu, key):
    return [r for r in emu.requests(method="POST", key=key) if r["path"].endswith("/task")]


def test_status_with_tripo_code_and_retry_after(emulator, api_key):
    emulator.inject(route="create", kind="status", status=429, code=2000, retry_after=3, match={"key": api_key})
    r = post_task(emulator, api_key)
    assert r.status_code == 429 and r.json()["code"] == 2000 and r.headers["Retry-After"] == "3"
    assert r.headers["X-Tripo-Trace-ID"]
    assert post_task(emulator, api_key).status_code == 200
    assert [p["status"] for p in posts(emulator, api_key)] == [429, 200]


def test_status_without_code_is_a_gateway_page(emulator, api_key):
    emulator.inject(route="poll", kind="status", status=502, match={"key": api_key})
    tid = post_task(emulator, api_key).json()["data"]["task_id"]
    r = requests.get(f"{emulator.base_url}/task/{tid}", headers=auth(api_key))
    assert r.status_code == 502 and r.headers["Content-Type"] == "text/html" and b"502" in r.content
    assert get(emulator, api_key, tid)["task_id"] == tid


def test_status_before_does_not_create_after_does(emulator, api_key):
    emulator.inject(route="create", kind="status", status=503, match={"key": api_key})
    assert post_task(emulator, api_key).status_code == 503
    assert emulator.balance(api_key)["balance"] == 100_000        # nothing created or frozen
    emulator.inject(route="create", kind="status", status=504, after=True, match={"key": api_key})
    assert post_task(emulator, api_key).status_code == 504
    assert emulator.balance(api_key)["balance"] == 100_000 - 5    # the task exists


def test_delay(emulator, api_key):
    emulator.inject(route="balance", kind="delay", seconds=0.6, match={"key": api_key})
    t0 = time.monotonic()
    r = requests.get(emulator.base_url + "/user/balance", headers=auth(api_key))
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.55


@pytest.mark.parametrize("after", [False, True])
def test_drop(emulator, api_key, after):
    emulator.inject(route="create", kind="drop", after=after, match={"key": api_key})
    with pytest.raises(requests.ConnectionError):
        post_task(emulator, api_key)
    frozen = emulator.balance(api_key)
    assert (frozen["balance"] == 100_000 - 5) == after   # after=True: the outcome is unknown but the task exists
    assert posts(emulator, api_key)[-1]["fault"] == "drop"
    assert post_task(emulator, api_key).status_code == 200


def test_truncate_api_answer_and_download(emulator, api_key, mkey, image_task):
    emulator.inject(route="balance", kind="truncate", match={"key": api_key})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(emulator.base_url + "/user/balance", headers=auth(api_key)).json()
    url = get(emulator, mkey, image_task["task_id"])["output"]["generated_image"]
    emulator.inject(route="download", kind="truncate", fraction=0.3, match={"task_id": image_task["task_id"]})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url)
    assert requests.get(url).content[:4] == b"\x89PNG"


def test_truncate_seen_by_a_raw_socket(emulator, api_key):
    import socket

    emulator.inject(route="balance", kind="truncate", fraction=0.5, match={"key": api_key})
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as s:
        s.sendall(f"GET /v2/openapi/user/balance HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_key}\r\n\r\n"
                  .encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
    assert 0 < len(body) < length


def test_malformed_json(emulator, api_key):
    emulator.inject(route="create", kind="malformed_json", match={"key": api_key})
    r = post_task(emulator, api_key)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert emulator.balance(api_key)["balance"] == 100_000 - 5   # created anyway


def test_slow_body(emulator, api_key):
    emulator.inject(route="balance", kind="slow_body", seconds=0.8, match={"key": api_key})
    t0 = time.monotonic()
    r = requests.get(emulator.base_url + "/user/balance", headers=auth(api_key))
    assert r.json()["code"] == 0 and time.monotonic() - t0 >= 0.6


def test_upload_and_sts_token_routes(emulator, api_key):
    emulator.inject(route="upload", kind="status", status=500, code=1000, match={"key": api_key})
    emulator.inject(route="sts_token", kind="status", status=403, code=1005, match={"key": api_key})
    r = requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                      headers=auth(api_key))
    assert (r.status_code, r.json()["code"]) == (500, 1000)
    r = requests.post(emulator.base_url + "/upload/sts/token", json={"format": "png"}, headers=auth(api_key))
    assert (r.status_code, r.json()["code"]) == (403, 1005)


def test_count_and_forever(emulator, api_key):
    emulator.inject(route="balance", kind="status", status=500, count=2, match={"key": api_key})
    codes = [requests.get(emulator.base_url + "/user/balance", headers=auth(api_key)).status_code for _ in range(3)]
    assert codes == [500, 500, 200]
    emulator.inject(route="any", kind="status", status=503, count=-1, match={"key": api_key})
    for _ in range(3):
        assert requests.get(emulator.base_url + "/user/balance", headers=auth(api_key)).status_code == 503
    assert post_task(emulator, api_key).status_code == 503
    emulator.clear_faults()
    assert post_task(emulator, api_key).status_code == 200


def test_match_on_path_and_type(emulator, api_key):
    emulator.inject(route="any", kind="status", status=500, match={"key": api_key, "path": "/upload/sts/token"})
    assert requests.get(emulator.base_url + "/user/balance", headers=auth(api_key)).status_code == 200
    r = requests.post(emulator.base_url + "/upload/sts/token", json={"format": "png"}, headers=auth(api_key))
    assert r.status_code == 500
    emulator.inject(route="create", kind="status", status=500, match={"key": api_key, "type": "text_to_model"})
    assert post_task(emulator, api_key).status_code == 200
    assert post_task(emulator, api_key, {"type": "text_to_model", "prompt": "x"}).status_code == 500


def test_invalid_rules_are_refused(emulator):
    for rule in ({"kind": "explode"}, {"kind": "status", "route": "elsewhere"},
                 {"kind": "fail_task", "route": "poll"}, {"kind": "status", "count": 0},
                 {"kind": "status", "colour": "red"}):
        with pytest.raises(ValueError):
            emulator.inject(**rule)


def test_request_log_records_everything(emulator, api_key):
    emulator.clear_requests()
    post_task(emulator, api_key, data=b"not json")
    requests.post(emulator.base_url + "/upload", files={"file": ("a.png", png_bytes(), "image/png")},
                  headers=auth(api_key))
    log = emulator.requests(key=api_key)
    assert log[0]["body"]["raw"] == "not json" and log[0]["status"] == 400 and log[0]["code"] == 1003
    assert log[1]["body"] == {"multipart": {"file": {"filename": "a.png", "content_type": "image/png",
                                                     "size": len(png_bytes())}}}
    assert all(isinstance(r["time"], float) for r in log)
    assert emulator.requests(method="POST", path="/upload", key=api_key) == [log[1]]
