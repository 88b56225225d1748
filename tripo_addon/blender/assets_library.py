"""The Tripo asset library: every imported result also saved as an asset, one .blend per result.

The library is a folder (``<download folder>/Tripo Library`` by default) registered in Preferences > File Paths >
Asset Libraries as "Tripo" (:func:`register_library`: once; a second call finds it and asks nothing;
:func:`unregister_library` removes the entry and leaves the files). While it is registered, every import is saved
there (:func:`save_result`, main thread: ``bpy.data.libraries.write`` is not allowed elsewhere): a one-object result
as an object asset, a hierarchy as a collection asset, in ``<kind>/<date>_<name>_<task>.blend`` (written to a temp
name, then renamed), with the catalog of its kind (``blender_assets.cats.txt``: Tripo/Models, Rigged, Animated, LODs,
Images), tags (task type, model version), Tripo's preview render as the asset preview (added when it arrives) and
metadata (prompt, task id, model, credits, date, parent task) as the asset's custom properties. The files live
outside the add-on and outside the .blend the result was made in.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from pathlib import Path

import bpy

from . import settings

log = logging.getLogger(__name__)

LIBRARY_NAME = "Tripo"
FOLDER = "Tripo Library"
CATS_FILE = "blender_assets.cats.txt"
KINDS = {  # kind -> (catalog path, simple name)
    "models": ("Tripo/Models", "Tripo-Models"),
    "rigged": ("Tripo/Rigged", "Tripo-Rigged"),
    "animated": ("Tripo/Animated", "Tripo-Animated"),
    "lods": ("Tripo/LODs", "Tripo-LODs"),
    "images": ("Tripo/Images", "Tripo-Images"),
}
_NS = uuid.UUID("6f1d2b8e-5b0c-4a57-9a53-0b6f3c7e2a10")
PREVIEW_WAIT = 60.0  # seconds a saved asset waits for Tripo's preview render to arrive
PREVIEW_SIZE = 256

_pending: dict[str, dict] = {}  # blend path -> {"ids": [...], "task_id", "dir", "until", ...}


def catalog_id(kind: str) -> str:
    """The fixed catalog UUID of a kind (the same in every library, so catalogs never duplicate)."""
    return str(uuid.uuid5(_NS, KINDS[kind][0]))


def default_folder() -> Path:
    return settings.download_dir() / FOLDER


def registered():
    """The registered Tripo library entry (by name, else by folder), or None."""
    libs = bpy.context.preferences.filepaths.asset_libraries
    folder = os.path.normcase(os.path.abspath(str(default_folder())))
    for lib in libs:
        if lib.name == LIBRARY_NAME or os.path.normcase(os.path.abspath(bpy.path.abspath(lib.path))) == folder:
            return lib
    return None


def library_folder() -> Path | None:
    lib = registered()
    return Path(bpy.path.abspath(lib.path)) if lib is not None else None


def write_catalogs(folder: Path) -> Path:
    """``blender_assets.cats.txt`` with the Tripo catalog and its five kinds (kept: catalogs the user added)."""
    path = folder / CATS_FILE
    lines: list[str] = []
    if path.is_file():
        lines = path.read_text("utf-8", errors="replace").splitlines()
    if not any(ln.strip().startswith("VERSION") for ln in lines):
        lines = ["# This is an Asset Catalog Definition file for Blender.", "#",
                 "# Empty lines and lines starting with `#` will be ignored.",
                 "# The first non-ignored line should be the version indicator.",
                 '# Other lines are of the format "UUID:catalog/path/for/assets:simple catalog name"', "",
                 "VERSION 1", "", *lines]
    have = {ln.split(":", 1)[0].strip() for ln in lines if ":" in ln and not ln.startswith("#")}
    parent = str(uuid.uuid5(_NS, LIBRARY_NAME))  # the "Tripo" parent: without it Blender shows "Tripo*" (unsaved)
    if parent not in have:
        lines.append(f"{parent}:{LIBRARY_NAME}:{LIBRARY_NAME}")
    for kind, (cpath, simple) in KINDS.items():
        if catalog_id(kind) not in have:
            lines.append(f"{catalog_id(kind)}:{cpath}:{simple}")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{CATS_FILE}.tmp")
    tmp.write_text("\n".join(lines) + "\n", "utf-8")
    os.replace(tmp, path)
    return path


ADDON_DIR = Path(__file__).resolve().parents[1]  # the installed add-on: uninstalling deletes it


def folder_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` cannot hold the library (inside the add-on: uninstalling would delete every asset), or None."""
    path = Path(os.path.abspath(os.path.expanduser(str(folder))))
    try:
        path = path.resolve()
    except OSError:
        pass
    if path == ADDON_DIR or ADDON_DIR in path.parents:
        return (f"The library folder {path} is inside the add-on, which uninstalling or updating deletes with every "
                "asset in it; choose a folder of your own (empty: <download folder>/Tripo Library)")
    return None


