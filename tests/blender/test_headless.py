"""The README's headless scripting snippet, run as written in a fresh process (only the repository and the
emulator's address are swapped in)."""

from __future__ import annotations

import os
import subprocess
import sys

from blender_helpers import MODULE, REPO, posts

SNIPPET = '''\
import os, bpy, addon_utils

MODULE = "bl_ext.user_default.tripo_addon"                 # the extension installed from its zip
bpy.context.preferences.system.use_online_access = True    # "Allow Online Access" (or: blender --online-mode)
if not addon_utils.check(MODULE)[1]:
    addon_utils.enable(MODULE, default_set=True)
prefs = bpy.context.preferences.addons[MODULE].preferences  # the key comes from TRIPO_API_KEY when prefs.api_key is ""

bpy.ops.tripo.text_to_model(prompt="a red wooden chair", wait=True)  # generated, downloaded, imported
chair = bpy.context.active_object                                     # the result is selected and active
print(chair.name, chair["tripo_task_id"], chair["tripo_task_type"])
bpy.ops.tripo.convert_model(format='FBX', wait=True)                  # next steps act on the active result
bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath("chair.blend"))
'''


def test_readme_snippet_runs_headless(connected, repo_dir, tmp_path):
    setup = (
        "import bpy\n"
        f"bpy.context.preferences.extensions.repos.new(name={REPO!r}, module={REPO!r}, "
        f"custom_directory={str(repo_dir)!r}, source='USER')\n"
    )
    code = SNIPPET.replace('"bl_ext.user_default.tripo_addon"', repr(MODULE))
    code = code.replace(
        "# the key comes",
        f"\nprefs.api_base_url = {connected.emulator.base_url!r}\n"
        f"prefs.ca_bundle = {(connected.emulator.s3_ca_file or '')!r}\n#",
    )
    code = setup + code + "import sys\nsys.stdout.flush()\nos._exit(0)\n"
    env = {**os.environ, "TRIPO_API_KEY": connected.api_key, "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "text_to_model" in proc.stdout
    assert (tmp_path / "chair.blend").is_file()
    assert [p["body"]["type"] for p in posts(connected.emulator, connected.api_key)] == ["text_to_model",
                                                                                      "convert_model"]
    assert connected.api_key not in proc.stdout + proc.stderr
    assert connected.api_key.encode() not in (tmp_path / "chair.blend").read_bytes()
