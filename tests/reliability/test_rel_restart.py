"""Blender killed (SIGKILL) mid-poll and mid-download, then started again; Blender quitting with jobs in flight; the
job log's atomic writes under SIGKILL.

Each Blender is a child process: the bpy module with the extension enabled the way tests/blender/conftest.py does it
(a staged "dev" extensions repository), sharing one BLENDER_USER_RESOURCES so the job log persists between them.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from child_process import ChildProcess
from rel_helpers import WAIT, fired, task_posts, wait_until

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHILD = HERE / "blender_child.py"
REPO = "dev"
MODULE = f"bl_ext.{REPO}.tripo_addon"
TAGS = ("STATE", "RESULT", "QUITTING", "AFTER_QUIT", "VERSION")

pytestmark = pytest.mark.slow


def _has_bpy() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("bpy") is not None
    except (ImportError, ValueError):
        return False


needs_bpy = pytest.mark.skipif(not _has_bpy(), reason="needs the bpy module")


class Child(ChildProcess):
    """A child Blender (bpy module) whose stdout lines are read in the background."""

    def __init__(self, cfg: dict, env: dict):
        super().__init__([sys.executable, str(CHILD), json.dumps(cfg)], env, str(ROOT))

    def expect(self, predicate, timeout: float = WAIT):
        """The first parsed ``TAG json`` line for which predicate(tag, data) is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            tag, _, rest = line.partition(" ")
            if tag not in TAGS:  # Blender's own output (operator reports, warnings)
                continue
            data = json.loads(rest) if rest else None
            if predicate(tag, data):
                return tag, data
        raise AssertionError(f"child did not report in time:\n{self.log()}")

    def result(self) -> dict:
        line = next((x for x in self.out if x.startswith("RESULT ")), None)
        assert line, self.log()
        return json.loads(line[len("RESULT "):])

    def log(self) -> str:
        return super().log(3000, 5000)


@pytest.fixture
def session(emulator, api_key, tmp_path, tmp_path_factory):
    """Config + environment shared by the Blender children of one test (same user folder = same job log)."""
    from stage import stage

    repo_dir = tmp_path_factory.mktemp("rel_repo")
    stage(repo_dir)
    user = tmp_path / "blender_user"
    user.mkdir()
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(user), "PYTHONPATH": "", "TMPDIR": str(tmp_path)}
    env.pop("TRIPO_API_KEY", None)
    cfg = {"repo": REPO, "repo_dir": str(repo_dir), "module": MODULE, "key": api_key, "url": emulator.base_url,
           "downloads": str(tmp_path / "downloads"), "ca": emulator.s3_ca_file or "",
           "recorder_dir": str(ROOT / "tests" / "blender")}
    children: list[Child] = []

    def start(mode: str, **extra) -> Child:
        child = Child({**cfg, "mode": mode, **extra}, env)
        children.append(child)
        return child

    def journal() -> Path:
        found = list(user.rglob("state/jobs.json"))
        assert len(found) == 1, found
        return found[0]

    yield type("S", (), {"start": staticmethod(start), "journal": staticmethod(journal), "user": user,
                         "downloads": tmp_path / "downloads"})
    for c in children:
        c.kill()


def _journal_ok(path: Path, task_id: str) -> dict:
    data = json.loads(path.read_text("utf-8"))  # parses: written atomically even under SIGKILL
    steps = [s for j in data["jobs"] for s in j["steps"]]
    assert any(s.get("task_id") == task_id for s in steps), data
    return data


def _journal_state(path: Path) -> str | None:
    try:
        return json.loads(path.read_text("utf-8"))["jobs"][0]["state"]
    except (OSError, ValueError, KeyError, IndexError):
        return None


def _resume_and_check(session, emulator, api_key, task_id: str, first: Child) -> dict:
    """Child 2 resumes the job; ``first`` is the child that was killed or quit (its output is searched too)."""
    child = session.start("resume")
    rc = child.wait(180)
    res = child.result()
    assert rc == 0, child.log()
    assert res["rows"] and res["rows"][0]["task_id"] == task_id, res
    assert res["rows"][0]["imported"], res
    assert res["tripo_objects"], res  # the result is in the scene
    assert task_posts(emulator, api_key) == 1  # exactly one POST /task over both lives
    for c in (first, child):  # neither life printed the key (the killed one's output was read to the end)
        text = "".join(c.out + c.err)
        assert api_key not in text and api_key[len("tsk_"):] not in text, c.log()
    assert first.out or first.err  # the first child's output was really captured
    assert not list(session.journal().parent.glob("jobs.json.*.tmp"))
    return res


@needs_bpy
def test_sigkill_mid_poll_then_resume(session, emulator, api_key, fault):
    fault("poll", "unknown_status", count=-1)  # the task never looks finished: the engine keeps polling
    child = session.start("submit", prompt="a chair that survives a crash")
    _tag, rows = child.expect(lambda tag, d: tag == "STATE" and d and d[0]["task_id"])
    task_id = rows[0]["task_id"]
    wait_until(lambda: len(fired(emulator, api_key, "poll", "unknown_status")) >= 2, what="polls")  # (v3: tasks/list)
    child.kill()
    assert child.proc.returncode == -signal.SIGKILL
    _journal_ok(session.journal(), task_id)
    emulator.clear_faults()
    _resume_and_check(session, emulator, api_key, task_id, child)


