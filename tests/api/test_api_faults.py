"""Retries, back-off and money safety under injected faults; wait() semantics; download recovery (expired URLs,
403, truncation, corruption, unsafe zips, cancel, storage errors). Real HTTP to the emulator's v2 API throughout
(the v2 tier)."""

from __future__ import annotations

import errno
import http.server
import logging
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from api_helpers import V2, WAIT, assert_model_file, gets, make_glb, make_image, make_zip, posts, v2_url_of, wire_body

from tripo_addon.api import downloads as dl
from tripo_addon.api import errors as E
from tripo_addon.api.client import TripoClient
from tripo_addon.api.models import Task


def creates(emulator, key) -> list[dict]:
    return posts(emulator, key, "/task")


# ============================================================================================== GET retries
@pytest.mark.parametrize(
    "kind, fields",
    [
        ("status", {"status": 503}),                      # gateway page, no Tripo body
        ("status", {"status": 500, "code": 1000}),        # Tripo server error
        ("status", {"status": 429, "code": 2000, "retry_after": 0.05}),
        ("drop", {}),                                     # connection closed without an answer
        ("malformed_json", {}),
        ("truncate", {}),                                 # body cut short
    ],
)
def test_get_is_retried(kind, fields, fast, fault, emulator, api_key):
    task_id = fast.create_task("text_to_image", V2.text_to_image("a kite"))
    fault("poll", kind, count=2, **fields)
    task = fast.get_task(task_id)
    assert task.task_id == task_id
    assert len(gets(emulator, api_key)) == 3


def test_get_gives_up_after_bounded_attempts(make_client, fault, emulator, api_key):
    client = make_client(max_retries=2)
    fault("balance", "status", status=503, count=-1)
    with pytest.raises(E.TripoServerError) as ei:
        client.balance()
    assert ei.value.status == 503
    assert len(gets(emulator, api_key, "/user/balance")) == 3
    emulator.clear_faults()
    fault("balance", "drop", count=-1)
    with pytest.raises(E.TripoNetworkError) as ei:
        client.balance()
    assert "dropped" in ei.value.user_message or "connection" in ei.value.user_message.lower()
    assert len(gets(emulator, api_key, "/user/balance")) == 6


def test_get_honours_retry_after(make_client, fault, emulator, api_key):
    client = make_client(retry_base=5.0, retry_cap=5.0)  # back-off would be long: Retry-After must win
    fault("balance", "status", status=429, code=1007, retry_after=1)
    t0 = time.monotonic()
    assert client.balance().balance == 100_000
    assert time.monotonic() - t0 >= 0.9
    assert len(gets(emulator, api_key, "/user/balance")) == 2


def test_retry_after_is_capped(make_client, fault, emulator, api_key):
    client = make_client(retry_after_max=0.1)
    fault("balance", "status", status=429, code=2000, retry_after=3600)
    t0 = time.monotonic()
    client.balance()
    assert time.monotonic() - t0 < 5


def test_read_timeout_on_get_is_retried(make_client, fault, emulator, api_key):
    client = make_client(timeout=(5, 0.3))
    fault("balance", "delay", seconds=1.0)
    assert client.balance().balance == 100_000
    assert len(gets(emulator, api_key, "/user/balance")) == 2


