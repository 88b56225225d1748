"""Scene I/O on the main thread: import downloaded results (the selection's export is in :mod:`.scene_export`).

Each import gets its own collection named after the task, selects its objects (the main one active), tags them with
their provenance (``tripo_task_id``, ``tripo_task_type``, ``tripo_model_version``) and pushes exactly one undo step.
Zips are extracted safely first. Formats Blender cannot import (3MF, Minecraft .schem, ...) stay saved on disk.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import bpy
from bpy.app.handlers import persistent

from . import scene_layout, scene_names
from .scene_layout import use_euler as use_euler  # (re-exported: callers say scene_io.use_euler)
from .scene_layout import world_bounds as world_bounds
from .scene_names import result_name as result_name
from .scene_names import short_name as short_name
from .scene_names import slug as slug

IMPORTERS = {
    ".glb": "gltf",
    ".gltf": "gltf",
    ".fbx": "fbx",
    ".obj": "obj",
    ".stl": "stl",
    ".ply": "ply",
    ".usd": "usd",
    ".usda": "usd",
    ".usdc": "usd",
    ".usdz": "usd",
}
IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tga", ".tif", ".tiff", ".exr", ".hdr"})
PROVENANCE_KEYS = ("tripo_task_id", "tripo_task_type", "tripo_model_version")
ZIP_MAX_FILES = 5000
ZIP_MAX_BYTES = 4 * 1024**3


class ImportFailed(Exception):
    """A result could not be imported (the message is for the user)."""


@dataclass
class ImportOptions:
    place_at_cursor: bool = True
    target_size: float = 0.0
    collection_per_task: bool = True
    merge_vertices: bool = True
    turn: float = 0.0  # degrees about the vertical axis (the model's facing), around its bottom centre
    location: tuple[float, float, float] | None = None  # put the result here (a replaced source), else the cursor
    hide: list[str] = field(default_factory=list)  # object names to hide after import (the replaced source)

    @classmethod
    def from_prefs(cls, p) -> ImportOptions:
        if p is None:
            return cls()
        return cls(
            place_at_cursor=p.place_at_cursor,
            target_size=p.target_size,
            collection_per_task=p.collection_per_task,
            merge_vertices=p.merge_vertices,
            turn=float(getattr(p, "turn", "0") or 0),
        )


@dataclass
class ImportResult:
    objects: list = field(default_factory=list)
    collection_name: str = ""
    saved: list[str] = field(default_factory=list)  # files kept on disk (not importable by Blender)
    images: list[str] = field(default_factory=list)  # names of images loaded into bpy.data.images


# ==================================================================================================== files
def kind_of(path: str | os.PathLike) -> str | None:
    return IMPORTERS.get(Path(path).suffix.lower())


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def safe_extract(zip_path: str | os.PathLike, dest: str | os.PathLike | None = None) -> list[Path]:
    """Extract a zip without letting any member escape ``dest`` (no absolute paths, ``..``, links, bombs)."""
    zip_path = Path(zip_path)
    dest = Path(dest) if dest is not None else zip_path.with_name(zip_path.stem + "_files")
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    out: list[Path] = []
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise ImportFailed(f"{zip_path.name} is not a valid zip file ({exc}).")
    with zf:
        infos = zf.infolist()
        if len(infos) > ZIP_MAX_FILES:
            raise ImportFailed(f"{zip_path.name} has too many files ({len(infos)}).")
        if sum(i.file_size for i in infos) > ZIP_MAX_BYTES:
            raise ImportFailed(f"{zip_path.name} is too large once extracted.")
        for info in infos:
            name = info.filename.replace("\\", "/")
            mode = info.external_attr >> 16
            if info.is_dir() or not name.strip("/"):
                continue
            if stat.S_ISLNK(mode):
                raise ImportFailed(f"{zip_path.name} contains a link ({name}); not extracted.")
            target = (root / name).resolve()
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or not target.is_relative_to(root):
                raise ImportFailed(f"{zip_path.name} contains an unsafe path ({name}); not extracted.")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            out.append(target)
    return out


def expand(files: list[str]) -> list[Path]:
    """Result files with zips replaced by their contents (extracted by the worker; see :func:`zip_members`)."""
    out: list[Path] = []
    for f in files:
        p = Path(f)
        if p.suffix.lower() == ".zip":
            out.extend(sorted(zip_members(p)))
        else:
            out.append(p)
    return out


def zip_members(zip_path: Path) -> list[Path]:
    """A result zip's members: extracted once by the job's worker, so an import (or Import Again) only reads them.
    A zip from an older version of the add-on is extracted here once, safely, and remembered."""
    from ..jobs import results

    done = results.extracted(zip_path)
    if done is not None:
        return done
    files = safe_extract(zip_path, results.extract_dir(zip_path))
    results.record(zip_path, files)
    return files


# ==================================================================================================== import
def ensure_object_mode(context) -> None:
    """Leave Edit/Sculpt/Paint mode (imports and exports work on objects)."""
    obj = context.view_layer.objects.active if context.view_layer else None
    if obj is not None and obj.mode != 'OBJECT' and bpy.ops.object.mode_set.poll():
        bpy.ops.object.mode_set(mode='OBJECT')


def _run_importer(kind: str, path: Path, options: ImportOptions) -> None:
    try:
        _call_importer(kind, path, options)
    except RuntimeError as exc:  # an importer's error report or its crash, as bpy.ops raises it
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.startswith("Location:")]
        reason = lines[-1] if lines else type(exc).__name__
        raise ImportFailed(f"Blender could not import {path.name}: {reason}")


def _call_importer(kind: str, path: Path, options: ImportOptions) -> None:
    fp = str(path)
    if kind in ("gltf", "fbx"):
        from .importers import glb  # Blender's glTF and FBX importers need numpy; Debian's Blender has none

        if not glb.gltf_importer_works():
            if kind == "gltf" and path.suffix.lower() == ".glb":
                try:
                    glb.import_glb(bpy.context, path, merge_vertices=options.merge_vertices)
                except glb.glb_read.GlbError as exc:
                    raise ImportFailed(f"{path.name}: {exc}") from None
                return
            raise ImportFailed(f"Blender's {kind.upper()} importer needs numpy, which this Blender lacks, so "
                               f"{path.name} stays saved on disk: {glb.NUMPY_FIX}, then Import again.")
    if kind == "gltf":
        result = bpy.ops.import_scene.gltf(filepath=fp, merge_vertices=options.merge_vertices,
                                           disable_bone_shape=True)  # no stray bone-shape icosphere
    elif kind == "fbx":
        result = bpy.ops.import_scene.fbx(filepath=fp, use_anim=True)
    elif kind == "obj":
        result = bpy.ops.wm.obj_import(filepath=fp)
    elif kind == "stl":
        result = bpy.ops.wm.stl_import(filepath=fp)
    elif kind == "ply":
        result = bpy.ops.wm.ply_import(filepath=fp)
    elif kind == "usd":
        result = bpy.ops.wm.usd_import(filepath=fp)
    else:  # pragma: no cover - guarded by kind_of
        raise ImportFailed(f"No importer for {path.name}.")
    if 'FINISHED' not in result:
        raise ImportFailed(f"Blender could not import {path.name}.")



def tag(objects, provenance: dict) -> None:
    """Set the provenance custom properties on objects (empty values are skipped)."""
    for obj in objects:
        for key, value in provenance.items():
            if value not in (None, ""):
                obj[key] = value


def import_files(context, files: list[str], *, title: str, provenance: dict | None = None,
                 options: ImportOptions | None = None, undo: bool = True) -> ImportResult:
    """Import result files into a new collection; returns what happened. Raises ImportFailed."""
    options = options or ImportOptions()
    provenance = provenance or {}
    result = ImportResult()
    paths = expand(list(files))
    models = [p for p in paths if kind_of(p)]
    images = [p for p in paths if is_image(p)]
    # a glTF next to its .bin/textures, or an OBJ with its .mtl: import the model file only
    result.saved = [str(p) for p in paths if not kind_of(p) and not is_image(p) and p.suffix.lower() not in
                    {".bin", ".mtl", ".txt", ".json"}]
    if not models:
        if images and not result.saved:
            for p in images:
                result.images.append(load_image(p, title, provenance).name)
        return result

    ensure_object_mode(context)
    before_objects = set(bpy.data.objects)
    before_collections = set(bpy.data.collections)
    before_images = set(bpy.data.images)
    try:
        for path in models:
            _run_importer(kind_of(path), path, options)
    except ImportFailed:
        for obj in [o for o in bpy.data.objects if o not in before_objects]:  # no half-imported leftovers
            bpy.data.objects.remove(obj)
        raise
    new = [o for o in bpy.data.objects if o not in before_objects]
    if not new:
        raise ImportFailed(f"{', '.join(p.name for p in models)} contained nothing to import.")
    new_set = set(new)

    scene = context.scene
    name = scene_names.result_name(title, provenance.get("tripo_task_type") or "")
    if options.collection_per_task:
        coll = bpy.data.collections.new(scene_names.unique_collection_name(name))
        scene.collection.children.link(coll)
        for obj in new:
            for c in list(obj.users_collection):
                c.objects.unlink(obj)
            coll.objects.link(obj)
        tag([coll], provenance)
        result.collection_name = coll.name
    _remove_empty_collections(before_collections)
    _tidy_images(before_images)
    tag(new, provenance)

    roots = [o for o in new if o.parent not in new_set]
    scene_names.name_objects(scene_layout.main_object(roots, new), new, name)
    scene_layout.use_euler(new)
    scene_layout.place(context, roots, new, options)
    for name in options.hide:
        src = bpy.data.objects.get(name)
        if src is not None and src not in new_set:
            if src.name in context.view_layer.objects:
                src.hide_set(True)
            src.hide_render = True

    for obj in context.view_layer.objects:
        if obj.select_get():
            obj.select_set(False)
    for obj in new:
        if obj.name in context.view_layer.objects:
            obj.select_set(True)
    main = scene_layout.main_object(roots, new)
    if main is not None and main.name in context.view_layer.objects:
        context.view_layer.objects.active = main
    result.objects = new
    if undo:
        push_undo(f"Import Tripo result: {title}")
    return result


def place_result(context, objects, options: ImportOptions | None = None) -> None:
    """Place objects made by an importer of its own (depth plane, splat) like every other result: at the 3D cursor,
    or beside the results already there; Euler rotation."""
    options = options or ImportOptions()
    objects = [o for o in objects if o is not None]
    if not objects:
        return
    scene_layout.use_euler(objects)
    new_set = set(objects)
    roots = [o for o in objects if o.parent not in new_set]
    if options.location is None and options.place_at_cursor:
        scene_layout.place(context, roots, objects, ImportOptions(place_at_cursor=True, turn=0.0))


def _remove_empty_collections(before) -> None:
    """Importers may leave collections of their own behind (e.g. glTF's bone shapes): drop the empty ones."""
    removed = True
    while removed:  # nested empty helpers: children first
        removed = False
        for c in list(bpy.data.collections):
            if c not in before and not c.objects and not c.children and not c.get("tripo_task_id"):
                bpy.data.collections.remove(c)
                removed = True


def _tidy_images(before) -> None:
    """An importer may pack a texture yet name a file that never existed (FBX: a ``.fbm`` folder named after a
    temporary download): a packed image keeps no path then (as glTF's do), so no saved file points nowhere."""
    for img in bpy.data.images:
        if img in before or img.packed_file is None or not img.filepath_raw:
            continue
        if not os.path.isfile(bpy.path.abspath(img.filepath_raw)):
            img.filepath_raw = ""


def push_undo(message: str) -> None:
    """One undo step for the changes so far (operators called from Python push none themselves)."""
    try:
        bpy.ops.ed.undo_push(message=message[:60])
    except RuntimeError:  # no undo stack (e.g. while Blender is starting)
        pass


def result_present(task_id: str) -> bool:
    """True while anything imported from the task (an object in a scene, or an image) is in the file: an undo can
    take an import away without the add-on being told (see job_import.check_undone)."""
    if not task_id:
        return True
    for obj in bpy.data.objects:
        if obj.get("tripo_task_id") == task_id and obj.users_scene:
            return True
    return any(img.get("tripo_task_id") == task_id for img in bpy.data.images)


def load_image(path: str | os.PathLike, name: str = "", provenance: dict | None = None):
    """Load an image result into bpy.data.images (main thread)."""
    img = bpy.data.images.load(str(path), check_existing=True)
    if name:
        img.name = " ".join(str(name).split())[:60]
    tag([img], provenance or {})
    return img


def relative_paths(blend_path: str | None = None) -> int:
    """Make the file paths of Tripo's images (views, depth, renders) relative to the .blend file, when Blender's
    preference says so (Preferences > File Paths > Relative Paths) and the file has been saved. Returns how many
    changed. Blender then moves them with the file; an unsaved file's paths are made relative by its first save."""
    blend = blend_path if blend_path is not None else bpy.data.filepath
    if not blend or not bpy.context.preferences.filepaths.use_relative_paths:
        return 0
    start = os.path.dirname(blend)
    changed = 0
    for img in bpy.data.images:
        raw = img.filepath_raw
        if not raw or raw.startswith("//") or img.packed_file is not None or not img.get("tripo_task_id"):
            continue
        try:
            rel = bpy.path.relpath(raw, start=start)
        except ValueError:  # another drive (Windows): stays absolute
            continue
        if rel.startswith("//") and rel != raw:
            img.filepath_raw = rel
            changed += 1
    return changed


@persistent
def _on_save_pre(*_args):
    try:
        relative_paths()  # relative to the file as it is now: Blender's save remaps them if the folder changes
    except Exception:  # noqa: BLE001 - saving must never fail because of this
        pass


def install() -> None:
    if _on_save_pre not in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.append(_on_save_pre)


def uninstall() -> None:
    while _on_save_pre in bpy.app.handlers.save_pre:
        bpy.app.handlers.save_pre.remove(_on_save_pre)

