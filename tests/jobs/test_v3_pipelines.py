"""Job builders for what v3 adds: the image -> views -> model pipeline and the multi-file default outputs."""

from __future__ import annotations

from tripo_addon.jobs import pipelines
from tripo_addon.jobs.job import Job, Ref

VIEWS = ["front_view", "left_view", "back_view", "right_view"]


def test_image_to_views_to_model_steps():
    j = pipelines.image_to_views_to_model("cat.png", model_version="v3.1-20260211")
    assert [s.task_type for s in j.steps] == ["generate_multiview_image", "multiview_to_model"]
    assert j.steps[0].outputs == VIEWS  # the views are downloaded too: the sidebar shows them
    assert j.steps[1].params == {"original_task_id": Ref(0), "model_version": "v3.1-20260211"}
    j = pipelines.image_to_views_to_model("cat.png", edits={"front": "a red scarf"})
    assert [s.task_type for s in j.steps] == ["generate_multiview_image", "edit_multiview_image",
                                              "multiview_to_model"]
    assert j.steps[1].params == {"original_task_id": Ref(0), "prompts": {"front": "a red scarf"}}
    assert j.steps[2].params["original_task_id"] == Ref(1)
    assert Job.from_dict(j.to_dict()).steps[2].params["original_task_id"] == Ref(1)
    assert "image_to_views_to_model" in pipelines.PIPELINES


def test_multi_file_results_download_every_file_by_default():
    assert pipelines.single("generate_multiview_image", {"file": "a.png"}).steps[0].outputs == VIEWS
    assert pipelines.single("edit_multiview_image", {"original_task_id": "t", "prompts": {"front": "x"}}
                            ).steps[0].outputs == VIEWS
    assert pipelines.single("mesh_uv", {"original_model_task_id": "t"}).steps[0].outputs == ["model", "uv_render"]
    assert pipelines.single("text_to_model", {"prompt": "x"}).steps[0].outputs is None  # the main result only
    assert pipelines.send_back("rock.glb", "mesh_uv").steps[1].outputs == ["model", "uv_render"]
