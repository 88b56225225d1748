"""The extension zip: built by scripts/build_extension.py, accepted by Blender's own validator, and clean."""

from __future__ import annotations

import glob
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def this_blender_cli() -> Path:
    """blender_ext.py of the bpy installed in *this* interpreter (5.0 in .venv, 4.2 in .venv42)."""
    sp = sysconfig.get_paths()["purelib"]
    hits = glob.glob(os.path.join(sp, "bpy", "*", "scripts", "addons_core", "bl_pkg", "cli", "blender_ext.py"))
    assert hits, f"no bpy wheel with blender_ext.py under {sp}"
    return Path(hits[0])


def test_zip_name_and_root_layout(built_zip, build_mod):
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert built_zip.name == f"tripo_addon-{manifest['version']}.zip"
    names = zipfile.ZipFile(built_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    for sub in ("api/", "jobs/", "blender/"):
        assert any(n.startswith(sub) for n in names), sub
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_zip_holds_every_source_file(built_zip):
    src = ROOT / "tripo_addon"
    expected = {
        p.relative_to(src).as_posix()
        for p in src.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
        and not any(part.startswith(".") for part in p.relative_to(src).parts)
    }
    names = set(zipfile.ZipFile(built_zip).namelist())
    assert expected - names == set()
    extra = {n for n in names if not n.endswith("/")} - expected - {"blender_manifest.toml"}
    assert all(n.startswith("wheels/") for n in extra), extra


def test_manifest_in_zip_lists_the_bundled_wheels(built_zip, build_mod):
    with zipfile.ZipFile(built_zip) as zf:
        m = tomllib.loads(zf.read("blender_manifest.toml").decode())
        names = zf.namelist()
    assert m["wheels"] == [f"./wheels/{w[2]}" for w in build_mod.WHEELS]
    for entry in m["wheels"]:
        assert entry[2:] in names
        assert re.search(r"-none-any\.whl$", entry), entry  # one zip for every platform
    dists = {w[0] for w in build_mod.WHEELS}
    assert dists == {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                     # Linux distributions' Blender has no requests (issue 10 item 18)
                     "requests", "urllib3", "idna", "charset-normalizer", "certifi"}


def test_blenders_validator_of_this_version_accepts_the_zip(built_zip):
    cli = this_blender_cli()
    tags = cli.parents[3] / "modules" / "_bpy_internal" / "extensions" / "tags.py"
    proc = subprocess.run([sys.executable, str(cli), "validate", "--valid-tags", str(tags), str(built_zip)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_own_checks_pass_on_the_built_zip(built_zip, build_mod):
    assert build_mod.check_zip(built_zip) == []


def test_source_manifest_rules(build_mod):
    m = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert build_mod.check_manifest(m, where="source") == []
    assert m["blender_version_min"] == "4.2.0"
    assert all(x.startswith("SPDX:") for x in m["license"])
    for reason in m["permissions"].values():
        assert len(reason) <= 64 and reason[-1].isalnum()
    assert "wheels" not in m  # written by the build only


def test_wheel_pins_match_the_dev_environment(build_mod):
    """The bundled versions are the ones the tests ran against (requirements-dev.txt / requirements-bpy42.txt)."""
    for dist, version, fname, _ in build_mod.WHEELS:
        assert importlib.metadata.version(dist) == version, dist
        assert fname.split("-")[1] == version
    pinned = dict(line.split("==") for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    for dist, version, _, _ in build_mod.WHEELS:
        if dist in pinned:
            assert pinned[dist] == version, dist


def test_api_and_jobs_never_import_bpy(build_mod):
    for layer in ("api", "jobs"):
        for py in (ROOT / "tripo_addon" / layer).rglob("*.py"):
            assert not build_mod.BPY_IMPORT.search(py.read_text()), py


def _mutated(built_zip: Path, tmp_path: Path, add: dict[str, bytes] | None = None, drop: str | None = None) -> Path:
    out = tmp_path / built_zip.name
    with zipfile.ZipFile(built_zip) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if drop and item.filename == drop:
                continue
            dst.writestr(item, src.read(item.filename))
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return out


@pytest.mark.parametrize(
    "add, expect",
    [
        ({"api/__pycache__/client.cpython-311.pyc": b"x"}, "__pycache__"),
        ({"scene.blend": b"BLENDER"}, "forbidden file"),
        ({"blender/key.py": b'KEY = "tsk_' + b"a1B2c3D4" * 4 + b'"\n'}, "secret"),
        ({"blender/aws.py": b'AK = "AKIAABCDEFGHIJKLMNOP"\n'}, "secret"),
        ({"api/sneaky.py": b"import bpy\n"}, "must not import bpy"),
        ({"jobs/sneaky.py": b"from bpy.props import StringProperty\n"}, "must not import bpy"),
        ({".env": b"TRIPO_API_KEY=x\n"}, "dot-file"),
        ({"tests/test_x.py": b"\n"}, "development file"),
        ({"wheels/urllib3-1.26.20-py2.py3-none-any.whl": b"PK"}, "do not match the manifest"),
    ],
)
def test_own_checks_catch_bad_content(built_zip, build_mod, tmp_path, add, expect):
    errors = build_mod.check_zip(_mutated(built_zip, tmp_path, add=add))
    assert any(expect in e for e in errors), errors


def test_own_checks_catch_a_missing_wheel(built_zip, build_mod, tmp_path):
    errors = build_mod.check_zip(_mutated(built_zip, tmp_path, drop=f"wheels/{build_mod.WHEELS[0][2]}"))
    assert any("do not match the manifest" in e for e in errors), errors


@pytest.mark.parametrize(
    "change, expect",
    [
        ({"license": ["GPL-3.0-or-later"]}, "SPDX: prefix"),
        ({"license": ["SPDX:LicenseRef-Proprietary"]}, "GPL-3.0-or-later compatible"),
        ({"blender_version_min": "4.2"}, "blender_version_min"),
        ({"blender_version_min": "4.1.0"}, "blender_version_min"),
        ({"permissions": {"network": "x" * 65, "files": "ok"}}, "1-64 chars"),
        ({"permissions": {"network": "Talk to the Tripo API.", "files": "ok"}}, "final punctuation"),
        ({"permissions": {"files": "ok"}}, "network and files"),
        ({"tagline": "Ends with a period."}, "tagline"),
        ({"name": "Tripo for Blender"}, "Blender"),
        ({"platforms": ["linux-x64"]}, "platforms"),
    ],
)
def test_manifest_checks(build_mod, change, expect):
    m = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    m.update(change)
    errors = build_mod.check_manifest(m, where="test")
    assert any(expect in e for e in errors), errors


def test_build_exits_non_zero_on_a_bad_manifest(tmp_path):
    """A scratch copy of the project with a licence the platform would refuse: the build must fail, not warn."""
    shutil.copytree(ROOT / "tripo_addon", tmp_path / "tripo_addon", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "build_extension.py", tmp_path / "scripts")
    text = (ROOT / "blender_manifest.toml").read_text()
    (tmp_path / "blender_manifest.toml").write_text(re.sub(r"(?m)^license = .*$", 'license = ["MIT"]', text))
    proc = subprocess.run([sys.executable, str(tmp_path / "scripts" / "build_extension.py"), "--offline"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "SPDX" in proc.stderr
    assert not (tmp_path / "dist" / "tripo_addon-0.1.0.zip").exists()


def test_rebuild_is_offline_from_the_wheel_cache(built_zip, build_mod, tmp_path):
    """After one build the wheels sit in dist/wheels-cache: --offline must not need the network."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--offline",
                           "--out-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "downloading" not in proc.stdout
    with zipfile.ZipFile(tmp_path / built_zip.name) as a, zipfile.ZipFile(built_zip) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
