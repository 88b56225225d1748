"""Emulator rules checked against tripo-api.md: chain rules, option families, prices, priority."""

from __future__ import annotations

import requests

from .helpers import auth, error, run

T2M = {"type": "text_to_model", "prompt": "a wooden chair"}


def post(emu, key, body):
    return requests.post(emu.base_url + "/task", json=body, headers=auth(key), timeout=30)


# ---------------------------------------------------------------------------------------------------- chain rules
def test_lowpoly_takes_a_v14_source(emulator, api_key):
    """§5.3.11 / §6 put no version rule on highpoly_to_lowpoly (only texture, segmentation, prerigcheck, rig)."""
    draft = run(emulator, api_key, {**T2M, "model_version": "v1.4-20240625"})
    low = run(emulator, api_key, {"type": "highpoly_to_lowpoly", "original_model_task_id": draft["task_id"]})
    assert low["output"]["model"]
    for t in ("texture_model", "mesh_segmentation", "animate_rig"):
        assert error(post(emulator, api_key, {"type": t, "original_model_task_id": draft["task_id"]})) == (400, 2006)
