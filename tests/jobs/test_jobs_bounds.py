"""Issue 10 against the job engine and the local emulator (real HTTP, real TripoClient): capped stored texts (item
14), a busy account waits instead of failing (item 10), retention of the job history (item 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tripo_addon.api.client import TripoClient
from tripo_addon.api.errors import TripoError
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine

MAX_STORED_TEXT = 2000  # tripo_addon.jobs.job.MAX_STORED_TEXT

WAIT = 60.0
HUGE = 5 * 1024 * 1024


def posts(emulator, api_key: str) -> list[dict]:
    return [r for r in emulator.requests(method="POST", key=api_key) if r.get("route") == "create"]


@pytest.fixture
def factory(emulator, api_key):
    def make() -> TripoClient:
        return TripoClient(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5,
                           retry_base=0.02, retry_cap=0.1)

    return make


@pytest.fixture
def engine(factory, tmp_path):
    eng = Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    yield eng
    eng.shutdown(timeout=5)


def inject(emulator, api_key, route, kind, **fields):
    return emulator.inject(route=route, kind=kind, match={"key": api_key, **fields.pop("match", {})}, **fields)


# ============================================================================================== item 14
def _assert_capped(text: str) -> None:
    assert len(text) <= MAX_STORED_TEXT, len(text)
    assert "cut: " in text and "characters in all" in text, text[-120:]


def test_error_texts_are_capped():
    err = TripoError("x" * HUGE, suggestion="y" * HUGE, user_message="z" * HUGE)
    for text in (err.message, err.suggestion, err.user_message, str(err), repr(err)):
        assert len(text) < 2 * MAX_STORED_TEXT + 200, len(text)
    assert err.user_message.startswith("zzz") and "5,242,880 characters" in err.user_message


def test_a_5mb_refusal_does_not_bloat_the_journal(engine, emulator, api_key, tmp_path):
    inject(emulator, api_key, "create", "status", status=400, code=1004, message="bad value " * (HUGE // 10))
    snap = engine.wait(engine.submit(pipelines.text_to_model("a chair")), WAIT)
    assert snap["state"] == "failed"
    _assert_capped(snap["error"])
    _assert_capped(snap["steps"][0]["error"])
    assert snap["error"].startswith("Tripo rejected one of the settings")
    engine.shutdown(timeout=5)
    size = (tmp_path / "state" / "jobs.json").stat().st_size
    assert size < 20_000, size


def test_a_5mb_task_failure_message_is_capped(engine, emulator, api_key, tmp_path):
    inject(emulator, api_key, "create", "fail_task", error_code=9999, error_msg="melted " * (HUGE // 7))
    snap = engine.wait(engine.submit(pipelines.text_to_model("a chair")), WAIT)
    assert snap["state"] == "failed"
    _assert_capped(snap["error"])
    assert "melted melted" in snap["error"]
    engine.shutdown(timeout=5)
    doc = json.loads((tmp_path / "state" / "jobs.json").read_text())
    assert Path(tmp_path / "state" / "jobs.json").stat().st_size < 20_000
    assert doc
