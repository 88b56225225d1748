"""Operators that act on the active object: every task type that takes a source model, plus import_model.

A Tripo result (custom property ``tripo_task_id``) is processed by its task id; only steps the API accepts after
its type are offered (``api.tasks.check_chain``). The user's own mesh is exported to GLB (main thread) and sent back:
the engine uploads it through STS, runs import_model and then the requested step, as one job.
"""

from __future__ import annotations

from ...api import tasks as api_tasks
from ...jobs import pipelines
from ...jobs.job import Job, Ref, Step
from .. import catalog, mesh_limits, scene_export, settings
from .base import TaskOperator, make_operator

TASK_ID = "tripo_task_id"
TASK_TYPE = "tripo_task_type"
#: Steps that need a rigged model: on the user's own mesh the job rigs it first (import -> rig check -> rig -> step)
RIG_FIRST = {"animate_retarget": "animate_rig"}


def tripo_source(obj) -> tuple[str, str] | None:
    """(task_id, task_type) when the object is a Tripo result."""
    if obj is None:
        return None
    task_id, task_type = obj.get(TASK_ID), obj.get(TASK_TYPE)
    if isinstance(task_id, str) and task_id and isinstance(task_type, str) and task_type:
        return task_id, task_type
    return None


def source_problem(task_type: str, context) -> str | None:
    """Why ``task_type`` cannot run on the active object, or None."""
    obj = context.active_object
    if obj is None:
        return "Select a Tripo result or one of your meshes first"
    src = tripo_source(obj)
    if src is not None:
        problem = catalog.chain_problem(task_type, src[1], obj.get("tripo_model_version"))
        if problem is None and task_type == "animate_rig" and obj.get("tripo_riggable") is False:
            kind = obj.get("tripo_rig_type")
            problem = (f"Tripo's rig check found \u201c{obj.name}\u201d not riggable"
                       f"{f' (rig type {kind})' if kind else ''}; rig a character-like model instead")
        return problem
    if obj.type != 'MESH':
        return (f"\u201c{obj.name}\u201d is neither a Tripo result nor a mesh: select a Tripo result or one of your "
                "meshes")
    problem = catalog.chain_problem(RIG_FIRST.get(task_type, task_type), "import_model")
    if problem:
        return f"Your own mesh is imported into Tripo first, and {catalog.label(task_type)} cannot follow that: " \
               f"{problem}"
    return None


def check_against_source(task_type: str, params: dict, field: str, src: tuple[str, str], version) -> None:
    """Refuse, before anything is sent, options the source model cannot take (e.g. OBJ/STL/3MF of a rigged model).

    The job engine cannot know the type of a source given by task id; the active object does.
    """
    kinds = {p.name: p.kind for p in catalog.task_type(task_type).params}
    probe = {k: v for k, v in params.items() if kinds.get(k) not in ("file", "files", "texture_prompt")}
    probe[field] = src[0]
    api_tasks.build_request(task_type, probe, api=catalog.api(), source_type=src[1],
                            source_model_version=version if isinstance(version, str) and version else None)


def result_group(context, obj) -> list:
    """The objects of the same Tripo result as ``obj`` (e.g. an armature and its meshes)."""
    src = tripo_source(obj)
    if src is None:
        return [obj]
    scene_objects = context.scene.objects
    return [o for o in scene_objects if o.get(TASK_ID) == src[0]] or [obj]


