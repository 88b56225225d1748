"""Run by test_install.py in a fresh interpreter: install the built zip into the bpy module, use it, uninstall it.

The dev venv's boto3 & co. and requests & co. are hidden before anything is imported (as in a Linux distribution's
Blender, which has no requests), so the API calls and the STS upload can only work with the wheels the extension
bundles (Blender extracts them into $BLENDER_USER_RESOURCES/extensions/.local/lib/.../site-packages).

Environment: TRIPO_ZIP, TRIPO_BASE_URL, TRIPO_API_KEY, PROBE_GLB (a mesh to upload), PROBE_README (README.md,
whose headless example is run verbatim), PROBE_OUT (JSON report).
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import sys
import sysconfig
import traceback

BUNDLED = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six",
           "requests", "urllib3", "idna", "charset_normalizer", "certifi"}
_VENV_SP = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}


class HideVenvCopies:
    """Meta-path finder: the bundled distributions may only come from outside the dev venv's site-packages."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if path is not None or name.split(".")[0] not in BUNDLED:
            return None
        elsewhere = [p for p in sys.path if os.path.realpath(p) not in _VENV_SP]
        spec = importlib.machinery.PathFinder.find_spec(name, elsewhere)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {name!r} outside the dev venv", name=name)
        return spec


sys.meta_path.insert(0, HideVenvCopies)

report: dict = {"steps": []}
OUT = os.environ["PROBE_OUT"]


def step(msg: str) -> None:
    report["steps"].append(msg)
    print(f"[probe] {msg}", flush=True)


def finish(rc: int) -> None:
    with open(OUT, "w") as f:
        json.dump(report, f, indent=2, default=str)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # bpy 4.2 can segfault at interpreter exit (testing-recipes.md 1.4)


