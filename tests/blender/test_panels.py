"""Panels, the task UIList, the menu and the preferences drawn against a recording layout."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import bpy
import pytest
from blender_helpers import get_prefs
from recorder import Recorder, draw, draw_operator

PANELS = ("TRIPO_PT_generate", "TRIPO_PT_active", "TRIPO_PT_tasks", "TRIPO_PT_balance")


@pytest.fixture
def keyed(addon, online):
    p = get_prefs()
    before = p.api_key
    p.api_key = "tsk_panel_test"
    yield p
    p.api_key = before


def _task(wm_state, **values):
    item = wm_state.tasks.add()
    defaults = dict(job_id="j1", name="a red chair", task_type="text_to_model", state="running", status="running",
                    progress=40, eta=75, steps=2, step=1, credits=20.0, task_id="11111111-2222-3333-4444-555555555555")
    for k, v in {**defaults, **values}.items():
        setattr(item, k, v)
    return item


def test_panels_are_in_the_tripo_sidebar(addon):
    for name in PANELS:
        cls = getattr(bpy.types, name)
        assert cls.bl_space_type == 'VIEW_3D' and cls.bl_region_type == 'UI' and cls.bl_category == "Tripo"


@pytest.mark.parametrize("mode", ["TEXT", "IMAGE", "MULTIVIEW", "TEXT_IMAGE"])
def test_generate_panel_every_mode(keyed, mode):
    settings = bpy.context.scene.tripo
    settings.mode = mode
    settings.prompt = "a red chair"
    settings.image = "//chair.png"
    settings.front = "//front.png"
    settings.show_advanced = True
    settings.face_limit = 5000
    settings.texture = False
    rec = draw(bpy.types.TRIPO_PT_generate)
    expected = {"TEXT": "tripo.text_to_model", "IMAGE": "tripo.image_to_model",
                "MULTIVIEW": "tripo.multiview_to_model", "TEXT_IMAGE": "tripo.run_pipeline"}[mode]
    assert expected in rec.ops()
    values = rec.op_values(expected)[0]
    if mode == "TEXT":
        assert values["prompt"] == "a red chair" and values["face_limit"] == 5000 and values["texture"] is False
        assert "pbr" not in values  # unchanged from Tripo's default: left unset
    if mode == "MULTIVIEW":
        assert values["front_image"] == "//front.png" and "left_image" not in values
        if os.environ.get("TRIPO_TEST_API", "v3") == "v2":  # v2 only: Turbo has no multiview (every v3 model has)
            settings.model_version = "Turbo-v1.0-20250506"
            rec2 = draw(bpy.types.TRIPO_PT_generate)
            assert "model_version" not in rec2.op_values(expected)[0]
            assert "Turbo-v1.0-20250506 cannot do" in rec2.text()
    if mode == "TEXT_IMAGE":  # the options shown reach image_to_model (none is silently dropped)
        assert values["pipeline"] == 'TEXT_TO_IMAGE_TO_MODEL'
        assert json.loads(values["model_options"]) == {"face_limit": 5000, "texture": False}
    assert "Estimated cost" in rec.text()


def test_generate_panel_says_why_unavailable(addon):
    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = False
    try:
        rec = draw(bpy.types.TRIPO_PT_generate)
        assert "Online access" in rec.text()
        assert "preferences.addon_show" in rec.ops()
    finally:
        system.use_online_access = before


def test_active_panel_states(keyed, user_mesh):
    # the user's own mesh: offer sending it
    rec = draw(bpy.types.TRIPO_PT_active)
    ops = rec.ops()
    assert "tripo.import_model" in ops
    assert "tripo.animate_retarget" in ops  # the job rigs the mesh first (test_send_back.py)
    assert "tripo.mesh_completion" not in ops  # needs a segmentation result: never valid on a plain mesh
    assert "tripo.mesh_completion" not in ops  # needs a segmentation result
    # a Tripo result: only its valid next steps
    user_mesh["tripo_task_id"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    user_mesh["tripo_task_type"] = "animate_rig"
    user_mesh["tripo_model_version"] = "v2.5-20250123"
    rec = draw(bpy.types.TRIPO_PT_active)
    ops = rec.ops()
    assert "tripo.animate_retarget" in ops and "tripo.convert_model" in ops
    assert "tripo.texture_model" not in ops and "tripo.import_model" not in ops
    assert "tripo.copy_task_id" in ops
    # nothing active
    bpy.context.view_layer.objects.active = None
    rec = draw(bpy.types.TRIPO_PT_active)
    assert rec.ops() == [] and "Select" in rec.text()


@pytest.mark.parametrize("state", ["running", "succeeded", "failed", "needs_attention", "cancelled", "queued"])
def test_tasks_panel_and_list(keyed, state):
    wm_state = bpy.context.window_manager.tripo
    item = _task(wm_state, state=state, final=state in ("succeeded", "failed", "cancelled"),
                 can_import=state == "succeeded", error="Tripo refused the task" if state == "failed" else "",
                 result_files="/tmp/x.glb" if state == "succeeded" else "", queue_position=3)
    wm_state.active_task = 0
    rec = draw(bpy.types.TRIPO_PT_tasks)
    assert any(c[0] == "template_list" for c in rec.calls)
    ops = rec.ops()
    assert "tripo.attach_task" in ops and "tripo.remove_job" in ops and "tripo.copy_task_id" in ops
    if state == "succeeded":
        assert "tripo.import_result" in ops
    if state in ("running", "queued"):
        assert "tripo.cancel_job" in ops
        assert any(c[0] == "progress" for c in rec.calls)
        assert "left" in str(rec.calls) or "queue" in str(rec.calls)
    if state == "failed":
        assert "Tripo refused the task" in rec.text() and "tripo.retry_job" in ops
    # one row of the UIList
    row = Recorder()
    bpy.types.TRIPO_UL_tasks.draw_item(SimpleNamespace(), bpy.context, row, wm_state, item, 0, wm_state,
                                       "active_task", 0)
    assert item.name in row.text()


def test_balance_panel(keyed):
    state = bpy.context.window_manager.tripo
    rec = draw(bpy.types.TRIPO_PT_balance)
    assert "tripo.refresh_balance" in rec.ops() and "not checked" in rec.text()
    state.balance, state.frozen, state.balance_known = 1234.0, 20.0, True
    rec = draw(bpy.types.TRIPO_PT_balance)
    assert "1,234 credits" in rec.text() and "20 reserved" in rec.text()
    state.balance_text = "Your API key was refused"
    assert "refused" in draw(bpy.types.TRIPO_PT_balance).text()


@pytest.mark.parametrize("section", ["ACCOUNT", "IMPORT", "NETWORK"])
def test_preferences_draw(addon, ext, section):
    p = get_prefs()
    p.show_section = section
    rec = Recorder()
    ext.preferences.draw_preferences(p, rec, bpy.context)
    if section == "ACCOUNT":
        assert "api_key" in rec.props() and "tripo.test_connection" in rec.ops()
        state = bpy.context.window_manager.tripo
        state.connection_text, state.connection_ok = "Connection failed: the API key was refused", False
        rec = Recorder()
        ext.preferences.draw_preferences(p, rec, bpy.context)
        assert "refused" in rec.text()
    p.show_section = 'ACCOUNT'


def test_menu_lists_every_task_operator(addon, ext):
    rec = draw(bpy.types.TRIPO_MT_main)
    ops = rec.ops()
    for t in ext.tasks.TASK_TYPES:
        assert f"tripo.{t}" in ops
    assert "tripo.run_pipeline" in ops


def test_task_preview_icon(keyed, ext, tmp_path, monkeypatch):
    """The preview image loads through a preview collection (icon ids are 0 without a GPU: faked here)."""
    img = bpy.data.images.new("preview", 8, 8)
    path = tmp_path / "rendered_image.png"
    img.filepath_raw = str(path)
    img.file_format = 'PNG'
    img.save()
    state = bpy.context.window_manager.tripo
    _task(state, state="succeeded", final=True, can_import=True, preview_path=str(path))
    assert ext.previews.icon_id(str(path)) == 0 or bpy.app.background is False  # loads without error
    assert ext.previews._collection is not None and str(path) in ext.previews._collection
    monkeypatch.setattr(ext.previews, "icon_id", lambda p: 42 if p == str(path) else 0)
    rec = draw(bpy.types.TRIPO_PT_tasks)
    icons = [c for c in rec.calls if c[0] == "template_icon"]
    assert icons and icons[0][2]["icon_value"] == 42


def test_operator_dialogs(keyed, ext, user_mesh):
    """Every task operator's dialog names only its own properties; post steps say what they act on."""
    for cls in ext.operators.TASK_OPERATORS:
        rec = draw_operator(cls)
        props = rec.props()
        assert props, cls.__name__
        assert "wait" not in props  # scripting only
        if cls.task_type in ("texture_model", "convert_model"):
            assert "Sends your mesh" in rec.text()
    rec = draw_operator(bpy.types.TRIPO_OT_text_to_model)
    assert rec.props()[0] == "prompt" and any(c[0] == "panel" for c in rec.calls)
    assert "Estimated cost" in rec.text()
    rec = draw_operator(bpy.types.TRIPO_OT_multiview_to_model)
    assert rec.props()[:4] == ["front_image", "left_image", "back_image", "right_image"]