class PostOperator(TaskOperator):
    """A step on the active object (by its Tripo task id, or the user's mesh sent back first)."""

    @classmethod
    def unavailable(cls, context):
        return (catalog.retired_reason(cls.task_type) or settings.unavailable_reason(context)
                or source_problem(cls.task_type, context))

    def draw_source(self, context, layout):
        obj = context.active_object
        if obj is None:
            return
        src = tripo_source(obj)
        if src is not None:
            layout.label(text=f"On {obj.name} ({catalog.label(src[1])})", icon='OBJECT_DATA')
        else:
            names = ", ".join(o.name for o in scene_export.selected_meshes(context)) or obj.name
            layout.label(text=f"Sends your mesh to Tripo first: {names}"[:80], icon='EXPORT')

    def build_job(self, context, params):
        tt = catalog.task_type(self.task_type)
        field = tt.source_field
        label = catalog.label(self.task_type)
        obj = context.active_object
        src = tripo_source(obj)
        meta: dict = {}
        if self.task_type == "mesh_uv":  # R13: Smart UV's input limit, counted here (mesh_limits.py)
            problem = mesh_limits.smart_uv_problem(result_group(context, obj) if src is not None
                                                   else scene_export.selected_meshes(context), context)
            if problem:
                raise catalog.validation_error(problem)
        explicit = params.pop(field, None)
        if explicit and src is not None and explicit == src[0]:
            explicit = None  # the active object's own task: place and hide like any step on it
        if explicit:  # an explicit task id wins over the active object
            source_ref = explicit
            title = f"{label}: {str(source_ref)[:8]}"
            steps: list[Step] = []
        elif src is not None:
            source_ref = src[0]
            check_against_source(self.task_type, params, field, src, obj.get("tripo_model_version"))
            steps = []
            group = result_group(context, obj)
            title = f"{obj.name} \u2192 {label}"
            meta.update(source_objects=[o.name for o in group], location=scene_export.source_location(group),
                        model_version=obj.get("tripo_model_version") or None)
        else:
            meshes = scene_export.selected_meshes(context)
            path = scene_export.export_selection_glb(context, settings.exports_dir(), obj.name)
            steps = [Step("import_model", {"file": str(path)}, upload="sts", download=False)]
            source_ref = Ref(0)
            title = f"{obj.name} \u2192 {label}"
            meta.update(source_objects=[o.name for o in meshes], location=scene_export.source_location(meshes))
        steps = self.add_steps(steps, field, source_ref, params, obj if src is not None and not explicit else None)
        job = Job(title=title, steps=steps, kind=self.task_type if len(steps) == 1 else "send_back")
        job.meta.update({k: v for k, v in meta.items() if v is not None})
        return job

    def add_steps(self, steps: list, field: str, source, params: dict, obj) -> list:
        return [*steps, Step(self.task_type, {**pipelines._clean(params), field: source},
                             outputs=pipelines.default_outputs(self.task_type))]

    def draw_binding(self, layout, b) -> None:
        if option_shown(self.task_type, b.param, self.safe_params()):
            super().draw_binding(layout, b)


#: Options a model version alone accepts: {(task type, option): (version parameter, versions)}. The dialog shows
#: them only while such a version is chosen (the API refuses them otherwise).
VERSION_GATED = {
    ("mesh_segmentation", "segmentation_granularity"): ("model_version", ("v2.0-20260430",)),
    ("mesh_segmentation", "split_by_connectivity"): ("model_version", ("v2.0-20260430",)),
    ("texture_model", "delight"): ("model_version", ("v3.5-20260815",)),
    ("highpoly_to_lowpoly", "smart_uv"): ("model_version", ("v3.0",)),
    ("text_to_model", "delight"): ("texture_version", ("v3.5-20260815",)),
    ("image_to_model", "delight"): ("texture_version", ("v3.5-20260815",)),
    ("multiview_to_model", "delight"): ("texture_version", ("v3.5-20260815",)),
}


def option_shown(task_type: str, name: str, params: dict) -> bool:
    """True when the dialog offers option ``name`` for the versions chosen in ``params`` (the operator's values)."""
    gate = VERSION_GATED.get((task_type, name))
    if gate is None:
        return True
    version = params.get(gate[0])
    if version is None:  # not chosen: Tripo's default version
        p = catalog.param(task_type, gate[0])
        version = p.default if p is not None else None
    return version in gate[1]


#: The rig model used for an engine skeleton (unity, unreal, vrm) when no version is chosen: v1.0, Tripo's default,
#: makes Tripo and Mixamo skeletons only.
ENGINE_RIG_VERSION = "v2.5-20260210"


