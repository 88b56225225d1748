"""The extension zip: built by scripts/build_extension.py, accepted by Blender's own validator, and clean."""

from __future__ import annotations

import glob
import hashlib
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


def zip_wheels(built_zip: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(built_zip) as zf:
        return {n[len("wheels/"):]: zf.read(n) for n in zf.namelist() if n.startswith("wheels/") and n != "wheels/"}


def wheel_dist(fname: str) -> tuple[str, str]:
    """(normalized distribution name, version) of a wheel file name."""
    name, version = fname.split("-")[:2]
    return re.sub(r"[-_.]+", "-", name).lower(), version


def test_manifest_in_zip_lists_the_bundled_wheels(built_zip, build_mod):
    with zipfile.ZipFile(built_zip) as zf:
        m = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert sorted(m["wheels"]) == sorted(f"./wheels/{n}" for n in zip_wheels(built_zip))
    for entry in m["wheels"]:
        assert re.search(r"-none-any\.whl$", entry), entry  # one zip for every platform
    assert {wheel_dist(n)[0] for n in zip_wheels(built_zip)} == {
        "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
        # Linux distributions' Blender has no requests (issue 10 item 18)
        "requests", "urllib3", "idna", "charset-normalizer", "certifi"}


def test_bundled_wheels_are_the_locks(built_zip, build_mod):
    """Each wheel in the zip is the dev lock's version of its distribution, with a sha256 the lock allows."""
    lock = build_mod.read_lock(ROOT / "requirements-dev.lock.txt")
    wheels = zip_wheels(built_zip)
    assert len(wheels) == len(build_mod.BUNDLED)
    for fname, data in wheels.items():
        dist, version = wheel_dist(fname)
        assert lock[dist].version == version, fname
        assert hashlib.sha256(data).hexdigest() in lock[dist].hashes, fname


def lock_entries(path: Path) -> set[str]:
    return {f"{name}=={pin.version}" for name, pin in _read_lock(path).items()}


def _read_lock(path: Path):
    import build_extension

    return build_extension.read_lock(path)


def normalized_freeze() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "pip", "freeze", "--disable-pip-version-check"], capture_output=True,
                         text=True, check=True).stdout
    return {re.sub(r"[-_.]+", "-", x.split("==")[0]).lower() + "==" + x.split("==")[1]
            for x in out.splitlines() if "==" in x}


def this_venvs_lock() -> Path:
    """The lock this interpreter's venv was built from: the one pinning the bpy it holds (5.0.1: dev, 4.2: bpy42)."""
    bpy_version = importlib.metadata.version("bpy")
    hits = [p for p in sorted(ROOT.glob("requirements-*.lock.txt")) if f"bpy=={bpy_version}" in lock_entries(p)]
    assert len(hits) == 1, (bpy_version, hits)
    return hits[0]


def test_this_venv_holds_exactly_its_lock():
    """`pip freeze` of the venv the tests run in equals its lock: the tests ran on what the lock names, no more."""
    lock = {x for x in lock_entries(this_venvs_lock()) if x.split("==")[0] not in ("pip", "setuptools", "wheel")}
    held = normalized_freeze()
    assert (sorted(lock - held), sorted(held - lock)) == ([], [])


def test_this_venvs_stamp_follows_its_lock():
    """setup_env.sh rebuilds a venv when its lock changes: the stamp it left is the lock's sha256."""
    stamp = (Path(sys.prefix) / ".tripo-stamp").read_text().split()
    assert stamp[0] == hashlib.sha256(this_venvs_lock().read_bytes()).hexdigest()


def test_bundled_versions_are_what_this_venv_ran(build_mod):
    """Both test venvs (.venv, .venv42) hold the bundled distributions at the versions the zip bundles."""
    for pin in build_mod.bundled_pins():
        assert importlib.metadata.version(pin.dist) == pin.version, pin.dist


def test_every_lock_pins_every_package_with_hashes_and_follows_its_input():
    for lock in sorted(ROOT.glob("requirements-*.lock.txt")):
        pins = _read_lock(lock)
        assert len(pins) > 10, lock
        assert all(pin.hashes for pin in pins.values()), [n for n, p in pins.items() if not p.hashes]
        source = ROOT / lock.name.replace(".lock.txt", ".in")
        wanted = re.findall(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", source.read_text())
        assert wanted, source
        for name, version in wanted:  # an edited input without `bash scripts/lock.sh` fails here
            assert pins[re.sub(r"[-_.]+", "-", name).lower()].version == version, (lock.name, name)
    assert {p.name for p in ROOT.glob("requirements-*.lock.txt")} == {
        "requirements-dev.lock.txt", "requirements-bpy42.lock.txt", "requirements-sdk3.lock.txt"}
    dev = _read_lock(ROOT / "requirements-dev.lock.txt")
    assert dev["hypothesis"].version == "6.170.27" and dev["uv"].version


def test_the_other_locks_share_the_dev_locks_versions():
    """.venv42 and .venv-sdk3 test the same requests/boto3/... as .venv (scripts/lock.sh constrains them)."""
    dev = _read_lock(ROOT / "requirements-dev.lock.txt")
    for name in ("requirements-bpy42", "requirements-sdk3"):
        own = {re.sub(r"[-_.]+", "-", n).lower() for n in
               re.findall(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)", (ROOT / f"{name}.in").read_text())}
        for dist, pin in _read_lock(ROOT / f"{name}.lock.txt").items():
            if dist in dev and dist not in own:
                assert pin.version == dev[dist].version, (name, dist)


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
        ({"wheels/urllib3-1.26.20-py2.py3-none-any.whl": b"PK"}, "not a wheel of the lock's bundled versions"),
    ],
)
def test_own_checks_catch_bad_content(built_zip, build_mod, tmp_path, add, expect):
    errors = build_mod.check_zip(_mutated(built_zip, tmp_path, add=add))
    assert any(expect in e for e in errors), errors


def test_own_checks_catch_a_missing_wheel(built_zip, build_mod, tmp_path):
    idna = next(n for n in zip_wheels(built_zip) if n.startswith("idna-"))
    errors = build_mod.check_zip(_mutated(built_zip, tmp_path, drop=f"wheels/{idna}"))
    assert any("do not match the manifest" in e for e in errors), errors
    assert any("holds 0 wheels of idna==" in e for e in errors), errors


def test_own_checks_catch_a_wheel_the_lock_does_not_allow(built_zip, build_mod, tmp_path):
    """Same name and version as the lock's, other bytes (a rebuilt or tampered wheel): refused."""
    idna = next(n for n in zip_wheels(built_zip) if n.startswith("idna-"))
    out = tmp_path / built_zip.name
    with zipfile.ZipFile(built_zip) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, data + b"\0" if item.filename == f"wheels/{idna}" else data)
    errors = build_mod.check_zip(out)
    assert any(f"wheels/{idna}: sha256 is not one requirements-dev.lock.txt allows" in e for e in errors), errors


def test_build_fails_when_the_lock_misses_a_bundled_package(build_mod, tmp_path):
    lock = tmp_path / "requirements-dev.lock.txt"
    lock.write_text(re.sub(r"(?ms)^idna==.*?(?=^[a-z])", "", (ROOT / "requirements-dev.lock.txt").read_text()))
    with pytest.raises(build_mod.BuildError, match="pins no idna with hashes"):
        build_mod.bundled_pins(lock)


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
