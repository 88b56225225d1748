"""A Blender session in a child process (the bpy module with the extension enabled as tests/blender/conftest.py does).

    python blender_child.py '<json config>'

Config: repo, repo_dir, module, key, url, downloads, ca, mode, prompt, seconds.
Modes:
  submit   start tripo.text_to_model (no wait), report rows as ``STATE {...}`` lines, keep running until killed
  resume   pump drain() until the first row is imported (or ``seconds`` pass); print ``RESULT {...}``
  quit     submit, wait until the result is downloading, then bpy.ops.wm.quit_blender() and a normal interpreter
           exit (prints ``QUITTING`` first)
  startup  enable only, drain a few times; print ``RESULT {...}`` with the notice shown in the task panel
Exits with os._exit so bpy 4.2's interpreter-exit crash (testing-recipes.md 1.4) cannot change the status.
"""

import json  # noqa: I001  (bpy must be imported before addon_utils)
import os
import sys
import time

import bpy  # first: it puts addon_utils on sys.path

import addon_utils  # noqa: E402

cfg = json.loads(sys.argv[1])


def say(tag: str, data=None) -> None:
    sys.stdout.write(tag + (" " + json.dumps(data) if data is not None else "") + "\n")
    sys.stdout.flush()


def fail(exc):
    raise exc


repos = bpy.context.preferences.extensions.repos
if not any(r.module == cfg["repo"] for r in repos):
    repos.new(name=cfg["repo"], module=cfg["repo"], custom_directory=cfg["repo_dir"], source='USER')
addon_utils.enable(cfg["module"], default_set=True, handle_error=fail)
bpy.context.preferences.system.use_online_access = True
prefs = bpy.context.preferences.addons[cfg["module"]].preferences
prefs.api_key, prefs.api_base_url, prefs.download_dir = cfg["key"], cfg["url"], cfg["downloads"]
prefs.ca_bundle = cfg.get("ca") or ""

import importlib  # noqa: E402

runtime = importlib.import_module(cfg["module"] + ".blender.runtime")
poller = importlib.import_module(cfg["module"] + ".blender.poller")
runtime.engine_options.update(poll_min=0.05, poll_max=0.5, journal_interval=0.0)
state = bpy.context.window_manager.tripo


def rows():
    return [{"job_id": t.job_id, "task_id": t.task_id, "state": t.state, "imported": bool(t.imported),
             "notice": t.notice} for t in state.tasks]


def result(**extra):
    say("RESULT", {"rows": rows(), "objects": [o.name for o in bpy.data.objects],
                   "tripo_objects": [o.name for o in bpy.data.objects if o.get("tripo_task_id")],
                   "notice": state.notice, **extra})


mode = cfg["mode"]
if mode in ("submit", "quit"):
    assert bpy.ops.tripo.text_to_model(prompt=cfg.get("prompt", "a chair")) == {'FINISHED'}
    say("VERSION", list(bpy.app.version))
    last = None
    quit_at = None
    while True:
        poller.drain()
        now = rows()
        if now != last:
            say("STATE", now)
            last = now
        if mode == "quit" and quit_at is None and now and now[0]["state"] == "downloading":
            quit_at = time.monotonic() + float(cfg.get("seconds", 0.5))
        if quit_at is not None and time.monotonic() >= quit_at:
            say("QUITTING")
            bpy.ops.wm.quit_blender()  # in the bpy module this returns; a real Blender exits the same way below
            say("AFTER_QUIT")
            if bpy.app.version < (5, 0, 0):
                # bpy 4.2 segfaults in C exit handlers after Python has finished whenever a Python-defined operator
                # was registered (any add-on; testing-recipes.md 1.4; 5.0 is fixed). Run what the interpreter's exit
                # runs, in its order (wait for non-daemon threads, then atexit: Blender disables add-ons), then
                # leave before those C handlers.
                import atexit
                import threading

                threading._shutdown()
                atexit._run_exitfuncs()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
            sys.exit(0)  # ordinary interpreter exit: atexit handlers (Blender disables add-ons), thread checks
        time.sleep(0.05)
elif mode == "resume":
    deadline = time.monotonic() + float(cfg.get("seconds", 90))
    while time.monotonic() < deadline:
        poller.drain()
        if len(state.tasks) and state.tasks[0].imported:
            break
        time.sleep(0.05)
    result()
    addon_utils.disable(cfg["module"], default_set=True)
    os._exit(0)
elif mode == "startup":
    for _ in range(5):
        poller.drain()
        time.sleep(0.05)
    panel_text = ""
    try:
        sys.path.insert(0, cfg["recorder_dir"])
        from recorder import draw

        panel_text = draw(bpy.types.TRIPO_PT_tasks).text()
    except Exception as exc:  # the panel text is a bonus; the state notice is the contract
        panel_text = f"<panel draw failed: {exc!r}>"
    result(panel=panel_text, enabled=addon_utils.check(cfg["module"])[1])
    addon_utils.disable(cfg["module"], default_set=True)
    os._exit(0)
else:
    say("RESULT", {"error": f"unknown mode {mode}"})
    os._exit(2)