def register_library(folder: str | os.PathLike | None = None) -> tuple[object, bool]:
    """Register the library (once). Returns (entry, added now)."""
    lib = registered()
    if lib is not None:
        write_catalogs(Path(bpy.path.abspath(lib.path)))
        return lib, False
    path = Path(folder) if folder else default_folder()
    problem = folder_problem(path)
    if problem:
        raise ValueError(problem)
    path.mkdir(parents=True, exist_ok=True)
    write_catalogs(path)
    lib = bpy.context.preferences.filepaths.asset_libraries.new(name=LIBRARY_NAME, directory=str(path))
    lib.import_method = 'APPEND'
    bpy.context.preferences.is_dirty = True
    return lib, True


def unregister_library() -> bool:
    """Remove the entry from the preferences (the saved assets stay on disk). True when there was one."""
    lib = registered()
    if lib is None:
        return False
    bpy.context.preferences.filepaths.asset_libraries.remove(lib)
    bpy.context.preferences.is_dirty = True
    return True


# ==================================================================================================== saving
def kind_of(snap: dict, objects) -> str:
    meta = snap.get("meta") or {}
    types = [s.get("task_type") for s in snap.get("steps") or []]
    if meta.get("import_as") == "lods" or snap.get("kind") == "lod_chain":
        return "lods"
    if "animate_retarget" in types or any(getattr(o, "animation_data", None) and o.animation_data.action
                                          for o in objects):
        return "animated"
    if "animate_rig" in types or any(o.type == 'ARMATURE' for o in objects):
        return "rigged"
    if not any(o.type in ('MESH', 'ARMATURE', 'CURVE', 'POINTCLOUD') for o in objects):
        return "images"
    return "models"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40] or "tripo"


def metadata(snap: dict) -> dict:
    steps = snap.get("steps") or []
    last = next((s for s in reversed(steps) if s.get("task_id")), {})
    first = steps[0] if steps else {}
    params = first.get("params") or {}
    parent = next((v for k, v in (last.get("params") or {}).items()
                   if k in ("original_model_task_id", "draft_model_task_id", "original_task_id")
                   and isinstance(v, str)), "")
    model = ""
    for s in steps:
        if (s.get("params") or {}).get("model_version"):
            model = s["params"]["model_version"]
    model = model or (snap.get("meta") or {}).get("model_version") or ""
    return {"prompt": str(params.get("prompt") or ""), "task_id": last.get("task_id") or "",
            "task_type": last.get("task_type") or "", "model": str(model),
            "credits": float(sum(float(s.get("credits") or 0) for s in steps)),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "parent_task_id": parent, "title": snap.get("title") or ""}


def _preview_file(task_id: str, files: list[str]) -> str:
    images = [f for f in files if Path(f).suffix.lower() in (".webp", ".png", ".jpg", ".jpeg")]
    from . import runtime

    eng = runtime.engine(create=False)
    if eng is not None and task_id:
        folder = Path(eng.download_dir) / task_id
        if folder.is_dir():
            images += [str(p) for p in folder.iterdir() if p.suffix.lower() in (".webp", ".png", ".jpg", ".jpeg")]
    for f in images:
        if "render" in Path(f).name.lower() or "preview" in Path(f).name.lower():
            return f
    return images[0] if images else ""


def _set_preview(idb, image_path: str) -> bool:
    try:
        img = bpy.data.images.load(image_path, check_existing=False)
    except (RuntimeError, OSError):
        return False
    try:
        w, h = img.size
        if not w or not h:
            return False
        k = PREVIEW_SIZE / max(w, h)
        img.scale(max(1, int(w * k)), max(1, int(h * k)))
        w, h = img.size
        buf = [0.0] * (w * h * 4)
        img.pixels.foreach_get(buf)
        pv = idb.preview_ensure()
        pv.image_size = (w, h)
        pv.image_pixels_float.foreach_set(buf)
        return True
    finally:
        bpy.data.images.remove(img)


def _asset_ids(objects, collection_name: str):
    roots = [o for o in objects if o.parent is None or o.parent not in objects]
    if len(objects) == 1 or (len(roots) == 1 and not roots[0].children):
        return roots[:1]
    coll = bpy.data.collections.get(collection_name) if collection_name else None
    return [coll] if coll is not None else roots[:1]


