"""What all task operators share: properties generated from ``api.tasks`` Param specs, poll, submit and wait.

Every API parameter becomes an operator property. A parameter the caller does not set stays *unset* and is not sent,
so Tripo applies its own default: strings and paths when empty, enums on "Auto", numbers and booleans when not set by
the caller (``is_property_set``; all these properties are ``SKIP_SAVE``, so nothing carries over between calls).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ...jobs import cost
from .. import catalog, cost_ui, drain, job_import, runtime, scene_io, settings, tasklist, wakeup
from ..properties import PATH_SKIP, TRIPO_PG_file_slot
from ..ui_text import ALIASES, task_label

AUTO = catalog.AUTO
SKIP = {'SKIP_SAVE'}
VIEWS = ("front", "left", "back", "right")
#: properties every task operator has besides the API parameters
COMMON = ("wait", "wait_timeout", "confirm_cost")
_RESERVED = set(COMMON) | {"layout", "properties", "options", "bl_idname", "bl_label", "bl_description",
                           "bl_options", "has_reports", "macros", "name", "rna_type"}
TEXTURE_PROMPT_PARTS = ("image", "style_image", "images")
#: parameters shown first in an operator's dialog (the rest sit under "More Options")
MAIN_PARAMS = frozenset({"prompt", "negative_prompt", "file", "files", "model_version", "texture", "pbr",
                         "texture_quality", "face_limit", "quad", "texture_prompt", "part_names", "rig_type",
                         "animation", "animations", "style", "format", "t_pose", "template",
                         # v3's game-ready options: where an artist looks first
                         "spec", "animate_in_place", "export_with_geometry", "segmentation_granularity",
                         "split_by_connectivity", "delight", "smart_uv"})


@dataclass(frozen=True)
class Binding:
    """How one API parameter maps onto operator properties."""

    param: str
    prop: str
    kind: str
    required: bool
    default: Any
    choices: tuple


def _prop_name(name: str) -> str:
    return f"{name}_" if name in _RESERVED or name.startswith("bl_") or hasattr(bpy.types.Operator, name) else name


def _title(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def _describe(p) -> str:
    text = (p.doc or _title(p.name)).strip().rstrip(".")
    if p.required:
        return f"{text}. Required"
    if p.default not in (None, "") and getattr(p, "disputed", False):
        return f"{text}. Unset: Tripo decides (likely {p.default}; set it to be sure)"
    if p.default not in (None, ""):
        return f"{text}. Unset: Tripo's default ({p.default})"
    return f"{text}. Unset: Tripo decides"


def _enum_flag_items(p) -> list[tuple[str, str, str]]:
    key = ("flag", p.name, p.choices)
    items = catalog._enum_cache.get(key)
    if items is None:
        items = [(str(c), catalog.pretty(c), str(c)) for c in p.choices]
        catalog._enum_cache[key] = items
    return items


def _current_items(task_type: str, pname: str):
    """An EnumProperty items callback: "Auto" then the choices of the current API's catalogue (stable numbers)."""
    def items(_self, _context):
        p = catalog.param(task_type, pname)
        return catalog.enum_items_for(p) if p is not None and p.choices else catalog.enum_items(task_type, pname)
    return items


