"""Shared fixtures: the local Tripo emulator (real HTTP on 127.0.0.1, real S3 via moto) and per-test accounts.

Also, for the whole session (tests/conftest.py is loaded before any test module imports bpy):

- isolation: HOME, the XDG folders (Blender's thumbnail cache lives in $XDG_CACHE_HOME/thumbnails) and
  BLENDER_USER_RESOURCES point into one temporary folder, whatever the environment says, so no test writes into the
  user's Blender configuration or home (tests/blender/test_isolation.py checks it with a fake HOME). A user-level pip
  configuration is still read (PIP_CONFIG_FILE), so package tests find the same indexes;
- skips fail the run unless tests/expected_skips.txt lists them (test id and reason), so coverage cannot shrink
  silently;
- the bpy 4.2 exit crash: see pytest_unconfigure.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)

from emulators import running  # noqa: E402  (tests/ is on the path from here)


# ==================================================================================================== isolation
def _user_pip_config() -> str | None:
    home = Path(os.path.expanduser("~"))
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    for cand in (xdg / "pip" / "pip.conf", home / ".pip" / "pip.conf", home / ".config" / "pip" / "pip.conf"):
        if cand.is_file():
            return str(cand)
    return None


def _isolate() -> Path:
    root = Path(tempfile.mkdtemp(prefix="tripo-tests-"))
    pip_config = None if os.environ.get("PIP_CONFIG_FILE") else _user_pip_config()
    folders = {"HOME": "home", "XDG_CONFIG_HOME": "xdg/config", "XDG_CACHE_HOME": "xdg/cache",
               "XDG_DATA_HOME": "xdg/data", "XDG_STATE_HOME": "xdg/state", "BLENDER_USER_RESOURCES": "blender_user"}
    for name, sub in folders.items():
        (root / sub).mkdir(parents=True, exist_ok=True)
        os.environ[name] = str(root / sub)
    if pip_config:
        os.environ["PIP_CONFIG_FILE"] = pip_config
    os.environ["TRIPO_TEST_SESSION_DIR"] = str(root)
    return root


SESSION_DIR = _isolate() if "bpy" not in sys.modules else Path(os.environ.get("TRIPO_TEST_SESSION_DIR", ""))

# Scale of the emulator's task durations in tests: 0.01 turns a 60 s generation into 0.6 s.
TIME_SCALE = float(os.environ.get("TRIPO_TEST_TIME_SCALE", "0.01"))
#: The API the suites speak by default: v3 (Tripo's live API). TRIPO_TEST_API=v2 runs them against the emulator's
#: v2 (the retired API's tier); tests about one dialect's wire ask for it explicitly.
TEST_API = os.environ.get("TRIPO_TEST_API", "v3")
#: The shape of the emulator's v3 ``tasks/list`` answers: "object" ({tasks: {id: task}, missed}, Tripo's Python SDK)
#: or "array" ({tasks: [task, ...]}, Tripo's JS/Go/Rust SDKs). TRIPO_TEST_TASKS_LIST_SHAPE=array runs the suites
#: against the other one; a test may also set ``emulator.tasks_list_shape`` (and put it back).
TASKS_LIST_SHAPE = os.environ.get("TRIPO_TEST_TASKS_LIST_SHAPE", "object")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """One emulator for the whole session; tests get isolation from their own account keys."""
    with running(tmp_path_factory.mktemp("emulator"), time_scale=TIME_SCALE, api=TEST_API,
                 tasks_list_shape=TASKS_LIST_SHAPE) as emu:
        yield emu


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory):
    """Real-time task durations and no S3: tasks stay queued/running for the whole test (deterministic limits)."""
    with running(tmp_path_factory.mktemp("slow-emulator"), time_scale=1.0, s3=False) as emu:
        yield emu


@pytest.fixture
def api_key(emulator) -> str:
    """A fresh account with plenty of credits, so tests never see each other's tasks or balance."""
    key = "tsk_test_" + uuid.uuid4().hex
    emulator.add_account(key, balance=100_000)
    yield key
    emulator.clear_faults()


@pytest.fixture
def fault(emulator, api_key):
    """inject(route, kind, **fields) for this test's key only; returns the rule (its ``id`` ends it early:
    ``emulator.faults.remove(rule["id"])``).

    Downloads of signed URLs carry no key: those rules match the owner of the task (``owner``: the key of the
    account that created it) instead. ``match`` adds conditions (e.g. ``{"type": "text_to_image"}``).
    """

    def inject(route: str, kind: str, **fields):
        own = {"owner": api_key} if route == "download" else {"key": api_key}
        match = {**own, **fields.pop("match", {})}
        return emulator.inject(route=route, kind=kind, match=match, **fields)

    yield inject
    emulator.clear_faults()


@pytest.fixture
def client(emulator, api_key):
    from tripo_addon.api.client import TripoClient

    c = TripoClient(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5)
    yield c
    c.close()


# ==================================================================================================== skips
EXPECTED_SKIPS = Path(os.environ.get("TRIPO_EXPECTED_SKIPS") or Path(__file__).with_name("expected_skips.txt"))
_skips: list[tuple[str, str]] = []  # (test id, reason)


def expected_skips() -> list[tuple[str, re.Pattern, str]]:
    """(test id or prefix ending in *, reason pattern, why) from tests/expected_skips.txt."""
    out = []
    for line in EXPECTED_SKIPS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        test_id, pattern, why = (part.strip() for part in line.split(" | ", 2))
        out.append((test_id, re.compile(pattern), why))
    return out


def _allowed(test_id: str, reason: str, allowed) -> bool:
    for pattern_id, pattern, _why in allowed:
        same = test_id.startswith(pattern_id[:-1]) if pattern_id.endswith("*") else test_id == pattern_id
        if same and pattern.search(reason):
            return True
    return False


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skips.append((report.nodeid, _reason(report)))


def pytest_collectreport(report):
    if report.skipped:  # a whole module or folder skipped (importorskip in a conftest)
        _skips.append((report.nodeid or ".", _reason(report)))


def unexpected_skips() -> list[tuple[str, str]]:
    allowed = expected_skips()
    return [(test_id, reason) for test_id, reason in _skips if not _allowed(test_id, reason, allowed)]


def pytest_sessionfinish(session, exitstatus):
    bad = unexpected_skips()
    if bad and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config._tripo_unexpected_skips = bad
    session.config._tripo_exit = int(session.exitstatus)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    bad = getattr(config, "_tripo_unexpected_skips", None) or []
    if bad:
        terminalreporter.section("unexpected skips (not in tests/expected_skips.txt): the run fails", red=True)
        for test_id, reason in bad:
            terminalreporter.line(f"{test_id}: {reason}", red=True)


# ==================================================================================================== exit
def pytest_unconfigure(config):
    """bpy 4.2.x segfaults in C exit handlers while the interpreter shuts down whenever a Python-defined operator
    class was registered (testing-recipes.md 1.4; 5.0 does not). Only there, and only after a clean run, leave with
    os._exit(0) instead: a failing run exits normally (its non-zero status cannot be masked), and on bpy 5.0 every
    run exits normally, so a crash or hang at exit caused by the add-on (threads, handlers) shows."""
    status = getattr(config, "_tripo_exit", None)
    if SESSION_DIR and SESSION_DIR.name.startswith("tripo-tests-"):
        shutil.rmtree(SESSION_DIR, ignore_errors=True)
    bpy = sys.modules.get("bpy")
    if bpy is not None and status == 0 and tuple(bpy.app.version) < (5, 0, 0):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
