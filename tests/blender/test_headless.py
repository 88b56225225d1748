"""The README's headless example, run VERBATIM (read from README.md between its marker and the end of the fenced
block, so a README that drifts breaks this test): as a script in a fresh ``python make_chest.py`` process with the
bpy module (the way a reader runs it: nothing installed, no user folder chosen), and in this process, where the
add-on is already enabled. Only environment variables differ: TRIPO_API_KEY and TRIPO_BASE_URL (the emulator)."""

from __future__ import annotations

import os
import subprocess
import sys

import bpy
from blender_helpers import ROOT, new_objects, posts

MARKER = "<!-- readme:headless -->"


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(MARKER) == 1, "README.md must hold exactly one headless example marker"
    after = text.split(MARKER, 1)[1]
    assert after.lstrip().startswith("```python\n"), "the marker must sit right above a ```python block"
    return after.split("```python\n", 1)[1].split("\n```", 1)[0] + "\n"


def _check_results(emulator, api_key, folder):
    assert [p["body"]["type"] for p in posts(emulator, api_key)] == ["text_to_model", "convert_model"]
    assert (folder / "chest.blend").is_file()
    files = [p for p in (folder / "chest_files").rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".glb", ".fbx"}, files


def test_readme_example_runs_as_a_bpy_module_script(connected, tmp_path):
    """``PYTHONPATH=scripts python make_chest.py``: tripo_bpy installs the add-on into a throw-away user folder."""
    script = tmp_path / "make_chest.py"
    script.write_text(readme_block(), encoding="utf-8")
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "untouched").write_text("x")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BLENDER_", "PYTHON", "TRIPO_", "XDG_"))}
    env.update(PYTHONPATH=str(ROOT / "scripts"), TRIPO_API_KEY=connected.api_key, HOME=str(home),
               TRIPO_BASE_URL=connected.emulator.base_url, TMPDIR=str(tmp_path), NO_PROXY="127.0.0.1,localhost",
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    log = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, log
    assert "imported " in proc.stdout and " from task " in proc.stdout, log
    _check_results(connected.emulator, connected.api_key, tmp_path)
    assert sorted(str(p.relative_to(home)) for p in (home / ".config").rglob("*")) == [".config/untouched"]
    users = list(tmp_path.glob("tripo-bpy-user-*/extensions/tripo_dev/tripo_addon"))
    assert users, "tripo_bpy did not stage the add-on into a throw-away user folder under TMPDIR"
    assert connected.api_key not in proc.stdout + proc.stderr


def test_readme_example_runs_in_this_process(connected, tmp_path, monkeypatch):
    """The same code where bpy is already imported and the add-on enabled (Blender's console, a test session)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIPO_BASE_URL", connected.emulator.base_url)
    bpy.context.preferences.system.use_online_access = False  # setup() allows it again
    before = set(bpy.data.objects)
    exec(compile(readme_block(), str(ROOT / "README.md"), "exec"), {"__name__": "__main__"})
    assert bpy.context.preferences.system.use_online_access
    _check_results(connected.emulator, connected.api_key, tmp_path)
    # the README's read_homefile emptied the scene: what is there now is the two results
    assert {o.get("tripo_task_type") for o in bpy.data.objects if o not in before} >= {"text_to_model",
                                                                                       "convert_model"}
    assert bpy.context.active_object["tripo_task_type"] == "convert_model"
    assert len(new_objects(before)) == len(bpy.data.objects)