def property_for(p, task_type: str = "") -> dict[str, Any]:
    """bpy.props annotations for one Param (usually one property; texture_prompt has several)."""
    name = _prop_name(p.name)
    label = _title(p.name)
    desc = _describe(p)
    kind = p.kind
    if kind == "bool":
        return {name: BoolProperty(name=label, description=desc, default=bool(p.default), options=SKIP)}
    if kind == "int":
        default = int(p.default) if p.default is not None else int(p.min) if p.min is not None else 0
        extra = {}
        if p.min is not None:
            extra["soft_min"] = int(p.min)
        if p.max is not None:
            extra["soft_max"] = int(p.max)
        return {name: IntProperty(name=label, description=desc, default=default, options=SKIP, **extra)}
    if kind == "float":
        default = float(p.default) if p.default is not None else float(p.min) if p.min is not None else 0.0
        extra = {}
        if p.min is not None:
            extra["soft_min"] = float(p.min)
        if p.max is not None:
            extra["soft_max"] = float(p.max)
        return {name: FloatProperty(name=label, description=desc, default=default, options=SKIP, **extra)}
    if kind == "enum" and p.choices:
        if p.required:
            items = catalog.enum_items_required(p)
            default = str(p.default) if p.default in p.choices else str(p.choices[0])
        else:  # the choices follow the API the address speaks (v3 and v2 catalogues differ): items at draw time
            return {name: EnumProperty(name=label, description=desc, items=_current_items(task_type, p.name),
                                       options=SKIP)}  # unset = item 0 = "Auto"
        return {name: EnumProperty(name=label, description=desc, items=items, default=default, options=SKIP)}
    if kind == "enum_list" and p.choices and len(p.choices) <= 32:
        return {name: EnumProperty(name=label, description=desc, items=_enum_flag_items(p),
                                   options={'ENUM_FLAG', 'SKIP_SAVE'})}
    if kind == "file":
        return {name: StringProperty(name=label, description=f"{desc}. A file path or an http(s) URL",
                                     subtype='FILE_PATH', options=PATH_SKIP)}
    if kind == "files":
        return {name: CollectionProperty(type=TRIPO_PG_file_slot, name=label,
                                         description=f"{desc}. Items: {{'name': path}}; an empty name skips a slot",
                                         options=SKIP)}
    if kind == "task_id":
        return {name: StringProperty(name=label, description=f"{desc}. Empty: the active object's Tripo task",
                                     options={'SKIP_SAVE', 'HIDDEN'})}  # for scripts: never in a dialog
    if kind in ("str_list", "enum_list"):
        return {name: StringProperty(name=label, description=f"{desc}. Comma separated", options=SKIP)}
    if kind == "texture_prompt":
        return {
            name: StringProperty(name="Texture Prompt", description=f"{desc}. Text describing the texture",
                                 options=SKIP),
            f"{name}_image": StringProperty(name="Texture Image", subtype='FILE_PATH', options=PATH_SKIP,
                                            description="Reference image for the texture"),
            f"{name}_style_image": StringProperty(name="Style Image", subtype='FILE_PATH', options=PATH_SKIP,
                                                  description="Style reference image"),
            f"{name}_images": CollectionProperty(type=TRIPO_PG_file_slot, name="Texture Views", options=SKIP,
                                                 description="Four view images [front, left, back, right]"),
        }
    # no maxlen: Blender would cut a long prompt silently; api.tasks refuses it with a clear message instead
    default = str(p.default) if isinstance(p.default, str) else ""
    return {name: StringProperty(name=label, description=desc, default=default, options=SKIP)}


def build_annotations(task_type: str) -> tuple[dict[str, Any], tuple[Binding, ...]]:
    """Annotations and bindings for every parameter of a task type, plus ``wait``/``wait_timeout``."""
    tt = catalog.task_type(task_type)
    annotations: dict[str, Any] = {}
    bindings: list[Binding] = []
    for p in tt.params:
        props = property_for(p, task_type)
        annotations.update(props)
        bindings.append(Binding(p.name, next(iter(props)), p.kind, bool(p.required), p.default, tuple(p.choices)))
    annotations["wait"] = BoolProperty(
        name="Wait",
        description="Run to the end and import the result before returning (for scripts and blender -b)",
        default=False,
        options={'SKIP_SAVE'},
    )
    annotations["confirm_cost"] = BoolProperty(
        name="Confirm Cost", description="Send even though the estimated cost is above your confirmation threshold "
        "(Tripo preferences)", default=False, options={'SKIP_SAVE'},
    )
    annotations["wait_timeout"] = FloatProperty(
        name="Wait Timeout", description="With Wait: give up waiting after this many seconds (0: no limit)",
        default=0.0, min=0.0, options={'SKIP_SAVE'},
    )
    return annotations, tuple(bindings)


# ==================================================================================================== values
def _path(value: str) -> str:
    value = value.strip()
    if not value or value.startswith(("http://", "https://")):
        return value
    return os.path.normpath(bpy.path.abspath(value))


