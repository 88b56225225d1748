"""Operators, one family per module: generate (from nothing), postprocess (the active object), images and views
(v3), lod, tasks (the list), history, account; base.py holds what task operators share."""

from .. import catalog
from . import account, generate, history, images, lod, postprocess, segment, tasks, v3_props, views

_ORDER = list(catalog.task_types())
#: one operator per task type (``tripo.<task_type>``), in the API's order
TASK_OPERATORS = tuple(
    sorted((*generate.OPERATORS, *postprocess.OPERATORS, *segment.CLASSES),
           key=lambda cls: _ORDER.index(cls.task_type))
)
CLASSES = (*TASK_OPERATORS, generate.TRIPO_OT_run_pipeline, *tasks.CLASSES, *account.CLASSES, *lod.CLASSES,
           *history.CLASSES, *v3_props.CLASSES, *views.CLASSES, *images.CLASSES)

__all__ = ["CLASSES", "TASK_OPERATORS", "account", "generate", "history", "lod", "postprocess", "segment", "tasks"]
