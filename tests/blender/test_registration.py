"""Registration: clean register/unregister cycles, preferences, and the absence of leaks."""

from __future__ import annotations

import os
import re
from pathlib import Path

import addon_utils
import bpy
from blender_helpers import MODULE, ROOT, disable, enable, get_prefs, tripo_threads

PANELS = ("TRIPO_PT_generate", "TRIPO_PT_active", "TRIPO_PT_tasks", "TRIPO_PT_account")


def _registered_names() -> set[str]:
    return {name for name in dir(bpy.types) if name.startswith("TRIPO_")}


def _our_handlers() -> list:
    found = []
    for name in dir(bpy.app.handlers):
        handlers = getattr(bpy.app.handlers, name)
        if isinstance(handlers, list):
            found += [h for h in handlers if "tripo_addon" in getattr(h, "__module__", "")]
    return found


def _menu_funcs() -> list:
    funcs = []
    for menu in (bpy.types.VIEW3D_MT_object, bpy.types.VIEW3D_MT_add, bpy.types.STATUSBAR_HT_header):
        funcs += getattr(menu, "_dyn_ui_initialize", lambda: [])()
    return [f for f in funcs if "tripo_addon" in getattr(f, "__module__", "")]


def test_enabled_as_extension(addon):
    assert addon_utils.check(MODULE) == (True, True)
    assert addon.__name__ == MODULE
    assert type(get_prefs()).bl_idname == MODULE
    for name in PANELS + ("TRIPO_UL_tasks", "TRIPO_OT_poller", "TRIPO_OT_text_to_model"):
        assert hasattr(bpy.types, name), name
    assert hasattr(bpy.types.WindowManager, "tripo") and hasattr(bpy.types.Scene, "tripo")


def test_register_unregister_cycles_leave_nothing(addon, ext):
    registered = _registered_names()
    assert len(registered) >= 16 + len(PANELS)
    for _ in range(3):
        disable()
        assert addon_utils.check(MODULE)[1] is False
        assert _registered_names() == set()
        assert not hasattr(bpy.types.WindowManager, "tripo")
        assert not hasattr(bpy.types.Scene, "tripo")
        assert _our_handlers() == []
        assert _menu_funcs() == []
        assert tripo_threads() == []
        assert ext.runtime.engine(create=False) is None
        assert not bpy.app.timers.is_registered(ext.wakeup.start_soon)
        enable()
        assert _registered_names() == registered
        # the persistent load_post handler, undo_post/redo_post (results taken away by undo, issue 10.7), save_pre
        # (image paths relative to the .blend file, issue 18)
        assert len(_our_handlers()) == 4
        assert [len([h for h in getattr(bpy.app.handlers, n) if "tripo_addon" in getattr(h, "__module__", "")])
                for n in ("load_post", "undo_post", "redo_post", "save_pre")] == [1, 1, 1, 1]
        assert len(_menu_funcs()) == 3  # Object > Tripo, Add > Tripo, the status-bar item


def test_module_register_unregister_directly(addon):
    """The package's own register()/unregister() pair, twice, as Blender calls them."""
    for _ in range(2):
        addon.unregister()
        assert _registered_names() == set()
        addon.register()
        assert "TRIPO_PT_generate" in _registered_names()


def test_init_only_registers():
    tree = (ROOT / "tripo_addon" / "__init__.py").read_text()
    defs = re.findall(r"^def (\w+)", tree, flags=re.M)
    assert defs == ["register", "unregister"]
    assert "from .blender import registration" in tree


def test_relative_imports_only():
    """Inside the extension nothing may import ``tripo_addon`` by absolute name: installed, it is bl_ext.<repo>."""
    offenders = []
    for path in (ROOT / "tripo_addon").rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(from|import)\s+tripo_addon\b", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == [], "absolute imports break the installed extension:\n" + "\n".join(offenders)