def _slots(collection) -> list[str | None]:
    return [(_path(s.name) or None) for s in collection]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def is_set(op, prop: str) -> bool:
    return op.properties.is_property_set(prop)


def collect(op, bindings) -> dict[str, Any]:
    """The API parameters the caller set (unset ones are left out: Tripo's defaults apply)."""
    params: dict[str, Any] = {}
    for b in bindings:
        value = getattr(op, b.prop)
        if b.kind == "bool" or b.kind in ("int", "float"):
            if is_set(op, b.prop):
                params[b.param] = value
        elif b.kind == "enum" and b.choices:
            if value != AUTO:
                params[b.param] = value
        elif b.kind == "enum_list" and b.choices and isinstance(value, set):
            if value:
                params[b.param] = [c for c in b.choices if c in value]
        elif b.kind == "file":
            if value.strip():
                params[b.param] = _path(value)
        elif b.kind == "files":
            if len(value):
                params[b.param] = _slots(value)
        elif b.kind in ("str_list", "enum_list"):
            if value.strip():
                params[b.param] = _split(value)
        elif b.kind == "texture_prompt":
            tp: dict[str, Any] = {}
            if value.strip():
                tp["text"] = value.strip()
            image = getattr(op, f"{b.prop}_image").strip()
            if image:
                tp["image"] = _path(image)
            style = getattr(op, f"{b.prop}_style_image").strip()
            if style:
                tp["style_image"] = _path(style)
            images = getattr(op, f"{b.prop}_images")
            if len(images):
                tp["images"] = _slots(images)
            if tp:
                params[b.param] = tp
        else:  # str, task_id and unknown kinds
            text = value.strip() if isinstance(value, str) else value
            if text:
                if b.kind not in ("str", "task_id") and isinstance(text, str) and text[:1] in "[{":
                    try:
                        text = json.loads(text)
                    except ValueError:
                        pass
                params[b.param] = text
    return params


