"""The engine's Blender side (issue 16): choosing "Custom" never points the add-on somewhere new by itself, and
Remove asks first for a running or not-imported job. Real bpy."""

from __future__ import annotations

import bpy
from blender_helpers import get_prefs


def test_choosing_custom_keeps_the_address_until_the_user_types_one(ext):
    p = get_prefs()
    before = (p.api_base_url, p.api_custom)
    try:
        p.api_region = 'GLOBAL'
        global_url = p.api_base_url
        p.api_region = 'CUSTOM'
        assert p.api_region == 'CUSTOM'
        assert p.api_base_url == global_url  # was http://127.0.0.1:8765, silently
        assert "127.0.0.1" not in p.api_base_url
        p.api_region = 'CHINA'
        assert p.api_region == 'CHINA' and p.api_base_url != global_url
    finally:
        p.api_base_url, p.api_custom = before


def test_remove_asks_first_for_a_running_or_unimported_job(ext):
    from importlib import import_module

    op = import_module(f"{ext.operators.__name__}.tasks").TRIPO_OT_remove_job
    assert op.needs_confirm({"state": "running"})
    assert op.needs_confirm({"state": "needs_attention"})
    assert op.needs_confirm({"state": "succeeded", "imported": False, "result_files": ["/tmp/a.glb"]})
    assert not op.needs_confirm({"state": "succeeded", "imported": True, "result_files": ["/tmp/a.glb"]})
    assert not op.needs_confirm({"state": "failed"})
    assert "invoke" in vars(op)
    assert bpy.ops.tripo.remove_job.idname() == "TRIPO_OT_remove_job"
