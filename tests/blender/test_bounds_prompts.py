"""Issue 10 item 8 at the operator level: prompts of only invisible characters or with bidi controls are refused by
the operators (one task and a pipeline) with the reason, and nothing reaches Tripo.

A NUL cannot be refused here: Blender cuts an operator's (or a Scene's) string property at the NUL before any
add-on code runs (checked below, so a Blender that stops doing so is noticed); the api layer refuses NULs from
Python callers (tests/api/test_api_bounds.py)."""

from __future__ import annotations

import bpy
import pytest
from blender_helpers import posts

CASES = {
    "zero-width only": ("\u200b\u200b\u2060", "only invisible characters"),
    "RLO override": ("a chair \u202eriahc", "U+202E"),
    "LRI isolate": ("\u2066a chair\u2069", "U+2066"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_task_operator_refuses_the_prompt(name, connected):
    text, expect = CASES[name]
    with pytest.raises(RuntimeError) as ei:
        bpy.ops.tripo.text_to_model(prompt=text, wait=True)
    assert expect in str(ei.value) and "prompt" in str(ei.value)
    assert posts(connected.emulator, connected.api_key) == []


@pytest.mark.parametrize("name", list(CASES))
def test_pipeline_operator_refuses_the_prompt(name, connected):
    text, expect = CASES[name]
    with pytest.raises(RuntimeError) as ei:
        bpy.ops.tripo.run_pipeline(pipeline='TEXT_TO_IMAGE_TO_MODEL', prompt=text, wait=True)
    assert expect in str(ei.value)
    assert posts(connected.emulator, connected.api_key) == []


def test_blender_cuts_strings_at_a_nul(connected):
    """What the add-on can see of a NUL: nothing. Blender hands it only the text before it (Scene settings and
    operator properties alike), so only Python callers of the api can be refused (they are)."""
    settings = bpy.context.scene.tripo
    settings.prompt = "a cat\x00 wearing a hat"
    assert settings.prompt == "a cat"