# ============================================================================================== POST /task money safety
@pytest.mark.parametrize(
    "kind, fields, took_effect",
    [
        ("drop", {"after": True}, True),                  # created, answer lost
        ("drop", {}, False),                              # not created, but the client cannot know
        ("malformed_json", {}, True),
        ("truncate", {}, True),
        ("status", {"status": 502, "after": True}, True),  # gateway error after the task was created
        ("status", {"status": 504}, False),
    ],
)
def test_lost_create_answer_is_never_resent(kind, fields, took_effect, fast, fault, emulator, api_key):
    fault("create", kind, **fields)
    values = V2.text_to_model("a teapot")
    with pytest.raises(E.TripoOutcomeUnknown) as ei:
        fast.create_task("text_to_model", values)
    assert len(creates(emulator, api_key)) == 1
    err = ei.value
    assert creates(emulator, api_key)[0]["body"] == wire_body("text_to_model", values)
    assert err.task_type == "text_to_model" and err.body == wire_body("text_to_model", values)
    assert err.sent_at and err.reason and err.user_message.startswith("The text_to_model request reached Tripo")
    assert "not sent again" in err.user_message and "task history" in err.user_message
    frozen = emulator.balance(api_key)["frozen"] + (100_000 - emulator.balance(api_key)["balance"])
    assert (frozen > 0) == took_effect


def test_create_read_timeout_is_outcome_unknown(make_client, fault, emulator, api_key):
    client = make_client(timeout=(5, 0.3))
    fault("create", "delay", seconds=1.0)
    with pytest.raises(E.TripoOutcomeUnknown) as ei:
        client.create_task("text_to_image", V2.text_to_image("slow"))
    assert "timed out" in ei.value.reason
    assert len(creates(emulator, api_key)) == 1


@pytest.mark.parametrize("status, code", [(500, 1001), (500, 1000), (503, 1000), (502, None)])
def test_create_server_error_is_outcome_unknown_and_not_retried(status, code, fast, fault, emulator, api_key):
    """A 5xx on a create, even with a Tripo error body, may hide a created task: outcome unknown, sent once."""
    fault("create", "status", status=status, code=code)
    with pytest.raises(E.TripoOutcomeUnknown) as ei:
        fast.create_task("text_to_image", V2.text_to_image("x"))
    assert len(creates(emulator, api_key)) == 1
    err = ei.value
    assert err.status == status and f"HTTP {status}" in err.reason and err.task_type == "text_to_image"
    if code is not None:
        assert "Tripo said" in err.reason  # Tripo's words are kept
    assert "not sent again" in err.user_message and "task history" in err.user_message
    assert err.body == {"type": "text_to_image", "prompt": "x"}


@pytest.mark.parametrize("status, cls", [
    (400, E.TripoBadRequest), (401, E.TripoAuthError), (403, E.TripoPermissionError), (404, E.TripoNotFound),
    (405, E.TripoAPIError), (413, E.TripoAPIError), (415, E.TripoAPIError), (422, E.TripoAPIError),
    (429, E.TripoRateLimited),
])
def test_create_refused_without_a_readable_body_is_a_refusal(status, cls, make_client, fault, emulator, api_key):
    """A definite refusal status (nothing created) stays an API error even when the body cannot be read."""
    client = make_client(max_retries=0)
    fault("create", "status", status=status)  # no code: a non-JSON gateway page
    with pytest.raises(E.TripoAPIError) as ei:
        client.create_task("text_to_image", V2.text_to_image("x"))
    assert isinstance(ei.value, cls) and ei.value.status == status, ei.value
    assert not isinstance(ei.value, E.TripoOutcomeUnknown)
    assert len(creates(emulator, api_key)) == 1


@pytest.mark.parametrize("status", [409, 418, 451, 500, 504])
def test_create_other_status_without_a_readable_body_is_outcome_unknown(status, make_client, fault, emulator,
                                                                        api_key):
    client = make_client(max_retries=3)
    fault("create", "status", status=status)  # no code: a non-JSON page
    with pytest.raises(E.TripoOutcomeUnknown) as ei:
        client.create_task("text_to_image", V2.text_to_image("x"))
    assert ei.value.status == status and "without a readable Tripo answer" in ei.value.reason
    assert len(creates(emulator, api_key)) == 1


