"""The client on Tripo's live API v3, over real HTTP to the emulator's v3: routes and bodies on the wire, uploads
(files and presigned PUTs without the key), batch polling, usage, decimal credits, errors keyed on HTTP status,
retired task types refused before anything is sent."""

from __future__ import annotations

import uuid

import pytest
from api_helpers import make_image

from tripo_addon.api import errors as E
from tripo_addon.api.client import TripoClient

WAIT = 60.0


@pytest.fixture
def v3(emulator, api_key):
    c = TripoClient(api_key=api_key, base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5)
    assert c.api == "v3"
    yield c
    c.close()


def _creates(emulator, key):
    return [r for r in emulator.requests(key=key) if r["route"] == "create"]


def test_default_address_speaks_v3():
    c = TripoClient(api_key="tsk_" + "x" * 20)
    try:
        assert c.base_url == "https://openapi.tripo3d.ai" and c.api == "v3"
    finally:
        c.close()


def test_text_to_model_on_the_v3_wire(v3, emulator, api_key, tmp_path):
    task = v3.run("text_to_model", {"prompt": "a small chair", "face_limit": 5000}, timeout=WAIT)
    post = _creates(emulator, api_key)[-1]
    assert post["path"] == "/v3/generation/text-to-model"
    assert post["body"] == {"prompt": "a small chair", "face_limit": 5000, "model": "v2.5-20250123"}
    assert set(task.output) >= {"model", "preview"} and task.credits and task.created
    path = v3.download(task.task_id, "model", tmp_path, output=task.output)
    assert path.read_bytes()[:4] == b"glTF"


def test_image_upload_is_a_file_token(v3, emulator, api_key, tmp_path):
    img = make_image(tmp_path / "cat.png", size=(300, 300))
    task = v3.run("image_to_model", {"file": str(img)}, timeout=WAIT)
    up = [r for r in emulator.requests(key=api_key) if r["route"] == "upload"]
    assert len(up) == 1 and up[0]["path"] == "/v3/files"
    token = _creates(emulator, api_key)[-1]["body"]["input"]
    assert token.startswith("file_") and task.status == "success"


def test_presigned_upload_never_carries_the_key(v3, emulator, api_key, tmp_path):
    """Large files go through presign + PUT; the PUT goes to the upload host without the API key."""
    img = make_image(tmp_path / "big.png", size=(512, 512))
    ref = v3.upload(img, method="presign")
    assert ref.kind == "token" and ref.value.startswith("file_")
    log = emulator.requests()
    presign = [r for r in log if r["route"] == "presign" and r["key"] == api_key]
    puts = [r for r in log if r["method"] == "PUT"]
    assert len(presign) == 1 and puts and not any(r["authorization"] for r in puts)
    task = v3.run("image_to_model", {"file": ref}, timeout=WAIT)
    assert task.status == "success"


def test_many_tasks_are_polled_with_one_request(v3, emulator, api_key):
    ids = [v3.submit("text_to_image", {"prompt": f"a cat {i}"}) for i in range(3)]
    emulator.clear_requests()
    found = v3.get_tasks(ids)
    assert set(found) == set(ids)
    log = emulator.requests(key=api_key)
    assert [r["route"] for r in log] == ["list"]


def test_usage_lists_the_accounts_tasks_newest_first(v3):
    a = v3.submit("text_to_image", {"prompt": "first"})
    b = v3.submit("text_to_image", {"prompt": "second"})
    rows = v3.usage(limit=10)
    assert [r.task_id for r in rows][:2] == [b, a]
    assert rows[0].type == "text_to_image"


def test_balance_keeps_decimals(v3, emulator, api_key):
    emulator.set_balance(api_key, 12.75)
    assert v3.balance().balance == pytest.approx(12.75)


def test_missing_credit_is_403_2010_with_the_request_id(v3, emulator, api_key):
    emulator.set_balance(api_key, 0)
    with pytest.raises(E.TripoInsufficientCredit) as info:
        v3.submit("text_to_model", {"prompt": "a chair"})
    assert info.value.status == 403 and info.value.code == 2010 and info.value.trace_id
    assert "top up" in info.value.user_message


def test_a_bad_key_is_401(emulator):
    emulator.set_strict_keys(True)
    try:
        c = TripoClient(api_key="tsk_unknown_" + uuid.uuid4().hex, base_url=emulator.v3_base_url)
        with pytest.raises(E.TripoAuthError) as info:
            c.balance()
        assert info.value.status == 401 and "developers.tripo3d.ai" in info.value.user_message
        c.close()
    finally:
        emulator.set_strict_keys(False)


def test_retired_task_types_send_nothing(v3, emulator, api_key):
    for task_type, params in (("refine_model", {"draft_model_task_id": str(uuid.uuid4())}),
                              ("stylize_model", {"original_model_task_id": str(uuid.uuid4()), "style": "lego"})):
        with pytest.raises(E.TripoValidationError, match="retired"):
            v3.submit(task_type, params)
    assert emulator.requests(key=api_key) == []


def test_rig_v2_is_sent_as_v25_with_a_notice(v3, emulator, api_key):
    model = v3.run("text_to_model", {"prompt": "a knight"}, timeout=WAIT).task_id
    notices: list[str] = []
    v3.submit("animate_rig", {"original_model_task_id": model, "model_version": "v2.0-20250506"},
              notices=notices)
    body = _creates(emulator, api_key)[-1]["body"]
    assert body["model"] == "v2.5-20260210" and body["input"] == model
    assert notices and "v2.0-20250506 is retired" in notices[0]


def test_busy_account_refusal_is_retried_without_a_second_task(v3, emulator, api_key):
    emulator.inject("create", "status", status=429, code=2000, retry_after=0.1, count=1, match={"key": api_key})
    task_id = v3.submit("text_to_model", {"prompt": "busy"})
    creates = _creates(emulator, api_key)
    assert [r["status"] for r in creates] == [429, 200] and task_id


def test_cancel_is_prompt_while_an_answer_trickles_in(v3, emulator, api_key):
    """A slow body (a few bytes at a time) does not hold a cancel back until the whole answer or a timeout."""
    import threading
    import time

    emulator.inject("balance", "slow_body", seconds=6.0, count=1, match={"key": api_key})
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(E.TripoCancelled):
        v3.balance(cancel=cancel)
    assert time.monotonic() - t0 < 2.0
