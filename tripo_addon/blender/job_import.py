"""Importing a finished job into the scene (:func:`import_job`: auto-import from ``drain()`` and the Import button),
with provenance on the objects, non-file outputs on the source objects, and undo watching (:func:`check_undone`)."""

from __future__ import annotations

import logging

import bpy
from bpy.app.handlers import persistent

from . import catalog, game_io, runtime, scene_export, scene_io, settings
from .tasklist import UNDONE_TEXT, last_step, mirror, offer_import, tag_redraw, task_state, undone

log = logging.getLogger(__name__)

_in_scene: dict[str, str] = {}  # job id -> task id of results imported in this session (undo can remove them)
_taken: dict[str, str] = {}  # job id -> task id of results an undo took away (a redo can bring them back)


def _provenance(snap: dict) -> dict:
    last = last_step(snap)
    task_type = last.get("task_type") or ""
    meta = snap.get("meta") or {}
    version = ""
    for step in snap.get("steps") or []:  # the generation that made the geometry decides the chain rules
        if step.get("task_type") in ("text_to_model", "image_to_model", "multiview_to_model"):
            version = (step.get("params") or {}).get("model_version") or catalog.default_model_version(
                step["task_type"]) or ""
    version = version or meta.get("model_version") or ""
    prompt = next((p["prompt"] for p in ((st.get("params") or {}) for st in snap.get("steps") or [])
                   if isinstance(p.get("prompt"), str) and p["prompt"].strip()), "")
    return {"tripo_task_id": last.get("task_id") or "", "tripo_task_type": task_type,
            "tripo_model_version": version, "tripo_prompt": prompt[:1024]}  # (ui: the full prompt, issue 18)


def import_job(job_id: str, context=None, *, force: bool = False) -> scene_io.ImportResult | None:
    """Import a finished job's result into the scene (main thread). Marks it imported; returns what landed."""
    context = context or bpy.context
    eng = runtime.engine(create=False)
    if eng is None:
        return None
    snap = eng.get(job_id)
    if snap.get("state") != "succeeded" or (snap.get("imported") and not force):
        return None
    meta = snap.get("meta") or {}
    if not force and not runtime.import_here(meta.get("scene")):
        offer_import(task_state(context), job_id)  # another file is open now: the row offers Import instead
        return None
    prov = _provenance(snap)
    files = snap.get("result_files") or []
    p = settings.prefs(context)
    options = scene_io.ImportOptions.from_prefs(p)
    same_file = _sources_here(meta)
    if same_file and meta.get("location") is not None:  # the source's place means nothing in another file
        options.location = tuple(meta["location"])
    steps = snap.get("steps") or []
    if steps and steps[0].get("task_type") == "import_model":
        options.turn = 0.0  # the user's own mesh comes back as it was sent
    if same_file and (p is None or p.hide_source):
        options.hide = list(meta.get("source_objects") or [])
    result = scene_io.ImportResult()
    special = game_io.import_special(context, snap, prov, options) if files else None  # clips, LODs
    if special is not None:
        result = special
    elif files:
        from .importers import import_result  # v3 results with their own importer (views, depth, splat, UV)

        result = import_result(context, snap, files, title=snap.get("title") or job_id, provenance=prov,
                               options=options)
    if result.objects:
        from . import assets  # issue 19: the result's lineage, and its copy in the Tripo asset library

        assets.after_import(snap, result)
    if same_file:
        _apply_outputs(snap, meta)
    undone.discard(job_id)
    _taken.pop(job_id, None)
    if result.objects or result.images:
        _in_scene[job_id] = prov["tripo_task_id"]  # watched: an undo may take it away again
    eng.mark_imported(job_id)
    state = task_state(context)
    if state is not None:
        item = mirror(eng.get(job_id), context)
        if item is not None:
            item.saved_path = "\n".join(result.saved)
            missing = _missing_clips(result)
            if missing:
                item.notice = (f"No motion in the clip file of {', '.join(missing)}: imported without it; every "
                               "other clip keeps its own name")
    scene_export.sweep_exports()  # exports of jobs refused, cancelled or removed meanwhile (background, bounded)
    return result


def _missing_clips(result: scene_io.ImportResult) -> list[str]:
    for obj in result.objects:
        try:
            missing = obj.get("tripo_clips_missing") if obj.type == 'ARMATURE' else None
        except ReferenceError:
            continue
        if missing:
            return [str(m) for m in missing]
    return []


def check_undone(context=None) -> list[str]:
    """After an undo (or redo): results whose objects are gone are no longer "imported"; their rows offer Import
    again. An import pushed from a timer has its own undo step, which Ctrl+Z, and "Adjust Last Operation" on the
    user's previous operator, can take away. A redo that brings such a result back makes it "imported" again (the
    row no longer says "Removed by undo", and Import would only duplicate it). Returns the job ids found gone."""
    eng = runtime.engine(create=False)
    if eng is None or not (_in_scene or _taken):
        return []
    gone = [j for j, task_id in _in_scene.items() if not scene_io.result_present(task_id)]
    back = [j for j, task_id in _taken.items() if j not in gone and scene_io.result_present(task_id)]
    state = task_state(context)
    for job_id in gone:
        _taken[job_id] = _in_scene.pop(job_id)
        undone.add(job_id)
        try:
            eng.mark_imported(job_id, False)
            item = mirror(eng.get(job_id), context)
        except KeyError:  # removed from the list meanwhile
            _taken.pop(job_id, None)
            continue
        if item is not None and state is not None:
            item.notice = UNDONE_TEXT
    for job_id in back:
        _in_scene[job_id] = _taken.pop(job_id)
        undone.discard(job_id)
        try:
            eng.mark_imported(job_id)
            item = mirror(eng.get(job_id), context)
        except KeyError:
            _in_scene.pop(job_id, None)
            continue
        if item is not None and item.notice == UNDONE_TEXT:
            item.notice = ""
    if gone or back:
        tag_redraw(context)
    return gone


@persistent
def on_undo(*_args):
    try:
        check_undone()
    except Exception:
        log.exception("Tripo: checking results after undo failed")


def _sources_here(meta: dict) -> bool:
    """True when the job's source objects (stored by name) belong to the open .blend file: after another file was
    opened, a late result must not hide or tag an unrelated object that happens to have the same name."""
    return runtime.same_scene(meta.get("scene"))


def _apply_outputs(snap: dict, meta: dict) -> None:
    """Non-file outputs (prerigcheck: riggable, rig_type) go onto the source objects as custom properties."""
    for step in snap.get("steps") or []:
        out = step.get("output") or {}
        if step.get("task_type") == "animate_prerigcheck" and out:
            for name in meta.get("source_objects") or []:
                obj = bpy.data.objects.get(name)
                if obj is None:
                    continue
                if "riggable" in out:
                    obj["tripo_riggable"] = bool(out["riggable"])
                if out.get("rig_type"):
                    obj["tripo_rig_type"] = str(out["rig_type"])


def should_autoimport(job_id: str, context) -> bool:
    p = settings.prefs(context)
    return runtime.is_live(job_id) and (p is None or p.auto_import)


def forget() -> None:
    """Another file was loaded (or the add-on unregistered): its undo history has nothing to do with earlier
    imports."""
    _in_scene.clear()
    _taken.clear()
    undone.clear()
