"""The test suite isolates itself (tests/conftest.py): whatever HOME, XDG_* and BLENDER_USER_RESOURCES say, Blender
and the add-on write only into the session's temporary folder; the HOME a test run was started with stays as it
was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bpy
from blender_helpers import ROOT


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_blender_level_code_writes_only_into_the_session_folder(connected, tmp_path):
    session = Path(os.environ["TRIPO_TEST_SESSION_DIR"]).resolve()
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "BLENDER_USER_RESOURCES"):
        assert Path(os.environ[name]).resolve().is_relative_to(session), name
    assert Path(bpy.utils.resource_path('USER')).resolve().is_relative_to(session)
    home = Path(os.environ["HOME"])
    before = _listing(home)
    # what writes: a task with download and import, preferences, a saved file (with its thumbnail), a file load
    assert bpy.ops.tripo.text_to_model(prompt="an isolated chair", wait=True) == {'FINISHED'}
    bpy.ops.wm.save_userpref()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "chair.blend"))
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "chair.blend"))
    assert _listing(home) == before == {}
    assert list(Path(os.environ["BLENDER_USER_RESOURCES"]).rglob("userpref.blend"))


def test_a_fake_home_stays_untouched(tmp_path):
    """A child test run with a fake HOME and none of the isolation variables set runs the test above: that HOME
    (with a Blender configuration in it) is left exactly as it was."""
    home = tmp_path / "home"
    config = home / ".config" / "blender" / "5.0" / "config"
    config.mkdir(parents=True)
    (config / "userpref.blend").write_bytes(b"the user's own preferences")
    (home / ".cache").mkdir()
    before = _listing(home)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BLENDER_", "XDG_", "TRIPO_", "PYTEST_")) and k != "PIP_CONFIG_FILE"}
    env.update(HOME=str(home), TMPDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x",
                           f"{Path(__file__)}::test_blender_level_code_writes_only_into_the_session_folder"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout
    assert _listing(home) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tripo-tests-")]  # removed at the end


def test_fail_probe():
    """Passes in a normal run; fails only when the test below asks it to (in a child run)."""
    assert not os.environ.get("TRIPO_FAIL_PROBE"), "failed on purpose"


def test_a_failing_run_keeps_a_failing_status(tmp_path):
    """The bpy 4.2 exit workaround (os._exit) only follows a clean run: a failure is never turned into success."""
    env = {**os.environ, "TRIPO_FAIL_PROBE": "1", "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", f"{Path(__file__)}::test_fail_probe"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stdout
    assert "1 failed" in proc.stdout and "failed on purpose" in proc.stdout
