"""Issue 10 item 10 in the add-on: a busy Tripo account (429/2000, tasks started elsewhere) makes the job wait for a
free slot, its row in the task list says so, and the model arrives once the account has room."""

from __future__ import annotations

import bpy
from blender_helpers import drain_until, new_objects, posts

BUSY = "Waiting for a free slot on your Tripo account"


def _row():
    state = bpy.context.window_manager.tripo
    return state.tasks[-1] if len(state.tasks) else None


def test_busy_account_row_says_it_waits_then_the_model_arrives(ext, connected):
    emu, key = connected.emulator, connected.api_key
    emu.inject(route="create", kind="status", status=429, code=2000, retry_after=0.2, count=8, match={"key": key})
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt="a busy chair") == {'FINISHED'}
    drain_until(ext, lambda: _row() is not None and _row().notice.startswith(BUSY))
    assert "Nothing was created or charged" in _row().notice and _row().state != "failed"
    drain_until(ext, lambda: _row().imported)
    assert new_objects(before)
    assert _row().state == "succeeded" and not _row().notice.startswith(BUSY)
    assert [r["status"] for r in posts(emu, key)] == [429] * 8 + [200]