def test_preferences(addon, ext):
    p = get_prefs()
    rna = p.bl_rna.properties
    assert rna["api_key"].subtype == 'PASSWORD'
    assert rna["api_base_url"].default == "https://openapi.tripo3d.ai"  # Tripo's live API v3, global region
    assert [i.identifier for i in rna["api_region"].enum_items] == ["GLOBAL", "CHINA", "CUSTOM"]
    for name in ("download_dir", "place_at_cursor", "target_size", "collection_per_task", "proxy", "ca_bundle",
                 "auto_import", "merge_vertices"):
        assert name in rna, name
    default = Path(ext.settings.download_dir())
    assert default.parts[-1] == "Tripo"  # the user's own folder (issue 10.5), made by the first download
    assert default.is_relative_to(Path.home()) and "extensions" not in default.parts


def test_api_key_is_stripped_and_env_fallback(addon, ext, monkeypatch):
    p = get_prefs()
    before = p.api_key
    try:
        p.api_key = "  tsk_abc123\n"
        assert p.api_key == "tsk_abc123"
        long_key = "tsk_" + "x" * 400
        p.api_key = long_key + "\r\n"
        assert p.api_key == long_key  # not truncated
        p.api_key = ""
        monkeypatch.setenv("TRIPO_API_KEY", " tsk_from_env ")
        assert ext.settings.api_key(p) == "tsk_from_env"
        assert ext.settings.key_source(p) == "env"
        monkeypatch.delenv("TRIPO_API_KEY")
        assert ext.settings.api_key(p) == ""
        assert "API key" in ext.settings.unavailable_reason() or "Online access" in ext.settings.unavailable_reason()
    finally:
        p.api_key = before


def test_base_url_cleaned(addon):
    p = get_prefs()
    before = p.api_base_url
    try:
        p.api_base_url = " http://127.0.0.1:9/v2/openapi/ "
        assert p.api_base_url == "http://127.0.0.1:9/v2/openapi"
    finally:
        p.api_base_url = before


def test_key_never_in_scene_or_window_manager_props(addon, ext):
    """Only the preferences hold the key: no Scene/WindowManager/Object property is a key field."""
    props = ext.properties
    for group in (props.TRIPO_PG_scene, props.TRIPO_PG_window, props.TRIPO_PG_task):
        for prop in group.bl_rna.properties:
            assert "key" not in prop.identifier or prop.identifier == "key", (group, prop.identifier)


def test_offline_reason_texts(addon, ext):
    system = bpy.context.preferences.system
    before = system.use_online_access
    try:
        system.use_online_access = False
        assert bpy.app.online_access is False
        assert "Online access" in ext.settings.offline_reason()
        system.use_online_access = True
        assert ext.settings.offline_reason() is None
    finally:
        system.use_online_access = before


def test_user_dirs_are_outside_the_package(addon, ext):
    pkg = Path(addon.__file__).resolve().parent
    for d in (ext.settings.state_dir(), ext.settings.exports_dir(), ext.settings.default_download_dir()):
        assert not str(Path(d).resolve()).startswith(str(pkg))
    assert os.environ.get("BLENDER_USER_RESOURCES", "") == "" or str(ext.settings.state_dir()).startswith(
        os.environ["BLENDER_USER_RESOURCES"])


def test_unregister_while_the_poller_runs(addon, ext):
    assert bpy.ops.tripo.poller('INVOKE_DEFAULT') == {'RUNNING_MODAL'}
    disable()
    assert ext.poller._timers == [] and not hasattr(bpy.types, "TRIPO_OT_poller")
    enable()
    assert not ext.wakeup.poller_running()  # the old instance went with its class: a new one can start
    # Blender frees the dead handler on the next event; the bpy module has no event loop, a file load does it
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.tripo.poller('INVOKE_DEFAULT') == {'RUNNING_MODAL'}
    bpy.ops.wm.read_homefile(use_empty=True)