def _write(path: Path, ids, meta: dict, kind: str, preview: str) -> None:
    """Mark ``ids`` as assets with the metadata, write them alone into ``path`` (atomically), unmark them here."""
    marked = []
    for idb in ids:
        if idb.asset_data is None:
            idb.asset_mark()
            marked.append(idb)
        ad = idb.asset_data
        ad.catalog_id = catalog_id(kind)
        ad.description = meta["prompt"] or meta["title"]
        ad.author = "Tripo"
        for tag in ("Tripo", meta["task_type"], meta["model"]):
            if tag:
                ad.tags.new(tag, skip_if_exists=True)
        for key, value in meta.items():
            ad[f"tripo_{key}" if not key.startswith("tripo_") else key] = value
        if preview:
            _set_preview(idb, preview)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.blend")
    try:
        # uncompressed: zstd took ~10x the main-thread time (25 ms against 2 ms for a 30k-vertex mesh)
        bpy.data.libraries.write(str(tmp), set(ids), path_remap='ABSOLUTE', fake_user=True, compress=False)
        os.replace(tmp, path)
    finally:
        for idb in marked:
            idb.asset_clear()
        if tmp.exists():
            tmp.unlink()


def save_result(snap: dict, result) -> Path | None:
    """Save an imported result into the library when one is registered. Returns the .blend written (or None)."""
    folder = library_folder()
    objects = list(getattr(result, "objects", []) or [])
    if folder is None or not objects:
        return None
    meta = metadata(snap)
    kind = kind_of(snap, objects)
    ids = _asset_ids(objects, getattr(result, "collection_name", ""))
    day = meta["date"][:10]
    name = _slug(meta["prompt"] or meta["title"] or (objects[0].name if objects else "tripo"))
    path = folder / kind / f"{day}_{name}_{(meta['task_id'] or snap.get('id') or 'x')[:8]}.blend"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_catalogs(folder)
    own = _preview_file(meta["task_id"], snap.get("files") or [])
    # no render of its own (a rig, an animation, a conversion): its source's render until one arrives
    preview = own or (_preview_file(meta["parent_task_id"], []) if meta["parent_task_id"] else "")
    _write(path, ids, meta, kind, preview)
    for o in objects:
        o["tripo_asset_file"] = str(path)
    if not own:
        _pending[str(path)] = {"names": [(type(i).__name__, i.name) for i in ids], "meta": meta, "kind": kind,
                               "task_id": meta["task_id"], "files": list(snap.get("files") or []),
                               "until": time.monotonic() + PREVIEW_WAIT}
        if not bpy.app.timers.is_registered(_preview_timer):
            bpy.app.timers.register(_preview_timer, first_interval=1.0, persistent=True)
    return path


def _preview_timer():
    """Re-save assets whose preview render arrived after they were saved (while their objects are still here)."""
    now = time.monotonic()
    for path, p in list(_pending.items()):
        preview = _preview_file(p["task_id"], p["files"])
        ids = [(bpy.data.objects if t == "Object" else bpy.data.collections).get(n) for t, n in p["names"]]
        if preview and all(ids):
            try:
                _write(Path(path), ids, p["meta"], p["kind"], preview)
            except (OSError, RuntimeError):
                log.warning("Tripo: could not add the preview to %s", path, exc_info=True)
            _pending.pop(path, None)
        elif now > p["until"] or not all(ids):
            _pending.pop(path, None)
    return 1.0 if _pending else None


def flush_previews(timeout: float = 0.0, pump=None) -> None:
    """Apply waiting previews now (scripts and tests): wait up to ``timeout`` seconds for them to arrive, calling
    ``pump()`` between tries (e.g. ``drain.drain``: the events that bring them; passed in, so this module does not
    import the drain that imports it)."""
    deadline = time.monotonic() + timeout
    while _pending:
        _preview_timer()
        if not _pending or time.monotonic() > deadline:
            return
        time.sleep(0.1)
        if pump is not None:
            pump()


MODEL_SUFFIXES = (".glb", ".fbx", ".obj")


