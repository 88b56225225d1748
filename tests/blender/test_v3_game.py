"""Issue 12, game-ready with v3 (items 4, 5, 7, 8): rigs and clips for engines, the LOD chain, cost before and after,
segmentation v2.0 and texture v3.5, from the operators (as a script with ``wait=True``) against the emulator's v3.

Every test looks at what a user gets: objects, actions and NLA tracks, collection and object names, the FBX on disk,
the cost shown, the requests Tripo received.
"""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import get_prefs, new_objects


@pytest.fixture
def v3(connected):
    """The add-on speaking v3 to the emulator (its root)."""
    connected.prefs.api_base_url = connected.emulator.v3_base_url
    connected.ext = None
    yield connected


def creates(emulator, key: str, path: str) -> list[dict]:
    return [r for r in emulator.requests(method="POST", key=key) if r["path"].rstrip("/").endswith(path)]


def _model(prompt: str = "a knight character standing") -> bpy.types.Object:
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt=prompt, wait=True) == {'FINISHED'}
    objs = new_objects(before)
    meshes = [o for o in objs if o.type == 'MESH']
    assert meshes
    bpy.context.view_layer.objects.active = meshes[0]
    return meshes[0]


# ==================================================================================================== 4. rigs and clips
def test_rig_for_unreal_with_v3_and_the_rig_checks_type(ext, v3):
    _model()
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.animate_rig(model_version="v3.0-20260909", spec="unreal", wait=True) == {'FINISHED'}
    arms = [o for o in new_objects(before) if o.type == 'ARMATURE']
    assert len(arms) == 1 and arms[0]["tripo_task_type"] == "animate_rig"
    check = creates(v3.emulator, v3.api_key, "/animations/rig-check")
    rig = creates(v3.emulator, v3.api_key, "/animations/rig")[-1]["body"]
    assert len(check) == 1  # the rig type came from Tripo's rig check
    assert rig["model"] == "v3.0-20260909" and rig["spec"] == "unreal" and rig.get("rig_type", "biped") == "biped"


def test_engine_skeleton_with_rig_v1_is_refused_before_sending(ext, v3):
    _model()
    n = len(v3.emulator.requests(method="POST", key=v3.api_key))
    with pytest.raises(RuntimeError, match="unity skeleton needs rig model v2.5 or v3.0"):
        bpy.ops.tripo.animate_rig(model_version="v1.0-20240301", spec="unity", wait=True)
    assert len(v3.emulator.requests(method="POST", key=v3.api_key)) == n


def test_three_clips_become_one_armature_with_an_action_per_preset(ext, v3):
    _model()
    assert bpy.ops.tripo.animate_rig(wait=True) == {'FINISHED'}
    rigged = bpy.context.active_object
    assert rigged.type == 'ARMATURE'
    before = set(bpy.data.objects)
    actions_before = set(bpy.data.actions)
    assert bpy.ops.tripo.animate_retarget(animations={"preset:walk", "preset:run", "preset:jump"},
                                          animate_in_place=True, wait=True) == {'FINISHED'}
    objs = new_objects(before)
    arms = [o for o in objs if o.type == 'ARMATURE']
    assert len(arms) == 1, [o.name for o in objs]  # ONE armature, however many clips
    arm = arms[0]
    tracks = [t.name for t in arm.animation_data.nla_tracks]
    names = sorted(a.name for a in bpy.data.actions if a not in actions_before)
    assert names == ["jump", "run", "walk"]
    assert sorted(tracks) == ["jump", "run", "walk"]
    assert all(len(t.strips) == 1 and t.strips[0].action.name == t.name for t in arm.animation_data.nla_tracks)
    assert [t.mute for t in arm.animation_data.nla_tracks].count(False) == 1
    assert all(getattr(t.strips[0], "action_slot", True) for t in arm.animation_data.nla_tracks)  # 4.4+: it plays
    body = creates(v3.emulator, v3.api_key, "/animations/retarget")[-1]["body"]
    assert sorted(body["animations"]) == ["preset:jump", "preset:run", "preset:walk"]  # the rig is v2.5 (sent)
    assert body["animate_in_place"] is True
    meshes = [o for o in objs if o.type == 'MESH']
    assert len(meshes) == 1  # the other clip files' copies of the mesh are not left behind


