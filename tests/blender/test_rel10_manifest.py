"""Issue 10.19: the manifest declares the clipboard permission the Copy Task ID button needs, under the name Blender's
own validator (the one scripts/build_extension.py runs) accepts."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _validate(folder: Path) -> subprocess.CompletedProcess:
    sp = sysconfig.get_paths()["purelib"]
    cli = Path(glob.glob(os.path.join(sp, "bpy", "*", "scripts", "addons_core", "bl_pkg", "cli", "blender_ext.py"))[0])
    tags = cli.parents[3] / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    return subprocess.run([sys.executable, str(cli), "validate", "--valid-tags", str(tags), str(folder)],
                          capture_output=True, text=True)


def test_manifest_declares_the_clipboard_permission(tmp_path):
    manifest = (ROOT / "blender_manifest.toml").read_text()
    perms = tomllib.loads(manifest)["permissions"]
    assert "clipboard" in perms
    uses = [p for p in (ROOT / "tripo_addon").rglob("*.py") if ".clipboard =" in p.read_text()]
    assert uses  # the Copy Task ID operator writes the clipboard
    ext = tmp_path / "ext"
    ext.mkdir()
    shutil.copy(ROOT / "blender_manifest.toml", ext / "blender_manifest.toml")
    (ext / "__init__.py").write_text("")
    proc = _validate(ext)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the validator does check permission names: a misspelt one is refused
    (ext / "blender_manifest.toml").write_text(manifest.replace("clipboard =", "clipboards ="))
    assert _validate(ext).returncode != 0
