"""The tripo_addon showcase: text -> model -> rig -> animation -> FBX, in Blender, from the built extension zip.

    .venv/bin/python scripts/demo.py                    # local emulator, no key, no credits
    TRIPO_API_KEY=tsk_... .venv/bin/python scripts/demo.py --real     # the real Tripo API (spends credits)

What it does:
1. builds dist/tripo_addon-<version>.zip if it is missing or older than the sources;
2. starts the local Tripo emulator in this process (unless --real);
3. runs Blender headless (the bpy module, in a child process with a throw-away BLENDER_USER_RESOURCES), installs
   the extension *from the zip* the way "Install from Disk" does, points its preferences at the API, and runs the
   pipeline through the add-on's operators with wait=True, one progress line per step;
4. lays the results out side by side with labels, adds a camera and a light, saves out/demo.blend and renders
   out/demo.png (Workbench, 960x540).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXT_ID = "tripo_addon"
MODULE = f"bl_ext.user_default.{EXT_ID}"
DEFAULT_PROMPT = "a friendly cartoon robot standing in a T-pose"

# (label, operator, keyword arguments; "{prev}" is the task id of the previous step's result)
PIPELINE = [
    ("text to model", "text_to_model", {"prompt": "{prompt}"}),
    ("rig", "animate_rig", {"original_model_task_id": "{prev}", "rig_type": "biped"}),
    ("animate (walk)", "animate_retarget", {"original_model_task_id": "{prev}", "animation": "preset:walk"}),
    ("convert to FBX", "convert_model", {"original_model_task_id": "{prev}", "format": "FBX"}),
]


def say(msg: str) -> None:
    print(f"[demo] {msg}", flush=True)


PHASES = ("build the extension zip", "start the local Tripo emulator", "start Blender and install the extension",
          "run the pipeline", "lay out, save and render")


def phase(i: int, detail: str = "") -> None:
    """One line per phase of the demo (the first three take a few seconds, the pipeline most of the time)."""
    say(f"phase {i}/{len(PHASES)}: {PHASES[i - 1]}" + (f" ({detail})" if detail else ""))


# ============================================================================================ parent process
def ensure_zip(force: bool = False) -> Path:
    sys.path.insert(0, str(ROOT / "scripts"))
    import build_extension

    zpath = build_extension.DIST / build_extension.zip_name()
    sources = [ROOT / "blender_manifest.toml", Path(build_extension.__file__)]
    sources += [p for p in (ROOT / EXT_ID).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    newest = max(p.stat().st_mtime for p in sources)
    phase(1)
    if force or not zpath.exists() or zpath.stat().st_mtime < newest:
        say("building the extension zip (scripts/build_extension.py)")
        try:
            zpath = build_extension.build(build_extension.DIST)
        except build_extension.BuildError as e:
            sys.exit(f"[demo] build failed: {e}")
    say(f"extension zip: {zpath.relative_to(ROOT)}")
    return zpath


def run_parent(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    try:
        import bpy  # noqa: F401  (only checks that Blender-as-a-module is installed here)
    except ImportError:
        sys.exit("[demo] this Python has no bpy module; run: bash scripts/setup_env.sh && "
                 ".venv/bin/python scripts/demo.py")
    zpath = ensure_zip(args.rebuild)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="tripo-demo-"))
    emu = None
    try:
        phase(2, "skipped: --real" if args.real else f"time scale {args.time_scale:g}")
        if args.real:
            key = os.environ.get("TRIPO_API_KEY", "")
            if not key:
                sys.exit("[demo] --real needs TRIPO_API_KEY=tsk_... in the environment")
            base_url = os.environ.get("TRIPO_BASE_URL", "")
            say(f"using the real Tripo API{' at ' + base_url if base_url else ''}: this spends credits "
                "(roughly 20-40 for the model, 25 rig, 10 animation, 5 conversion)")
        else:
            sys.path.insert(0, str(ROOT))
            from tripo_emulator import Emulator

            emu = Emulator(port=0, time_scale=args.time_scale, data_dir=scratch / "emulator", api=args.api)
            emu.start()
            key = "tsk_demo_" + secrets.token_hex(16)
            emu.add_account(key, balance=10_000)
            base_url = emu.base_url
            say(f"local Tripo emulator at {base_url} (tasks run at {args.time_scale:g}x real duration)")

        (scratch / "user").mkdir()
        (scratch / "tmp").mkdir()
        (scratch / "home").mkdir()  # the default download folder is ~/Documents/Tripo or ~/Tripo: keep it throw-away
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BLENDER_", "PYTHONPATH", "XDG_CONFIG"))}
        env.update(BLENDER_USER_RESOURCES=str(scratch / "user"), TMPDIR=str(scratch / "tmp"),
                   HOME=str(scratch / "home"), USERPROFILE=str(scratch / "home"),
                   TRIPO_DEMO_ZIP=str(zpath), TRIPO_DEMO_KEY=key, TRIPO_DEMO_URL=base_url,
                   TRIPO_DEMO_OUT=str(out), TRIPO_DEMO_PROMPT=args.prompt, PYTHONUNBUFFERED="1")
        env.setdefault("NO_PROXY", "127.0.0.1,localhost")
        log_path = out / "demo.log"
        say(f"starting Blender (bpy module) in a fresh user folder; full log: {log_path.relative_to(Path.cwd())}"
            if log_path.is_relative_to(Path.cwd()) else f"starting Blender; full log: {log_path}")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child"], env=env,
                                    cwd=scratch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout:
                log.write(line)
                if line.startswith("[demo]"):
                    print(line, end="", flush=True)
            rc = proc.wait(timeout=args.timeout)
        if rc != 0:
            tail = log_path.read_text().splitlines()[-30:]
            print("\n".join(tail), file=sys.stderr)
            say(f"FAILED (Blender exited with {rc}); see {log_path}")
            return 1
        for name in ("demo.blend", "demo.png"):
            if not (out / name).is_file():
                say(f"FAILED: {out / name} was not written")
                return 1
        say(f"done in {time.monotonic() - t0:.1f} s")
        say(f"  scene:  {out / 'demo.blend'}")
        say(f"  render: {out / 'demo.png'}")
        return 0
    finally:
        if emu is not None:
            emu.stop()
        if not args.keep_temp:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            say(f"kept {scratch}")


# ============================================================================================ child (Blender)
def run_child() -> None:
    import bpy  # first: it puts Blender's scripts/modules (addon_utils) on sys.path
    import addon_utils  # isort: skip

    t_start = time.monotonic()
    out = Path(os.environ["TRIPO_DEMO_OUT"])
    phase(3, f"Blender {bpy.app.version_string}, a throw-away user folder")
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.context.preferences.system.use_online_access = True  # the user's "Allow Online Access"

    res = bpy.ops.extensions.package_install_files(filepath=os.environ["TRIPO_DEMO_ZIP"], repo="user_default",
                                                   enable_on_install=True)
    if res != {"FINISHED"} or addon_utils.check(MODULE) != (True, True):
        raise RuntimeError(f"installing {os.environ['TRIPO_DEMO_ZIP']} failed: {res}, {addon_utils.check(MODULE)}")
    say(f"Blender {bpy.app.version_string}: installed {Path(os.environ['TRIPO_DEMO_ZIP']).name} as {MODULE}")

    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.api_key = os.environ["TRIPO_DEMO_KEY"]
    if os.environ.get("TRIPO_DEMO_URL"):
        prefs.api_base_url = os.environ["TRIPO_DEMO_URL"]
    prefs.hide_source = False  # keep every stage of the pipeline visible, side by side
    downloads = out / "demo_files"  # next to demo.blend: the user folder is deleted at the end
    shutil.rmtree(downloads, ignore_errors=True)
    prefs.download_dir = str(downloads)
    say(f"preferences: base URL {prefs.api_base_url}; downloads in {downloads}")

    results = []  # (label, task type, task id, [objects])
    prev = ""
    n = len(PIPELINE)
    phase(4, f"{n} steps, each bpy.ops.tripo.<step>(..., wait=True)")
    for i, (label, op_name, kwargs) in enumerate(PIPELINE, 1):
        kw = {k: (v.format(prev=prev, prompt=os.environ["TRIPO_DEMO_PROMPT"]) if isinstance(v, str) else v)
              for k, v in kwargs.items()}
        shown = ", ".join(f"{k}={v!r}" for k, v in kw.items())
        say(f"step {i}/{n} {label}: bpy.ops.tripo.{op_name}({shown}, wait=True)")
        before = {o.name for o in bpy.data.objects}
        t0 = time.monotonic()
        res = getattr(bpy.ops.tripo, op_name)(wait=True, **kw)
        if res != {"FINISHED"}:
            raise RuntimeError(f"bpy.ops.tripo.{op_name} returned {res}")
        new = [o for o in bpy.data.objects if o.name not in before]
        task_ids = {o.get("tripo_task_id") for o in new if o.get("tripo_task_id")}
        if not new or len(task_ids) != 1:
            raise RuntimeError(f"{op_name}: expected imported objects from one task, got {new} / {task_ids}")
        prev = task_ids.pop()
        results.append((label, op_name, prev, new))
        kinds = sorted({o.type for o in new})
        say(f"step {i}/{n} {label}: done in {time.monotonic() - t0:.1f} s, task {prev}, "
            f"{len(new)} object(s) imported ({', '.join(kinds)})")

    phase(5)
    stage_scene(results)
    blend = out / "demo.blend"
    png = out / "demo.png"
    try:
        bpy.ops.file.pack_all()  # a self-contained .blend (the downloads stay in demo_files/ as well)
    except RuntimeError:
        pass
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.file.make_paths_relative()  # "//demo_files/...": the out folder can move
    bpy.ops.wm.save_mainfile()
    check_clean(blend)
    say(f"saved {blend}")
    scene = bpy.context.scene
    scene.render.filepath = str(png)
    t0 = time.monotonic()
    bpy.ops.render.render(write_still=True)
    say(f"rendered {png} ({scene.render.resolution_x}x{scene.render.resolution_y}, Workbench) "
        f"in {time.monotonic() - t0:.1f} s")
    say(f"pipeline finished in {time.monotonic() - t_start:.1f} s")


def stage_scene(results) -> None:
    """Results side by side along X, a label under each, a camera that frames them all, a sun."""
    import math

    import bpy
    from mathutils import Vector

    scene = bpy.context.scene
    ranges = [o.animation_data.action.frame_range for o in bpy.data.objects
              if o.animation_data and o.animation_data.action]
    if ranges:  # show the animated results mid-stride, and play the clip in the saved file
        start, end = int(min(r[0] for r in ranges)), int(max(r[1] for r in ranges))
        scene.frame_start, scene.frame_end = start, max(end, start + 1)
        scene.frame_set(start + (end - start) // 4)
    # The glTF importer makes an icosphere to draw bones with (a pose-bone custom shape); it is not part of the
    # model, so keep it out of the layout and the render.
    shapes = {pb.custom_shape for o in bpy.data.objects if o.type == "ARMATURE" and o.pose
              for pb in o.pose.bones if pb.custom_shape}
    helpers = None
    if shapes:  # (the add-on imports glTF without bone shapes: normally there are none, and no empty collection)
        helpers = bpy.data.collections.new("bone shapes (glTF importer)")
        scene.collection.children.link(helpers)
        helpers.hide_viewport = helpers.hide_render = True
    for shape in shapes:
        for coll in list(shape.users_collection):
            coll.objects.unlink(shape)
        helpers.objects.link(shape)
    results = [(label, op, tid, character(objs, shapes)) for label, op, tid, objs in results]
    for _label, _op, _tid, objs in results:
        for o in objs:
            o.hide_set(False)
            o.hide_viewport = o.hide_render = False
    for coll in bpy.data.collections:
        if coll is not helpers:
            coll.hide_viewport = coll.hide_render = False

    # One empty per result: its objects are parented to it (animated objects keep their own keyed transforms).
    slots = []
    for label, _op, _tid, objs in results:
        slot = bpy.data.objects.new(f"slot {label}", None)
        scene.collection.objects.link(slot)
        for o in objs:
            if o.parent is None:
                o.parent = slot
                o.matrix_parent_inverse.identity()
        slots.append(slot)
    bpy.context.view_layer.update()

    spacing = 0.0
    boxes = []
    for _label, _op, _tid, objs in results:
        lo, hi = world_bounds(objs)
        spacing = max(spacing, (hi - lo).x, (hi - lo).y)
        boxes.append((lo, hi))
    spacing = max(spacing * 1.5, 1.0)
    all_lo = Vector((1e9, 1e9, 1e9))
    all_hi = Vector((-1e9, -1e9, -1e9))
    for i, ((label, op, _tid, objs), (lo, hi), slot) in enumerate(zip(results, boxes, slots, strict=True)):
        center = (lo + hi) / 2
        slot.location = Vector((i * spacing - center.x, -center.y, -lo.z))
        bpy.context.view_layer.update()
        lo, hi = world_bounds(objs)
        all_lo = Vector(map(min, all_lo, lo))
        all_hi = Vector(map(max, all_hi, hi))
        curve = bpy.data.curves.new(f"label_{op}", type="FONT")
        curve.body = f"{i + 1}. {label}"
        curve.align_x = "CENTER"
        curve.size = spacing * 0.09
        curve.extrude = spacing * 0.005
        curve.materials.append(flat_material("label", (0.9, 0.55, 0.1, 1.0)))
        text = bpy.data.objects.new(f"label_{op}", curve)
        text.location = ((lo.x + hi.x) / 2, lo.y - spacing * 0.15, spacing * 0.03)
        text.rotation_euler = (math.radians(90), 0, 0)
        scene.collection.objects.link(text)
        all_lo.z = min(all_lo.z, -spacing * 0.05)
        all_lo.y = min(all_lo.y, text.location.y)

    # floor, light, camera
    bpy.ops.mesh.primitive_plane_add(size=1, location=((all_lo.x + all_hi.x) / 2, (all_lo.y + all_hi.y) / 2, 0))
    floor = bpy.context.active_object
    floor.name = "floor"
    floor.scale = ((all_hi.x - all_lo.x) + spacing, (all_hi.y - all_lo.y) + spacing * 2, 1)
    floor.data.materials.append(flat_material("floor", (0.32, 0.33, 0.36, 1.0)))
    sun_data = bpy.data.lights.new("sun", type="SUN")
    sun_data.energy = 3.0
    sun = bpy.data.objects.new("sun", sun_data)
    sun.rotation_euler = (math.radians(50), 0, math.radians(30))
    scene.collection.objects.link(sun)

    cam_data = bpy.data.cameras.new("camera")
    cam_data.lens = 50
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 960, 540, 100
    center = (all_lo + all_hi) / 2
    size = all_hi - all_lo
    direction = Vector((0.0, -1.0, 0.45)).normalized()
    fov = 2 * math.atan(cam_data.sensor_width / (2 * cam_data.lens))  # horizontal
    aspect = scene.render.resolution_x / scene.render.resolution_y
    half_w = max(size.x / 2, size.z * aspect / 2, 0.5) * 1.15
    distance = half_w / math.tan(fov / 2) + size.y / 2
    cam.location = center + direction * distance
    cam.rotation_euler = (center - cam.location).to_track_quat("-Z", "Y").to_euler()
    cam_data.clip_end = distance * 10

    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "TEXTURE"
    shading.show_shadows = True
    shading.show_cavity = True
    scene.display.shading.show_object_outline = True
    world = bpy.data.worlds.new("world") if scene.world is None else scene.world
    scene.world = world
    world.color = (0.05, 0.06, 0.08)


def check_clean(blend: Path) -> None:
    """What a user opening demo.blend sees is tidy: no empty collections, every image packed or on disk."""
    import bpy

    empty = [c.name for c in bpy.data.collections if not c.all_objects]
    if empty:
        raise RuntimeError(f"{blend.name} has empty collections: {empty}")
    for img in bpy.data.images:
        if img.source != "FILE" or not img.filepath:
            continue
        path = Path(bpy.path.abspath(img.filepath))
        if not path.is_file():
            raise RuntimeError(f"image {img.name!r} in {blend.name} points at a missing file: {path}")
    names = sorted(c.name for c in bpy.context.scene.collection.children)
    say(f"collections: {', '.join(names)}")


def character(objs, shapes):
    """What to show of one result: a rigged result is its armature(s) and the meshes they deform; anything else
    (e.g. a stray helper mesh a converter carried along) stays in the file but out of the layout."""
    objs = [o for o in objs if o not in shapes]
    arms = [o for o in objs if o.type == "ARMATURE"]
    if not arms:
        return objs

    def rigged(o):
        if o.type == "ARMATURE":
            return True
        p = o.parent
        while p is not None:
            if p in arms:
                return True
            p = p.parent
        return any(m.type == "ARMATURE" and m.object in arms for m in getattr(o, "modifiers", ()))

    keep = [o for o in objs if rigged(o)]
    for o in objs:
        if o not in keep:
            o.hide_set(True)
            o.hide_render = True
    return keep


def flat_material(name, rgba):
    import bpy

    mat = bpy.data.materials.get(name) or bpy.data.materials.new(name)
    mat.diffuse_color = rgba  # what Workbench shows for untextured surfaces
    return mat


def world_bounds(objs):
    from mathutils import Vector

    lo = Vector((1e9, 1e9, 1e9))
    hi = Vector((-1e9, -1e9, -1e9))
    found = False
    for o in objs:
        if o.type not in {"MESH", "CURVE", "SURFACE", "FONT"}:
            continue
        for corner in o.bound_box:
            p = o.matrix_world @ Vector(corner)
            lo = Vector(map(min, lo, p))
            hi = Vector(map(max, hi, p))
            found = True
    if not found:
        for o in objs:
            p = o.matrix_world.translation
            lo = Vector(map(min, lo, p))
            hi = Vector(map(max, hi, p))
        lo -= Vector((0.5, 0.5, 0.0))
        hi += Vector((0.5, 0.5, 1.0))
    return lo, hi


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", action="store_true",
                    help="use Tripo's live API v3 at https://openapi.tripo3d.ai (TRIPO_API_KEY; spends credits; "
                    "TRIPO_BASE_URL overrides the address)")
    ap.add_argument("--api", choices=("v3", "v2"), default="v3",
                    help="which API the local emulator speaks (default v3, Tripo's live API)")
    ap.add_argument("--prompt", default=DEFAULT_PROMPT, help="the text prompt of the first step")
    ap.add_argument("--out", default=str(ROOT / "out"), help="where demo.blend / demo.png go (default: out/)")
    ap.add_argument("--time-scale", type=float, default=0.05, help="emulator task duration scale (default 0.05)")
    ap.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the zip even if it looks current")
    ap.add_argument("--keep-temp", action="store_true", help="keep the scratch folder (Blender user dir, emulator)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        try:
            run_child()
        except BaseException:
            import traceback

            traceback.print_exc()
            say("FAILED inside Blender (traceback above)")
            sys.stdout.flush()
            os._exit(1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip bpy teardown (4.2's exit crash; nothing left to clean in the scratch user folder)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
