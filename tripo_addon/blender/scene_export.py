"""Exporting the selection for sending it back to Tripo (one GLB, modifiers applied), where a replacement goes, and
clearing the exports no job needs any more (:func:`sweep_exports`)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import bpy

from . import runtime, settings
from .scene_io import ImportFailed, ensure_object_mode, slug, world_bounds

log = logging.getLogger(__name__)


def selected_meshes(context) -> list:
    objs = [o for o in context.selected_objects if o.type == 'MESH']
    active = context.active_object
    if not objs and active is not None and active.type == 'MESH':
        objs = [active]
    return objs


def export_selection_glb(context, directory: str | os.PathLike, name: str = "") -> Path:
    """Export the selected meshes (modifiers applied) to one GLB in ``directory``; returns its path."""
    meshes = selected_meshes(context)
    if not meshes:
        raise ImportFailed("No mesh is selected: select one or more meshes to send to Tripo.")
    ensure_object_mode(context)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{slug(name or meshes[0].name)}-{int(time.time() * 1000)}.glb"
    view_objects = context.view_layer.objects
    previous = [o for o in view_objects if o.select_get()]
    active = view_objects.active
    from .importers import glb  # Blender's glTF exporter needs numpy; Debian's Blender has none

    if not glb.gltf_importer_works():
        try:
            glb.export_glb(context, meshes, path)
        except ValueError as exc:
            raise ImportFailed(f"Blender could not export the selection to GLB: {exc}.") from None
        return path
    try:
        for o in previous:
            o.select_set(False)
        for o in meshes:
            o.select_set(True)
        result = bpy.ops.export_scene.gltf(
            filepath=str(path), export_format='GLB', use_selection=True, export_apply=True
        )
    finally:
        for o in view_objects:
            o.select_set(o in previous)
        view_objects.active = active
    if 'FINISHED' not in result or not path.exists():
        raise ImportFailed("Blender could not export the selection to GLB.")
    sweep_exports()  # older exports of refused, cancelled or removed jobs go (in the background)
    return path


def source_location(objects) -> tuple[float, float, float] | None:
    """Bottom centre of the objects' world bounding box (where a replacement goes)."""
    bounds = world_bounds(objects)
    if bounds is None:
        return None
    lo, hi = bounds
    return ((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z)


# ==================================================================================================== clearing exports
#: An export younger than this is kept whatever the job list says: it may belong to a job being built right now.
EXPORT_GRACE = 15 * 60.0
MAX_SCANNED = 2000       # directory entries looked at per sweep
MAX_DELETED = 500        # files deleted per sweep
MAX_JOURNAL_BYTES = 64 << 20
#: Only the meshes exported for sending are swept: a picture saved there may be what a saved file's Generate panel
#: still names (its own settings), which no job list knows.
SWEPT_SUFFIXES = (".glb",)
SWEEP_EVERY = 60.0       # seconds between background sweeps
_sweep_lock = threading.Lock()
_sweeper: threading.Thread | None = None
_last_sweep = -SWEEP_EVERY


def needed_paths(jobs) -> set[str]:
    """Local files some job may still send (resolved): those in the params of a step that has no task yet, of a
    job that has not succeeded (a failed, cancelled or stopped one can be retried). A step whose task exists, and
    every step of a succeeded job, needs its file no more."""
    out: set[str] = set()

    def visit(value) -> None:
        if isinstance(value, str):
            if 0 < len(value) < 4096 and (os.sep in value or "/" in value):
                try:
                    out.add(str(Path(value).resolve()))
                except (OSError, ValueError):
                    pass
        elif isinstance(value, dict):
            for v in value.values():
                visit(v)
        elif isinstance(value, list | tuple):
            for v in value:
                visit(v)

    for job in jobs:
        if not isinstance(job, dict) or job.get("state") == "succeeded":
            continue
        for step in job.get("steps") or []:
            if isinstance(step, dict) and not step.get("task_id") and step.get("state") != "succeeded":
                visit(step.get("params"))
    return out


def _scene_paths() -> list[str]:
    """Paths the open file points at (the Generate panel's picture and views, Blender images): never swept."""
    out: list[str] = []
    for scene in bpy.data.scenes:
        for attr in ("tripo", "tripo_v3"):
            group = getattr(scene, attr, None)
            if group is None:
                continue
            for prop in group.bl_rna.properties:
                if prop.type == 'STRING' and prop.identifier != "name":
                    value = getattr(group, prop.identifier, "")
                    if value:
                        out.append(bpy.path.abspath(value))
    out += [bpy.path.abspath(img.filepath_raw) for img in bpy.data.images if img.filepath_raw]
    return out[:10_000]


def _journal_jobs(state_dir: Path) -> list:
    """The jobs of every job list on disk (this instance's and another running Blender's), read leniently."""
    jobs: list = []
    try:
        files = sorted(state_dir.glob("jobs*.json"))[:32]
    except OSError:
        return jobs
    for path in files:
        try:
            if path.stat().st_size > MAX_JOURNAL_BYTES:
                raise ValueError("too large")
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            raise _Unsure(path) from None  # a list not readable now might need anything: delete nothing
        if isinstance(data, dict) and isinstance(data.get("jobs"), list):
            jobs += data["jobs"]
    return jobs


class _Unsure(Exception):
    pass


def _sweep(directory: Path, state_dir: Path, snaps: list, grace: float) -> list[str]:
    try:
        needed = needed_paths(snaps) | needed_paths(_journal_jobs(state_dir))
    except _Unsure as exc:
        log.info("exports kept: the job list %s could not be read", exc)
        return []
    removed: list[str] = []
    cutoff = time.time() - grace
    try:
        entries = os.scandir(directory)
    except OSError:
        return removed
    with entries:
        for i, entry in enumerate(entries):
            if i >= MAX_SCANNED or len(removed) >= MAX_DELETED:
                break
            try:
                if not entry.name.lower().endswith(SWEPT_SUFFIXES) or not entry.is_file(follow_symlinks=False) \
                        or entry.stat(follow_symlinks=False).st_mtime > cutoff:
                    continue
                path = str(Path(entry.path).resolve())
                if path in needed:
                    continue
                os.unlink(entry.path)
                removed.append(path)
            except OSError:
                log.debug("could not remove export %s", entry.path, exc_info=True)
    if removed:
        log.info("removed %d exported file(s) no job needs any more", len(removed))
    return removed


def sweep_exports(*, grace: float | None = None, wait: bool = False) -> list[str] | None:
    """Delete the exported meshes (GLB, the add-on's ``exports`` folder) that no job may still send: those of
    refused, cancelled-after-sending, succeeded and removed jobs, once older than ``grace`` (:data:`EXPORT_GRACE`).
    The job list is read here (main thread, no I/O); the folder and the job lists on disk (another Blender's too)
    in a background thread, bounded. ``wait``: run it now and return the removed paths (scripts, tests)."""
    global _sweeper, _last_sweep
    if not wait and time.monotonic() - _last_sweep < SWEEP_EVERY:
        return None
    eng = runtime.engine(create=False)
    snaps = eng.jobs() if eng is not None else []
    snaps.append({"state": "", "steps": [{"params": _scene_paths()}]})  # what the open file still points at
    directory, state_dir = settings.exports_dir(), settings.state_dir()
    grace = EXPORT_GRACE if grace is None else max(0.0, float(grace))
    if wait:
        with _sweep_lock:
            return _sweep(directory, state_dir, snaps, grace)
    with _sweep_lock:
        if _sweeper is not None and _sweeper.is_alive():
            return None  # one at a time; the next export or file load sweeps again

        def run() -> None:
            try:
                with _sweep_lock:
                    _sweep(directory, state_dir, snaps, grace)
            except Exception:  # noqa: BLE001 - housekeeping never disturbs the user
                log.debug("sweeping exports failed", exc_info=True)

        _sweeper = threading.Thread(target=run, name="tripo-exports-sweep", daemon=True)
        _last_sweep = time.monotonic()
        _sweeper.start()
    return None


def wait_sweep(timeout: float = 10.0) -> None:
    """Wait for a background sweep to end (unregister, tests)."""
    t = _sweeper
    if t is not None:
        t.join(timeout)
