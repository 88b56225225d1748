"""Make the output files of a task (run on a worker thread while the task is queued/running).

Every model-producing task also leaves an internal canonical GLB (meta["glb"]) that later tasks read."""

from __future__ import annotations

from .. import blender
from ..assets import glb
from .animate import animate_prerigcheck, animate_retarget, animate_rig
from .common import Job, Result, SourceInfo, TaskFailure
from .convert import convert_model
from .edit import highpoly_to_lowpoly, import_model, mesh_completion, mesh_segmentation, stylize_model, texture_model
from .generate import (
    edit_multiview_image,
    generate_multiview_image,
    image_to_model,
    refine_model,
    text_to_image,
    text_to_model,
)
from .segment import smart_segment
from .v3 import image_to_depth, image_to_splat, mesh_uv

__all__ = ["Job", "Result", "SourceInfo", "TaskFailure", "produce"]


def produce(job: Job) -> Result:
    job.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _PRODUCERS[job.type](job)
    except blender.BlenderUnavailable as e:
        raise TaskFailure(1001, str(e)) from None
    except blender.ConversionError as e:
        raise TaskFailure(1001, str(e)) from None
    except (glb.GlbError, KeyError, IndexError, ValueError) as e:
        raise TaskFailure(1001, f"Could not process the model: {e}") from None


_PRODUCERS = {
    "text_to_image": text_to_image, "generate_image": text_to_image,
    "generate_multiview_image": generate_multiview_image, "edit_multiview_image": edit_multiview_image,
    "text_to_model": text_to_model, "image_to_model": image_to_model, "multiview_to_model": image_to_model,
    "refine_model": refine_model, "texture_model": texture_model, "import_model": import_model,
    "mesh_segmentation": mesh_segmentation, "mesh_completion": mesh_completion,
    "highpoly_to_lowpoly": highpoly_to_lowpoly, "animate_prerigcheck": animate_prerigcheck,
    "animate_rig": animate_rig, "animate_retarget": animate_retarget, "stylize_model": stylize_model,
    "convert_model": convert_model, "image_to_splat": image_to_splat, "image_to_depth": image_to_depth,
    "mesh_uv": mesh_uv, "smart_segment": smart_segment,
}
