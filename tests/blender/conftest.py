"""Fixtures for the Blender layer on the real bpy module.

The extension is staged (scripts/stage.py) into a temporary extensions repository "dev" and enabled as
``bl_ext.dev.tripo_addon``, exactly as Blender loads an installed extension. The user folder, HOME and the XDG
folders are a temporary folder of the session (tests/conftest.py), so simply:

    .venv/bin/python -m pytest tests/blender -q
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

bpy = pytest.importorskip("bpy")
import addon_utils  # noqa: E402  (importing bpy puts addon_utils on sys.path)
from blender_helpers import MODULE, REPO, disable, enable, get_prefs  # noqa: E402


@pytest.fixture(scope="session")
def repo_dir(tmp_path_factory) -> Path:
    """An extensions repository holding the staged extension (symlinks to the sources + the manifest)."""
    from stage import stage

    path = tmp_path_factory.mktemp("ext_repo")
    stage(path)
    repos = bpy.context.preferences.extensions.repos
    if not any(r.module == REPO for r in repos):
        repos.new(name=REPO, module=REPO, custom_directory=str(path), source='USER')
    return path


@pytest.fixture(scope="session")
def addon(repo_dir):
    """The enabled extension module (enabled once per session; tests may disable/enable it in between)."""
    mod = enable()
    yield mod
    if addon_utils.check(MODULE)[1]:
        disable()


@pytest.fixture(scope="session")
def ext(addon) -> SimpleNamespace:
    """The extension's sub-modules, as Blender loaded them."""
    import importlib

    names = ("runtime", "settings", "background", "poller", "drain", "tasklist", "job_import", "wakeup", "scene_io",
             "scene_export", "catalog", "panels", "properties", "preferences", "registration", "previews")
    ns = {n: importlib.import_module(f"{MODULE}.blender.{n}") for n in names}
    ns["operators"] = importlib.import_module(f"{MODULE}.blender.operators")
    ns["pipelines"] = importlib.import_module(f"{MODULE}.jobs.pipelines")
    ns["tasks"] = importlib.import_module(f"{MODULE}.api.tasks")
    return SimpleNamespace(**ns)


@pytest.fixture(autouse=True)
def empty_file():
    """Every test starts from an empty scene (WindowManager properties reset, as on any file load)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    yield


@pytest.fixture
def online():
    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = True
    yield
    system.use_online_access = before


@pytest.fixture
def fresh_engine(ext):
    """No engine and an empty job journal (each test sees only its own jobs)."""
    ext.runtime.shutdown()
    shutil.rmtree(ext.settings.state_dir(), ignore_errors=True)
    ext.runtime.engine_options.update(poll_min=0.05, poll_max=0.5, journal_interval=0.0)
    yield ext.runtime
    ext.runtime.shutdown()
    ext.tasklist.mirror_all()


@pytest.fixture
def connected(ext, emulator, api_key, online, fresh_engine, tmp_path):
    """Preferences pointing at the emulator with a fresh account; online access on; downloads in tmp_path."""
    p = get_prefs()
    saved = {k: getattr(p, k) for k in ("api_key", "api_base_url", "download_dir", "auto_import", "target_size",
                                        "place_at_cursor", "hide_source", "ca_bundle")}
    p.api_key = api_key
    p.api_base_url = emulator.base_url
    p.download_dir = str(tmp_path / "downloads")
    p.ca_bundle = emulator.s3_ca_file or ""  # the emulator's S3 speaks TLS with its own CA
    yield SimpleNamespace(emulator=emulator, api_key=api_key, prefs=p, tmp=tmp_path)
    if addon_utils.check(MODULE)[1]:
        p = get_prefs()  # a test that disabled and enabled the add-on got a new preferences struct
        for k, v in saved.items():
            setattr(p, k, v)


@pytest.fixture
def user_mesh():
    """A smooth icosphere without UVs: glTF keeps its vertices one to one (no seams to split)."""
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=2, radius=1.0, location=(2.0, 1.0, 0.5))
    obj = bpy.context.active_object
    obj.name = "MyRock"
    bpy.ops.object.shade_smooth()
    while obj.data.uv_layers:
        obj.data.uv_layers.remove(obj.data.uv_layers[0])
    return obj


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/blender" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.blender)

