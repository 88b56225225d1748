"""Redo: re-run the step that made the active result, with a new seed (``tripo.redo``) or with changes
(``tripo.redo_with_changes``: the step's own dialog, prefilled). The new version lands beside the old one and its
lineage says what it redoes (``tripo_redo_of``)."""

from __future__ import annotations

import json
import random

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty

from ...api import tasks as api_tasks
from ...jobs import pipelines
from ...jobs.job import Job, Ref, Step
from .. import assets_lineage, catalog, scene_io, settings
from .base import run_job

SEEDS = ("model_seed", "texture_seed", "image_seed")
GAP = 0.25  # between the old result and the new version, in units of the old one's width


def chosen(context):
    """The active result's root object that carries a lineage, or None."""
    obj = context.active_object
    while obj is not None and not obj.get("tripo_lineage") and obj.parent is not None:
        obj = obj.parent
    return obj if obj is not None and obj.get("tripo_lineage") else None


def beside(context, obj) -> tuple[float, float, float]:
    """Bottom centre of a spot right of ``obj`` (+X) for a result of the same size."""
    context.view_layer.update()
    b = scene_io.world_bounds([obj, *obj.children_recursive])
    if b is None:
        loc = obj.matrix_world.translation
        return (loc.x + 2.0, loc.y, loc.z)
    lo, hi = b
    # the new version is scaled to the import size (or, without one, about as large as the old): any of its sides
    # may be as long as the largest of either, so half of that keeps it clear of the old one
    p = settings.prefs(context)
    target = float(getattr(p, "target_size", 0.0) or 0.0)
    size = max(max(hi - lo), target, 0.1)
    return (hi.x + size * GAP + size / 2, (lo.y + hi.y) / 2, lo.z)


def redo_params(step: dict, *, new_seed: bool, changes: dict) -> dict:
    """The step's parameters again: seeds new (when asked), ``changes`` on top. Raises ValueError when the step
    read an input that cannot be sent again (a file uploaded from a path that is gone)."""
    params = dict(step.get("params") or {})
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
            raise ValueError(f"This step read {value.strip('<>')} ({key}); it cannot be sent again as it was. Use "
                             "Redo with Changes and give the input again.")
    task_type = step.get("task_type") or ""
    if new_seed:
        for name in SEEDS:
            if catalog.param(task_type, name) is not None:
                params[name] = random.randrange(1, 2**31 - 1)
    params.update(changes)
    return params


class TRIPO_OT_redo(bpy.types.Operator):
    """Run the step that made this result again with a new seed; the new version is placed beside it"""

    bl_idname = "tripo.redo"
    bl_label = "Redo with a New Seed"
    bl_options = {'REGISTER'}

    new_seed: BoolProperty(name="New Seed", default=True, options={'SKIP_SAVE'},
                           description="Give the step new seeds (off: the same parameters again)")
    changes: StringProperty(name="Changes", default="", options={'SKIP_SAVE'},
                            description='Parameters to change, as JSON, e.g. {"texture_quality": "detailed"}')
    from_step: IntProperty(name="From Step", default=0, min=0, options={'SKIP_SAVE'},
                           description="Run the chain again from this step (1: the first) to the end, each later "
                                       "step on the new result of the one before; 0: only the last step")
    wait: BoolProperty(name="Wait", default=False, options={'SKIP_SAVE'},
                       description="Run to the end and import the result before returning (scripts)")
    wait_timeout: FloatProperty(name="Wait Timeout", default=0.0, min=0.0, options={'SKIP_SAVE'})
    confirm_cost: BoolProperty(name="Confirm Cost", default=False, options={'SKIP_SAVE'},
                               description="Send even above your confirmation threshold")

    @classmethod
    def poll(cls, context):
        if chosen(context) is None:
            cls.poll_message_set("Select a Tripo result (one imported by this add-on)")
            return False
        return True

    def execute(self, context):
        obj = chosen(context)
        chain = assets_lineage.lineage(obj)
        start = len(chain) if not self.from_step else self.from_step
        if not chain or not 1 <= start <= len(chain):
            self.report({'ERROR'}, f"This result's chain has {len(chain)} step(s): from_step must be 1 to "
                                   f"{len(chain)} (or 0 for the last)")
            return {'CANCELLED'}
        steps = chain[start - 1:]
        unknown = [s.get("task_type") or "unknown" for s in steps if s.get("task_type") not in catalog.task_types()]
        if unknown:
            self.report({'ERROR'}, f"Step {unknown[0]} of this chain cannot be run again here")
            return {'CANCELLED'}
        try:
            changes = json.loads(self.changes) if self.changes.strip() else {}
            if not isinstance(changes, dict):
                raise ValueError("changes must be a JSON object such as {\"face_limit\": 5000}")
            params = redo_params(steps[0], new_seed=self.new_seed, changes=changes)
            later = [redo_params(s, new_seed=False, changes={}) for s in steps[1:]]
        except ValueError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        title = f"{obj.name} (redo)"
        if not later:
            job = pipelines.single(steps[0]["task_type"], params, title=title)
        else:  # the chain again from that step: each later step takes the new result of the one before
            job_steps = [Step(steps[0]["task_type"], params, download=False)]
            for i, (s, p) in enumerate(zip(steps[1:], later, strict=True)):
                spec = api_tasks.TASK_TYPES.get(s["task_type"])
                if spec is not None and spec.source_field:
                    p[spec.source_field] = Ref(i)
                job_steps.append(Step(s["task_type"], p, download=i == len(later) - 1))
            job = Job(title=title, kind="redo_chain", steps=job_steps)
        job.meta.update(redo_of=chain[-1].get("task_id") or "", location=beside(context, obj))
        return run_job(self, context, job)


class TRIPO_OT_redo_with_changes(bpy.types.Operator):
    """Open the dialog of the step that made this result, filled in with its parameters"""

    bl_idname = "tripo.redo_with_changes"
    bl_label = "Redo with Changes\u2026"
    bl_options = {'REGISTER'}

    @classmethod
    def poll(cls, context):
        return TRIPO_OT_redo.poll(context)

    def execute(self, context):
        obj = chosen(context)
        chain = assets_lineage.lineage(obj)
        step = chain[-1] if chain else {}
        task_type = step.get("task_type") or ""
        op = getattr(bpy.ops.tripo, task_type, None) if task_type else None
        if op is None:
            self.report({'ERROR'}, f"No dialog for this result's step ({task_type or 'unknown'})")
            return {'CANCELLED'}
        parent = step.get("parent") or ""
        if parent:  # a post-processing step works on the active object: its source
            src = assets_lineage.result_of(parent)
            if src is None:
                self.report({'ERROR'}, f"The result this step was made from (task {parent}) is not in this file; "
                                       "import it first (History panel), then run the step on it")
                return {'CANCELLED'}
            for o in context.view_layer.objects:
                o.select_set(False)
            src.select_set(True)
            context.view_layer.objects.active = src
        cls = getattr(bpy.types, f"TRIPO_OT_{task_type}", None)
        props = {}
        for b in getattr(cls, "bindings", ()):
            value = (step.get("params") or {}).get(b.param)
            if value is None or b.kind in ("task_id", "files", "texture_prompt", "file"):
                continue
            if b.kind == "enum" and value not in b.choices:
                continue
            if isinstance(value, bool | int | float | str):
                props[b.prop] = value
        try:
            return op('INVOKE_DEFAULT', **props)
        except (TypeError, RuntimeError) as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}


CLASSES = (TRIPO_OT_redo, TRIPO_OT_redo_with_changes)
