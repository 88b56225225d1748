"""Downloads where the client's world is off (issue 16, others): a local clock minutes fast, an address that does
not parse, two outputs whose URLs end the same. Real HTTP to the emulator, in the API the suite speaks (v3 by
default, v2 with TRIPO_TEST_API=v2)."""

from __future__ import annotations

import time

import pytest
from api_helpers import WAIT, assert_model_file, gets

from tripo_addon.api import downloads as dl
from tripo_addon.api import errors as E
from tripo_addon.api import tasks
from tripo_addon.api.client import TripoClient
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine


@pytest.fixture
def client(emulator, api_key):
    c = TripoClient(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5, retry_base=0.02,
                    retry_cap=0.2)
    yield c
    c.close()


def _model_task(client, prompt: str = "a helmet"):
    values = tasks.build_request("text_to_model", {"prompt": prompt}, api=client.api)
    return client.wait(client.create_task("text_to_model", values), timeout=WAIT)


def task_gets(emulator, api_key: str) -> int:
    """GETs of one task (v2 ``/task/<id>``, v3 ``/tasks/<id>``), the requests a fresh URL costs."""
    return len(gets(emulator, api_key, "/task/")) + len(gets(emulator, api_key, "/tasks/"))


@pytest.fixture
def fast_clock(monkeypatch):
    """This computer's clock 5 minutes fast (the emulator's signed URLs live 5 minutes); the servers' clock learned
    so far is forgotten, as in a new session."""
    class FastTime:
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def time() -> float:
            return time.time() + 300.0

    monkeypatch.setattr(dl, "time", FastTime())  # the add-on's download module only: the emulator keeps time
    if hasattr(dl, "ServerClock"):
        monkeypatch.setattr(dl, "SERVER_CLOCK", dl.ServerClock())


def test_a_fast_local_clock_costs_no_request_and_every_result_downloads(client, emulator, api_key, fast_clock,
                                                                        tmp_path):
    first, second = _model_task(client, "a helmet"), _model_task(client, "a shield")
    before = task_gets(emulator, api_key)
    for i, task in enumerate((first, second)):
        # the output just polled: by this computer's clock its URLs have expired; by the server's they are fresh
        path = client.download(task.task_id, "model", tmp_path / str(i), output=task.output)
        assert_model_file(path)
    assert task_gets(emulator, api_key) == before  # no GET /task for a fresh URL: the server's clock decides
    # a URL handed out fresh is tried even when no server was heard yet (it used to expire in a loop of GETs)
    dl.SERVER_CLOCK = dl.ServerClock()
    assert_model_file(client.download(first.task_id, "model", tmp_path / "again"))
    off = dl.SERVER_CLOCK.offset()
    assert off is not None and -302 < off < -298  # learned from the answers' Date: the local clock is 5 min fast


def test_an_expired_url_by_the_servers_clock_is_still_refreshed_first(client, emulator, api_key, fault, fast_clock,
                                                                      tmp_path):
    task = _model_task(client)
    assert_model_file(client.download(task.task_id, "model", tmp_path / "a"))  # the servers' clock is known now
    fault("poll", "expire_urls", count=1)
    before = task_gets(emulator, api_key)
    assert_model_file(client.download(task.task_id, "model", tmp_path / "b"))
    assert task_gets(emulator, api_key) - before == 2  # the expired answer, then a fresh one, never tried


def test_an_unparseable_model_address_is_a_clear_error_of_that_task(client, emulator, api_key, monkeypatch,
                                                                    tmp_path):
    task = _model_task(client)
    # the polled answer held a broken address: the fresh one is used, nothing unexpected happens
    path = client.download(task.task_id, "model", tmp_path / "a", output={**task.output, "model": "https://[::1"})
    assert_model_file(path)
    # Tripo keeps answering it: one sentence naming the model and what to do
    sign = emulator.sign
    monkeypatch.setattr(emulator, "sign", lambda t, name, **kw: "https://[::1" if name.endswith(".glb")
                        else sign(t, name, **kw))
    with pytest.raises(E.TripoDownloadError) as ei:
        client.download(task.task_id, "model", tmp_path / "b")
    assert ei.value.user_message.startswith("Tripo returned an unreadable download address for the model;")
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


def test_an_unparseable_address_fails_that_job_with_the_sentence_not_an_engine_error(emulator, api_key,
                                                                                    monkeypatch, tmp_path):
    sign = emulator.sign
    monkeypatch.setattr(emulator, "sign", lambda t, name, **kw: "https://[::1" if name.endswith(".glb")
                        else sign(t, name, **kw))

    def factory():
        return TripoClient(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5)

    eng = Engine(factory, tmp_path / "state", tmp_path / "dl", poll_min=0.05, poll_max=0.5)
    try:
        snap = eng.wait(eng.submit(pipelines.text_to_model("a lamp")), WAIT)
    finally:
        eng.shutdown(5)
    assert snap["state"] != "succeeded"
    assert "Tripo returned an unreadable download address for the model" in snap["error"], snap["error"]
    assert "Unexpected error" not in snap["error"]


def test_outputs_whose_urls_end_alike_never_overwrite_each_other(client, tmp_path):
    a, b = _model_task(client, "a red chair"), _model_task(client, "a blue chair")
    assert a.output["preview"].split("?")[0].rsplit("/", 1)[-1] == b.output["preview"].split("?")[0].rsplit("/", 1)[-1]
    pa = client.download(a.task_id, "preview", tmp_path)
    pb = client.download(b.task_id, "preview", tmp_path)  # one folder, two tasks, the same URL file name
    assert pa != pb and pa.exists() and pb.exists()
    assert a.task_id in pa.name and b.task_id in pb.name
    # stable: the same output gets the same name again; in the task's own folder the key alone names it
    assert client.download(a.task_id, "preview", tmp_path) == pa
    own = client.download(a.task_id, "model", tmp_path / a.task_id)
    assert own.name == "model.glb"
    assert sorted(p.name for p in (tmp_path / a.task_id).iterdir()) == ["model.glb"]
