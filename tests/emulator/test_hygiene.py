"""The emulator package stays independent: no tripo_addon, no bpy in-process, no undefined names (the project's
ruff config ignores F821 for bpy annotations, so it is checked here for the emulator's own files)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "tripo_emulator").rglob("*.py")) + [ROOT / "scripts" / "tripo_emulator.py"]


def test_never_imports_the_addon_or_bpy():
    for path in SOURCES:
        text = path.read_text()
        if path.name == "blender.py":   # bpy only inside the child-process script string
            text = re.sub(r"SCRIPT = r'''.*?'''", "", text, flags=re.S)
        assert not re.search(r"^\s*(from|import)\s+tripo_addon", text, re.M), path
        assert not re.search(r"^\s*(from|import)\s+bpy\b", text, re.M), path


def test_no_undefined_names():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    proc = subprocess.run([ruff, "check", "--no-cache", "--select", "F821,F822,F823", *map(str, SOURCES),
                           str(ROOT / "tests" / "emulator")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
