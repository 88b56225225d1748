"""The Batch subpanel and its operators on the real bpy module against the emulator: plan and cost first, the
confirmation threshold, a run to the end (wait=True), folders, contact sheet, summary, a failed row retried alone."""

from __future__ import annotations

import importlib
import json

import bpy
import pytest
from blender_helpers import MODULE, get_prefs, posts
from recorder import draw


@pytest.fixture
def ops_batch(connected):
    mod = importlib.import_module(f"{MODULE}.blender.operators.batch")
    mod.stop()
    mod.state.runner = mod.state.plan = None
    mod.state.error = mod.state.message = mod.state.sheet = ""
    yield mod
    mod.stop()
    get_prefs().confirm_above = 0.0


def _panel():
    return bpy.types.TRIPO_PT_batch


def test_plan_confirm_run_sheet(connected, ops_batch, tmp_path):
    assert _panel().bl_parent_id == "TRIPO_PT_generate"
    rows = tmp_path / "rows.txt"
    rows.write_text("a red chair\na blue teapot\na green lamp\n", "utf-8")
    wm = bpy.context.window_manager
    wm.tripo_batch.filepath = str(rows)
    assert bpy.ops.tripo.batch_plan() == {'FINISHED'}
    text = " ".join(draw(_panel()).labels())
    assert "Plan: 3 row(s) to send, 3 task(s), about 60 credits" in text, text
    assert posts(connected.emulator, connected.api_key) == []  # planning sends nothing

    get_prefs().confirm_above = 50.0
    with pytest.raises(RuntimeError, match="above your confirmation threshold"):
        bpy.ops.tripo.batch_run(wait=True)
    assert posts(connected.emulator, connected.api_key) == []

    assert bpy.ops.tripo.batch_run(confirm_cost=True, wait=True, wait_timeout=120) == {'FINISHED'}
    made = posts(connected.emulator, connected.api_key)
    assert sorted(c["body"]["prompt"] for c in made) == ["a blue teapot", "a green lamp", "a red chair"]
    out = connected.tmp / "downloads" / "batches" / "rows"
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert (summary["done"], summary["failed"], summary["credits"]) == (3, 0, 60)
    assert (out / "contact_sheet.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (out / "rows").iterdir()) == ["0001-a-red-chair", "0002-a-blue-teapot",
                                                                "0003-a-green-lamp"]
    text = " ".join(draw(_panel()).labels())
    assert "3 done, 0 running, 0 waiting, 0 failed" in text and "contact_sheet.png" in text, text
    assert not [o for o in bpy.data.objects if o.get("tripo_task_id")]  # a batch fills its folder, not the scene


def test_failed_row_retried_from_the_panel(connected, ops_batch, tmp_path):
    rows = tmp_path / "two.txt"
    rows.write_text("a red chair\na blue teapot\n", "utf-8")
    bpy.context.window_manager.tripo_batch.filepath = str(rows)
    connected.emulator.inject(route="create", kind="fail_task", match={"key": connected.api_key}, count=1)
    assert bpy.ops.tripo.batch_run(wait=True, wait_timeout=120) == {'FINISHED'}
    recs = ops_batch.state.runner.records()
    failed = [r.key for r in recs if r.state == "failed"]
    assert len(failed) == 1
    rec = draw(_panel())
    assert "tripo.batch_retry" in rec.ops() and "1 failed" in rec.text()
    assert bpy.ops.tripo.batch_retry(row=failed[0]) == {'FINISHED'}
    assert bpy.ops.tripo.batch_run(wait=True, wait_timeout=120) == {'FINISHED'}
    assert all(r.state == "done" for r in ops_batch.state.runner.records())
    assert len(posts(connected.emulator, connected.api_key)) == 3  # two rows + the one retried, nothing else


def test_batch_rows_land_in_the_asset_library(connected, ops_batch, tmp_path):
    lib = importlib.import_module(f"{MODULE}.blender.assets_library")
    lib.unregister_library()
    lib.register_library()
    try:
        rows = tmp_path / "lib.csv"
        rows.write_text("prompt,variants\na brass key,1\na clay pot,2\n", "utf-8")
        before = {a: len(getattr(bpy.data, a)) for a in ("objects", "meshes", "materials", "images", "scenes")}
        assert bpy.ops.tripo.batch_run(filepath=str(rows), wait=True, wait_timeout=120) == {'FINISHED'}
        assert {a: len(getattr(bpy.data, a)) for a in before} == before  # the scene is left as it was
        files = sorted((connected.tmp / "downloads" / "Tripo Library" / "models").glob("*.blend"))
        assert len(files) == 3, files  # one asset per variant
        recs = {r.key: r for r in ops_batch.state.runner.records()}
        pot_tasks = recs["0002-a-clay-pot"].variant_tasks
        assert len(pot_tasks) == 2 and all(any(t[:8] in f.name for f in files) for t in pot_tasks)
        with bpy.data.libraries.load(str(files[0]), link=True, assets_only=True) as (src, dst):
            dst.objects = list(src.objects)
        ad = dst.objects[0].asset_data
        assert ad.catalog_id == lib.catalog_id("models") and ad["tripo_prompt"] in ("a brass key", "a clay pot")
        assert ad["tripo_task_id"] and ad["tripo_credits"] > 0
    finally:
        lib.unregister_library()
