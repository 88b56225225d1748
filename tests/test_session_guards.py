"""The session-wide guards of tests/conftest.py: a skip that tests/expected_skips.txt does not list fails the run,
and every listed skip names a test that exists. Run in a child pytest so the outcome is the real exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()


def test_skip_probe():
    """Passes in a normal run; skips only when the guard test below asks it to."""
    if os.environ.get("TRIPO_SKIP_PROBE"):
        pytest.skip("probe: skipped on purpose")


def _child(tmp_path, allow: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TRIPO_EXPECTED_SKIPS", "PYTEST_ADDOPTS")}
    env["TRIPO_SKIP_PROBE"] = "1"
    if allow is not None:
        listing = tmp_path / "allowed.txt"
        listing.write_text(allow)
        env["TRIPO_EXPECTED_SKIPS"] = str(listing)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", f"{HERE}::test_skip_probe"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_an_unlisted_skip_fails_the_run(tmp_path):
    proc = _child(tmp_path, allow=None)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "unexpected skips" in proc.stdout and "probe: skipped on purpose" in proc.stdout, proc.stdout


def test_a_listed_skip_passes_and_the_reason_must_match(tmp_path):
    test_id = "tests/test_session_guards.py::test_skip_probe"
    ok = _child(tmp_path, allow=f"# comment\n{test_id} | skipped on purpose | the probe\n")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong_reason = _child(tmp_path, allow=f"{test_id} | another reason | the probe\n")
    assert wrong_reason.returncode == 1, wrong_reason.stdout


def test_every_expected_skip_names_an_existing_test(request):
    conftest = next(m for m in request.config.pluginmanager.get_plugins()  # tests/conftest.py as pytest loaded it
                    if getattr(m, "__file__", None) == str(ROOT / "tests" / "conftest.py"))
    for test_id, _pattern, why in conftest.expected_skips():
        path, _, name = test_id.partition("::")
        assert (ROOT / path).is_file(), test_id
        func = name.split("[", 1)[0].rstrip("*")
        assert f"def {func}" in (ROOT / path).read_text(), test_id
        assert why, test_id
