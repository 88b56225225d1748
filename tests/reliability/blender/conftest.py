"""bpy fixtures for the reliability tests that drive the extension the way a user does (operators, preferences).

Same setup as tests/blender/conftest.py (a staged "dev" extensions repository, the extension enabled as
bl_ext.dev.tripo_addon), written to coexist with it: whichever suite runs first enables the extension once.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[3]
for p in (ROOT / "tests" / "blender", ROOT / "tests" / "reliability"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

bpy = pytest.importorskip("bpy")
import addon_utils  # noqa: E402
from blender_helpers import MODULE, REPO, enable, get_prefs  # noqa: E402

PREF_NAMES = ("api_key", "api_base_url", "download_dir", "auto_import", "proxy", "ca_bundle")


@pytest.fixture(scope="session")
def rel_addon(tmp_path_factory):
    repos = bpy.context.preferences.extensions.repos
    if not any(r.module == REPO for r in repos):
        from stage import stage

        path = tmp_path_factory.mktemp("ext_repo_rel")
        stage(path)
        repos.new(name=REPO, module=REPO, custom_directory=str(path), source='USER')
    if not addon_utils.check(MODULE)[1]:
        enable()
    yield


@pytest.fixture
def ext(rel_addon) -> SimpleNamespace:
    import importlib

    names = ("runtime", "poller", "scene_io", "catalog", "panels")
    ns = {n: importlib.import_module(f"{MODULE}.blender.{n}") for n in names}
    return SimpleNamespace(**ns)


@pytest.fixture(autouse=True)
def empty_file(rel_addon):
    bpy.ops.wm.read_homefile(use_empty=True)
    yield


@pytest.fixture
def connected(ext, emulator, api_key, tmp_path):
    """Preferences pointing at the emulator with a fresh account, online access on, no engine, empty job log."""
    system = bpy.context.preferences.system
    online = system.use_online_access
    system.use_online_access = True
    ext.runtime.shutdown()
    shutil.rmtree(ext.runtime.state_dir(), ignore_errors=True)
    ext.runtime.engine_options.update(poll_min=0.05, poll_max=0.5, journal_interval=0.0)
    p = get_prefs()
    saved = {k: getattr(p, k) for k in PREF_NAMES}
    p.api_key = api_key
    p.api_base_url = emulator.base_url
    p.download_dir = str(tmp_path / "downloads")
    p.proxy = ""
    p.ca_bundle = emulator.s3_ca_file or ""
    yield SimpleNamespace(emulator=emulator, api_key=api_key, prefs=p, tmp=tmp_path)
    ext.runtime.shutdown()
    for k, v in saved.items():
        setattr(p, k, v)
    system.use_online_access = online
    emulator.clear_faults()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/reliability/blender" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.blender)