# ==================================================================================================== 5. LOD chain
def test_lod_chain_one_collection_engine_names_and_one_fbx(ext, v3, tmp_path):
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=5, radius=1.0)  # the user's own mesh: imported first
    src = bpy.context.active_object
    src.name = "Crate.001"
    faces = sum(len(p.vertices) - 2 for p in src.data.polygons)
    fbx = tmp_path / "crate_lods.fbx"
    assert bpy.ops.tripo.make_lods(face_limits="4000, 2000, 1000", smart_uv=True, export_fbx=True,
                                   fbx_path=str(fbx), wait=True) == {'FINISHED'}
    base = ext.operators.lod.base_name(src.name)
    assert base == "Crate"
    coll = bpy.data.collections[f"{base}_LODs"]
    names = sorted(o.name for o in coll.objects)
    assert names == [f"{base}_LOD0", f"{base}_LOD1", f"{base}_LOD2"]
    tris = [sum(len(p.vertices) - 2 for p in bpy.data.objects[n].data.polygons) for n in names]
    assert tris[0] > tris[1] > tris[2] and tris[0] <= 4000 < faces
    assert all(bpy.data.objects[n].data.uv_layers for n in names)
    assert not bpy.data.objects[f"{base}_LOD0"].hide_get() and bpy.data.objects[f"{base}_LOD1"].hide_get()
    bodies = [r["body"] for r in creates(v3.emulator, v3.api_key, "/mesh/decimate")]
    assert [b["face_limit"] for b in bodies] == [4000, 2000, 1000]
    assert all(b["model"] == "v3.0" and b["smart_uv"] is True for b in bodies)
    # one FBX with the three levels, as Unity/Unreal read it
    assert fbx.exists()
    before = set(bpy.data.objects)
    bpy.ops.import_scene.fbx(filepath=str(fbx))
    assert sorted(o.name.split(".")[0] for o in new_objects(before) if o.type == 'MESH') == names


def test_lod_defaults_follow_the_source_faces(ext):
    lim = ext.pipelines.lod_limits
    assert lim(60_000) == [20_000, 15_000, 6_000]          # clamped to 20,000; repeats dropped
    assert lim(8_000) == [8_000, 4_000, 2_000, 800]
    assert lim(900) == [900, 500]


def test_text_to_low_poly_pipeline_with_lods(ext, v3):
    assert bpy.ops.tripo.run_pipeline(pipeline='LOW_POLY_ASSET', prompt="a wooden barrel", face_limit=4000,
                                      quad=False, lods=3, wait=True) == {'FINISHED'}
    coll = next(c for c in bpy.data.collections if c.name.endswith("_LODs"))
    assert sorted(o.name for o in coll.objects) == ["a_wooden_barrel_LOD0", "a_wooden_barrel_LOD1",
                                                    "a_wooden_barrel_LOD2"]
    assert [r["body"]["face_limit"] for r in creates(v3.emulator, v3.api_key, "/mesh/decimate")] == [4000, 2000,
                                                                                                     1000]
    assert not creates(v3.emulator, v3.api_key, "/models/convert")


# ==================================================================================================== 6. history
def _history(ext):
    return bpy.context.window_manager.tripo_history


def test_history_lists_the_accounts_tasks_and_imports_one(ext, v3):
    # a task made elsewhere with the same key (the web app, another machine): straight through the API
    from tripo_addon.api.client import TripoClient

    with TripoClient(api_key=v3.api_key, base_url=v3.emulator.v3_base_url) as c:
        tid = c.create_task("text_to_model", ext.tasks.build_request("text_to_model", {"prompt": "a red chair"},
                                                                      api="v3"))
        c.wait(tid, timeout=30)
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    st = _history(ext)
    assert [(r.task_id, r.task_type, r.status) for r in st.rows] == [(tid, "text_to_model", "success")]
    assert st.rows[0].credits > 0 and st.rows[0].created > 0
    assert v3.emulator.requests(route="usage", key=v3.api_key)
    before = set(bpy.data.objects)
    n_creates = len(v3.emulator.requests(route="create", key=v3.api_key))
    assert bpy.ops.tripo.history_import(task_id=tid, wait=True) == {'FINISHED'}
    objs = new_objects(before)
    assert objs and all(o["tripo_task_id"] == tid for o in objs)
    assert len(v3.emulator.requests(route="create", key=v3.api_key)) == n_creates  # nothing sent again


