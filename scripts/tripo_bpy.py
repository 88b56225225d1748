"""Script the Tripo add-on from Python with the ``bpy`` module (``pip install bpy``), or inside Blender.

    import tripo_bpy            # before bpy: a process without BLENDER_USER_RESOURCES gets a throw-away user folder
    import bpy

    module = tripo_bpy.setup()  # install + enable the add-on, allow online access; returns its module name
    prefs = bpy.context.preferences.addons[module].preferences

``setup(source)`` installs ``source``: the add-on's source tree (the default: this checkout's ``tripo_addon/``,
staged as links, so edits show at once) or a built zip (``dist/tripo_addon-<version>.zip`` from
scripts/build_extension.py, installed the way "Install from Disk" does). An add-on that is already enabled (inside
Blender, or a second call) is used as it is. Online access: ``bpy.app.online_access`` is read-only; what the
``--online-mode`` option of the Blender binary sets is the preference *Allow Online Access*
(``preferences.system.use_online_access``), which this sets. Only ``--offline-mode`` (a Blender binary started with
it) cannot be overridden: setup() then raises with that remedy.

Nothing is written to your own Blender configuration: the bpy module reads BLENDER_USER_RESOURCES when ``bpy`` is
first imported, so importing this module first points it at a new temporary folder (unless you set one). That
folder is not deleted at exit: set ``prefs.download_dir`` to keep results somewhere of your own.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXT_ID = "tripo_addon"
DEV_REPO = "tripo_dev"  # the extensions repository a source tree is staged into

if "bpy" not in sys.modules and not os.environ.get("BLENDER_USER_RESOURCES"):
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="tripo-bpy-user-")
USER_RESOURCES = os.environ.get("BLENDER_USER_RESOURCES", "")


class SetupError(RuntimeError):
    """The add-on could not be installed or enabled (the message says why and what to do)."""


def enabled_module() -> str | None:
    """The module name of the enabled Tripo add-on (e.g. ``bl_ext.user_default.tripo_addon``), or None."""
    import bpy

    for name in bpy.context.preferences.addons.keys():
        if name.startswith("bl_ext.") and name.rsplit(".", 1)[-1] == EXT_ID:
            return name
    return None


def allow_online_access() -> None:
    """What ``blender --online-mode`` does, for this process: the add-on sends nothing without it."""
    import bpy

    if bpy.app.online_access:
        return
    if bpy.app.online_access_override:
        raise SetupError("Blender was started with --offline-mode: start it without that option (or with "
                         "--online-mode) to let the Tripo add-on reach the network.")
    bpy.context.preferences.system.use_online_access = True


def _install_zip(path: Path) -> str:
    import addon_utils
    import bpy

    module = f"bl_ext.user_default.{EXT_ID}"
    result = bpy.ops.extensions.package_install_files(filepath=str(path), repo="user_default",
                                                      enable_on_install=True)
    if result != {"FINISHED"} or not addon_utils.check(module)[1]:
        raise SetupError(f"Installing {path} failed ({result}); check it with "
                         f"`python scripts/build_extension.py --check {path}`.")
    return module


def _install_source(folder: Path) -> str:
    import addon_utils
    import bpy

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from stage import stage
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    if folder.resolve() != (ROOT / EXT_ID).resolve():
        raise SetupError(f"{folder} is not this checkout's add-on ({ROOT / EXT_ID}); pass that folder or a zip.")
    repo_dir = Path(bpy.utils.user_resource('EXTENSIONS', path=DEV_REPO, create=True))
    stage(repo_dir)
    repos = bpy.context.preferences.extensions.repos
    if not any(r.module == DEV_REPO for r in repos):
        repos.new(name=DEV_REPO, module=DEV_REPO, custom_directory=str(repo_dir), source='USER')
    module = f"bl_ext.{DEV_REPO}.{EXT_ID}"
    errors: list[BaseException] = []
    addon_utils.enable(module, default_set=True, handle_error=errors.append)
    if errors or not addon_utils.check(module)[1]:
        raise SetupError(f"Enabling {module} from {folder} failed: {errors[0] if errors else 'not enabled'}")
    return module


_exit_state: dict = {"code": 0, "armed": False}


def _clean_exit_on_old_blender(module: str) -> None:
    """bpy 4.x crashes (SIGSEGV) in the C exit handlers after Python has finished whenever a Python-defined operator
    class is still known to Blender (docs: testing-recipes 1.4; disabling the add-on does not avoid it, 5.0 is
    fixed). So on 4.x only: at exit, after the script ended and every other Python exit handler is queued, disable
    the add-on (its workers stop, its job log is written), flush, and leave with the script's own status
    (``sys.exit(n)``, 1 after an uncaught exception, else 0) instead of a crash."""
    import atexit

    import bpy

    if bpy.app.version >= (5, 0, 0) or _exit_state["armed"]:
        return
    _exit_state["armed"] = True
    real_exit, real_hook = sys.exit, sys.excepthook

    def record_exit(code=0):
        _exit_state["code"] = code
        real_exit(code)

    def record_exception(kind, value, tb):
        _exit_state["code"] = 1
        real_hook(kind, value, tb)

    def leave():
        import addon_utils

        atexit.unregister(leave)
        try:
            atexit._run_exitfuncs()  # what the interpreter would run next (bpy's own handlers included)
        finally:
            try:
                if addon_utils.check(module)[1]:
                    addon_utils.disable(module, default_set=False)
            finally:
                code = _exit_state["code"]
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code if isinstance(code, int) else 0 if code is None else 1)

    sys.exit, sys.excepthook = record_exit, record_exception
    atexit.register(leave)


def setup(source: str | os.PathLike | None = None, *, online: bool = True) -> str:
    """Make the Tripo add-on usable in this process and return its module name.

    ``source``: a built zip or the add-on's source folder (default: ``$TRIPO_ADDON_SOURCE``, else this checkout's
    ``tripo_addon/``). ``online``: allow online access (the add-on sends nothing without it).
    """
    import bpy

    if online:
        allow_online_access()
    module = enabled_module()
    if module is not None:
        return module
    src = Path(source or os.environ.get("TRIPO_ADDON_SOURCE") or ROOT / EXT_ID).expanduser().resolve()
    if src.is_file() and src.suffix == ".zip":
        module = _install_zip(src)
    elif src.is_dir():
        module = _install_source(src)
    else:
        raise SetupError(f"{src} is neither a zip nor the add-on's folder: build the zip with "
                         "`python scripts/build_extension.py` or pass the tripo_addon/ folder.")
    if module not in bpy.context.preferences.addons:
        raise SetupError(f"{module} is installed but not enabled.")
    if not bpy.app.binary_path:  # the bpy module (a Blender binary exits through its own window manager)
        _clean_exit_on_old_blender(module)
    return module


if __name__ == "__main__":  # python scripts/tripo_bpy.py [ZIP|FOLDER]: check that the add-on loads here
    import bpy

    name = setup(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"Blender {bpy.app.version_string}: {name} enabled; user folder {USER_RESOURCES}; "
          f"online access {bpy.app.online_access}")
    sys.stdout.flush()
    os._exit(0)  # bpy 4.2 can crash while the interpreter shuts down (docs: testing-recipes 1.4)
