"""Generate ×N on the real bpy module against the emulator: N seeds in one call, the total cost checked first, the
results in a labelled grid at the 3D cursor, selected; Keep This One removes the others or keeps them as assets."""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import get_prefs, posts


def _roots():
    return sorted((o for o in bpy.data.objects if o.get("tripo_variant") and o.users_scene),
                  key=lambda o: o["tripo_variant"])


def _footprint_centre(obj):
    from mathutils import Vector

    pts = [o.matrix_world @ Vector(c) for o in [obj, *obj.children_recursive] if o.type == 'MESH'
           for c in o.bound_box]
    return (min(p.x for p in pts) + max(p.x for p in pts)) / 2, (min(p.y for p in pts) + max(p.y for p in pts)) / 2


@pytest.fixture
def no_threshold(connected):
    yield
    get_prefs().confirm_above = 0.0


def test_four_variants_grid_at_cursor(connected, no_threshold):
    bpy.context.scene.cursor.location = (3.0, 2.0, 0.0)
    assert bpy.ops.tripo.text_to_model(prompt="a red chair", variants=4, wait=True) == {'FINISHED'}
    made = posts(connected.emulator, connected.api_key)
    assert [c["body"]["prompt"] for c in made] == ["a red chair"] * 4
    seeds = sorted(c["body"]["model_seed"] for c in made)
    assert seeds == [seeds[0] + i for i in range(4)]

    roots = _roots()
    assert [o["tripo_variant"] for o in roots] == [1, 2, 3, 4]
    assert set(bpy.context.selected_objects) == set(roots)
    assert sorted(o["tripo_seed"] for o in roots) == seeds
    centres = [_footprint_centre(o) for o in roots]
    # 2 x 2 from the cursor: variant 1 on it, 2 to its right (+X), 3 and 4 one row behind (-Y)
    assert centres[0] == pytest.approx((3.0, 2.0), abs=1e-3)
    cell = centres[1][0] - centres[0][0]
    assert cell > 0.5
    assert centres[1][1] == pytest.approx(2.0, abs=1e-3)
    assert centres[2] == pytest.approx((3.0, 2.0 - cell), abs=1e-3)
    assert centres[3] == pytest.approx((3.0 + cell, 2.0 - cell), abs=1e-3)
    labels = sorted((o for o in bpy.data.objects if o.get("tripo_variant_label")), key=lambda o: o.name)
    assert [o.data.body.split("  ")[0] for o in labels] == [f"a red chair #{i}/4" for i in (1, 2, 3, 4)]
    assert all(o.users_scene for o in labels)

    keep = roots[2]
    bpy.context.view_layer.objects.active = keep
    keep_task = keep["tripo_task_id"]
    assert bpy.ops.tripo.keep_variant(others='REMOVE') == {'FINISHED'}
    left = [o for o in bpy.data.objects if o.get("tripo_task_id")]
    assert left and {o["tripo_task_id"] for o in left} == {keep_task}
    assert not [o for o in bpy.data.objects if o.get("tripo_variant_label")]
    assert keep.get("tripo_variant_kept")


def test_others_kept_as_assets(connected, no_threshold):
    assert bpy.ops.tripo.image_to_model.get_rna_type().properties["variants"].hard_max == 8
    assert bpy.ops.tripo.text_to_model(prompt="a blue lamp", variants=2, wait=True) == {'FINISHED'}
    first, second = _roots()
    bpy.context.view_layer.objects.active = first
    assert bpy.ops.tripo.keep_variant(others='ASSETS') == {'FINISHED'}
    assert first.users_scene
    assert not second.users_scene and second.asset_data is not None
    assert "variant" in [t.name for t in second.asset_data.tags]


def test_total_cost_checked_before_any_is_sent(connected, no_threshold):
    get_prefs().confirm_above = 50.0  # one text_to_model is about 20 credits: four are 80
    with pytest.raises(RuntimeError, match="4 variants cost about 80 credits"):
        bpy.ops.tripo.text_to_model(prompt="a green vase", variants=4, wait=True)
    assert posts(connected.emulator, connected.api_key) == []


def test_variants_subpanel_button(connected, no_threshold):
    from recorder import draw

    panel = bpy.types.TRIPO_PT_variants
    assert panel.bl_parent_id == "TRIPO_PT_generate"
    settings = bpy.context.scene.tripo
    settings.mode = 'TEXT'
    settings.prompt = "a copper kettle"
    bpy.context.window_manager.tripo_variants.count = 3
    rec = draw(panel)
    assert "3 variants: about 60 credits in all" in rec.labels()
    values = rec.op_values("tripo.text_to_model")
    assert values and values[0]["variants"] == 3 and values[0]["prompt"] == "a copper kettle"
    assert bpy.ops.tripo.text_to_model(**values[0], wait=True) == {'FINISHED'}
    assert len(_roots()) == 3 and len(posts(connected.emulator, connected.api_key)) == 3


def test_variants_without_wait_join_the_grid_as_they_arrive(connected, no_threshold, ext):
    import importlib

    from blender_helpers import MODULE, drain_until

    variants = importlib.import_module(f"{MODULE}.blender.operators.variants")
    bpy.context.scene.cursor.location = (-4.0, 0.0, 0.0)
    assert bpy.ops.tripo.text_to_model(prompt="a tin robot", variants=3) == {'FINISHED'}  # queued, returns at once
    drain_until(ext, lambda: len([o for o in bpy.data.objects if o.get("tripo_task_id") and o.parent is None]) == 3,
                timeout=60)
    assert variants._watch() is None  # (Blender's timer) everything arrived: each in its cell, nothing left to watch
    roots = _roots()
    assert [o["tripo_variant"] for o in roots] == [1, 2, 3]
    centres = [_footprint_centre(o) for o in roots]
    assert centres[0] == pytest.approx((-4.0, 0.0), abs=1e-3)
    assert centres[1][0] > centres[0][0] and centres[2][1] < centres[0][1]  # 2 x 2 grid: right, then next row