# ==================================================================================================== operator base
class OnlineOperator:
    """Mixin: greyed out, with the reason as its tooltip, while Tripo cannot be reached (offline, no key, ...)."""

    @classmethod
    def unavailable(cls, context) -> str | None:
        return settings.unavailable_reason(context)

    @classmethod
    def poll(cls, context):
        reason = cls.unavailable(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True


class TaskOperator(OnlineOperator):
    """Mixin for ``tripo.<task_type>`` operators (the generated classes set ``task_type`` and ``bindings``)."""

    bl_options = {'REGISTER'}  # starts a job: no UNDO (an import pushes its own undo step)
    task_type: ClassVar[str] = ""
    bindings: ClassVar[tuple[Binding, ...]] = ()

    @classmethod
    def unavailable(cls, context) -> str | None:
        """Retired by Tripo (or v3 only) first: that reason holds whatever the connection."""
        return catalog.retired_reason(cls.task_type) or super().unavailable(context)

    def invoke(self, context, _event):
        return context.window_manager.invoke_props_dialog(self, width=440)

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        self.draw_source(context, layout)
        self.draw_inputs(context, layout)
        params = self.safe_params()
        for note in catalog.notes(self.task_type, params):  # what Tripo will do (clamp, ignore), before sending
            layout.label(text=note[:120], icon='INFO')
        credits = catalog.estimate_credits(self.task_type, params)
        if credits is not None:
            mark = catalog.price_prefix(self.task_type, params) if credits else ""
            layout.label(text=f"Estimated cost: {mark}{cost.text(credits)} credits", icon='INFO')
        cost_ui.draw_confirm(layout, self, credits, context)

    def draw_source(self, context, layout):
        """What the operator acts on (post-processing operators say which object)."""

    def draw_inputs(self, context, layout):
        main = [b for b in self.bindings if (b.required or b.param in MAIN_PARAMS) and b.kind != "task_id"]
        more = [b for b in self.bindings if b not in main and b.kind != "task_id"]  # (task ids: scripts only)
        for b in main:
            self.draw_binding(layout, b)
        if more:
            header, body = layout.panel(f"TRIPO_{self.task_type}_more", default_closed=True)
            header.label(text="More Options")
            if body is not None:
                for b in more:
                    self.draw_binding(body, b)

    def draw_binding(self, layout, b: Binding) -> None:
        if b.param == "compress" and catalog.compress_problem():  # R14: not offered where it cannot be opened
            row = layout.row()
            row.enabled = False
            row.prop(self, b.prop, text="Compress (unavailable)")
            return
        if b.kind == "files":
            layout.label(text=f"{_title(b.param)}: {len(getattr(self, b.prop))} file(s)")
            return
        layout.prop(self, b.prop)
        if b.kind == "texture_prompt":
            layout.prop(self, f"{b.prop}_image")
            layout.prop(self, f"{b.prop}_style_image")

    def safe_params(self) -> dict:
        try:
            return collect(self, self.bindings)
        except Exception:
            return {}

    def execute(self, context):
        return build_and_run(self, context, lambda: self.build_job(context, collect(self, self.bindings)))

    def build_job(self, context, params: dict):  # pragma: no cover - every generated class overrides it
        raise NotImplementedError


def build_and_run(op, context, build) -> set[str]:
    """Build the operator's job (refusals become an error report, nothing sent) and hand it to ``run_job``."""
    try:
        job = build()
    except scene_io.ImportFailed as exc:
        op.report({'ERROR'}, str(exc))
        return {'CANCELLED'}
    except Exception as exc:
        if not catalog.is_tripo_error(exc):
            raise
        op.report({'ERROR'}, catalog.user_message(exc))
        return {'CANCELLED'}
    return run_job(op, context, job)


def run_job(op, context, job) -> set[str]:
    """Submit a job (validated before anything is sent); with ``op.wait`` block until done and imported."""
    refusal = cost_ui.refusal(op, job, context)
    if refusal:
        op.report({'ERROR'}, refusal)
        return {'CANCELLED'}
    if job.meta.get("source_objects"):
        job.meta["scene"] = runtime.scene_token()  # the source objects are named in this file only
    try:
        job_id = runtime.submit(job, context)
    except Exception as exc:
        if not catalog.is_tripo_error(exc):
            raise
        op.report({'ERROR'}, catalog.user_message(exc))
        return {'CANCELLED'}
    eng = runtime.engine()
    tasklist.mirror(eng.get(job_id), context, running=True)
    state = getattr(context.window_manager, "tripo", None)
    if state is not None:
        state.active_task = len(state.tasks) - 1
    if not getattr(op, "wait", False):
        wakeup.ensure_running(context)
        op.report({'INFO'}, f"Sent to Tripo: {job.title}")
        return {'FINISHED'}
    return wait_for(op, context, job_id)


def wait_for(op, context, job_id: str) -> set[str]:
    """Block until the job stops, then apply its events and import its result (scripting, ``blender -b``).

    What a script gets back (the README's table; every task operator, ``run_pipeline`` and ``attach_task``):

    - succeeded: ``{'FINISHED'}``, the result imported, selected and active;
    - failed, cancelled or outcome unknown on Tripo's side, or the result could not be imported: an ERROR report
      naming the task id, which Blender raises as ``RuntimeError`` when the operator was called from Python;
    - still running after ``wait_timeout``: ``{'CANCELLED'}`` with nothing imported and a WARNING naming the task id.
      The job goes on in the background but no longer imports by itself; ``attach_task(task_id=..., wait=True)``
      waits for that same job (nothing sent again) and imports its result.
    """
    eng = runtime.engine()
    timeout = float(getattr(op, "wait_timeout", 0.0) or 0.0) or None
    eng.wait(job_id, timeout)
    drain.drain(context, budget=None)
    snap = eng.get(job_id)
    state = snap.get("state")
    task = task_id_of(snap)
    if state == "succeeded":
        if not snap.get("imported"):
            try:
                job_import.import_job(job_id, context)
            except scene_io.ImportFailed as exc:
                op.report({'ERROR'}, f"Tripo task {task or '?'} finished but its result was not imported: {exc}")
                return {'CANCELLED'}
        snap = eng.get(job_id)
        op.report({'INFO'}, f"Tripo: {snap.get('title')} finished (task {task})" + _outputs_text(snap))
        return {'FINISHED'}
    if state in ("failed", "cancelled", "needs_attention"):
        reason = snap.get("error") or snap.get("notice") or f"the job ended as {state}"
        what = f"Tripo task {task}" if task else f"Tripo job \u201c{snap.get('title')}\u201d"
        verb = {"failed": "failed", "cancelled": "was cancelled", "needs_attention": "needs attention"}[state]
        op.report({'ERROR'}, f"{what} {verb}: {reason}")
        return {'CANCELLED'}
    auto_import(job_id, False)  # a late result must not land in the middle of whatever the script does next
    waited = f"after {timeout:g} s" if timeout else "when the wait ended"
    if task:
        op.report({'WARNING'}, f"Tripo task {task} is still running {waited}: nothing imported yet. It goes on in "
                               f"the background; bpy.ops.tripo.attach_task(task_id=\"{task}\", wait=True) waits for "
                               "it and imports it (nothing is sent again)")
    else:
        op.report({'WARNING'}, f"Tripo job \u201c{snap.get('title')}\u201d is still being sent {waited}: nothing "
                               "imported yet. Its row in the task list shows the task id once Tripo answers; attach it "
                               "then, or press Import when it has finished")
    tasklist.mirror(snap, context)
    return {'CANCELLED'}


def auto_import(job_id: str, on: bool) -> None:
    """Whether a job's result imports by itself when it arrives (the jobs this session follows do)."""
    if on:
        runtime._live.add(job_id)  # (runtime has no public setter for its set of followed jobs)
    else:
        runtime._live.discard(job_id)


def task_id_of(snap: dict) -> str:
    """The task id of a job's current step (else of its last step that has one), or ""."""
    steps = snap.get("steps") or []
    idx = int(snap.get("current_step") or 0)
    if 0 <= idx < len(steps) and steps[idx].get("task_id"):
        return steps[idx]["task_id"]
    ids = [s.get("task_id") for s in steps if s.get("task_id")]
    return ids[-1] if ids else ""


def followed_job(task_id: str) -> str | None:
    """The id of a job of this session that follows ``task_id`` and has not been imported yet (a ``wait_timeout``
    that ran out leaves one behind), or None: attaching that task id waits for this job instead of a second one."""
    eng = runtime.engine(create=False)
    if eng is None or not task_id:
        return None
    for snap in reversed(eng.jobs()):
        if snap.get("imported") or snap.get("state") in ("failed", "cancelled", "needs_attention"):
            continue
        if task_id in (snap.get("task_ids") or []):  # any step: a pipeline may have moved on meanwhile
            return snap["id"]
    return None


def _outputs_text(snap: dict) -> str:
    for step in reversed(snap.get("steps") or []):
        out = step.get("output") or {}
        if step.get("task_type") == "animate_prerigcheck" and out:
            return f" (riggable: {out.get('riggable')}, rig type: {out.get('rig_type')})"
    return ""


def make_operator(task_type: str, mixin: type, *, idname: str | None = None) -> type:
    """Create the ``TRIPO_OT_<task_type>`` class for a task type."""
    tt = catalog.task_type(task_type)
    annotations, bindings = build_annotations(task_type)
    annotations.update(getattr(mixin, "extra_annotations", {}))
    description = (tt.description or tt.label or task_type).strip()
    return type(
        f"TRIPO_OT_{task_type}",
        (mixin, bpy.types.Operator),
        {
            "bl_idname": idname or f"tripo.{task_type}",
            "bl_label": task_label(task_type, catalog.label(task_type)),
            "bl_options": set(mixin.bl_options) | ({'INTERNAL'} if task_type in ALIASES else set()),
            "bl_description": description,
            "__doc__": description,
            "__annotations__": annotations,
            "task_type": task_type,
            "bindings": bindings,
        },
    )
