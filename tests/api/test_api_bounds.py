"""Issue 10: prompts refused before anything is sent (item 8), the busy-account back-off's jitter (item 10), bounded
downloads (item 12) and capped stored texts (item 14). Real HTTP to the emulator throughout."""

from __future__ import annotations

import threading
import time

import pytest
from api_helpers import WAIT, assert_model_file, posts

from tripo_addon.api import downloads as dl
from tripo_addon.api import errors as E
from tripo_addon.api import tasks as T

# ============================================================================================== item 8: prompts
BAD_PROMPTS = {
    "NUL": ("a cat\x00 wearing a hat", ("NUL character", "U+0000", "position 6", "remove it")),
    "only zero-width": ("\u200b\u200c\u2060\ufeff", ("only invisible characters", "enter visible text")),
    "zero-width and spaces": (" \u200b \u200b ", ("only invisible characters",)),
    "RLO override": ("a chair \u202eriahc", ("bidirectional control character", "U+202E", "remove it")),
    "LRE embedding": ("\u202aa chair", ("bidirectional", "U+202A")),
    "RLI isolate": ("a chair \u2067x\u2069", ("bidirectional", "U+2067")),
    "PDI": ("a chair\u2069", ("bidirectional", "U+2069")),
}


@pytest.mark.parametrize("name", list(BAD_PROMPTS))
def test_bad_prompt_is_refused_before_anything_is_sent(name, fast, emulator, api_key):
    text, expect = BAD_PROMPTS[name]
    with pytest.raises(E.TripoValidationError) as ei:
        fast.submit("text_to_model", {"prompt": text})
    msg = ei.value.user_message
    for part in expect:
        assert part.lower() in msg.lower(), msg
    assert ei.value.param == "prompt"
    assert posts(emulator, api_key) == []  # the emulator saw no create: nothing paid


@pytest.mark.parametrize("field, params", [
    ("negative_prompt", {"prompt": "a chair", "negative_prompt": "\u200b"}),
    ("texture_prompt", {"original_model_task_id": "1ec04ced-4b87-44f6-a296-beee80777941",
                        "texture_prompt": {"text": "wood\x00grain"}}),
])
def test_other_texts_are_checked_too(field, params, fast, emulator, api_key):
    task_type = "texture_model" if field == "texture_prompt" else "text_to_model"
    with pytest.raises(E.TripoValidationError) as ei:
        T.build_request(task_type, params)
    assert field in ei.value.user_message
    assert posts(emulator, api_key) == []


def test_ordinary_prompts_still_pass():
    for ok in ("a red chair", "a chair\nwith arms", "caf\u00e9 table", "\u6905\u5b50", "x\u200by"):
        assert T.prompt_problem(ok) is None, ok
    assert T.build_request("text_to_model", {"prompt": "a red chair"})["prompt"] == "a red chair"


# ============================================================================================== item 12: downloads
@pytest.fixture
def done_task(fast):
    return fast.wait(fast.submit("text_to_model", {"prompt": "a helmet"}), timeout=WAIT)


def _download_in_thread(client, task_id, dest, *, cancel=None, limit=20.0, **kw):
    """Run the download in a thread: a download that never ends fails the test (and is cancelled) after ``limit``."""
    cancel = cancel or threading.Event()
    out: dict = {}

    def run():
        try:
            out["path"] = client.download(task_id, "model", dest, cancel=cancel, **kw)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["exc"] = exc

    t0 = time.monotonic()
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(limit)
    hung = th.is_alive()
    cancel.set()  # an unbounded download would otherwise go on (and fill the disk) after the test
    th.join(30)
    assert not hung, f"the download was still running after {limit:g} s"
    return out, time.monotonic() - t0


def _no_files(folder) -> None:
    assert not folder.exists() or [p.name for p in folder.rglob("*") if p.is_file()] == []


def test_download_declared_larger_than_the_maximum_is_refused_at_once(fast, emulator, done_task, tmp_path):
    fast.download_limits = dl.DownloadLimits(max_bytes={"*": 100})
    out, took = _download_in_thread(fast, done_task.task_id, tmp_path / "d")
    exc = out.get("exc")
    assert isinstance(exc, E.TripoDownloadError) and not isinstance(exc, E.TripoCancelled), exc
    msg = exc.user_message
    assert "announced" in msg and "100 bytes" in msg and "Nothing was kept" in msg
    gets = [r for r in emulator.requests(method="GET") if r["route"] == "download" and done_task.task_id in r["path"]]
    assert len(gets) == 1  # not retried: a size that will not change
    _no_files(tmp_path / "d")


def test_endless_body_is_cut_at_the_maximum(fast, fault, done_task, tmp_path):
    fault("download", "endless", match={"task_id": done_task.task_id, "key": None}, count=-1)
    fast.download_limits = dl.DownloadLimits(max_bytes={"*": 2 * dl.MB})
    out, took = _download_in_thread(fast, done_task.task_id, tmp_path / "d", limit=5.0)
    exc = out.get("exc")
    assert isinstance(exc, E.TripoDownloadError) and not isinstance(exc, E.TripoCancelled), exc
    assert "more than 2.0 MB arrived without a declared size" in exc.user_message
    _no_files(tmp_path / "d")


def test_trickling_body_is_a_stall_and_fails_clearly(fast, fault, done_task, tmp_path):
    fault("download", "trickle", seconds=0.05, match={"task_id": done_task.task_id, "key": None}, count=-1)
    fast.download_limits = dl.DownloadLimits(stall_seconds=0.5, stall_bytes=1024)
    out, took = _download_in_thread(fast, done_task.task_id, tmp_path / "d")
    exc = out.get("exc")
    assert isinstance(exc, E.TripoDownloadError) and not isinstance(exc, E.TripoCancelled), exc
    assert "stalled" in exc.user_message and f"failed {dl.MAX_ATTEMPTS} times" in exc.user_message
    assert took < 15
    _no_files(tmp_path / "d")


def test_cancel_is_honoured_while_no_byte_arrives(fast, fault, done_task, tmp_path):
    fault("download", "trickle", seconds=30, match={"task_id": done_task.task_id, "key": None}, count=-1)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    out, took = _download_in_thread(fast, done_task.task_id, tmp_path / "d", cancel=cancel)
    assert isinstance(out.get("exc"), E.TripoCancelled), out
    assert took < 3, took
    _no_files(tmp_path / "d")


def test_bounded_download_still_delivers_a_normal_file(fast, done_task, tmp_path):
    fast.download_limits = dl.DownloadLimits(stall_seconds=0.5, stall_bytes=1024)
    out, _ = _download_in_thread(fast, done_task.task_id, tmp_path / "d")
    assert "exc" not in out, out
    assert_model_file(out["path"])
