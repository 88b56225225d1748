"""scripts/tripo_bpy.py with the built zip: a fresh bpy-module process installs it into a throw-away user folder the
way "Install from Disk" does, enables it, allows online access, and exits cleanly (bpy 4.2 included)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.blender, pytest.mark.slow]

SCRIPT = """
import json, os, sys
import tripo_bpy
import bpy

module = tripo_bpy.setup(sys.argv[1])
again = tripo_bpy.setup(sys.argv[1])  # a second call finds the enabled add-on
prefs = bpy.context.preferences.addons[module].preferences
print("RESULT " + json.dumps({"module": module, "again": again, "online": bpy.app.online_access,
                              "user": os.environ["BLENDER_USER_RESOURCES"], "prefs": type(prefs).__name__,
                              "has_op": hasattr(bpy.ops.tripo, "text_to_model")}))
"""


def test_setup_installs_the_zip_into_a_throw_away_user_folder(built_zip, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLENDER_", "PYTHON", "TRIPO_", "XDG_"))}
    env.update(PYTHONPATH=str(ROOT / "scripts"), HOME=str(home), TMPDIR=str(tmp_path), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(built_zip)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    res = json.loads(line[len("RESULT "):])
    assert res["module"] == res["again"] == "bl_ext.user_default.tripo_addon"
    assert res["online"] is True and res["has_op"] is True
    user = Path(res["user"])
    assert user.parent == tmp_path and user.name.startswith("tripo-bpy-user-")
    assert (user / "extensions" / "user_default" / "tripo_addon" / "blender_manifest.toml").is_file()
    assert not (home / ".config").exists()  # nothing in the user's own Blender configuration
