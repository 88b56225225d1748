"""Retry / Cancel / Remove / Attach, one owner per task id, and jobs that carry their address and key (issue 16 items
1, 5, 6). Real HTTP to the emulator through the real TripoClient."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jobs_helpers import WAIT, inject, make_client, posts
from sample_files import make_png

from tripo_addon.api import tasks as api_tasks
from tripo_addon.api.client import TripoClient
from tripo_addon.api.errors import TripoOutcomeUnknown, TripoValidationError
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.job import JobState


def _new_task(emulator, key, prompt="a red chair") -> str:
    client = make_client(emulator, key)
    try:
        return client.create_task("text_to_model", api_tasks.build_request("text_to_model", {"prompt": prompt},
                                                                         api=client.api))
    finally:
        client.close()


def _no_download(job):
    job.steps[0].download = False
    return job


# ------------------------------------------------------------------------------------------------- one owner per id
def test_attaching_an_id_another_job_follows_goes_to_that_job(engine, emulator, api_key):
    task_id = _new_task(emulator, api_key)
    first = engine.attach(task_id)
    assert engine.attach(task_id) == first  # not a second follower
    other = engine.attach("0c0ffee0-0000-4000-8000-000000000001")
    engine.wait(other, WAIT)
    with pytest.raises(TripoValidationError, match="already followed"):
        engine.attach(task_id, job_id=other)
    assert engine.wait(first, WAIT)["state"] == JobState.SUCCEEDED
    assert len(engine.jobs()) == 2


def test_a_mistyped_attach_can_be_corrected(engine, emulator, api_key):
    job_id = engine.attach("0c0ffee0-0000-4000-8000-000000000002")
    assert engine.wait(job_id, WAIT)["state"] == JobState.FAILED
    task_id = _new_task(emulator, api_key)
    assert engine.attach(task_id, job_id=job_id) == job_id  # was "This job has no step waiting for a task id."
    snap = engine.wait(job_id, WAIT)
    assert snap["state"] == JobState.SUCCEEDED and snap["task_ids"] == [task_id]
    assert engine.owners.known("0c0ffee0-0000-4000-8000-000000000002")  # the wrong id stays known


def test_remove_keeps_a_tombstone_of_the_task(engine, emulator, api_key):
    job_id = engine.submit(_no_download(pipelines.text_to_model("a removed red chair")))
    snap = engine.wait(job_id, WAIT)
    (task_id,) = snap["task_ids"]
    engine.forget(job_id)
    assert engine.owners.owner(task_id) is None and engine.owners.known(task_id)
    assert engine.flush()
    eng2 = Engine(lambda: make_client(emulator, api_key), engine.state_dir, engine.download_dir)
    try:  # a new engine (a restart) still knows it
        assert eng2.owners.known(task_id)
    finally:
        eng2.shutdown(2)


def test_cancel_retry_attach_remove_never_write_the_journal_on_the_calling_thread(engine, emulator, api_key):
    writers: list[str] = []
    journal = engine.store.journal
    real = journal.save

    def recording(*a, **kw):
        writers.append(threading.current_thread().name)
        return real(*a, **kw)

    journal.save = recording
    caller = threading.current_thread().name
    inject(emulator, api_key, "create", "delay", seconds=0.5)
    job_id = engine.submit(_no_download(pipelines.text_to_model("a blue chair")))
    engine.cancel(job_id)
    engine.wait(job_id, WAIT)
    time.sleep(0.8)
    engine.retry(job_id)
    engine.wait(job_id, WAIT)
    other = engine.attach("0c0ffee0-0000-4000-8000-000000000003")
    engine.forget(other)
    assert engine.flush()
    assert writers and caller not in writers, writers


# ------------------------------------------------------------------------------------------------- retry, cancel
def test_retry_uploads_again_after_tripo_refused_the_upload_token(engine, emulator, api_key, tmp_path):
    image = make_png(tmp_path / "in.png")
    inject(emulator, api_key, "create", "status", status=404, code=2019)
    job_id = engine.submit(_no_download(pipelines.image_to_model(str(image))))
    assert engine.wait(job_id, WAIT)["state"] == JobState.FAILED
    uploads = [r for r in emulator.requests(key=api_key) if r.get("route") == "upload"]
    engine.retry(job_id)
    assert engine.wait(job_id, WAIT)["state"] == JobState.SUCCEEDED
    again = [r for r in emulator.requests(key=api_key) if r.get("route") == "upload"]
    assert len(again) > len(uploads)  # the refused token was not sent again


def test_cancel_during_a_create_whose_answer_is_lost_asks_for_attention(emulator, api_key, tmp_path):
    """Cancelled while the create's answer was lost: it stayed "cancelled" and Retry sent again. Now the job says a
    task may exist (needs attention) and the registry keeps the create in flight for the history look-up."""
    eng = Engine(lambda: make_client(emulator, api_key, timeout=(5.0, 0.6)), tmp_path / "state", tmp_path / "dl",
                 poll_min=0.05, poll_max=0.5)
    try:
        inject(emulator, api_key, "create", "delay", seconds=2.0)
        job_id = eng.submit(_no_download(pipelines.text_to_model("a lost green chair")))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and eng.get(job_id)["steps"][0]["state"] != JobState.SUBMITTING:
            time.sleep(0.01)
        time.sleep(0.1)
        eng.cancel(job_id)
        time.sleep(1.5)
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == JobState.NEEDS_ATTENTION, (snap["state"], snap["notice"], snap["error"])
        assert [j for j, _s, _t in eng.owners.creates_in_flight()] == [job_id]
    finally:
        eng.shutdown(3)


# ------------------------------------------------------------------------------------------------- address and key
def test_a_job_made_with_another_key_waits_and_follows_again_when_switched_back(emulator, api_key, tmp_path):
    other = "tsk_test_other_" + api_key[-12:]
    emulator.add_account(other, balance=100_000)
    current = {"key": api_key}
    eng = Engine(lambda: make_client(emulator, current["key"]), tmp_path / "state", tmp_path / "dl",
                 poll_min=0.05, poll_max=0.5)
    try:
        inject(emulator, api_key, "poll", "delay", seconds=0.3, count=2)
        job_id = eng.submit(_no_download(pipelines.text_to_model("a chair made with the first key")))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not eng.get(job_id)["task_ids"]:
            time.sleep(0.01)
        eng.pause()
        time.sleep(0.8)
        current["key"] = other
        eng.resume()
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == JobState.NEEDS_ATTENTION and "made with another key" in snap["error"], snap
        assert posts(emulator, other) == []  # nothing sent with the new key
        assert not [r for r in emulator.requests(key=other) if r.get("route") in ("poll", "list")]
        current["key"] = api_key
        assert eng.follow_identity() == [job_id]
        assert eng.wait(job_id, WAIT)["state"] == JobState.SUCCEEDED
        assert len(posts(emulator, api_key)) == 1
    finally:
        eng.shutdown(3)


def test_a_key_changed_while_the_task_runs_pauses_the_job_and_never_fails_it(emulator, api_key, tmp_path):
    """The batch poller built its client from the new settings: Tripo answered "not found" for the old key's task and
    the paid job failed (seen by the stateful test: a key change, then a failed round)."""
    other = "tsk_test_moved_" + api_key[-12:]
    emulator.add_account(other, balance=100_000)
    current = {"key": api_key}
    eng = Engine(lambda: make_client(emulator, current["key"], base_url=emulator.v3_base_url), tmp_path / "state",
                 tmp_path / "dl", poll_min=0.05, poll_max=0.5)
    eng.not_found_grace = 0.0  # a "not found" would end the task at once
    try:
        inject(emulator, api_key, "create", "delay", seconds=0.6)
        job_id = eng.submit(_no_download(pipelines.text_to_model("a chair while the key changes")))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not posts(emulator, api_key):
            time.sleep(0.01)
        current["key"] = other  # the worker sent with the first key; the poller starts after this
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == JobState.NEEDS_ATTENTION and "made with another key" in snap["error"], snap
        assert not [r for r in emulator.requests(key=other) if r.get("route") in ("poll", "list", "create")]
        current["key"] = api_key
        assert eng.follow_identity() == [job_id]
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == JobState.SUCCEEDED, snap
        assert len(posts(emulator, api_key)) == 1
    finally:
        eng.shutdown(3)


def test_a_job_made_on_another_address_waits(emulator, api_key, tmp_path):
    base = {"url": emulator.base_url}
    eng = Engine(lambda: make_client(emulator, api_key, base_url=base["url"]), tmp_path / "state", tmp_path / "dl",
                 poll_min=0.05, poll_max=0.5)
    try:
        inject(emulator, api_key, "poll", "delay", seconds=0.3, count=2)
        job_id = eng.submit(_no_download(pipelines.text_to_model("a chair made in one region")))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not eng.get(job_id)["task_ids"]:
            time.sleep(0.01)
        eng.pause()
        time.sleep(0.8)
        base["url"] = emulator.base_url.replace("127.0.0.1", "localhost")  # the same server, another address
        eng.resume()
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == JobState.NEEDS_ATTENTION and "another region" in snap["error"], snap
        assert "key" not in snap["address"] and snap["key_id"] and api_key not in str(snap)
    finally:
        eng.shutdown(3)


# ------------------------------------------------------------------------------------------------- transport
def _self_signed(tmp: Path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cp, kp = tmp / "c.pem", tmp / "k.pem"
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    return str(cp), str(kp)


def test_a_tls_error_after_the_create_was_written_is_outcome_unknown(tmp_path):
    """A TLS failure after the request left counted as "never sent": Retry then created the task twice."""
    cert, key = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    got: list[bytes] = []

    def serve():
        conn, _ = srv.accept()
        tls = ctx.wrap_socket(conn, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            data += tls.recv(65536)
        got.append(data)
        raw = tls.detach() if hasattr(tls, "detach") else conn
        sock = socket.socket(fileno=raw) if isinstance(raw, int) else raw
        sock.sendall(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)  # a record that does not decrypt
        time.sleep(0.3)
        sock.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    client = TripoClient(api_key="tsk_" + "x" * 40, base_url=f"https://127.0.0.1:{port}", retry_base=0.01,
                         retry_cap=0.02)
    try:
        with pytest.raises(TripoOutcomeUnknown):
            client.create_task("text_to_model", {"type": "text_to_model", "prompt": "a chair", "model": "v3.0"})
    finally:
        client.close()
        srv.close()
        t.join(2)
    assert got and got[0].startswith(b"POST ")