def test_lost_create_is_found_in_the_history_and_attached_by_itself(ext, v3):
    v3.emulator.inject(route="create", kind="status", status=503, after=True, count=1, match={"key": v3.api_key})
    with pytest.raises(RuntimeError, match="answer was lost"):
        bpy.ops.tripo.text_to_model(prompt="a stone lantern", wait=True)
    eng = ext.runtime.engine()
    job = eng.jobs()[-1]
    assert job["state"] == "needs_attention"
    # the add-on looks in the history by itself, soon after (a timer; timers do not run in the bpy module)
    history = ext.operators.history
    assert job["id"] in history._looked and bpy.app.timers.is_registered(history._look)
    bpy.app.timers.unregister(history._look)
    history._look()
    ext.runtime.background.join(30)
    ext.drain.drain(budget=None)
    assert "attached" in _history(ext).text
    snap = eng.wait(job["id"], 30)
    assert snap["state"] == "succeeded" and "attached by itself" in snap["notice"]
    from blender_helpers import drain_until

    drain_until(ext, lambda: eng.get(job["id"])["imported"])
    assert [o for o in bpy.data.objects if o.get("tripo_task_id") == snap["task_ids"][0]]
    assert len(v3.emulator.requests(route="create", key=v3.api_key)) == 1  # never a resubmission


def test_two_lost_creates_list_candidates_and_attach_nothing(ext, v3):
    v3.emulator.inject(route="create", kind="status", status=503, after=True, count=2, match={"key": v3.api_key})
    for prompt in ("a stone lantern", "a stone lantern"):  # the same input twice: which task is whose is unsure
        with pytest.raises(RuntimeError):
            bpy.ops.tripo.text_to_model(prompt=prompt, wait=True)
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    st = _history(ext)
    assert len(st.attention) == 2
    assert all(len(a.candidates.split(",")) == 2 for a in st.attention)
    eng = ext.runtime.engine()
    assert [j["state"] for j in eng.jobs()] == ["needs_attention", "needs_attention"]
    # the user picks one: attached to that job, no new task
    job_id, pick = st.attention[0].job_id, st.attention[0].candidates.split(",")[0]
    assert bpy.ops.tripo.history_import(task_id=pick, job_id=job_id, wait=True) == {'FINISHED'}
    assert eng.get(job_id)["state"] == "succeeded" and eng.get(job_id)["task_ids"] == [pick]
    assert len(st.attention) == 1 and st.attention[0].job_id != job_id
    assert len(v3.emulator.requests(route="create", key=v3.api_key)) == 2


def test_a_lost_create_retried_is_offered_as_its_own_job_by_refresh_history(ext, v3):
    """Retry after a lost answer sends again; the first request's task is still Tripo's (paid): Refresh History
    lists it "(before Retry)", and attaching it makes a job of its own, never the retried one."""
    v3.emulator.inject(route="create", kind="status", status=503, after=True, count=1, match={"key": v3.api_key})
    with pytest.raises(RuntimeError, match="answer was lost"):
        bpy.ops.tripo.text_to_model(prompt="a stone lantern", wait=True)
    history = ext.operators.history
    if bpy.app.timers.is_registered(history._look):
        bpy.app.timers.unregister(history._look)  # the user retries before the automatic look
    eng = ext.runtime.engine()
    job_id = eng.jobs()[-1]["id"]
    first = [r for r in v3.emulator.requests(route="create", key=v3.api_key)]
    assert len(first) == 1
    assert bpy.ops.tripo.retry_job(job_id=job_id) == {'FINISHED'}
    snap = eng.wait(job_id, 30)
    assert snap["state"] == "succeeded"
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    st = _history(ext)
    earlier = [a for a in st.attention if a.title.endswith("(before Retry)")]
    assert len(earlier) == 1 and earlier[0].job_id == ""  # not offered into the job that moved on
    pick = earlier[0].candidates.split(",")[0]
    assert pick and pick not in snap["task_ids"]
    n_creates = len(v3.emulator.requests(route="create", key=v3.api_key))
    assert bpy.ops.tripo.history_import(task_id=pick, wait=True) == {'FINISHED'}
    owners = [j for j in eng.jobs() if pick in (j.get("task_ids") or [])]
    assert len(owners) == 1 and owners[0]["id"] != job_id and owners[0]["state"] == "succeeded"
    assert eng.get(job_id)["task_ids"] == snap["task_ids"]  # the retried job keeps its own task
    assert len(v3.emulator.requests(route="create", key=v3.api_key)) == n_creates  # nothing sent again