def test_oversized_answers_are_unreadable(make_client, emulator, api_key):
    """Answers are read up to client.max_answer bytes: a larger GET answer is retried then reported; a larger create
    answer is outcome unknown (the task was created), never re-sent."""
    client = make_client(max_retries=1)
    task_id = client.create_task("text_to_image", V2.text_to_image("a kite"))
    client.max_answer = 40  # smaller than any task description
    n = len(gets(emulator, api_key))
    with pytest.raises(E.TripoServerError) as ei:
        client.get_task(task_id)
    assert "unreadable" in ei.value.message and len(gets(emulator, api_key)) - n == 2
    def spent() -> float:
        bal = emulator.balance(api_key)
        return bal["frozen"] + (100_000 - bal["balance"])

    before = spent()
    client.max_answer = 20  # smaller than the create answer
    with pytest.raises(E.TripoOutcomeUnknown) as ei:
        client.create_task("text_to_image", V2.text_to_image("a boat"))
    assert len(creates(emulator, api_key)) == 2 and ei.value.status == 200
    assert spent() > before  # the task exists: that is why it must not be sent again
    client.max_answer = 4 * 1024 * 1024
    assert client.get_task(task_id).task_id == task_id


def test_answers_must_arrive_within_the_deadline(make_client, fault, emulator, api_key):
    """An answer that trickles in past client.answer_deadline: a GET is retried then a network error; a create is
    outcome unknown, sent once."""
    client = make_client(max_retries=1, answer_deadline=0.3)
    fault("balance", "slow_body", seconds=1.0, count=-1)
    t0 = time.monotonic()
    with pytest.raises(E.TripoNetworkError) as ei:
        client.balance()
    assert "too slowly" in ei.value.user_message and time.monotonic() - t0 < 10
    assert len(gets(emulator, api_key, "/user/balance")) == 2
    fault("create", "slow_body", seconds=1.0)
    with pytest.raises(E.TripoOutcomeUnknown) as ei:
        client.create_task("text_to_image", V2.text_to_image("slowly"))
    assert "too long" in ei.value.reason and len(creates(emulator, api_key)) == 1


def test_create_refused_with_2000_backs_off_and_retries(fast, fault, emulator, api_key):
    fault("create", "status", status=429, code=2000, retry_after=0.05, count=2)
    task_id = fast.create_task("text_to_image", V2.text_to_image("patience"))
    sent = creates(emulator, api_key)
    assert [r["status"] for r in sent] == [429, 429, 200]
    assert fast.wait(task_id, timeout=WAIT).status == "success"


def test_create_refused_with_1007_gives_up_bounded(make_client, fault, emulator, api_key):
    client = make_client(max_retries=2)
    fault("create", "status", status=429, code=1007, retry_after=0.05, count=-1)
    with pytest.raises(E.TripoRateLimited) as ei:
        client.create_task("text_to_image", V2.text_to_image("x"))
    assert ei.value.code == 1007 and ei.value.retry_after == 0.05
    assert len(creates(emulator, api_key)) == 3


def test_natural_concurrency_refusal_is_retried_bounded(slow_emulator, make_client, tmp_path):
    """The emulator's own 429/2000 (generate_multiview_image runs one at a time) is retried with back-off, bounded."""
    key = "tsk_api_slow_" + uuid.uuid4().hex
    slow_emulator.add_account(key, 100_000)
    client = make_client(api_key=key, base_url=v2_url_of(slow_emulator), max_retries=2, retry_after_max=0.05)
    image = client.upload(make_image(tmp_path / "front.png", "PNG", (128, 128)))
    values = {"file": image}  # not in the v2 catalogue, but the v2 wire (and the emulator) take it
    client.create_task("generate_multiview_image", values)
    with pytest.raises(E.TripoRateLimited) as ei:
        client.create_task("generate_multiview_image", values)
    assert ei.value.code == 2000 and ei.value.retry_after and ei.value.retry_after >= 1
    assert [r["status"] for r in creates(slow_emulator, key)] == [200, 429, 429, 429]


