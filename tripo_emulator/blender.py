"""Conversions that need Blender (FBX, USDZ, FBX import): run `sys.executable -c <script>` with bpy in a child
process, never in the emulator's own process. Results are cached by (source hash, format, options)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

SCRIPT = r'''
import json, sys
args = json.loads(sys.argv[1])
try:
    import bpy
except ImportError as e:
    print("TRIPO_EMULATOR_NO_BPY", e, file=sys.stderr)
    sys.exit(42)
bpy.ops.wm.read_homefile(use_empty=True)
src, dst, fmt = args["src"], args["dst"], args["format"]
ext = src.rsplit(".", 1)[-1].lower()
if ext in ("glb", "gltf"):
    res = bpy.ops.import_scene.gltf(filepath=src, disable_bone_shape=True)  # no bone-shape icosphere in outputs
elif ext == "fbx":
    res = bpy.ops.import_scene.fbx(filepath=src)
elif ext == "obj":
    res = bpy.ops.wm.obj_import(filepath=src)
elif ext == "stl":
    res = bpy.ops.wm.stl_import(filepath=src)
else:
    sys.exit("unsupported source " + ext)
if "FINISHED" not in res:
    sys.exit("import failed")
if args.get("quads"):
    import bmesh
    for ob in bpy.data.objects:
        if ob.type == "MESH":
            bm = bmesh.new()
            bm.from_mesh(ob.data)
            try:
                bmesh.ops.join_triangles(bm, faces=bm.faces[:], angle_face_threshold=1.0, angle_shape_threshold=1.0)
            except TypeError:
                bmesh.ops.join_triangles(bm, faces=bm.faces[:])
            bm.to_mesh(ob.data)
            bm.free()
if fmt == "fbx":
    res = bpy.ops.export_scene.fbx(filepath=dst, bake_anim=bool(args.get("animation", True)), path_mode="COPY",
                                   embed_textures=True, add_leaf_bones=False)
elif fmt == "usdz":
    res = bpy.ops.wm.usd_export(filepath=dst)
elif fmt == "glb":
    res = bpy.ops.export_scene.gltf(filepath=dst, export_format="GLB")
else:
    sys.exit("unsupported format " + fmt)
if "FINISHED" not in res:
    sys.exit("export failed")
# The file is written: leave without the bpy module's teardown, which crashes (SIGSEGV) in bpy 4.2 after an FBX
# import + glTF export and would turn a finished conversion into a failure.
import os
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
'''


class BlenderUnavailable(RuntimeError):
    """bpy cannot be imported by this Python: FBX/USDZ work cannot run."""


class ConversionError(RuntimeError):
    pass


# The Python that runs Blender work: None = $TRIPO_EMULATOR_BLENDER_PYTHON, else this interpreter (it has bpy in the
# project's venv; a venv without bpy, like .venv-sdk3, names one that has it).
PYTHON: str | None = None
_SEM = threading.BoundedSemaphore(2)   # Blender processes are heavy: at most two at once
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def convert(src: Path, fmt: str, cache_dir: Path, *, quads: bool = False, animation: bool = True,
            timeout: float = 300.0) -> Path:
    """Path of `src` converted to fmt ('fbx' | 'usdz' | 'glb') through a Blender child process (cached)."""
    python = PYTHON or os.environ.get("TRIPO_EMULATOR_BLENDER_PYTHON") or sys.executable
    data = src.read_bytes()
    opts = {"format": fmt, "quads": quads, "animation": animation, "src_ext": src.suffix.lower()}
    key = hashlib.sha256(data + json.dumps(opts, sort_keys=True).encode()).hexdigest()[:32]
    cache_dir.mkdir(parents=True, exist_ok=True)
    dst = cache_dir / f"{key}.{fmt}"
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        if dst.exists() and dst.stat().st_size > 0:
            return dst
        tmp = cache_dir / f"{key}.tmp{os.getpid()}_{threading.get_ident()}.{fmt}"
        args = json.dumps({"src": str(src), "dst": str(tmp), **opts})
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        with _SEM:
            try:
                proc = subprocess.run([python, "-c", SCRIPT, args], capture_output=True, text=True,
                                      timeout=timeout, env=env, cwd=str(cache_dir))
            except subprocess.TimeoutExpired:
                raise ConversionError(f"Blender conversion to {fmt} timed out") from None
        if proc.returncode == 42 or "TRIPO_EMULATOR_NO_BPY" in proc.stderr:
            raise BlenderUnavailable(f"Blender (the bpy module) is not importable by {python}; "
                                     f"{fmt.upper()} conversion needs it")
        if proc.returncode != 0 or not tmp.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
            raise ConversionError(f"Blender conversion to {fmt} failed: {' | '.join(tail)}")
        os.replace(tmp, dst)
        return dst