# ==================================================================================================== 7. cost
def test_pipeline_cost_is_shown_step_by_step_before_it_runs(ext):
    from importlib import import_module

    cost_ui = import_module(ext.runtime.__name__.rsplit(".", 1)[0] + ".cost_ui")
    job = ext.pipelines.image_to_animated("/tmp/cat.png", animation=["preset:walk", "preset:run"], format="FBX")
    lines = cost_ui.lines(cost_ui.costs_of(job), job)
    assert lines[0].startswith("1. Image to Model: ") and lines[1] == "2. Check Riggable: 0"
    assert lines[3] == "4. Animate: \u224820"  # 10 per clip; "≈": not from the published table (R3)
    per_step = [float(x.rsplit(": ", 1)[1].lstrip("\u2248")) for x in lines[:-1]]
    assert lines[-1] == f"Estimated cost: \u2248{sum(per_step):g} credits"
    cost = import_module(ext.pipelines.__name__.rsplit(".", 1)[0] + ".cost")
    assert cost.text(12.5) == "12.5" and cost.text(0.25) == "0.25" and cost.text(1200.0) == "1,200"


def test_threshold_asks_before_spending_and_confirm_cost_sends(ext, v3):
    get_prefs().confirm_above = 15.0
    try:
        with pytest.raises(RuntimeError, match="above your confirmation threshold of 15"):
            bpy.ops.tripo.text_to_model(prompt="a brass key", wait=True)
        assert not v3.emulator.requests(route="create", key=v3.api_key)  # nothing was sent
        assert bpy.ops.tripo.text_to_model(prompt="a brass key", confirm_cost=True, wait=True) == {'FINISHED'}
    finally:
        get_prefs().confirm_above = 0.0


def test_credits_used_per_step_after_the_job(ext, v3):
    from importlib import import_module

    cost_ui = import_module(ext.runtime.__name__.rsplit(".", 1)[0] + ".cost_ui")
    start = v3.emulator.balance(v3.api_key)["balance"]
    assert bpy.ops.tripo.run_pipeline(pipeline='LOW_POLY_ASSET', prompt="a tin can", face_limit=2000, quad=False,
                                      lods=2, wait=True) == {'FINISHED'}
    job = ext.runtime.engine().jobs()[-1]
    lines = cost_ui.step_lines(job["id"])
    assert len(lines) == 4 and all(", used " in x for x in lines[:3])
    spent = start - v3.emulator.balance(v3.api_key)["balance"]
    assert lines[-1] == f"Used in all: {spent:g} credits"


# ==================================================================================================== 8. versions
def test_segmentation_v2_options_reach_tripo(ext, v3):
    _model("a chair with four legs")
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.mesh_segmentation(model_version="v2.0-20260430", segmentation_granularity="detailed",
                                           split_by_connectivity=True, wait=True) == {'FINISHED'}
    assert any(o["tripo_task_type"] == "mesh_segmentation" for o in new_objects(before))
    body = creates(v3.emulator, v3.api_key, "/mesh/segment")[-1]["body"]
    assert body["model"] == "v2.0-20260430" and body["segmentation_granularity"] == "detailed"
    assert body["split_by_connectivity"] is True


def test_segmentation_v1_refuses_v2_options_before_sending(ext, v3):
    _model("a chair with four legs")
    with pytest.raises(RuntimeError, match="needs segmentation model v2.0-20260430"):
        bpy.ops.tripo.mesh_segmentation(model_version="v1.0-20250506", segmentation_granularity="simple",
                                        wait=True)
    assert not creates(v3.emulator, v3.api_key, "/mesh/segment")


def test_texture_v35_with_delight(ext, v3):
    _model("a chair with four legs")
    assert bpy.ops.tripo.texture_model(model_version="v3.5-20260815", delight=False, wait=True) == {'FINISHED'}
    body = creates(v3.emulator, v3.api_key, "/models/texture")[-1]["body"]
    assert body["model"] == "v3.5-20260815" and body["delight"] is False


def test_dialogs_offer_options_only_where_the_version_takes_them(ext):
    shown = ext.operators.postprocess.option_shown
    assert not shown("mesh_segmentation", "segmentation_granularity", {})          # default v1.0
    assert shown("mesh_segmentation", "segmentation_granularity", {"model_version": "v2.0-20260430"})
    assert not shown("texture_model", "delight", {"model_version": "v3.0-20250812"})
    assert shown("texture_model", "delight", {"model_version": "v3.5-20260815"})
    assert not shown("highpoly_to_lowpoly", "smart_uv", {}) and shown("highpoly_to_lowpoly", "smart_uv",
                                                                      {"model_version": "v3.0"})
    assert shown("texture_model", "texture_quality", {})


