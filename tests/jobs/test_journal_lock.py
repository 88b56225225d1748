"""The job list's lock on filesystems that cannot lock (issue 16, others): NFS and SMB home folders answer flock with
ENOLCK or ENOTSUP, which used to read as "another Blender is running", so every start was a secondary with a new job
list and unfinished jobs vanished after a restart. The filesystem's answer is injected (fcntl.flock raising what
such a mount raises); everything else is real: files, processes, the engine and the emulator."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.journal import DirLock

WAIT = 60.0


def _no_locks(code: int):
    def flock(fd, op):
        if op & (fcntl.LOCK_EX | fcntl.LOCK_SH):
            raise OSError(code, os.strerror(code))
        return None

    return flock


@pytest.fixture(params=[errno.ENOLCK, errno.ENOTSUP], ids=["ENOLCK", "ENOTSUP"])
def nfs(request, monkeypatch):
    monkeypatch.setattr(fcntl, "flock", _no_locks(request.param))
    return request.param


def test_held_only_when_another_holds_it(tmp_path, monkeypatch):
    a, b = DirLock(tmp_path / "x.lock"), DirLock(tmp_path / "x.lock")
    assert a.acquire() and a.mode == "flock"
    assert not b.acquire()  # EWOULDBLOCK: another holder
    a.release()
    assert b.acquire()
    b.release()
    monkeypatch.setattr(fcntl, "flock", _no_locks(errno.EAGAIN))
    assert not DirLock(tmp_path / "y.lock").acquire()  # would block: held, never a fallback


def test_without_locks_an_owner_file_stands_in(tmp_path, nfs):
    a, b = DirLock(tmp_path / "jobs.lock"), DirLock(tmp_path / "jobs.lock")
    assert a.acquire() and a.mode == "owner-file"
    owner = json.loads((tmp_path / "jobs.lock.owner").read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert not b.acquire()  # held by a (as flock says for two handles)
    a.release()
    assert not (tmp_path / "jobs.lock.owner").exists()
    assert b.acquire()
    b.release()


def test_an_owner_file_of_an_ended_process_is_taken_over_a_live_one_is_not(tmp_path, nfs):
    owner = tmp_path / "jobs.lock.owner"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner.write_text(json.dumps({"pid": live.pid, "host": socket.gethostname(), "token": "x"}))
        assert not DirLock(tmp_path / "jobs.lock").acquire()  # another Blender on this machine runs the list
        owner.write_text(json.dumps({"pid": live.pid, "host": "another-machine", "token": "x"}))
        assert not DirLock(tmp_path / "jobs.lock").acquire()  # a shared home used elsewhere: never taken
    finally:
        live.kill()
        live.wait()
    owner.write_text(json.dumps({"pid": live.pid, "host": socket.gethostname(), "token": "x"}))
    lock = DirLock(tmp_path / "jobs.lock")
    assert lock.acquire()  # that process has ended (a crash): its list is ours now
    assert json.loads(owner.read_text())["pid"] == os.getpid()
    lock.release()


def test_unfinished_jobs_survive_a_restart_on_a_home_without_locks(factory, emulator, api_key, tmp_path, nfs):
    state, dl = tmp_path / "state", tmp_path / "dl"
    e1 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)
    assert e1.role == "primary"
    job_id = e1.submit(pipelines.text_to_final("a lamp"))
    deadline = time.monotonic() + WAIT
    while not e1.get(job_id)["task_ids"] and time.monotonic() < deadline:
        time.sleep(0.01)
    other = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)  # a second Blender meanwhile
    try:
        assert other.role == "secondary" and other.jobs() == []  # e1's jobs are still never followed twice
    finally:
        other.shutdown(5)
    e1.shutdown(timeout=5)
    first_task = e1.get(job_id)["task_ids"][0]

    e2 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)  # Blender restarted
    try:
        assert e2.role == "primary"
        assert e2.get(job_id)["task_ids"][0] == first_task  # the unfinished job is still there
        assert e2.resume() == [job_id]
        snap = e2.wait(job_id, WAIT)
        assert snap["state"] == "succeeded", snap["error"]
    finally:
        e2.shutdown(5)
