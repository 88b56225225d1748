"""Every Tripo panel, menu and dialog drawn in a real GUI Blender, in each state that matters (run by
scripts/gui_panels.sh from scripts/gui_smoke.sh, inside Blender under Xvfb):

    blender --factory-startup start.blend --python gui_panels_blender.py

Environment: TRIPO_BASE_URL (the emulator, v3), TRIPO_GUI_KEY (its account), PANELS_OUT (a folder for the JSON report
and the screenshots). Generic: every registered ``TRIPO_PT_*`` panel (other helpers' subpanels too) is forced open
and counted when drawn, every ``TRIPO_MT_*`` menu is opened, every operator whose invoke() shows a props dialog is
invoked and closed again (Escape: nothing is sent). States: empty, each Generate mode, a mesh selected, no key, online
access off, a v2 address, a running job (with the ETA), a finished and a failed job reported in the status bar with
the Tripo tab closed, a Tripo result selected, the account's history, the Tripo asset library (registered,
filled with three results and a rig) in Blender's Asset Browser. Any Python traceback (they go to sys.stderr)
fails the run; so does a panel whose poll() allowed it that was never drawn, more than four top-level panels, or two
visible operators with one label.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.request
from types import SimpleNamespace

import addon_utils
import bpy

EXT = "bl_ext.user_default.tripo_addon"
TAB = "Tripo"
OUT = os.environ.get("PANELS_OUT", "/tmp/panels")
#: the emulator serves both dialects: v3 at its root, v2 under /v2/openapi (gui_smoke.sh hands over either)
ROOT_URL = os.environ.get("TRIPO_BASE_URL", "").split("/v2/")[0].rstrip("/")
BASE_URL = ROOT_URL
V2_URL = ROOT_URL + "/v2/openapi"
KEY = os.environ.get("TRIPO_GUI_KEY", "")
DEADLINE = float(os.environ.get("TRIPO_GUI_DEADLINE", "200"))
T0 = time.monotonic()


class Tee(io.TextIOBase):
    """sys.stderr that also keeps what was written (Blender prints draw() tracebacks through it)."""

    def __init__(self, real):
        self.real, self.buf = real, []

    def write(self, s):
        self.buf.append(s)
        return self.real.write(s)

    def flush(self):
        self.real.flush()

    def text(self) -> str:
        return "".join(self.buf)


sys.stderr = Tee(sys.stderr)
result: dict = {"ok": False, "blender": bpy.app.version_string, "states": [], "dialogs": {}, "menus": {},
                "panels": {}, "problems": [], "shots": [], "log": []}
drawn: dict[str, int] = {}
polled_true: set[str] = set()


def log(msg: str) -> None:
    line = f"[gui-panels] {time.monotonic() - T0:6.1f}s {msg}"
    print(line, flush=True)
    result["log"].append(line)


def problem(msg: str) -> None:
    log("PROBLEM: " + msg)
    result["problems"].append(msg)


def ext_module(name: str):
    return sys.modules[f"{EXT}.blender.{name}"]


# ==================================================================================================== instrumenting
def _counted(name: str, fn):
    def draw(self, context):
        drawn[name] = drawn.get(name, 0) + 1
        return fn(self, context)
    return draw


def _polled(name: str, fn):
    def poll(cls, context):
        ok = fn(context)
        if ok:
            polled_true.add(name)
        return ok
    return classmethod(poll)


def tripo_panels() -> list[type]:
    out, stack = [], list(bpy.types.Panel.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__name__.startswith("TRIPO_PT_") and getattr(bpy.types, cls.__name__, None) is cls:
            out.append(cls)
    return out


def force_panels_open() -> None:
    """Re-register every Tripo panel without DEFAULT_CLOSED and with a counting draw(), before the sidebar first
    shows them (Blender keeps a panel's open state once created). Registration order is kept."""
    panels = tripo_panels()
    order = [c for c in ext_module("registration")._registered if c in panels]
    order += [c for c in panels if c not in order]

    def depth(cls) -> int:
        d, parent = 0, getattr(cls, "bl_parent_id", "")
        while parent:
            d += 1
            parent = getattr(getattr(bpy.types, parent, None), "bl_parent_id", "")
        return d

    for cls in sorted(order, key=depth, reverse=True):
        bpy.utils.unregister_class(cls)
    for cls in order:
        cls.bl_options = set(getattr(cls, "bl_options", set())) - {'DEFAULT_CLOSED'}
        cls.draw = _counted(cls.__name__, cls.draw)
        if getattr(cls, "poll", None) is not None:
            cls.poll = _polled(cls.__name__, cls.poll)  # (bound to cls: called with the context only)
        else:
            polled_true.add(cls.__name__)
    for cls in sorted(order, key=depth):
        bpy.utils.register_class(cls)
    for cls in (c for c in dir(bpy.types) if c.startswith("TRIPO_MT_")):
        menu = getattr(bpy.types, cls)
        menu.draw = _counted(cls, menu.draw)
    log(f"{len(order)} Tripo panels forced open: {[c.__name__ for c in order]}")


# ==================================================================================================== helpers
def view3d():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    ui = next(r for r in area.regions if r.type == "UI")
    main = next(r for r in area.regions if r.type == "WINDOW")
    return win, area, ui, main


def xdo(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=False)


def redraw_all() -> None:
    for win in bpy.context.window_manager.windows:
        for area in win.screen.areas:
            area.tag_redraw()


def shoot(name: str, region=None, *, pad: int = 0, bottom: int = 0) -> None:
    """A screenshot (ImageMagick: bpy's own is black under llvmpipe) of a region, or the whole screen."""
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{name}.png")
    args = ["import", "-window", "root"]
    win = bpy.context.window_manager.windows[0]
    if region is not None:
        top = win.height - (region.y + region.height)
        args += ["-crop", f"{region.width + 2 * pad}x{region.height}+{max(0, region.x - pad)}+{top}", "+repage"]
    elif bottom:
        args += ["-crop", f"{win.width}x{bottom}+0+{win.height - bottom}", "+repage"]
    try:
        proc = subprocess.run([*args, path], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        log(f"screenshot {path} timed out")
        return
    if proc.returncode == 0:
        result["shots"].append(path)
    log(f"screenshot {path} rc={proc.returncode} {proc.stderr.strip()[:120]}")


def emulator(path: str, body: dict) -> None:
    """A control call to the emulator (test harness only: the add-on never does this)."""
    req = urllib.request.Request(ROOT_URL + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def prefs():
    return bpy.context.preferences.addons[EXT].preferences


def rows():
    return list(bpy.context.window_manager.tripo.tasks)


def tab_open(on: bool = True):
    _win, area, _ui, _main = view3d()
    area.spaces.active.show_region_ui = on
    area.tag_redraw()


def click_tab():
    """Make the sidebar show the Tripo tab (active_panel_category is read-only: click down its tab strip)."""
    for k in range(45):
        win, _area, ui, _main = view3d()
        if ui.active_panel_category == TAB:
            return True
        xdo("mousemove", str(ui.x + ui.width - 12), str(win.height - (ui.y + ui.height) + 10 + 12 * k), "click", "1")
        yield 0.15
    return False


def scroll_sidebar():
    """Scroll down and up again over the sidebar: panels below the fold draw only when scrolled into view."""
    win, _area, ui, _main = view3d()
    x, y = ui.x + ui.width // 2, win.height - (ui.y + ui.height // 2)
    xdo("mousemove", str(x), str(y))
    for _ in range(4):
        xdo("click", "--repeat", "5", "--delay", "20", "5")
        yield 0.12
    xdo("click", "--repeat", "60", "--delay", "8", "4")  # back to the top (screenshots show the top)
    yield 0.4


def scroll_to(where: str):
    """Scroll the sidebar to its top or its bottom (View2D operators on the region), then let it redraw."""
    win, area, ui, _main = view3d()
    # a scroll stops at the end the region knew at its last redraw; panels drawn on the way make it longer, so scroll
    # again after each redraw (a long sidebar: the task list is below the Selected panels)
    for _round in range(4):
        with bpy.context.temp_override(window=win, area=area, region=ui):
            for _ in range(12):
                if where == "top":
                    bpy.ops.view2d.scroll_up(deltax=0, deltay=400, page=False)
                else:
                    bpy.ops.view2d.scroll_down(deltax=0, deltay=400, page=False)
        ui.tag_redraw()
        yield 0.3
    yield 0.2


def shot(name: str, where: str = "top"):
    yield from scroll_to(where)
    shoot(name, view3d()[2])


def settle(seconds: float = 0.5):
    redraw_all()
    yield seconds
    redraw_all()
    yield 0.2


def state(name: str):
    result["states"].append(name)
    log(f"state: {name}")
    yield from settle()
    yield from scroll_sidebar()


def wait_until(pred, timeout: float = 60.0, what: str = ""):
    t = time.monotonic()
    while not pred():
        if time.monotonic() - t > timeout:
            problem(f"timed out waiting for {what}")
            return False
        yield 0.2
    return True


def new_rows(before: set) -> list:
    return [r for r in rows() if r.job_id not in before]


def mouse_to_viewport():
    win, _area, _ui, main = view3d()
    xdo("mousemove", str(main.x + main.width // 2), str(win.height - (main.y + main.height // 2)))


def info_log_text() -> str:
    """What the Info log holds (an Info editor opened in the timeline's place for a moment, its reports copied)."""
    win = bpy.context.window_manager.windows[0]
    area = next((a for a in win.screen.areas if a.type in ('DOPESHEET_EDITOR', 'TIMELINE')), None)
    if area is None:
        return ""
    old = area.ui_type
    area.ui_type = 'INFO'
    try:
        region = next(r for r in area.regions if r.type == 'WINDOW')
        with bpy.context.temp_override(window=win, area=area, region=region):
            bpy.ops.info.select_all(action='SELECT')
            bpy.ops.info.report_copy()
        return bpy.context.window_manager.clipboard
    except Exception as exc:  # noqa: BLE001
        log(f"info log not readable: {exc}")
        return ""
    finally:
        area.ui_type = old


# ==================================================================================================== the run
def run():
    fb = ext_module("feedback")
    s = bpy.context.scene.tripo
    tab_open(True)
    yield 0.5
    if not (yield from click_tab()):
        problem("could not open the Tripo tab")
    yield from state("empty")
    yield from shot("sidebar-empty")

    modes = [i.identifier for i in s.bl_rna.properties["mode"].enum_items]
    for mode in modes:
        s.mode = mode
        if mode == 'TEXT':
            s.prompt = "a small wooden robot toy"
        yield from state(f"mode {mode}")
    s.mode = 'TEXT'

    # a plain mesh of the artist's: Selected shows what can follow it (no Animate for an unrigged cube)
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(-3.0, 0.0, 0.0))
    cube = bpy.context.active_object
    yield from state("own mesh selected")
    yield from shot("sidebar-own-mesh")

    key = prefs().api_key
    prefs().api_key = ""
    yield from state("no key")
    yield from shot("sidebar-no-key")
    prefs().api_key = key

    bpy.context.preferences.system.use_online_access = False
    yield from state("online access off")
    yield from shot("sidebar-offline")
    bpy.context.preferences.system.use_online_access = True

    prefs().api_base_url = V2_URL
    for mode in ('FOUR_VIEWS', 'IMAGE_TO_IMAGE', 'DEPTH', 'TEXT'):
        s.mode = mode
        yield from state(f"v2 address, mode {mode}")
    prefs().api_base_url = BASE_URL
    bpy.context.window_manager.tripo.tasks_view = 'ACCOUNT'
    yield from state("v2 address, account history")
    bpy.context.window_manager.tripo.tasks_view = 'FILE'

    # a first job teaches the ETA (v3 tasks carry no time left), a second one shows it while it runs
    emulator("/_emulator/config", {"time_scale": 0.08})
    before = {r.job_id for r in rows()}
    with bpy.context.temp_override(window=view3d()[0], area=view3d()[1], region=view3d()[3]):
        bpy.ops.tripo.text_to_model('EXEC_DEFAULT', prompt="a small wooden robot toy")
    yield from wait_until(lambda: any(r.state == "succeeded" and r.imported for r in new_rows(before)), 90,
                          "the first job")
    robot = bpy.context.active_object
    yield from state("finished")
    emulator("/_emulator/config", {"time_scale": 0.25})
    before = {r.job_id for r in rows()}
    with bpy.context.temp_override(window=view3d()[0], area=view3d()[1], region=view3d()[3]):
        bpy.ops.tripo.text_to_model('EXEC_DEFAULT', prompt="a brass lantern with a glass window")
    yield from wait_until(lambda: any(r.state == "running" and r.progress > 0 for r in new_rows(before)), 60,
                          "a running job")
    yield from state("running")
    result["running_status"] = fb.status_text()[0]
    result["running_eta"] = ext_module("panels").job_eta(new_rows(before)[0]) if new_rows(before) else None
    log(f"status bar while running: {result['running_status']!r}")
    if "left" not in result["running_status"]:
        problem(f"no ETA in the status bar while a v3 job runs: {result['running_status']!r}")
    yield from shot("sidebar-running", "bottom")
    shoot("status-bar-running", bottom=60)

    # the Tripo tab closed: a finished job is reported in the status bar and the Info log
    tab_open(False)
    mouse_to_viewport()
    reports_before = len(fb.reported)
    draws_before = fb.last_status()["draws"]
    yield from wait_until(lambda: any(r.state == "succeeded" for r in new_rows(before)), 90, "the second job")
    yield from wait_until(lambda: len(fb.reported) > reports_before, 10, "a report of the finished job")
    yield from settle(1.0)
    done = [m for lvl, m in fb.reported[reports_before:] if lvl == "INFO" and "finished" in m]
    status = fb.last_status()
    result["finished_report"], result["finished_status"] = done, status["text"]
    if not done:
        problem("no report of the finished job")
    if "finished" not in status["text"] or status["draws"] <= draws_before:
        problem(f"the status bar did not show the finished job: {status}")
    shoot("status-bar-finished", bottom=60)

    # a failed job (content policy), tab still closed
    reports_before = len(fb.reported)
    with bpy.context.temp_override(window=view3d()[0], area=view3d()[1], region=view3d()[3]):
        bpy.ops.tripo.text_to_model('EXEC_DEFAULT', prompt="a forbiddenword statue")
    yield from wait_until(lambda: any(lvl == "ERROR" for lvl, _m in fb.reported[reports_before:]), 30,
                          "a report of the failed job")
    yield from settle(1.0)
    failed = [m for lvl, m in fb.reported[reports_before:] if lvl == "ERROR"]
    status = fb.last_status()
    result["failed_report"], result["failed_status"] = failed, status["text"]
    if not failed or "failed" not in status["text"]:
        problem(f"the status bar did not show the failed job: {status}")
    shoot("status-bar-failed", bottom=60)
    info = info_log_text()
    result["info_log"] = info[-2000:]
    if "finished" not in info or "failed" not in info:
        problem("the Info log does not hold the finished and the failed job")

    tab_open(True)
    yield 0.3
    state_wm = bpy.context.window_manager.tripo
    state_wm.active_task = len(state_wm.tasks) - 1
    yield from state("failed job in the list")
    yield from shot("sidebar-tasks-failed", "bottom")

    if robot is not None and robot.name in bpy.data.objects:
        for o in bpy.context.view_layer.objects:
            o.select_set(o == robot)
        bpy.context.view_layer.objects.active = robot
    yield from state("Tripo result selected")
    yield from shot("sidebar-selected")

    state_wm.tasks_view = 'ACCOUNT'
    yield from state("account history")
    yield 1.0
    yield from state("account history loaded")
    yield from shot("sidebar-history", "bottom")
    # a request Refresh History lists (a removed job's possible task): its Attach and Dismiss buttons draw
    hist = bpy.context.window_manager.tripo_history
    item = hist.attention.add()
    item.title, item.step, item.task_type, item.kind = "A removed job", 0, "text_to_model", "removed"
    item.lost_job, item.sent_at = "0123456789abcdef", repr(time.time() - 60.0)
    item.candidates, item.reasons = "00000000-0000-4000-8000-000000000000", "the job it may belong to was removed"
    yield from state("account history with a listed candidate")
    yield from shot("sidebar-history-candidate", "bottom")
    hist.attention.clear()
    state_wm.tasks_view = 'FILE'

    # every operator dialog (invoke_props_dialog), opened and closed with Escape: nothing is sent
    yield from dialogs(robot, cube)
    # every menu, opened as a popup and closed
    yield from menus()
    # the Tripo asset library, filled by three results, in Blender's Asset Browser (the 3D view is given back after)
    yield from asset_library()

    checks()


#: the asset library's results: (prompt, rigged too); the emulator picks a shape from the prompt's words
LIBRARY_PROMPTS = (("a red velvet armchair", False), ("a brass ship lantern", False), ("a knight in armour", True))


def asset_library():
    """The Tripo asset library as a user gets it: registered with the add-on's operator (Tasks > Asset Library),
    results generated and imported (each saved into the library with its catalog and Tripo's render as its preview),
    one of them rigged; then the 3D view turned into an Asset Browser on the Tripo library with its catalog tree,
    screenshot for the README (asset-library.png), turned back into the 3D view; the library unregistered again."""
    lib_mod = ext_module("assets_library")
    win, area, _ui, main = view3d()
    with bpy.context.temp_override(window=win, area=area, region=main):
        res = bpy.ops.tripo.library_register('EXEC_DEFAULT')
    lib = lib_mod.registered()
    if res != {'FINISHED'} or lib is None:
        problem(f"tripo.library_register gave {res}, library {lib}")
        return
    folder = lib_mod.library_folder()
    result["asset_library"] = {"name": lib.name, "path": lib.path}
    yield from state("asset library registered")

    emulator("/_emulator/config", {"time_scale": 0.05})
    before = {r.job_id for r in rows()}
    for prompt, _rig in LIBRARY_PROMPTS:
        with bpy.context.temp_override(window=win, area=area, region=main):
            bpy.ops.tripo.text_to_model('EXEC_DEFAULT', prompt=prompt)
    yield from wait_until(lambda: sum(r.state == "succeeded" and r.imported for r in new_rows(before))
                          >= len(LIBRARY_PROMPTS), 90, "the asset library's models")
    for prompt, rig in LIBRARY_PROMPTS:
        if not rig:
            continue
        obj = next((o for o in bpy.context.view_layer.objects
                    if o.get("tripo_prompt") == prompt and o.get("tripo_task_type") == "text_to_model"), None)
        if obj is None:
            problem(f"no imported result of {prompt!r} to rig")
            continue
        for o in bpy.context.view_layer.objects:
            o.select_set(o == obj)
        bpy.context.view_layer.objects.active = obj
        rigs = {r.job_id for r in rows()}
        with bpy.context.temp_override(window=win, area=area, region=main, active_object=obj):
            bpy.ops.tripo.animate_rig('EXEC_DEFAULT')
        yield from wait_until(lambda rigs=rigs: any(r.state == "succeeded" and r.imported for r in new_rows(rigs)), 90,
                              f"the rigged {prompt!r}")
    wanted = len(LIBRARY_PROMPTS) + sum(rig for _p, rig in LIBRARY_PROMPTS)
    # (Tripo renders a preview for generated models, none for a rig: only the models' previews are waited for)
    yield from wait_until(lambda: len(list(folder.rglob("*.blend"))) >= wanted
                          and not any(p.get("kind") == "models" for p in lib_mod._pending.values()), 60,
                          "the results saved into the library with their previews")
    saved = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.blend"))
    result["asset_library"]["saved"] = saved
    log(f"asset library {folder}: {saved}")
    yield from state("asset library filled")

    # the 3D view becomes an Asset Browser on the Tripo library, with its catalogs (the toolbar region)
    win, area, _ui, _main = view3d()
    area.ui_type = 'ASSETS'
    yield from settle(0.5)
    try:
        space = area.spaces.active
        yield from wait_until(lambda: getattr(space, "params", None) is not None, 10, "the Asset Browser's params")
        params = space.params
        params.asset_library_reference = lib.name
        space.show_region_toolbar = True  # the catalog tree
        space.show_region_tool_props = True  # the active asset's metadata
        size = params.bl_rna.properties["display_size"]
        params.display_size = 'LARGE' if size.type == 'ENUM' else 128
        result["asset_library"]["browser"] = {"library": params.asset_library_reference, "ui_type": area.ui_type}
        yield from settle(1.0)
        regions = {r.type: (r.x, r.y, r.width, r.height) for r in area.regions}
        log(f"asset browser area {(area.x, area.y, area.width, area.height)} regions {regions}")
        # open the Tripo catalog in the tree (its disclosure triangle) and pick it: its assets and its sub-catalogs
        top = win.height - (area.y + area.height)
        xdo("mousemove", str(area.x + 38), str(top + 105), "click", "1")
        yield from settle(0.5)
        xdo("mousemove", str(area.x + 70), str(top + 105), "click", "1")
        yield from settle(0.5)
        browser = next(r for r in area.regions if r.type == 'WINDOW')
        btop = win.height - (browser.y + browser.height)
        xdo("mousemove", str(browser.x + 75), str(btop + 72), "click", "1")  # the first asset: its metadata
        yield from settle(0.5)
        xdo("mousemove", str(browser.x + browser.width // 2), str(btop + browser.height // 2))
        for _ in range(8):  # the previews load in a background job: redraw while they come in
            yield from settle(0.5)
        with bpy.context.temp_override(window=win, area=area, region=browser):
            active = getattr(bpy.context, "asset", None)
        shown = result["asset_library"]["browser"]
        shown.update(catalog_id=params.catalog_id, active_asset=getattr(active, "name", None))
        log(f"asset browser: {shown}")
        if shown["library"] != lib.name or not params.catalog_id or active is None:
            problem(f"the Asset Browser does not show the Tripo library, a catalog picked, an active asset: {shown}")
        # the top of the area: the catalogs, the assets and the active one's metadata (below it is empty)
        h = min(area.height, 480)
        shoot("asset-library", SimpleNamespace(x=area.x, y=area.y + area.height - h, width=area.width, height=h))
    finally:
        area.ui_type = 'VIEW_3D'
    yield from settle(0.5)
    if view3d()[1] != area or not area.spaces.active.show_region_ui:
        problem("the 3D view did not come back as it was after the Asset Browser")
    with bpy.context.temp_override(window=win, area=area, region=view3d()[3]):
        if bpy.ops.tripo.library_unregister('EXEC_DEFAULT') != {'FINISHED'} or lib_mod.registered() is not None:
            problem("tripo.library_unregister did not remove the library")


def dialogs(robot, cube):
    win, area, _ui, main = view3d()
    names = sorted(n for n in dir(bpy.types) if n.startswith("TRIPO_OT_"))
    for name in names:
        cls = getattr(bpy.types, name)
        invoke = getattr(cls, "invoke", None)
        try:
            src = inspect.getsource(invoke) if invoke else ""
        except (OSError, TypeError):
            src = ""
        if "invoke_props_dialog" not in src:
            continue
        category, op = cls.bl_idname.split(".")
        for obj in (robot, cube):  # a Tripo result, else the artist's own mesh
            if obj is not None and obj.name in bpy.context.view_layer.objects:
                bpy.context.view_layer.objects.active = obj
            fn = getattr(getattr(bpy.ops, category), op)
            with bpy.context.temp_override(window=win, area=area, region=main):
                if fn.poll():
                    break
        else:
            result["dialogs"][cls.bl_idname] = "poll refused (not on this API / object)"
            continue
        before = drawn.get(f"dialog:{name}", 0)
        custom = any("draw" in vars(c) for c in cls.__mro__ if c is not bpy.types.Operator)
        if custom and not getattr(cls.draw, "_counted", False):
            cls.draw = _counted(f"dialog:{name}", cls.draw)
            cls.draw._counted = True
        mouse_to_viewport()
        log(f"dialog {cls.bl_idname}")  # (no screenshot while a popup is open: ImageMagick waits for its grab)
        with bpy.context.temp_override(window=win, area=area, region=main):
            res = fn('INVOKE_DEFAULT')
        yield 0.4
        redraw_all()
        yield 0.2
        xdo("key", "Escape")
        yield 0.25
        result["dialogs"][cls.bl_idname] = {"invoke": sorted(res), "custom_draw": custom,
                                            "drawn": drawn.get(f"dialog:{name}", 0) - before}


def menus():
    win, area, _ui, main = view3d()
    names = ["VIEW3D_MT_add", "VIEW3D_MT_object"] + sorted(n for n in dir(bpy.types) if n.startswith("TRIPO_MT_"))
    for name in names:
        mouse_to_viewport()
        log(f"menu {name}")
        with bpy.context.temp_override(window=win, area=area, region=main):
            bpy.ops.wm.call_menu(name=name)
        yield 0.4
        xdo("key", "Escape")
        yield 0.25
        result["menus"][name] = drawn.get(name, 0) if name.startswith("TRIPO_") else "opened"
    add_funcs = [getattr(f, "__name__", "") for f in bpy.types.VIEW3D_MT_add._dyn_ui_initialize()]
    result["shift_a_has_tripo"] = "menu_add" in add_funcs and drawn.get("TRIPO_MT_add", 0) > 0
    if not result["shift_a_has_tripo"]:
        problem("Add (Shift+A) has no Tripo menu")
    gens = [e[0] for e in ext_module("menus").GENERATORS if e]
    if "tripo.text_to_model" not in gens or "tripo.image_to_model" not in gens:
        problem("Add > Tripo lacks the generators")


def checks():
    panels = tripo_panels()
    top = [c.__name__ for c in panels if not getattr(c, "bl_parent_id", "") and getattr(c, "bl_category", "") == TAB]
    result["top_level_panels"] = top
    if len(top) > 4:
        problem(f"{len(top)} top-level panels in the Tripo tab: {top}")
    for c in panels:
        result["panels"][c.__name__] = drawn.get(c.__name__, 0)
        if c.__name__ in polled_true and not drawn.get(c.__name__):
            problem(f"{c.__name__} could show but was never drawn")
    visible = [getattr(bpy.types, n) for n in dir(bpy.types) if n.startswith("TRIPO_OT_")]
    labels = [c.bl_label for c in visible if 'INTERNAL' not in c.bl_options]
    dup = sorted({label for label in labels if labels.count(label) > 1})
    if dup:
        problem(f"two F3 entries share a label: {dup}")
    for op, info in result["dialogs"].items():
        if isinstance(info, dict) and info["custom_draw"] and not info["drawn"]:
            problem(f"the dialog of {op} was not drawn: {info}")


def finish():
    text = sys.stderr.text()
    result["tracebacks"] = text.count("Traceback (most recent call last)")
    if result["tracebacks"]:
        problem(f"{result['tracebacks']} Python traceback(s) in Blender's output")
        result["traceback_text"] = text[-6000:]
    result["ok"] = not result["problems"]
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "panels.json"), "w") as f:
        json.dump(result, f, indent=2, default=str)
    log(f"done: ok={result['ok']} problems={len(result['problems'])}")


_gen = None


def tick():
    global _gen
    try:
        if time.monotonic() - T0 > DEADLINE:
            problem(f"deadline of {DEADLINE:.0f} s passed")
            raise StopIteration
        if _gen is None:
            _gen = run()
        return float(next(_gen))
    except StopIteration:
        pass
    except Exception:
        problem("the GUI script failed:\n" + traceback.format_exc())
    finish()
    bpy.ops.wm.quit_blender()
    return None


def setup():
    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable(EXT, default_set=True, handle_error=lambda exc: (_ for _ in ()).throw(exc))
    p = prefs()
    p.api_key, p.api_base_url = KEY, BASE_URL
    force_panels_open()
    log(f"Blender {bpy.app.version_string}, {EXT} enabled, online_access={bpy.app.online_access}")


try:
    setup()
    bpy.app.timers.register(tick, first_interval=1.0)
except Exception:
    problem("setup failed:\n" + traceback.format_exc())
    finish()
    bpy.ops.wm.quit_blender()
