"""In-GUI half of the smoke test (run by scripts/gui_smoke.sh inside Blender under Xvfb).

    blender --factory-startup --online-mode start.blend --python gui_smoke_blender.py

Environment: TRIPO_BASE_URL, TRIPO_V3_BASE_URL (Image to Splat), TRIPO_API_KEY (the emulator), SHOT (screenshot
path), RESULT (JSON report path).

Everything runs from one timer callback, with the real event loop: open the sidebar and click its "Tripo" tab,
start tripo.text_to_model *without* wait=True (so only the add-on's modal poller can bring the result in), watch for
the poller in the window's modal operators and for the imported object, then screenshot the whole X screen with
ImageMagick (bpy's own screenshot is black under llvmpipe); then start tripo.splat_from_image the same way and wait
for the splat's point cloud, and quit. Any exception ends Blender (rc 1). Debian's Blender has no numpy: the GLB
comes in through the add-on's own reader, the splat through its pure-Python parser.
"""

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback

import addon_utils
import bpy

EXT = "bl_ext.user_default.tripo_addon"
TAB = "Tripo"
PROMPT = "a small wooden robot toy"
SHOT = os.environ.get("SHOT", "/tmp/gui_smoke.png")
RESULT = os.environ.get("RESULT", "/tmp/gui_smoke.json")
DEADLINE = float(os.environ.get("TRIPO_GUI_DEADLINE", "150"))
SPLAT_SOURCE = os.path.join(os.path.dirname(RESULT), "splat_source.png")

state = {"tick": 0, "phase": "open", "clicks": 0, "t0": time.monotonic(), "before": set(), "settle": 0}
result = {"ok": False, "objects": [], "poller_seen": False, "tab_active": False, "operator_result": None,
          "blender": bpy.app.version_string, "online_access": None, "log": []}


def log(msg):
    line = f"[gui] {time.monotonic() - state['t0']:6.1f}s {msg}"
    print(line, flush=True)
    result["log"].append(line)


def write_result():
    with open(RESULT, "w") as f:
        json.dump(result, f, indent=2, default=str)


def quit_blender(ok):
    result["ok"] = bool(ok)
    write_result()
    log(f"quit (ok={ok})")
    bpy.ops.wm.quit_blender()


def view3d():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region_ui = next(r for r in area.regions if r.type == "UI")
    region_win = next(r for r in area.regions if r.type == "WINDOW")
    return win, area, region_ui, region_win


def poller_running(win):
    return any(op.bl_idname in ("TRIPO_OT_poller", "tripo.poller") for op in win.modal_operators)


def tripo_objects():
    return [o for o in bpy.data.objects if o.name not in state["before"] and o.get("tripo_task_id")]


