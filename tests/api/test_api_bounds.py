"""Issue 10: prompts refused before anything is sent (item 8), the busy-account back-off's jitter (item 10), bounded
downloads (item 12) and capped stored texts (item 14). Real HTTP to the emulator throughout."""

from __future__ import annotations

import pytest
from api_helpers import posts

from tripo_addon.api import errors as E
from tripo_addon.api import tasks as T

# ============================================================================================== item 8: prompts
BAD_PROMPTS = {
    "NUL": ("a cat\x00 wearing a hat", ("NUL character", "U+0000", "position 6", "remove it")),
    "only zero-width": ("\u200b\u200c\u2060\ufeff", ("only invisible characters", "enter visible text")),
    "zero-width and spaces": (" \u200b \u200b ", ("only invisible characters",)),
    "RLO override": ("a chair \u202eriahc", ("bidirectional control character", "U+202E", "remove it")),
    "LRE embedding": ("\u202aa chair", ("bidirectional", "U+202A")),
    "RLI isolate": ("a chair \u2067x\u2069", ("bidirectional", "U+2067")),
    "PDI": ("a chair\u2069", ("bidirectional", "U+2069")),
}


@pytest.mark.parametrize("name", list(BAD_PROMPTS))
def test_bad_prompt_is_refused_before_anything_is_sent(name, fast, emulator, api_key):
    text, expect = BAD_PROMPTS[name]
    with pytest.raises(E.TripoValidationError) as ei:
        fast.submit("text_to_model", {"prompt": text})
    msg = ei.value.user_message
    for part in expect:
        assert part.lower() in msg.lower(), msg
    assert ei.value.param == "prompt"
    assert posts(emulator, api_key) == []  # the emulator saw no create: nothing paid


@pytest.mark.parametrize("field, params", [
    ("negative_prompt", {"prompt": "a chair", "negative_prompt": "\u200b"}),
    ("texture_prompt", {"original_model_task_id": "1ec04ced-4b87-44f6-a296-beee80777941",
                        "texture_prompt": {"text": "wood\x00grain"}}),
])
def test_other_texts_are_checked_too(field, params, fast, emulator, api_key):
    task_type = "texture_model" if field == "texture_prompt" else "text_to_model"
    with pytest.raises(E.TripoValidationError) as ei:
        T.build_request(task_type, params)
    assert field in ei.value.user_message
    assert posts(emulator, api_key) == []


def test_ordinary_prompts_still_pass():
    for ok in ("a red chair", "a chair\nwith arms", "caf\u00e9 table", "\u6905\u5b50", "x\u200by"):
        assert T.prompt_problem(ok) is None, ok
    assert T.build_request("text_to_model", {"prompt": "a red chair"})["prompt"] == "a red chair"