class _LateForwarder:
    """A TCP port that refuses connections until start(), then forwards them to the emulator."""

    def __init__(self, target: tuple[str, int]) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()  # nothing listens: connections are refused
        self.target = target
        self.sock: socket.socket | None = None

    def start(self) -> None:
        if self.sock is not None:
            return
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            up = socket.create_connection(self.target)
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def test_create_retried_when_connection_refused_before_sending(emulator, api_key, caplog):
    """Connect refused means nothing was sent: POST /task is retried and creates exactly one task."""
    fwd = _LateForwarder((emulator.host, emulator.port))

    class OpenOnFirstRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retry" in record.getMessage():
                fwd.start()  # runs in the client thread before its back-off sleep

    handler = OpenOnFirstRetry(logging.DEBUG)
    log = logging.getLogger("tripo_addon.api.session")
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.DEBUG)
    try:
        client = TripoClient(api_key, f"http://127.0.0.1:{fwd.port}/v2/openapi", retry_base=0.01, retry_cap=0.05)
        task_id = client.create_task("text_to_image", V2.text_to_image("through a late door"))
        client.close()
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
        fwd.close()
    assert fwd.sock is not None  # the first attempt was refused
    assert [r["body"]["prompt"] for r in creates(emulator, api_key)] == ["through a late door"]
    assert uuid.UUID(task_id)


def test_create_to_a_dead_port_is_a_network_error_not_unknown(api_key):
    port = _LateForwarder(("127.0.0.1", 1)).port
    client = TripoClient(api_key, f"http://127.0.0.1:{port}/v2/openapi", max_retries=2, retry_base=0.01)
    with pytest.raises(E.TripoNetworkError) as ei:
        client.create_task("text_to_image", V2.text_to_image("nobody home"))
    assert "refused" in ei.value.user_message
    client.close()


# ============================================================================================== wait()
@pytest.mark.parametrize("status, code, phrase", [
    ("failed", 1001, "could not complete"),
    ("banned", None, "content policy"),
    ("expired", None, "expired"),
    ("cancelled", None, "cancelled"),
])
def test_wait_raises_task_failed(status, code, phrase, fast, fault, emulator, api_key):
    fault("create", "fail_task", task_status=status, error_code=code)
    task_id = fast.create_task("text_to_image", V2.text_to_image("doomed"))
    with pytest.raises(E.TripoTaskFailed) as ei:
        fast.wait(task_id, timeout=WAIT)
    err = ei.value
    assert isinstance(err.task, Task) and err.task.status == status and err.task.task_id == task_id
    assert phrase in err.user_message.lower()
    if code:
        assert err.code == code and E.ERROR_TEXT[code] in err.user_message
    assert emulator.balance(api_key) == {"balance": 100_000, "frozen": 0}  # refunded


def test_unknown_status_is_polled_then_treated_as_terminal(make_client, fault, emulator, api_key):
    client = make_client(unknown_polls=4)
    task_id = client.create_task("text_to_image", V2.text_to_image("lost"))
    fault("poll", "unknown_status", count=-1)
    with pytest.raises(E.TripoTaskFailed) as ei:
        client.wait(task_id, timeout=WAIT)
    assert ei.value.task.status == "unknown" and "unknown" in ei.value.user_message
    assert len(gets(emulator, api_key)) == 4


def test_transient_unknown_status_recovers(fast, fault, emulator, api_key):
    task_id = fast.create_task("text_to_image", V2.text_to_image("found again"))
    fault("poll", "unknown_status", count=2)
    seen: list[str] = []
    task = fast.wait(task_id, timeout=WAIT, on_update=lambda t: seen.append(t.status))
    assert task.status == "success" and seen[:2] == ["unknown", "unknown"] and seen[-1] == "success"


def test_wait_timeout(make_client, fault, api_key):
    client = make_client()
    task_id = client.create_task("text_to_image", V2.text_to_image("forever"))
    fault("poll", "unknown_status", count=-1)
    client.unknown_polls = 10_000
    t0 = time.monotonic()
    with pytest.raises(E.TripoTimeout) as ei:
        client.wait(task_id, timeout=0.4)
    assert time.monotonic() - t0 < 3
    assert task_id in ei.value.user_message


