"""The 16 task operators: generated properties, unset state, poll messages, validation before any credit."""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import get_prefs, posts

SIXTEEN = (
    "text_to_image", "generate_image", "text_to_model", "image_to_model", "multiview_to_model", "refine_model",
    "texture_model", "import_model", "mesh_segmentation", "mesh_completion", "highpoly_to_lowpoly",
    "animate_prerigcheck", "animate_rig", "animate_retarget", "stylize_model", "convert_model",
)
POST = tuple(t for t in SIXTEEN if t not in ("text_to_image", "generate_image", "text_to_model", "image_to_model",
                                             "multiview_to_model", "import_model"))
RETIRED_IN_V3 = ("refine_model", "stylize_model")


def live(ext, types):
    """The task types the current API offers (v3 retired refine and stylize: those say so whatever else holds)."""
    return tuple(t for t in types if not ext.catalog.retired_reason(t))


def rna(task_type):
    return getattr(bpy.ops.tripo, task_type).get_rna_type()


def _prop_name(ext, p):
    return ext.operators.base._prop_name(p.name)


@pytest.mark.parametrize("task_type", SIXTEEN)
def test_operator_exists_with_every_parameter(ext, task_type):
    cls = getattr(bpy.types, f"TRIPO_OT_{task_type}")
    assert cls.bl_idname == f"tripo.{task_type}"
    r = rna(task_type)
    assert r.name and r.description and len(r.description) > 10
    assert 'UNDO' not in cls.bl_options  # submit operators change no scene data
    props = r.properties
    assert "wait" in props and props["wait"].type == 'BOOLEAN'
    tt = ext.tasks.TASK_TYPES[task_type]
    for p in tt.params:
        name = _prop_name(ext, p)
        assert name in props, f"{task_type}: no property for {p.name}"
        prop = props[name]
        assert prop.description
        if p.required:
            continue
        # optional parameters have an unset state, so Tripo's default applies
        if prop.type == 'ENUM' and not prop.is_enum_flag:
            items = _enum_items_now(cls, name)  # the current API's choices, "Auto" (item 0, unset) first
            assert items[0][0] == "AUTO" and items[0][3] == 0, (task_type, p.name)
        elif prop.type == 'STRING':
            assert prop.default == "" or p.default is not None
        elif prop.type == 'COLLECTION':
            pass  # empty collection = unset
        else:
            assert prop.is_skip_save, (task_type, p.name)  # unset unless the caller sets it


def _enum_items_now(cls, prop: str) -> list[tuple]:
    """The items an operator's dynamic enum offers now (the choices follow the API the address speaks)."""
    return list(cls.__annotations__[prop].keywords["items"](None, bpy.context))


def test_enum_choices_come_from_the_api(ext):
    p = ext.catalog.param("text_to_model", "model_version")
    items = [i[0] for i in _enum_items_now(bpy.types.TRIPO_OT_text_to_model, "model_version")]
    assert items[0] == "AUTO" and set(p.choices) <= set(items)


def test_enum_choices_follow_the_api_address(ext, connected):
    """The dropdowns offer the catalogue of the API the address speaks: v2's versions only on a v2 address."""
    p = connected.prefs
    before = p.api_base_url
    try:
        p.api_base_url = connected.emulator.v3_base_url
        v3 = [i[0] for i in _enum_items_now(bpy.types.TRIPO_OT_text_to_model, "model_version")]
        p.api_base_url = connected.emulator.v2_base_url
        v2 = [i[0] for i in _enum_items_now(bpy.types.TRIPO_OT_text_to_model, "model_version")]
    finally:
        p.api_base_url = before
    assert "P2-20260801" in v3 and "Turbo-v1.0-20250506" not in v3
    assert "Turbo-v1.0-20250506" in v2 and "P2-20260801" not in v2


def test_collect_only_sends_what_was_set(ext, connected):
    """Unset parameters stay out of the request body (Tripo's defaults apply)."""
    assert bpy.ops.tripo.text_to_model(prompt="a red chair", wait=True) == {'FINISHED'}
    body = posts(connected.emulator, connected.api_key)[-1]["body"]
    if connected.emulator.base_url.endswith("/v2/openapi"):
        assert body == {"type": "text_to_model", "prompt": "a red chair"}
    else:  # v3 requires the model: the catalogue's default is always sent, nothing else
        default = ext.catalog.param("text_to_model", "model_version").default
        assert body == {"type": "text_to_model", "prompt": "a red chair", "model_version": default}
    version = ext.catalog.param("text_to_model", "model_version").choices[0]
    assert bpy.ops.tripo.text_to_model(prompt="a blue chair", face_limit=8000, texture=False,
                                       model_version=version, wait=True) == {'FINISHED'}
    body = posts(connected.emulator, connected.api_key)[-1]["body"]
    assert body["face_limit"] == 8000 and body["texture"] is False and body["model_version"] == version


