"""In-GUI half of the issue 10.7 check (run by tests/gui/rel10_undo_gui.sh in a real Blender under Xvfb).

The case from the review, with the real event loop: the user adds a cube (a registered operator with its undo step);
a Tripo result arrives and the add-on's modal poller imports it from its timer (its own undo step); the user then
changes the cube's size in "Adjust Last Operation". Blender undoes one step (the import's) and runs the cube operator
again, so the result leaves the scene. Checked: the row no longer says imported and offers Import, the engine agrees,
and Import brings the result back. The size change goes through the panel's own code path: the last operator's
properties are changed and ``ed.undo_redo`` (ED_undo_operator_repeat) runs it again.

Environment: TRIPO_BASE_URL, TRIPO_API_KEY, RESULT (JSON report path).
"""

import json
import os
import time
import traceback

import addon_utils
import bpy

EXT = "bl_ext.user_default.tripo_addon"
RESULT = os.environ.get("RESULT", "/tmp/rel10_undo.json")
DEADLINE = float(os.environ.get("TRIPO_GUI_DEADLINE", "150"))
state = {"phase": "cube", "t0": time.monotonic(), "job": ""}
result = {"ok": False, "blender": bpy.app.version_string, "checks": {}, "log": []}


def log(msg):
    line = f"[gui] {time.monotonic() - state['t0']:6.1f}s {msg}"
    print(line, flush=True)
    result["log"].append(line)


def finish(ok):
    result["ok"] = bool(ok)
    with open(RESULT, "w") as f:
        json.dump(result, f, indent=2, default=str)
    log(f"quit (ok={ok})")
    bpy.ops.wm.quit_blender()


def view3d():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return win, area, region


def tripo_objects():
    return [o for o in bpy.data.objects if o.get("tripo_task_id")]


def row():
    for item in bpy.context.window_manager.tripo.tasks:
        if item.job_id == state["job"]:
            return item
    return None


def engine_says_imported():
    import importlib

    runtime = importlib.import_module(EXT + ".blender.runtime")
    return bool(runtime.engine().get(state["job"])["imported"])


def check(name, value):
    result["checks"][name] = bool(value)
    log(f"{'ok  ' if value else 'FAIL'} {name}")
    return bool(value)


def step():
    if time.monotonic() - state["t0"] > DEADLINE:
        log(f"deadline passed in phase {state['phase']}")
        finish(False)
        return None
    win, area, region = view3d()
    wm = bpy.context.window_manager
    with bpy.context.temp_override(window=win, area=area, region=region):
        if state["phase"] == "cube":
            res = bpy.ops.mesh.primitive_cube_add('EXEC_DEFAULT', True, size=1.0, location=(0.0, 0.0, 3.0))
            log(f"cube added {sorted(res)}; last operator {wm.operators[-1].bl_idname if wm.operators else None}")
            res = bpy.ops.tripo.text_to_model('EXEC_DEFAULT', prompt="a wooden keg")
            log(f"tripo.text_to_model -> {sorted(res)}")
            import importlib

            runtime = importlib.import_module(EXT + ".blender.runtime")
            state["job"] = runtime.engine().jobs()[-1]["id"]
            state["phase"] = "wait"
            return 0.25
        if state["phase"] == "wait":
            if tripo_objects():
                log(f"imported by the modal poller: {[o.name for o in tripo_objects()]}")
                check("last operator is still the cube", wm.operators and
                      wm.operators[-1].bl_idname == "MESH_OT_primitive_cube_add")
                state["phase"] = "adjust"
                return 1.0
            return 0.25
        if state["phase"] == "adjust":
            op = wm.operators[-1]
            op.properties.size = 2.0  # what the Adjust Last Operation panel does when the size is changed ...
            res = bpy.ops.ed.undo_redo()  # ... followed by ED_undo_operator_repeat
            log(f"adjust last operation (size 2) -> {sorted(res)}")
            state["phase"] = "after"
            return 1.0
        if state["phase"] == "after":
            cubes = [o for o in bpy.data.objects if o.name.startswith("Cube")]
            check("the cube was made again, at size 2", len(cubes) == 1 and abs(cubes[0].dimensions.x - 2.0) < 1e-3)
            gone = not tripo_objects()
            result["import_removed_by_adjust"] = gone
            log(f"the import was removed by Adjust Last Operation: {gone}")
            if gone:
                item = row()
                check("row offers Import again", item is not None and not item.imported and
                      "press Import" in item.notice)
                check("engine no longer says imported", not engine_says_imported())
                res = bpy.ops.tripo.import_result(job_id=state["job"])
                check("Import brings it back", "FINISHED" in res and tripo_objects() and row().imported)
            else:
                check("row and engine say imported (result still there)", row().imported and engine_says_imported())
            finish(all(result["checks"].values()))
            return None
    return None


def guarded():
    try:
        return step()
    except Exception:
        result["error"] = traceback.format_exc()
        print(result["error"], flush=True)
        finish(False)
        return None


def setup():
    def fail(exc):
        raise exc

    bpy.context.preferences.system.use_online_access = True
    addon_utils.enable(EXT, default_set=True, handle_error=fail)
    prefs = bpy.context.preferences.addons[EXT].preferences
    prefs.api_key = os.environ["TRIPO_API_KEY"]
    prefs.api_base_url = os.environ["TRIPO_BASE_URL"]
    log(f"Blender {bpy.app.version_string}, {EXT} enabled")


try:
    setup()
    bpy.app.timers.register(guarded, first_interval=1.0)
except Exception:
    result["error"] = traceback.format_exc()
    print(result["error"], flush=True)
    finish(False)