def test_wait_cancel_returns_promptly(make_client, fault, api_key):
    client = make_client(poll_min=20, poll_max=60)  # long sleeps: cancel must interrupt them
    task_id = client.create_task("text_to_image", V2.text_to_image("never mind"))
    fault("poll", "unknown_status", count=-1)
    client.unknown_polls = 10_000
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(E.TripoCancelled):
        client.wait(task_id, cancel=cancel)
    assert time.monotonic() - t0 < 3


def test_wait_reports_progress(fast):
    updates: list[Task] = []
    task_id = fast.create_task("text_to_model", V2.text_to_model("a robot"))
    task = fast.wait(task_id, timeout=WAIT, on_update=updates.append)
    assert task.status == "success" and updates[-1] is task
    statuses = [u.status for u in updates]
    assert statuses[-1] == "success" and set(statuses) <= {"queued", "running", "success"}
    running = [u.progress for u in updates if u.status == "running"]
    assert running == sorted(running)


# ============================================================================================== downloads
@pytest.fixture
def done_task(fast) -> Task:
    return fast.wait(fast.create_task("text_to_model", V2.text_to_model("a helmet")), timeout=WAIT)


def downloads(emulator, key=None) -> list[dict]:
    return [r for r in emulator.requests(method="GET") if r["route"] == "download"]


def test_expired_url_is_refreshed(fast, fault, emulator, api_key, done_task, tmp_path):
    fault("poll", "expire_urls", count=1)
    before = len(gets(emulator, api_key))
    path = fast.download(done_task.task_id, "model", tmp_path)
    assert_model_file(path)
    assert len(gets(emulator, api_key)) - before == 2  # the expired answer, then a fresh one
    ours = [r for r in downloads(emulator) if done_task.task_id in r["path"]]
    assert len(ours) == 1 and ours[0]["status"] == 200  # the expired URL was never even tried


def test_refused_url_is_refreshed(fast, fault, emulator, api_key, done_task, tmp_path):
    fault("download", "status", status=403, match={"task_id": done_task.task_id, "key": None})
    before = len(gets(emulator, api_key))
    path = fast.download(done_task.task_id, "model", tmp_path)
    assert_model_file(path)
    assert len(gets(emulator, api_key)) - before == 2
    assert [r["status"] for r in downloads(emulator) if done_task.task_id in r["path"]] == [403, 200]


def test_download_uses_the_polled_output(fast, fault, emulator, api_key, done_task, tmp_path):
    before = len(gets(emulator, api_key))
    path = fast.download(done_task.task_id, "model", tmp_path / "a", output=done_task.output)
    assert_model_file(path)
    assert len(gets(emulator, api_key)) == before  # the URL from the poll was still good: no GET /task
    fault("download", "status", status=403, match={"task_id": done_task.task_id, "key": None})
    path = fast.download(done_task.task_id, "model", tmp_path / "b", output=done_task.output)
    assert_model_file(path)
    assert len(gets(emulator, api_key)) - before == 1  # refused: one fresh URL, as without ``output``


@pytest.mark.parametrize("kind, fields", [("truncate", {"fraction": 0.3}), ("drop", {}),
                                          ("status", {"status": 503})])
def test_interrupted_download_is_retried(kind, fields, fast, fault, emulator, done_task, tmp_path):
    fault("download", kind, match={"task_id": done_task.task_id, "key": None}, count=2, **fields)
    path = fast.download(done_task.task_id, "model", tmp_path)
    assert_model_file(path)
    assert len([r for r in downloads(emulator) if done_task.task_id in r["path"]]) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no partial files left