def main() -> None:
    try:
        import boto3  # noqa: F401

        raise AssertionError("boto3 is importable before the extension is installed")
    except ModuleNotFoundError:
        step("boto3 hidden before install")
    try:
        import requests  # noqa: F401

        raise AssertionError("requests is importable before the extension is installed")
    except ModuleNotFoundError:
        step("requests hidden before install (like Debian's blender without python3-requests)")

    import bpy  # first: it puts Blender's scripts/modules (addon_utils) on sys.path
    import addon_utils  # isort: skip

    report["blender"] = bpy.app.version_string
    user = os.path.realpath(os.environ["BLENDER_USER_RESOURCES"])
    ext_id = "tripo_addon"
    module = f"bl_ext.user_default.{ext_id}"
    bpy.context.preferences.system.use_online_access = True

    result = bpy.ops.extensions.package_install_files(filepath=os.environ["TRIPO_ZIP"], repo="user_default",
                                                      enable_on_install=True)
    assert result == {"FINISHED"}, result
    assert addon_utils.check(module) == (True, True), addon_utils.check(module)
    report["package_dir"] = os.path.realpath(os.path.join(user, "extensions", "user_default", ext_id))
    assert os.path.isfile(os.path.join(report["package_dir"], "__init__.py"))
    step(f"installed and enabled {module} on Blender {bpy.app.version_string}")

    import boto3
    import botocore
    import certifi
    import charset_normalizer
    import dateutil
    import idna
    import jmespath
    import requests
    import s3transfer
    import six
    import urllib3

    local = os.path.realpath(os.path.join(user, "extensions", ".local"))
    report["wheel_modules"] = {m.__name__: os.path.realpath(m.__file__)
                               for m in (boto3, botocore, s3transfer, jmespath, dateutil, six, requests, urllib3,
                                         idna, charset_normalizer, certifi)}
    report["requests_version"] = requests.__version__
    for name, path in report["wheel_modules"].items():
        assert path.startswith(local + os.sep), f"{name} imported from {path}, not from {local}"
    report["site_packages"] = os.path.dirname(os.path.dirname(report["wheel_modules"]["boto3"]))
    report["boto3_version"] = boto3.__version__
    step(f"boto3 {boto3.__version__} imported from the bundled wheels")

    prefs = bpy.context.preferences.addons[module].preferences
    prefs.api_key = os.environ["TRIPO_API_KEY"]
    prefs.api_base_url = os.environ["TRIPO_BASE_URL"]
    if os.environ.get("TRIPO_CA_BUNDLE"):
        prefs.ca_bundle = os.environ["TRIPO_CA_BUNDLE"]  # the emulator's S3 speaks TLS with its own CA
    step("preferences point at the emulator")

    # 1. The extension's own client, as the extension imports it (bl_ext.user_default.tripo_addon.api).
    client_mod = __import__(f"{module}.api.client", fromlist=["TripoClient"])
    #    v2's STS upload is what the bundled boto3 is for (v3 uploads need only requests).
    client = client_mod.TripoClient(api_key=os.environ["TRIPO_API_KEY"], base_url=os.environ["TRIPO_V2_URL"],
                                    ca_bundle=os.environ.get("TRIPO_CA_BUNDLE") or None)
    try:
        ref = client.upload(os.environ["PROBE_GLB"], method="sts")
        report["sts_upload"] = {"type": ref.ext, "object": {"bucket": ref.bucket, "key": ref.key}}
    finally:
        client.close()
    step(f"STS upload through the bundled boto3: {report['sts_upload']}")

    # 2. Through an operator on the preferences' API (v3 by default): import_model uploads the mesh, waits, imports.
    before = {o.name for o in bpy.data.objects}
    result = bpy.ops.tripo.import_model(file=os.environ["PROBE_GLB"], wait=True)
    assert result == {"FINISHED"}, result
    new = [o for o in bpy.data.objects if o.name not in before]
    assert new, "import_model finished but no object arrived"
    report["imported"] = [{"name": o.name, "type": o.type, "task_id": o.get("tripo_task_id"),
                           "task_type": o.get("tripo_task_type")} for o in new]
    step(f"tripo.import_model(wait=True) imported {len(new)} object(s)")

    # 3. The README's headless example, verbatim (it reads TRIPO_BASE_URL; the key is already in the preferences).
    readme = open(os.environ["PROBE_README"], encoding="utf-8").read()
    block = readme.split("<!-- readme:headless -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    sys.path.insert(0, os.path.join(os.path.dirname(os.environ["PROBE_README"]), "scripts"))  # its PYTHONPATH
    exec(compile(block, "README.md:headless", "exec"), {"__name__": "__main__"})
    report["readme_example"] = {
        "saved": os.path.isfile("chest.blend"),
        "task_types": sorted({o.get("tripo_task_type") for o in bpy.data.objects if o.get("tripo_task_type")}),
    }
    step(f"README headless example ran: {report['readme_example']}")

    report["user_dir"] = os.path.realpath(os.path.join(user, "extensions", ".user", "user_default", ext_id))
    report["user_dir_before_uninstall"] = os.path.isdir(report["user_dir"])  # job log, downloads

    repos = [r.module for r in bpy.context.preferences.extensions.repos]
    result = bpy.ops.extensions.package_uninstall(repo_index=repos.index("user_default"), pkg_id=ext_id)
    assert result == {"FINISHED"}, result
    report["after_uninstall"] = {
        "enabled": module in bpy.context.preferences.addons,
        "package_dir_exists": os.path.exists(report["package_dir"]),
        "user_dir_exists": os.path.exists(report["user_dir"]),
        "site_packages_left": sorted(os.listdir(report["site_packages"]))
        if os.path.isdir(report["site_packages"]) else [],
    }
    step(f"uninstalled: {report['after_uninstall']}")


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:  # report, then leave without the 4.2 exit crash
        report["error"] = "".join(traceback.format_exception(exc))
        print(report["error"], file=sys.stderr, flush=True)
        finish(1)
    finish(0)