def step():
    state["tick"] += 1
    win, area, region_ui, region_win = view3d()
    elapsed = time.monotonic() - state["t0"]
    if elapsed > DEADLINE:
        log(f"deadline of {DEADLINE:.0f} s passed in phase {state['phase']}")
        shoot()
        quit_blender(False)
        return None

    if state["phase"] == "open":
        area.spaces.active.show_region_ui = True
        area.tag_redraw()
        state["phase"] = "tab"
        return 0.5

    if state["phase"] == "tab":  # active_panel_category is read-only in 4.3: click down the tab strip
        if region_ui.active_panel_category == TAB:
            result["tab_active"] = True
            log(f"sidebar tab {TAB!r} active after {state['clicks']} click(s)")
            state["phase"] = "start"
            return 0.3
        if state["clicks"] >= 45:
            log(f"could not activate the {TAB!r} tab (now {region_ui.active_panel_category!r}); going on")
            state["phase"] = "start"
            return 0.1
        x = region_ui.x + region_ui.width - 12
        y = win.height - (region_ui.y + region_ui.height) + 10 + 12 * state["clicks"]
        subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=False)
        state["clicks"] += 1
        return 0.15

    if state["phase"] == "start":
        state["before"] = {o.name for o in bpy.data.objects}
        with bpy.context.temp_override(window=win, area=area, region=region_win):
            res = bpy.ops.tripo.text_to_model("EXEC_DEFAULT", prompt=PROMPT)
        result["operator_result"] = sorted(res)
        log(f"tripo.text_to_model(prompt={PROMPT!r}) -> {sorted(res)}")
        if "FINISHED" not in res and "RUNNING_MODAL" not in res:
            quit_blender(False)
            return None
        state["phase"] = "wait"
        return 0.25

    if state["phase"] == "wait":
        poller = sys.modules.get(f"{EXT}.blender.poller")
        pace = poller.current_pace() if poller is not None and hasattr(poller, "current_pace") else None
        if pace is not None and pace not in result.setdefault("poller_paces", []):
            result["poller_paces"].append(pace)  # the modal timer's intervals seen (it slows while workers sleep)
        if poller_running(win) and not result["poller_seen"]:
            result["poller_seen"] = True
            log("modal poller is running (TRIPO_OT_poller in window.modal_operators)")
        objs = tripo_objects()
        if objs:
            result["objects"] = [{"name": o.name, "type": o.type, "task_id": o.get("tripo_task_id"),
                                  "task_type": o.get("tripo_task_type")} for o in objs]
            log(f"imported by the poller: {[o.name for o in objs]}")
            for o in bpy.data.objects:
                o.select_set(o in objs)
            with bpy.context.temp_override(window=win, area=area, region=region_win):
                bpy.ops.view3d.view_selected()
            state["phase"] = "settle"
            return 1.5
        for item in bpy.context.window_manager.tripo.tasks:
            if item.error and item.final:
                result["task_error"] = item.error
                log(f"task {item.name!r} ended with an error: {item.error.splitlines()[-1][:300]}")
                state["phase"] = "settle"
                return 1.0
        if state["tick"] % 8 == 0:
            log("waiting for the task to be polled and imported")
        return 0.25

    if state["phase"] == "settle":  # let the panel redraw with the finished task, then take the picture
        for a in win.screen.areas:
            a.tag_redraw()
        state["settle"] += 1
        if state["settle"] < 2:
            return 1.0
        shoot()
        if not (result["objects"] and result["poller_seen"]):
            quit_blender(False)
            return None
        state["phase"] = "splat"
        return 0.2

    if state["phase"] == "splat":  # a second result of another kind: Image to Splat, imported by the poller too
        img = bpy.data.images.new("splat source", 64, 64)
        img.pixels.foreach_set([0.8, 0.4, 0.1, 1.0] * 64 * 64)
        img.filepath_raw, img.file_format = SPLAT_SOURCE, "PNG"
        img.save()
        state["before"] = {o.name for o in bpy.data.objects}
        bpy.context.preferences.addons[EXT].preferences.api_base_url = os.environ["TRIPO_V3_BASE_URL"]  # a v3 task
        with bpy.context.temp_override(window=win, area=area, region=region_win):
            res = bpy.ops.tripo.splat_from_image("EXEC_DEFAULT", file=SPLAT_SOURCE)
        log(f"tripo.splat_from_image(file={SPLAT_SOURCE!r}) -> {sorted(res)}")
        if "FINISHED" not in res and "RUNNING_MODAL" not in res:
            quit_blender(False)
            return None
        state["phase"] = "splat_wait"
        return 0.25

    if state["phase"] == "splat_wait":
        splats = [o for o in tripo_objects() if o.get("tripo_splat_points")]
        if splats:
            result["splat"] = {"name": splats[0].name, "points": splats[0]["tripo_splat_points"],
                               "vertices": len(splats[0].data.vertices)}
            log(f"splat imported by the poller: {splats[0].name} ({splats[0]['tripo_splat_points']} points)")
            quit_blender(result["splat"]["vertices"] > 0)
            return None
        for item in bpy.context.window_manager.tripo.tasks:
            if item.error and item.final:
                result["task_error"] = item.error
                log(f"task {item.name!r} ended with an error: {item.error.splitlines()[-1][:300]}")
                quit_blender(False)
                return None
        return 0.25
    return None


def shoot():
    proc = subprocess.run(["import", "-window", "root", SHOT], capture_output=True, text=True)
    log(f"screenshot {SHOT} rc={proc.returncode} {proc.stderr.strip()[:200]}")


def guarded_step():
    try:
        return step()
    except Exception:
        result["error"] = traceback.format_exc()
        print(result["error"], flush=True)
        try:
            shoot()
        finally:
            quit_blender(False)
        return None


def setup():
    def fail(exc):
        raise exc

    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable(EXT, default_set=True, handle_error=fail)  # --factory-startup ignores saved prefs
    prefs = bpy.context.preferences.addons[EXT].preferences
    prefs.api_key = os.environ["TRIPO_API_KEY"]
    prefs.api_base_url = os.environ["TRIPO_BASE_URL"]
    result["online_access"] = bpy.app.online_access
    import requests  # the add-on's own copy: Debian's blender has none (the chroot has no python3-requests)

    glb = importlib.import_module(f"{EXT}.blender.importers.glb")  # no numpy: GLBs come through the add-on's reader
    result["numpy"] = importlib.util.find_spec("numpy") is not None
    result["gltf_importer_works"] = glb.gltf_importer_works()
    log(f"numpy importable: {result['numpy']}; Blender's glTF importer usable: {result['gltf_importer_works']}")
    result["requests_from"] = os.path.realpath(requests.__file__)
    result["requests_version"] = requests.__version__
    log(f"requests {requests.__version__} from {result['requests_from']}")
    log(f"Blender {bpy.app.version_string}, {EXT} enabled, online_access={bpy.app.online_access}, "
        f"base URL {prefs.api_base_url}")


try:
    setup()
    bpy.app.timers.register(guarded_step, first_interval=1.0)
except Exception:
    result["error"] = traceback.format_exc()
    print(result["error"], flush=True)
    write_result()
    bpy.ops.wm.quit_blender()