def engine_rig_version(params: dict) -> str | None:
    """The rig version to send for an engine skeleton left without a version (v3), else None."""
    spec = params.get("spec")
    choices = catalog.param("animate_rig", "model_version")
    if catalog.api() != "v3" or "model_version" in params or spec not in ("unity", "unreal", "vrm") \
            or choices is None or ENGINE_RIG_VERSION not in choices.choices:
        return None
    return ENGINE_RIG_VERSION


class RigOperator(PostOperator):
    """animate_rig: without a rig type, use the object's rig check result, or run the (free) rig check first."""

    def build_job(self, context, params):
        version = engine_rig_version(params)
        if version:
            params["model_version"] = version
        return super().build_job(context, params)

    def add_steps(self, steps, field, source, params, obj):
        if "rig_type" not in params:
            known = obj.get("tripo_rig_type") if obj is not None else None
            choices = catalog.param("animate_rig", "rig_type")
            if known and (choices is None or not choices.choices or known in choices.choices):
                params["rig_type"] = known
            else:
                check = len(steps)
                steps = [*steps, Step("animate_prerigcheck", {"original_model_task_id": source}, download=False)]
                params["rig_type"] = Ref(check, "output:rig_type")
        return super().add_steps(steps, field, source, params, obj)

    def draw_inputs(self, context, layout):
        super().draw_inputs(context, layout)
        version = engine_rig_version(self.safe_params())
        if version:
            layout.label(text=f"A {self.safe_params()['spec']} skeleton needs rig v2.5 or v3.0: {version} is used",
                         icon='INFO')


class RetargetOperator(PostOperator):
    """animate_retarget: the user's own mesh is rigged first (import_model -> rig check -> rig -> retarget), as one
    job; a Tripo rig result is animated directly."""

    def add_steps(self, steps, field, source, params, obj):
        if isinstance(source, Ref) and steps and steps[-1].task_type == "import_model":
            check = len(steps)
            steps = [
                *steps,
                Step("animate_prerigcheck", {"original_model_task_id": source}, download=False),
                Step("animate_rig", {"original_model_task_id": source, "rig_type": Ref(check, "output:rig_type")},
                     download=False),
            ]
            source = Ref(check + 1)
        return super().add_steps(steps, field, source, params, obj)

    def build_job(self, context, params):
        job = super().build_job(context, params)
        clips_as_files(job)
        return job


def clips_as_files(job) -> None:
    """v3 retarget with several presets: download one file per clip (``clips.0``...) and import them as one armature
    with one action per clip (named after the preset)."""
    last = job.steps[-1]
    names = last.params.get("animations")
    if catalog.api() != "v3" or last.task_type != "animate_retarget" or not isinstance(names, list) \
            or len(names) < 2 or not last.download:
        return
    last.outputs = [f"clips.{i}" for i in range(len(names))]
    job.meta.update(import_as="clips", clip_names=[str(n) for n in names])


class ImportModelOperator(TaskOperator):
    """import_model: the ``file`` parameter, or else the selected meshes exported to GLB."""

    def build_job(self, context, params):
        meta: dict = {}
        path = params.get("file")
        if not path:
            meshes = scene_export.selected_meshes(context)
            path = str(scene_export.export_selection_glb(context, settings.exports_dir()))
            params["file"] = path
            name = meshes[0].name
            meta.update(source_objects=[o.name for o in meshes], location=scene_export.source_location(meshes))
        else:
            name = path.rsplit("/", 1)[-1]
        job = pipelines.single("import_model", params, title=f"{name} \u2192 Tripo")
        job.steps[0].upload = "sts"
        job.meta.update({k: v for k, v in meta.items() if v is not None})
        return job


def _mixin(task_type: str) -> type:
    if task_type == "import_model":
        return ImportModelOperator
    if task_type == "animate_rig":
        return RigOperator
    if task_type == "animate_retarget":
        return RetargetOperator
    return PostOperator


#: everything that is not a generation (generate.py) acts on a model
POST_TYPES = [t for t in catalog.task_types() if t not in catalog.GENERATION and t not in catalog.IMAGE_RESULT
              and t != "smart_segment"]  # smart_segment: operators/segment.py

OPERATORS = tuple(make_operator(t, _mixin(t)) for t in POST_TYPES)
CLASSES = OPERATORS
