"""Client behaviour checked against tripo-api.md over real HTTP to the emulator: what is sent (the emulator's request
log), what is refused before anything is sent, and that the client's local rules and the emulator agree."""

from __future__ import annotations

import pytest
from api_helpers import WAIT, posts

from tripo_addon.api import tasks as T
from tripo_addon.api.errors import TripoValidationError


def _last_body(emulator, api_key) -> dict:
    return posts(emulator, api_key)[-1]["body"]


# ============================================================================================== chain rules
def test_lowpoly_accepts_a_v14_generation_while_texture_and_rig_refuse_it(client, emulator, api_key):
    """§5.3.11 / §6: only texture_model, mesh_segmentation, prerigcheck and rig need Turbo or >= v2.0 sources."""
    draft = client.wait(client.create_task(T.text_to_model("a clay pot", model_version="v1.4-20240625")),
                        timeout=WAIT)
    body = T.highpoly_to_lowpoly(draft.task_id, source_type="text_to_model",
                                 source_model_version=draft.model_version)
    assert client.wait(client.create_task(body), timeout=WAIT).status == "success"
    for target in ("texture_model", "mesh_segmentation", "animate_prerigcheck", "animate_rig"):
        with pytest.raises(TripoValidationError, match="Turbo or v2.0"):
            T.build_request(target, {"original_model_task_id": draft.task_id}, source_type="text_to_model",
                            source_model_version=draft.model_version)
