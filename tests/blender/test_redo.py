"""Lineage and redo on the real bpy module against the emulator: each result carries its chain, Redo with a New Seed
re-runs the step and places the new version beside the old one, the Lineage panel shows the chain with credits."""

from __future__ import annotations

import json

import bpy
import pytest
from blender_helpers import posts
from recorder import draw


def _root(obj):
    while obj.parent is not None and obj.parent.get("tripo_task_id") == obj.get("tripo_task_id"):
        obj = obj.parent
    return obj


def _x_range(obj):
    from mathutils import Vector

    pts = [o.matrix_world @ Vector(c) for o in [obj, *obj.children_recursive] if o.type == 'MESH'
           for c in o.bound_box]
    return min(p.x for p in pts), max(p.x for p in pts)


@pytest.fixture
def chair(connected):
    assert bpy.ops.tripo.text_to_model(prompt="a red chair", wait=True) == {'FINISHED'}
    return _root(bpy.context.active_object)


def test_lineage_and_redo_beside(connected, chair):
    chain = json.loads(chair["tripo_lineage"])
    assert [s["task_type"] for s in chain] == ["text_to_model"]
    assert chain[0]["task_id"] == chair["tripo_task_id"] and chain[0]["params"]["prompt"] == "a red chair"
    assert chair["tripo_parent_task_id"] == "" and chair["tripo_step"] == "text_to_model"
    assert chain[0]["credits"] == connected.emulator.task(chair["tripo_task_id"]).price

    old_task = chair["tripo_task_id"]
    bpy.context.view_layer.objects.active = chair
    assert bpy.ops.tripo.redo(wait=True) == {'FINISHED'}
    new = _root(bpy.context.active_object)
    assert new["tripo_task_id"] != old_task and new["tripo_redo_of"] == old_task
    assert _x_range(new)[0] > _x_range(chair)[1]  # beside the old one, to its right, not inside it
    first, second = posts(connected.emulator, connected.api_key)
    assert second["body"]["prompt"] == "a red chair"
    assert second["body"].get("model_seed") not in (None, first["body"].get("model_seed"))
    assert chair.name in bpy.data.objects  # the old version stays


def test_chain_of_a_post_step_and_panel(connected, chair):
    first_task = chair["tripo_task_id"]
    bpy.context.view_layer.objects.active = chair
    chair.select_set(True)
    assert bpy.ops.tripo.highpoly_to_lowpoly(face_limit=3000, wait=True) == {'FINISHED'}
    low = _root(bpy.context.active_object)
    chain = json.loads(low["tripo_lineage"])
    assert [s["task_type"] for s in chain] == ["text_to_model", "highpoly_to_lowpoly"]
    assert low["tripo_parent_task_id"] == first_task and chain[1]["parent"] == first_task
    labels = draw(bpy.types.TRIPO_PT_lineage).labels()
    assert labels[0].startswith("1. text_to_model") and labels[1].startswith("2. highpoly_to_lowpoly")
    total = sum(connected.emulator.task(s["task_id"]).price for s in chain)
    assert f"Chain: {total:g} credits" in labels

    assert bpy.ops.tripo.redo(new_seed=False, changes='{"face_limit": 2000}', wait=True) == {'FINISHED'}
    last = posts(connected.emulator, connected.api_key)[-1]
    assert last["body"]["type"] == "highpoly_to_lowpoly" and last["body"]["face_limit"] == 2000
    assert last["body"]["original_model_task_id"] == first_task
    again = _root(bpy.context.active_object)
    assert [s["task_type"] for s in json.loads(again["tripo_lineage"])] == ["text_to_model", "highpoly_to_lowpoly"]


def test_redo_refuses_bad_changes(connected, chair):
    bpy.context.view_layer.objects.active = chair
    with pytest.raises(RuntimeError, match="JSON object"):
        bpy.ops.tripo.redo(changes='[1, 2]')
    assert len(posts(connected.emulator, connected.api_key)) == 1


def test_redo_the_chain_from_its_first_step(connected, chair):
    bpy.context.view_layer.objects.active = chair
    assert bpy.ops.tripo.highpoly_to_lowpoly(face_limit=3000, wait=True) == {'FINISHED'}
    low = _root(bpy.context.active_object)
    n = len(posts(connected.emulator, connected.api_key))
    rec = draw(bpy.types.TRIPO_PT_lineage)
    assert {"from_step": 1} in rec.op_values("tripo.redo")
    assert bpy.ops.tripo.redo(from_step=1, wait=True) == {'FINISHED'}
    made = posts(connected.emulator, connected.api_key)[n:]
    assert [c["body"]["type"] for c in made] == ["text_to_model", "highpoly_to_lowpoly"]
    assert made[0]["body"]["prompt"] == "a red chair"
    assert made[1]["body"]["original_model_task_id"] == made[0]["task_id"]  # on the new model, not the old one
    assert made[1]["body"]["face_limit"] == 3000
    new = _root(bpy.context.active_object)
    chain = json.loads(new["tripo_lineage"])
    assert [s["task_id"] for s in chain] == [made[0]["task_id"], made[1]["task_id"]]
    assert _x_range(new)[0] > _x_range(low)[1]