def test_validation_errors_spend_nothing(ext, connected):
    before = connected.emulator.balance(connected.api_key)
    with pytest.raises(RuntimeError, match="(?i)prompt"):
        bpy.ops.tripo.text_to_model(prompt="", wait=True)
    with pytest.raises(RuntimeError):
        bpy.ops.tripo.text_to_model(prompt="x" * 5000, wait=True)
    with pytest.raises(RuntimeError, match="(?i)not found|exist|file"):
        bpy.ops.tripo.image_to_model(file="/nonexistent/picture.png", wait=True)
    assert posts(connected.emulator, connected.api_key) == []
    assert connected.emulator.balance(connected.api_key) == before


def _poll_message(task_type) -> str:
    op = getattr(bpy.ops.tripo, task_type)
    assert op.poll() is False
    with pytest.raises(RuntimeError) as info:
        op()
    return str(info.value)


def test_poll_without_key(addon, ext, online, monkeypatch):
    p = get_prefs()
    before = p.api_key
    monkeypatch.delenv("TRIPO_API_KEY", raising=False)
    p.api_key = ""
    try:
        for task_type in live(ext, SIXTEEN):
            assert "API key" in _poll_message(task_type)
    finally:
        p.api_key = before


def test_retired_operators_say_so_and_send_nothing(ext, connected):
    """Under v3 Refine and Stylize stay in F3 but are greyed out with Tripo's retirement as the reason; called from
    Python they refuse before anything is sent."""
    if connected.emulator.base_url.endswith("/v2/openapi"):
        assert live(ext, SIXTEEN) == SIXTEEN
        return
    bpy.ops.mesh.primitive_cube_add()
    for task_type in RETIRED_IN_V3:
        msg = _poll_message(task_type)
        assert "retired" in msg and "nothing was sent" in msg
    assert posts(connected.emulator, connected.api_key) == []


def test_poll_needs_a_suitable_active_object(ext, connected):
    for task_type in live(ext, POST):
        assert "Select" in _poll_message(task_type)
    bpy.ops.object.empty_add()
    assert "neither" in _poll_message("texture_model")
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    # the user's own mesh: steps that can follow import_model are allowed, others say why
    assert bpy.ops.tripo.texture_model.poll() and bpy.ops.tripo.animate_rig.poll()
    assert bpy.ops.tripo.animate_retarget.poll()  # rigged first, in the same job (test_send_back.py)
    assert "import" in _poll_message("mesh_completion").lower()
    # a Tripo result: the chain rules of the API decide
    cube["tripo_task_id"] = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    cube["tripo_task_type"] = "text_to_model"
    cube["tripo_model_version"] = ext.catalog.default_model_version("text_to_model") or ""
    assert bpy.ops.tripo.animate_rig.poll() and bpy.ops.tripo.convert_model.poll()
    msg = _poll_message("animate_retarget")
    assert msg and "Select" not in msg
    assert ext.catalog.chain_problem("animate_retarget", "text_to_model") in msg
    # Tripo's rig check said no: Rig is refused with the reason instead of spending credits on a failing task
    cube["tripo_riggable"] = False
    cube["tripo_rig_type"] = "others"
    msg = _poll_message("animate_rig")
    assert "not riggable" in msg and "others" in msg


def test_generation_poll_needs_no_object(ext, connected):
    for task_type in ("text_to_image", "generate_image", "text_to_model", "image_to_model", "multiview_to_model"):
        assert getattr(bpy.ops.tripo, task_type).poll()
    assert bpy.ops.tripo.run_pipeline.poll()


def test_descriptions_for_search(ext):
    """F3 finds operators in menus: all 16 have a label of their own (no "Tripo:" prefix repeated) and a tooltip."""
    names = {c.bl_idname for c in ext.operators.TASK_OPERATORS}
    assert {f"tripo.{t}" for t in SIXTEEN} <= names
    labels = [rna(t).name for t in SIXTEEN]
    assert all(label and not label.startswith("Tripo") for label in labels), labels
    assert len(set(labels)) == len(labels), labels
    assert all(rna(t).description for t in SIXTEEN)


def test_poll_with_a_malformed_key_or_address(ext, connected):
    connected.prefs.api_key = "tcli_0123456789abcdef"
    assert "not a Tripo API key" in _poll_message("text_to_model")
    connected.prefs.api_key = connected.api_key
    connected.prefs.api_base_url = "http://api.example.com/v2/openapi"
    assert "https" in _poll_message("text_to_model")
    assert connected.emulator.requests(key=connected.api_key) == []
