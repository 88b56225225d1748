"""Panels, the task UIList, the menu and the preferences drawn against a recording layout."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import bpy
import pytest
from blender_helpers import get_prefs
from recorder import Recorder, draw, draw_operator

PANELS = ("TRIPO_PT_generate", "TRIPO_PT_active", "TRIPO_PT_tasks", "TRIPO_PT_account")


@pytest.fixture
def keyed(addon, online, fresh_engine):
    """A key in the preferences and no jobs from earlier tests (the task list shows only this test's rows)."""
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
    assert any(c[0] == "operator" and c[2].get("text", "").endswith(" credits") for c in rec.calls)  # on the button


def test_generate_panel_says_why_unavailable(addon):
    system = bpy.context.preferences.system
    before = system.use_online_access
    system.use_online_access = False
    try:
        rec = draw(bpy.types.TRIPO_PT_generate)
        assert "Online access" in rec.text()
        # the fix is Blender's own preference (System > Network), not the add-on's preferences
        assert "screen.userpref_show" in rec.ops() and rec.op_values("screen.userpref_show") == [{"section": 'SYSTEM'}]
        assert "preferences.addon_show" not in rec.ops()
        # said once: the other panels grey their buttons out instead of repeating it
        for name in ("TRIPO_PT_active", "TRIPO_PT_tasks", "TRIPO_PT_account"):
            assert "Online access" not in draw(getattr(bpy.types, name)).text(), name
    finally:
        system.use_online_access = before


def draw_tree(parent: str, context=None) -> Recorder:
    """Draw a panel and every registered subpanel whose poll() lets it show (as the sidebar does)."""
    ctx = context or bpy.context
    rec = draw(getattr(bpy.types, parent), ctx)
    for cls in _subclasses(bpy.types.Panel):
        if getattr(cls, "bl_parent_id", "") == parent and getattr(bpy.types, cls.__name__, None) is cls:
            if not hasattr(cls, "poll") or cls.poll(ctx):
                sub = draw(cls, ctx, **_class_attrs(cls))
                rec.calls.extend(sub.calls)
    return rec


def _subclasses(base) -> list:
    out = []
    for cls in base.__subclasses__():
        out += [cls, *_subclasses(cls)]
    return out


def _class_attrs(cls) -> dict:
    """What a panel's or menu's draw() reads from its own class (a stand-in ``self`` has no class)."""
    return {k: getattr(cls, k) for k in ("types", "icon", "family", "extra", "modes") if hasattr(cls, k)}


def test_active_panel_states(keyed, user_mesh):
    # the user's own mesh: offer sending it, and what can follow; never Animate for an unrigged mesh
    rec = draw_tree("TRIPO_PT_active")
    ops = rec.ops()
    assert "tripo.import_model" in ops and "tripo.texture_model" in ops and "tripo.animate_rig" in ops
    assert "tripo.animate_retarget" not in ops  # an unrigged mesh: rig it first
    assert "tripo.mesh_completion" not in ops  # needs a segmentation result: never valid on a plain mesh
    assert "tripo.make_lods" not in ops  # a 1-face plane: no LODs worth making
    assert len(ops) == len(set(ops)), ops  # no duplicate buttons
    # a Tripo result: only its valid next steps
    user_mesh["tripo_task_id"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    user_mesh["tripo_task_type"] = "animate_rig"
    user_mesh["tripo_model_version"] = "v2.5-20250123"
    rec = draw_tree("TRIPO_PT_active")
    ops = rec.ops()
    assert "tripo.animate_retarget" in ops and "tripo.convert_model" in ops
    assert "tripo.texture_model" not in ops and "tripo.import_model" not in ops and "tripo.animate_rig" not in ops
    assert "tripo.copy_task_id" in ops and len(ops) == len(set(ops))
    assert "Rig Model \u00b7 v2.5" in rec.text()  # friendly model name
    # grouped by family, each with an icon
    headers = [cls for cls in _subclasses(bpy.types.Panel) if getattr(cls, "bl_parent_id", "") == "TRIPO_PT_active"
               and getattr(bpy.types, cls.__name__, None) is cls]
    assert {c.bl_label for c in headers} >= {"Texture", "Mesh", "Animate", "Export"}
    # nothing active
    bpy.context.view_layer.objects.active = None
    rec = draw_tree("TRIPO_PT_active")
    assert rec.ops() == [] and "Select" in rec.text()


def test_empty_task_list_takes_one_line(keyed):
    rec = draw(bpy.types.TRIPO_PT_tasks)
    assert not any(c[0] == "template_list" for c in rec.calls)
    assert "No Tripo jobs yet" in rec.text()


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


def test_account_panel_one_line(keyed):
    state = bpy.context.window_manager.tripo
    rec = draw(bpy.types.TRIPO_PT_account)
    assert "tripo.refresh_balance" in rec.ops() and "checking" in rec.text()
    assert bpy.app.timers.is_registered(bpy.types.TRIPO_PT_account.draw.__globals__["_ask_balance"]) or \
        bpy.types.TRIPO_PT_account.draw.__globals__["_balance_asked"][0]  # fetched in the background when shown
    state.balance, state.frozen, state.balance_known = 12.25, 0.04, True
    rec = draw(bpy.types.TRIPO_PT_account)
    assert rec.labels() == ["12.25 credits \u00b7 0.04 reserved"]  # Tripo's decimals, one line
    assert not any(c[0] == "label" and c[2].get("icon") == 'FUND' for c in rec.calls)  # no red heart
    state.balance, state.frozen = 1234.0, 0.0
    assert draw(bpy.types.TRIPO_PT_account).labels() == ["1,234 credits"]
    state.balance_known, state.balance_text = False, "Your API key was refused"
    assert "refused" in draw(bpy.types.TRIPO_PT_account).text()


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


def _menu_ops(menu: str, seen=None) -> list[str]:
    """Every operator of a menu and its submenus (F3 lists each once per menu entry)."""
    seen = set() if seen is None else seen
    cls = getattr(bpy.types, menu)
    rec = draw(cls, **_class_attrs(cls))
    ops = rec.ops()
    for call in rec.calls:
        if call[0] == "menu" and call[1][0] not in seen:
            seen.add(call[1][0])
            ops += _menu_ops(call[1][0], seen)
    return ops


def test_menus_reach_every_capability_once(addon, ext):
    from bl_ext.dev.tripo_addon.blender import ui_text  # noqa: PLC0415

    add, obj = _menu_ops("TRIPO_MT_add"), _menu_ops("TRIPO_MT_main")
    everything = add + obj
    assert len(everything) == len(set(everything)), "an operator in two menus is two F3 entries"
    for t in ext.tasks.TASK_TYPES:
        if ext.catalog.retired_reason(t):
            continue
        assert f"tripo.{ui_text.ALIASES.get(t, t)}" in everything, t
        if t in ui_text.ALIASES:
            assert f"tripo.{t}" not in everything
            assert 'INTERNAL' in getattr(bpy.types, f"TRIPO_OT_{t}").bl_options  # not in F3's operator search
    # Add (Shift+A) > Tripo has the generators; Object > Tripo the steps on the object, in family submenus
    assert {"tripo.text_to_model", "tripo.image_to_model", "tripo.multiview_to_model", "tripo.image_to_multiview",
            "tripo.depth_from_image", "tripo.splat_from_image", "tripo.run_pipeline"} <= set(add)
    assert "tripo.texture_model" not in add and "tripo.text_to_model" not in obj
    submenus = [c[1][0] for c in draw(bpy.types.TRIPO_MT_main).calls if c[0] == "menu"]
    assert submenus == ["TRIPO_MT_texture", "TRIPO_MT_mesh", "TRIPO_MT_animate", "TRIPO_MT_export"]
    assert all(c[2].get("icon") for c in draw(bpy.types.TRIPO_MT_main).calls if c[0] == "menu")


def test_operator_labels_one_per_capability(addon):
    """F3 (with Developer Extras, the operator search) lists every operator that is not INTERNAL: no two may do
    the same thing, no two share a label, none repeats "Tripo:" (F3 shows the menu path)."""
    from bl_ext.dev.tripo_addon.blender import ui_text  # noqa: PLC0415

    visible = [cls for name in dir(bpy.types) if name.startswith("TRIPO_OT_")
               for cls in [getattr(bpy.types, name)] if 'INTERNAL' not in cls.bl_options]
    labels = [cls.bl_label for cls in visible]
    assert len(labels) == len(set(labels)), sorted(labels)
    names = {cls.bl_idname.split(".")[1] for cls in visible}
    for hidden, kept in {**ui_text.ALIASES, **ui_text.HIDDEN}.items():
        assert hidden not in names and kept in names, (hidden, kept)
    generated = [cls for cls in visible if getattr(cls, "task_type", "") and cls.bl_idname == f"tripo.{cls.task_type}"]
    assert generated and not any(cls.bl_label.startswith("Tripo:") for cls in generated)


def test_text_wraps_at_word_boundaries(keyed, ext):
    from bl_ext.dev.tripo_addon.blender import panels, ui_text  # noqa: PLC0415

    text = ("Tripo rejected the input under its content policy; change the prompt or the image and try again.")
    for width in (12, 20, 31, 44):
        lines = ui_text.wrap(text, width)
        assert " ".join(lines) == text and all(len(line) <= width for line in lines)
    rec = Recorder()
    panels._wrap(rec, text, width=24)
    assert " ".join(rec.labels()) == text  # nothing cut mid-word
    assert ui_text.chars_for(200, 1.0) < ui_text.chars_for(400, 1.0) < ui_text.chars_for(400, 0.5)
    assert ui_text.friendly_version("v3.1-20260211") == "v3.1" and ui_text.friendly_version("P1-20260311") == "P1"
    items = ext.properties._model_version_items(None, bpy.context)
    assert "v3.1" in [i[1] for i in items] and any("20260211" in i[2] for i in items)
    assert not any("-2026" in i[1] or "-2025" in i[1] for i in items)  # dated ids only in tooltips
    assert ui_text.credits_text(12.25) == "12.25" and ui_text.credits_text(0.04) == "0.04"


@pytest.mark.parametrize("error, button", [
    ("Tripo rejected the input under its content policy; change the prompt or the image and try again.",
     "tripo.edit_prompt"),
    ("Your Tripo account does not have enough credits for this task; top up your balance on the Tripo website.",
     "wm.url_open"),
    ("Tripo did not accept your API key; check that it is copied completely.", "preferences.addon_show"),
    ("Tripo had an unexpected server error; wait a minute and try again.", "tripo.retry_job"),
])
def test_failure_offers_the_action_that_fits(keyed, error, button):
    wm_state = bpy.context.window_manager.tripo
    _task(wm_state, state="failed", final=True, error=error)
    wm_state.active_task = 0
    ops = draw(bpy.types.TRIPO_PT_tasks).ops()
    assert button in ops and "tripo.copy_text" in ops
    if button != "tripo.retry_job":
        assert "tripo.retry_job" not in ops  # never Retry where it cannot help


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


def test_image_to_image_template_dropdown(keyed, ext):
    """Issue 18: the Template dropdown was empty and every redraw raised ValueError (catalog gives 4-tuples)."""
    import importlib

    v3_props = importlib.import_module("bl_ext.dev.tripo_addon.blender.operators.v3_props")
    s = bpy.context.scene.tripo_v3
    items = v3_props._i2i_template_items(s, bpy.context)  # what Blender calls on every redraw (raised before)
    assert len(items) > 1 and items[0][1] == "None" and all(len(i) == 4 for i in items)
    bpy.context.scene.tripo.mode = 'IMAGE_TO_IMAGE'
    rec = draw(bpy.types.TRIPO_PT_image_to_image)
    assert "i2i_template" in rec.props() and "tripo.image_to_image" in rec.ops()
    for value in [i[0] for i in items]:
        s.i2i_template = value
        assert s.i2i_template == value


def test_artist_dialogs_hold_no_developer_fields(keyed, ext, user_mesh):
    user_mesh["tripo_task_id"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    user_mesh["tripo_task_type"] = "text_to_model"
    rec = draw_operator(bpy.types.TRIPO_OT_animate_rig)
    assert "original_model_task_id" not in rec.props()
    assert bpy.ops.tripo.animate_rig.get_rna_type().properties["original_model_task_id"].is_hidden
    s = bpy.context.scene.tripo
    s.prompt, s.face_limit = "a lantern", 8000
    op = SimpleNamespace(properties=SimpleNamespace(is_property_set=lambda _n: False), prompt="",
                         negative_prompt="", image="", model_version="AUTO", model_options="")
    bpy.types.TRIPO_OT_run_pipeline.from_panel(op, bpy.context)
    assert op.prompt == "a lantern" and json.loads(op.model_options) == {"face_limit": 8000}
    rec = _draw_pipeline_dialog()  # nothing typed yet: the cost shows at once
    assert "model_options" not in rec.props() and "Estimated cost" in rec.text(), rec.text()
    assert "prompt" in rec.props()


def _draw_pipeline_dialog(**values) -> Recorder:
    """tripo.run_pipeline's dialog drawn on a stand-in holding the operator's defaults."""
    cls = bpy.types.TRIPO_OT_run_pipeline
    methods = {k: v for k, v in vars(cls).items() if callable(v) and not k.startswith("__")}
    fake = type("FakePipeline", (), {**methods, "_estimate": False})()
    rna = bpy.ops.tripo.run_pipeline.get_rna_type()
    for prop in rna.properties:
        if prop.identifier == "rna_type":
            continue
        value = prop.default if prop.type != 'ENUM' else (prop.default or next(iter(
            getattr(bpy.ops.tripo.run_pipeline.get_rna_type().properties[prop.identifier], "enum_items", [])), None))
        setattr(fake, prop.identifier, value)
    fake.pipeline, fake.model_version, fake.format, fake.animation = 'TEXT_TO_FINAL', "AUTO", "DEFAULT", "preset:walk"
    for k, v in values.items():
        setattr(fake, k, v)
    fake.layout = Recorder()
    fake.bl_rna = rna
    cls.draw(fake, bpy.context)
    return fake.layout


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


def test_feedback_reports_finished_and_failed_jobs_without_the_tab(keyed, ext):
    """A job that finishes or fails is reported (status bar and Info log, through tripo.report) and shown by the
    status-bar item, whatever the sidebar shows."""
    import importlib

    fb = importlib.import_module("bl_ext.dev.tripo_addon.blender.feedback")
    wm_state = bpy.context.window_manager.tripo
    fb.look()  # the baseline: what is there already is never reported
    ok = _task(wm_state, job_id="jf1", name="a brass lantern", state="running", final=False, running=True,
               progress=40, eta=-1)
    bad = _task(wm_state, job_id="jf2", name="a statue", state="running", final=False, running=True, eta=-1)
    assert fb.look() == []
    text, _level = fb.status_text()
    assert text.startswith("Tripo: 2 jobs running")
    bad.state, bad.final, bad.running = "failed", True, False
    bad.error = "Tripo rejected the input under its content policy; change the prompt or the image and try again."
    text, _level = fb.status_text()
    assert text.startswith("Tripo: a brass lantern 40%")
    ok.state, ok.final, ok.running, ok.imported = "succeeded", True, False, True
    out = fb.look()
    assert [lvl for lvl, _m in out] == ["INFO", "ERROR"]
    assert "a statue\u201d failed: Tripo rejected" in out[1][1] and "a brass lantern\u201d finished" in out[0][1]
    assert fb.reported[-2:] == out
    assert "failed" in fb.status_text()[0]  # the failure stays on screen (a success does not hide it)
    assert fb.look() == []  # once each
    rec = Recorder()
    fb.draw_status(SimpleNamespace(layout=rec), bpy.context)
    assert "a statue" in rec.text() and any(c == ("set", "alert", True) for c in rec.calls)


def test_eta_is_learnt_from_finished_tasks(ext):
    from bl_ext.dev.tripo_addon.blender import ui_text  # noqa: PLC0415

    snaps = [{"steps": [{"task_type": "text_to_model", "state": "succeeded", "submitted_at": 100.0,
                         "finished_at": 140.0}]},
             {"steps": [{"task_type": "text_to_model", "state": "succeeded", "submitted_at": 200.0,
                         "finished_at": 250.0}]}]
    learnt = ui_text.durations(snaps)
    assert learnt == {"text_to_model": [40.0, 50.0]}
    running = {"task_type": "text_to_model", "submitted_at": 1000.0, "progress": 20, "eta": None}
    assert ui_text.eta_seconds(running, learnt, now=1005.0) == 40  # median 45 s minus 5 s run
    assert ui_text.eta_text(40) == "about 40 s left" and ui_text.eta_text(130) == "about 2 min left"
    assert ui_text.eta_seconds({"task_type": "x", "eta": 12}, {}) == 12  # Tripo's own estimate (v2) wins
    assert ui_text.eta_seconds({"task_type": "mesh_uv", "submitted_at": 1.0, "progress": 0}, learnt, now=2.0) is None