@needs_bpy
def test_sigkill_mid_download_then_resume(session, emulator, api_key, fault):
    fault("download", "slow_body", seconds=120)  # the model trickles out over two minutes
    child = session.start("submit", prompt="a chair downloaded twice")
    _tag, rows = child.expect(lambda tag, d: tag == "STATE" and d and d[0]["task_id"])
    task_id = rows[0]["task_id"]
    wait_until(lambda: any(r["route"] == "download" and r["fault"] == "slow_body" for r in emulator.requests()),
               what="download started")
    wait_until(lambda: list(session.downloads.rglob("*.part")), what="partial file on disk")
    # The journal records "downloading" a moment after the download starts (coalesced writes): on a loaded machine
    # wait for it instead of a fixed sleep, so the kill really lands mid-download with the state on disk.
    wait_until(lambda: _journal_state(session.journal()) == "downloading", what="journal says downloading")
    child.kill()
    data = _journal_ok(session.journal(), task_id)
    assert data["jobs"][0]["state"] == "downloading", data["jobs"][0]["state"]
    emulator.clear_faults()
    _resume_and_check(session, emulator, api_key, task_id, child)
    print("download folder after resume:", sorted(p.name for p in (session.downloads / task_id).iterdir()))
    finals = [p for p in (session.downloads / task_id).iterdir() if not p.name.startswith(".")]
    assert finals and all(p.read_bytes()[:4] == b"glTF" for p in finals if p.suffix == ".glb")


@needs_bpy
def test_quit_with_jobs_in_flight_is_prompt_and_resumes(session, emulator, api_key, fault):
    """bpy.ops.wm.quit_blender() while a download hangs: the process ends within seconds; the next start resumes."""
    fault("download", "slow_body", seconds=120)
    child = session.start("quit", prompt="a chair left behind", seconds=0.3)
    _tag, version = child.expect(lambda tag, d: tag == "VERSION")
    _tag, rows = child.expect(lambda tag, d: tag == "STATE" and d and d[0]["task_id"])
    task_id = rows[0]["task_id"]
    child.expect(lambda tag, d: tag == "QUITTING")
    started = time.monotonic()
    rc = child.wait(60)
    took = time.monotonic() - started
    print(f"Blender quit in {took:.2f} s with a download in flight")
    assert any(r["route"] == "download" and r["fault"] == "slow_body" for r in emulator.requests())
    assert took < 15, f"Blender took {took:.1f} s to quit\n{child.log()}"  # the hung download lasts 120 s
    # a clean exit on every version (on 4.2 the child leaves before bpy's crashing C exit handlers, after the
    # interpreter's own thread join and atexit handlers: blender_child.py)
    assert rc == 0, (version, rc, child.log())
    assert "Traceback" not in "".join(child.err), child.log()
    _journal_ok(session.journal(), task_id)
    emulator.clear_faults()
    _resume_and_check(session, emulator, api_key, task_id, child)


@needs_bpy
def test_corrupt_job_log_is_set_aside_at_startup(session):
    """A damaged jobs.json: register still works, the log is moved aside and the task panel shows the notice."""
    first = session.start("startup")
    assert first.wait(120) == 0, first.log()
    log = session.journal() if list(session.user.rglob("state/jobs.json")) else None
    state_dir = (log.parent if log else next(session.user.rglob("state")))
    (state_dir / "jobs.json").write_bytes(b'{"version": 1, "jobs": [{"id": "abc", "steps": [\x00\xff garbage')
    child = session.start("startup")
    assert child.wait(120) == 0, child.log()
    res = child.result()
    assert res["enabled"] is True
    assert "could not be read" in res["notice"] and "moved to" in res["notice"], res
    assert "could not be read" in res["panel"], res["panel"]
    assert list(state_dir.glob("jobs.json.corrupt-*"))


JOURNAL_WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from tripo_addon.jobs.journal import Journal
    from tripo_addon.jobs.job import Job, Step
    j = Journal(sys.argv[1], min_interval=0.0)
    jobs = []
    print("READY", flush=True)
    i = 0
    while True:
        i += 1
        jobs.append(Job(title="job %d " % i + "x" * 2000, steps=[Step("text_to_model", {"prompt": "p" * 500})]))
        j.save(jobs[-40:])
""")


def test_journal_survives_sigkill_mid_write(tmp_path):
    """SIGKILL a process that rewrites the job log in a tight loop, 15 times: the log always parses."""
    from tripo_addon.jobs.journal import Journal

    state = tmp_path / "state"
    for _ in range(15):
        proc = subprocess.Popen([sys.executable, "-c", JOURNAL_WRITER, str(state), str(ROOT)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "READY"
        time.sleep(0.15)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
        if (state / "jobs.json").exists():
            data = json.loads((state / "jobs.json").read_text("utf-8"))
            assert data["jobs"], data
    jobs, notices = Journal(state).load()
    assert jobs and notices == []
    assert not list(state.glob("jobs.json.*.tmp"))  # temp files of killed writes are cleaned up on load