def save_files(files: list[str], meta: dict, kind: str = "models", *, preview: str = "") -> Path | None:
    """Save a result that was never imported (a batch row's files) into the library: its model is imported into a
    scratch scene, written as an asset like :func:`save_result`, then everything it made is removed again."""
    folder = library_folder()
    model = next((f for f in files if Path(f).suffix.lower() in MODEL_SUFFIXES and os.path.isfile(f)), None)
    if folder is None or model is None:
        return None
    before = {attr: set(getattr(bpy.data, attr)) for attr in ("objects", "meshes", "materials", "images",
                                                              "textures", "armatures", "actions", "collections",
                                                              "node_groups", "cameras", "lights")}
    scene = bpy.data.scenes.new("TripoLibraryScratch")
    try:
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            suffix = Path(model).suffix.lower()
            if suffix == ".glb":
                bpy.ops.import_scene.gltf(filepath=model)
            elif suffix == ".fbx":
                bpy.ops.import_scene.fbx(filepath=model)
            else:
                bpy.ops.wm.obj_import(filepath=model)
        objects = list(scene.objects)
        if not objects:
            return None
        for o in objects:
            o["tripo_task_id"] = meta.get("task_id") or ""
        ids: list = objects[:1]
        if len(objects) > 1:
            coll = bpy.data.collections.new(_slug(meta.get("prompt") or meta.get("title") or "Tripo"))
            for o in objects:
                coll.objects.link(o)
            ids = [coll]
        name = _slug(meta.get("prompt") or meta.get("title") or "tripo")
        path = folder / kind / f"{meta['date'][:10]}_{name}_{(meta.get('task_id') or 'x')[:8]}.blend"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_catalogs(folder)
        _write(path, ids, {**meta}, kind, preview)
        return path
    finally:
        bpy.data.scenes.remove(scene)
        for attr, had in before.items():
            coll = getattr(bpy.data, attr)
            for idb in [x for x in coll if x not in had]:
                coll.remove(idb)


def row_meta(row_record, row) -> dict:
    """Library metadata of a batch row (``jobs.batch.RowRecord`` and ``Row``)."""
    return {"prompt": row.prompt, "task_id": (row_record.task_ids or [""])[-1], "task_type": "batch",
            "model": row.model, "credits": float(row_record.credits or 0.0),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "parent_task_id": "",
            "title": row.title}


def save_batch_row(runner, rec) -> list[Path]:
    """Every variant of a done batch row into the library (when one is registered): one .blend per variant."""
    if library_folder() is None:
        return []
    row = next(r for r in runner.rows if r.key == rec.key)
    kind = "animated" if row.pipeline == "image_to_animated" else "models"
    out = []
    by_variant: dict[str, list[str]] = {}
    for f in rec.files:
        parts = Path(f).parts
        v = parts[2] if len(parts) == 4 and parts[2].startswith("v") else ""
        by_variant.setdefault(v, []).append(str(runner.out_dir / f))
    for i, (v, files) in enumerate(sorted(by_variant.items())):
        meta = row_meta(rec, row)
        if len(by_variant) > 1 and i < len(rec.variant_tasks):
            meta["task_id"] = rec.variant_tasks[i]
        if len(by_variant) > 1 and i < len(rec.variant_credits):
            meta["credits"] = rec.variant_credits[i]
        if v:
            meta["title"] = f"{row.title} #{v[1:]}"
        prev = next((f for f in files if Path(f).suffix.lower() in (".webp", ".png", ".jpg")), "")
        path = save_files(files, meta, kind, preview=prev)
        if path is not None:
            out.append(path)
    return out


def find_asset_file(task_id: str) -> Path | None:
    """The library .blend saved for ``task_id`` (newest first), or None."""
    folder = library_folder()
    if folder is None or not task_id or not folder.is_dir():
        return None
    found = sorted(folder.glob(f"*/*_{task_id[:8]}.blend"), key=lambda p: p.stat().st_mtime, reverse=True)
    return found[0] if found else None


def bring_back(task_id: str, context=None) -> list:
    """Append the library's asset of ``task_id`` into the scene at the 3D cursor. Returns the objects added."""
    context = context or bpy.context
    path = find_asset_file(task_id)
    if path is None:
        return []
    with bpy.data.libraries.load(str(path), link=False, assets_only=True) as (src, dst):
        dst.objects = list(src.objects)
        dst.collections = list(src.collections)
    added = []
    target = context.scene.collection
    for coll in dst.collections:
        if coll is not None:
            target.children.link(coll)
            added += list(coll.all_objects)
            coll.asset_clear()
    for obj in dst.objects:
        if obj is not None and obj.name not in {o.name for o in added}:
            target.objects.link(obj)
            added.append(obj)
            obj.asset_clear()
    roots = [o for o in added if o.parent is None]
    for o in roots:
        o.location = context.scene.cursor.location
    return added