# ==================================================================================================== what is drawn
def test_dialogs_show_version_options_and_the_confirmation(ext, v3):
    from recorder import draw_operator

    _model("a chair with four legs")
    seg = bpy.types.TRIPO_OT_mesh_segmentation
    assert "segmentation_granularity" not in draw_operator(seg).props()
    props = draw_operator(seg, model_version="v2.0-20260430").props()
    assert "segmentation_granularity" in props and "split_by_connectivity" in props
    tex = bpy.types.TRIPO_OT_texture_model
    assert "delight" not in draw_operator(tex).props()
    assert "delight" in draw_operator(tex, model_version="v3.5-20260815").props()
    gen = bpy.types.TRIPO_OT_text_to_model
    assert "delight" not in draw_operator(gen).props()
    assert "delight" in draw_operator(gen, texture_version="v3.5-20260815").props()
    rec = draw_operator(bpy.types.TRIPO_OT_animate_retarget)
    panel = next(i for i, c in enumerate(rec.calls) if c[0] == "panel")  # "More Options" starts here
    main = [c[1][1] for c in rec.calls[:panel] if c[0] == "prop"]
    assert {"animations", "animate_in_place", "export_with_geometry"} <= set(main)
    get_prefs().confirm_above = 5.0
    try:
        rec = draw_operator(bpy.types.TRIPO_OT_text_to_model, prompt="a chair")
        assert "confirm_cost" in rec.props() and "Above your threshold (5 credits)" in rec.text()
        from recorder import draw

        bpy.context.scene.tripo.prompt = "a chair"
        rec = draw(bpy.types.TRIPO_PT_generate)  # the Generate button opens the dialog instead of sending
        assert ("set", "operator_context", 'INVOKE_DEFAULT') in rec.calls and "asks first" in rec.text()
    finally:
        get_prefs().confirm_above = 0.0


def test_panels_show_history_lost_tasks_and_credits_per_step(ext, v3):
    from recorder import draw

    v3.emulator.inject(route="create", kind="status", status=503, after=True, count=2, match={"key": v3.api_key})
    for prompt in ("a stone lantern", "a stone lantern"):  # the same input twice: which task is whose is unsure
        with pytest.raises(RuntimeError):
            bpy.ops.tripo.text_to_model(prompt=prompt, wait=True)
    assert bpy.ops.tripo.refresh_history(wait=True) == {'FINISHED'}
    rec = draw(bpy.types.TRIPO_PT_history)
    assert "Tasks 1-2" in rec.text() and any("may exist" in t for t in rec.labels())
    assert len(rec.op_values("tripo.history_import")) == 4  # Attach: 2 candidates x 2 jobs (neither finished yet)
    from recorder import Recorder

    st, row = _history(ext), Recorder()
    bpy.types.TRIPO_UL_history.draw_item(None, bpy.context, row, st, st.rows[0], 0, st, "active")
    assert "Text to Model" in row.text() and row.text().count(":") >= 1  # type, then the time
    assert bpy.ops.tripo.run_pipeline(pipeline='LOW_POLY_ASSET', prompt="a tin can", face_limit=2000, quad=False,
                                      lods=2, wait=True) == {'FINISHED'}
    state = bpy.context.window_manager.tripo
    state.active_task = len(state.tasks) - 1
    text = draw(bpy.types.TRIPO_PT_tasks).text()
    assert "1. Text to Model: estimated" in text and ", used " in text and "Used in all: " in text
    bpy.context.view_layer.objects.active = next(o for o in bpy.data.objects if o.name.endswith("_LOD0"))
    export = bpy.types.TRIPO_PT_active_export  # Selected > Export
    assert export.poll(bpy.context)
    rec = draw(export, types=export.types)
    assert "tripo.export_lods" in rec.ops()
    menu = draw(bpy.types.TRIPO_MT_export, types=bpy.types.TRIPO_MT_export.types,
                extra=bpy.types.TRIPO_MT_export.extra).ops()  # F3 finds them through Object > Tripo > Export
    assert {"tripo.make_lods", "tripo.export_lods"} <= set(menu)
    assert "tripo.refresh_history" in draw(bpy.types.TRIPO_MT_main).ops()


def test_engine_skeleton_without_a_version_uses_rig_v25(ext, v3):
    from recorder import draw_operator

    _model()
    rec = draw_operator(bpy.types.TRIPO_OT_animate_rig, spec="unity")
    assert "A unity skeleton needs rig v2.5 or v3.0: v2.5-20260210 is used" in rec.text()
    assert bpy.ops.tripo.animate_rig(spec="unity", wait=True) == {'FINISHED'}
    rig = creates(v3.emulator, v3.api_key, "/animations/rig")[-1]["body"]
    assert rig["spec"] == "unity" and rig["model"] == "v2.5-20260210"