def test_download_gives_up_and_leaves_nothing(fast, fault, emulator, done_task, tmp_path):
    fault("download", "truncate", match={"task_id": done_task.task_id, "key": None}, count=-1)
    with pytest.raises(E.TripoDownloadError) as ei:
        fast.download(done_task.task_id, "model", tmp_path)
    assert "bytes arrived" in ei.value.message or "interrupted" in ei.value.message
    assert list(tmp_path.iterdir()) == []
    assert len([r for r in downloads(emulator) if done_task.task_id in r["path"]]) == dl.MAX_ATTEMPTS


def test_download_cancel(fast, fault, done_task, tmp_path):
    fault("download", "slow_body", seconds=20, match={"task_id": done_task.task_id, "key": None})
    cancel = threading.Event()
    got: list[int] = []

    def progress(done: int, total: int | None) -> None:
        got.append(done)
        cancel.set()

    t0 = time.monotonic()
    with pytest.raises(E.TripoCancelled):
        fast.download(done_task.task_id, "model", tmp_path, cancel=cancel, progress=progress)
    assert time.monotonic() - t0 < 10 and got
    assert list(tmp_path.iterdir()) == []


def test_download_progress_and_other_outputs(fast, done_task, tmp_path):
    seen: list[tuple[int, int | None]] = []
    path = fast.download(done_task.task_id, "preview", tmp_path / "r", progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert_model_file(path)
    with pytest.raises(E.TripoDownloadError, match="no output 'image'"):
        fast.download(done_task.task_id, "image", tmp_path)
    with pytest.raises(E.TripoDownloadError, match="no output 'pbr_model'"):  # outputs go by semantic names
        fast.download(done_task.task_id, "pbr_model", tmp_path)


def test_download_of_unfinished_or_failed_task(fast, fault, tmp_path):
    pending = fast.create_task("text_to_model", V2.text_to_model("not yet"))
    with pytest.raises(E.TripoDownloadError) as ei:
        fast.download(pending, "model", tmp_path)
    assert "has not finished" in ei.value.user_message
    fault("create", "fail_task")
    failed = fast.create_task("text_to_image", V2.text_to_image("broken"))
    with pytest.raises(E.TripoTaskFailed):
        fast.wait(failed, timeout=WAIT)
    with pytest.raises(E.TripoTaskFailed):
        fast.download(failed, "image", tmp_path)


def test_unwritable_destination(fast, done_task, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(E.TripoStorageError) as ei:
        fast.download(done_task.task_id, "model", blocker / "sub")
    assert "download folder" in ei.value.user_message or "failed" in ei.value.user_message


def test_disk_full_is_reported(fast, done_task, tmp_path, monkeypatch):
    """A write failing with ENOSPC (simulated at the file level) ends with a clear message and no partial file."""
    real_open = Path.open

    class FullFile:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    def fake_open(self, mode="r", *args, **kw):
        f = real_open(self, mode, *args, **kw)
        return FullFile(f) if self.name.endswith(".part") and "w" in mode else f

    monkeypatch.setattr(Path, "open", fake_open)
    with pytest.raises(E.TripoStorageError) as ei:
        fast.download(done_task.task_id, "model", tmp_path)
    assert "not enough free disk space" in ei.value.user_message
    assert list(tmp_path.iterdir()) == []


# ============================================================================================== local file server
class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        data = self.files.get(self.path.split("?")[0])
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


class _LocalTaskClient(TripoClient):
    """A real client whose task lookups describe files on a local HTTP server (to serve bad archives)."""

    outputs: dict[str, str] = {}

    def get_task(self, task_id, *, cancel=None):
        return Task(task_id=task_id, type="convert_model", status="success", output=dict(self.outputs))


@pytest.fixture
def file_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    _Files.files, _Files.hits = {}, []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_zip_slip_download_refused(file_server, api_key, tmp_path):
    evil = make_zip(tmp_path / "src.zip", {"model.obj": b"v 0 0 0\n", "../../escape.txt": b"pwned"})
    _Files.files["/evil.zip"] = evil.read_bytes()
    client = _LocalTaskClient(api_key, "http://127.0.0.1:9/v2/openapi", retry_base=0.01)
    client.outputs = {"model": file_server + "/evil.zip"}
    out = tmp_path / "out"
    with pytest.raises(E.TripoUnsafeArchive) as ei:
        client.download(str(uuid.uuid4()), "model", out)
    assert "outside the folder" in ei.value.user_message and "not" in ei.value.user_message
    assert list(out.iterdir()) == [] and not (tmp_path.parent / "escape.txt").exists()
    assert len(_Files.hits) == 1  # refused at once, not retried


def test_corrupt_glb_is_retried_then_reported(file_server, api_key, tmp_path):
    good = make_glb(tmp_path / "g.glb").read_bytes()
    _Files.files["/m.glb"] = good[:12] + b"\x00" * (len(good) - 12)  # right length, broken content
    client = _LocalTaskClient(api_key, "http://127.0.0.1:9/v2/openapi", retry_base=0.01, retry_cap=0.02)
    client.outputs = {"model": file_server + "/m.glb"}
    with pytest.raises(E.TripoDownloadError, match="GLB is damaged"):
        client.download(str(uuid.uuid4()), "model", tmp_path / "out")
    assert len(_Files.hits) == dl.MAX_ATTEMPTS
    _Files.files["/m.glb"] = good
    _Files.hits.clear()
    assert client.download(str(uuid.uuid4()), "model", tmp_path / "out").read_bytes() == good


def test_download_does_not_send_the_api_key(file_server, api_key, tmp_path):
    seen_headers: list[dict] = []

    class Capture(_Files):
        def do_GET(self) -> None:  # noqa: N802
            seen_headers.append(dict(self.headers))
            super().do_GET()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        _Files.files["/x.glb"] = make_glb(tmp_path / "x.glb").read_bytes()
        client = _LocalTaskClient(api_key, "http://127.0.0.1:9/v2/openapi")
        client.outputs = {"model": f"http://127.0.0.1:{srv.server_address[1]}/x.glb"}
        client.download(str(uuid.uuid4()), "model", tmp_path / "o")
    finally:
        srv.shutdown()
        srv.server_close()
    assert seen_headers and all("Authorization" not in h for h in seen_headers)
    assert seen_headers[0]["User-Agent"].startswith("tripo-addon/")


# ============================================================================================== proxies
@pytest.mark.parametrize("how", ["explicit", "environment"])
def test_downloads_go_through_the_proxy(how, api_key, tmp_path, monkeypatch):
    """A non-loopback download URL goes through the configured proxy (explicit ``proxies=`` or HTTP_PROXY)."""
    glb_bytes = make_glb(tmp_path / "p.glb").read_bytes()
    seen: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)  # a proxy sees the absolute URL
            self.send_response(200)
            self.send_header("Content-Length", str(len(glb_bytes)))
            self.end_headers()
            self.wfile.write(glb_bytes)

        def log_message(self, *args) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        if how == "explicit":
            monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # explicit settings win over the environment
            client = _LocalTaskClient(api_key, "http://127.0.0.1:9/v2/openapi", proxies=proxy)
        else:
            monkeypatch.setenv("HTTP_PROXY", proxy)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            client = _LocalTaskClient(api_key, "http://127.0.0.1:9/v2/openapi")
        client.outputs = {"model": "http://files.tripo-cdn.invalid/r/tripo_model.glb?expires=9999999999"}
        path = client.download(str(uuid.uuid4()), "model", tmp_path / "o")
        assert path.read_bytes() == glb_bytes
        assert seen == ["http://files.tripo-cdn.invalid/r/tripo_model.glb?expires=9999999999"]
    finally:
        srv.shutdown()
        srv.server_close()


def test_loopback_api_bypasses_proxies(emulator, api_key, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with TripoClient(api_key, v2_url_of(emulator), proxies="http://127.0.0.1:9") as c:
        assert c.balance().balance == 100_000
