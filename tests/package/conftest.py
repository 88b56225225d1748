"""Fixtures for the packaging tier: one zip built per session by scripts/build_extension.py (the real CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def build_mod():
    import build_extension  # scripts/ is on sys.path (tests/conftest.py)

    return build_extension


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory, build_mod) -> Path:
    """Build through the command line, as CI and the README do; wheels come from dist/wheels-cache."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--out-dir", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zpath = out / build_mod.zip_name()
    assert zpath.is_file(), proc.stdout
    return zpath
