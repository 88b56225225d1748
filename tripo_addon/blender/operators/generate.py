"""Operators that start from nothing: text/image generation, text/image/multiview to model, and the pipelines."""

from __future__ import annotations

import json
import os

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ...jobs import pipelines
from .. import catalog, scene_export, settings
from ..properties import PATH_SKIP
from .base import AUTO, VIEWS, OnlineOperator, TaskOperator, _path, build_and_run, make_operator
from .variants import TYPES as VARIANT_TYPES
from .variants import with_variants


def _short(text: str, n: int = 48) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def title_for(task_type: str, params: dict) -> str:
    prompt = params.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return _short(prompt)
    file = params.get("file")
    if isinstance(file, str) and file:
        return os.path.basename(file.split("?")[0])
    files = [f for f in params.get("files") or [] if isinstance(f, str) and f]
    if files:
        return os.path.basename(files[0])
    return catalog.label(task_type)


class GenerateOperator(TaskOperator):
    """Generation from a prompt and/or images: one single-step job."""

    def draw_binding(self, layout, b) -> None:
        from .postprocess import option_shown  # (e.g. delight only with texture v3.5)

        if option_shown(self.task_type, b.param, self.safe_params()):
            super().draw_binding(layout, b)

    def build_job(self, context, params):
        job = pipelines.single(self.task_type, params, title=title_for(self.task_type, params))
        version = params.get("model_version") or catalog.default_model_version(self.task_type)
        if version:
            job.meta["model_version"] = version
        return job


class MultiviewOperator(GenerateOperator):
    """Multiview: ``front_image`` ... ``right_image`` fill the four ``files`` slots [front, left, back, right]."""

    extra_annotations = {
        f"{view}_image": StringProperty(
            name=f"{view.title()} View",
            description=f"{view.title()} view image" + (" (required)" if view == "front" else " (optional)"),
            subtype='FILE_PATH', options=PATH_SKIP,
        )
        for view in VIEWS
    }

    def build_job(self, context, params):
        views = [getattr(self, f"{v}_image").strip() for v in VIEWS]
        if any(views):
            params["files"] = [(_path(v) or None) for v in views]
        return super().build_job(context, params)

    def draw_inputs(self, context, layout):
        for view in VIEWS:
            layout.prop(self, f"{view}_image")
        super().draw_inputs(context, layout)


GENERATE_TYPES = [t for t in catalog.GENERATION if t in catalog.task_types()]
_extra = [t for t in catalog.IMAGE_RESULT if t in catalog.task_types() and t not in GENERATE_TYPES]

def _mixin(task_type: str) -> type:
    mixin = MultiviewOperator if task_type == "multiview_to_model" else GenerateOperator
    return with_variants(mixin) if task_type in VARIANT_TYPES else mixin  # Generate ×N (operators/variants.py)


OPERATORS = tuple(make_operator(t, _mixin(t)) for t in GENERATE_TYPES + _extra)


# ==================================================================================================== pipelines
PIPELINES = (
    ('TEXT_TO_FINAL', "Text \u2192 Model \u2192 Format", "text_to_model, then convert_model to the format"),
    ('IMAGE_TO_FINAL', "Image \u2192 Model \u2192 Format", "image_to_model, then convert_model to the format"),
    ('IMAGE_TO_ANIMATED', "Image \u2192 Animated Model",
     "image_to_model, rig check, rig, retarget an animation, then convert (unless the format is None)"),
    ('MESH_EDITING', "Text \u2192 Parts", "text_to_model, mesh_segmentation, then mesh_completion"),
    ('IMPORT_AND_PROCESS', "Selection \u2192 Step", "send the selected meshes to Tripo and run one step on them"),
    ('TEXT_TO_IMAGE_TO_MODEL', "Text \u2192 Image \u2192 Model", "text_to_image, then image_to_model on that image"),
    ('LOW_POLY_ASSET', "Text \u2192 Low Poly", "text_to_model, highpoly_to_lowpoly, then convert_model"),
    ('IMAGE_TO_VIEWS_TO_MODEL', "Image \u2192 Views \u2192 Model",
     "four views from the image (shown in the sidebar), then a model from them (API v3)"),
)
PIPELINE_DEFAULT_FORMAT = {"TEXT_TO_FINAL": "FBX", "IMAGE_TO_FINAL": "USDZ", "IMAGE_TO_ANIMATED": "FBX",
                           "LOW_POLY_ASSET": "FBX"}
_cache: dict[str, list] = {}


def _format_items(_self, _context):
    if "format" not in _cache:
        items = [('DEFAULT', "Pipeline Default", "FBX (USDZ for image \u2192 format)"),
                 ('NONE', "None", "No conversion: keep Tripo's GLB (image \u2192 animated only)")]
        # operator values are never saved (SKIP_SAVE): plain positional items, so the first one is the default
        items += [i[:3] for i in catalog.enum_items("convert_model", "format", auto=False) if i[0] != AUTO]
        _cache["format"] = items
    return _cache["format"]


def _animation_items(_self, _context):
    if "animation" not in _cache:
        items = [i[:3] for i in catalog.enum_items("animate_retarget", "animation", auto=False) if i[0] != AUTO]
        _cache["animation"] = items or [("preset:walk", "preset:walk", "")]
    return _cache["animation"]


def _step_items(_self, _context):
    if "step" not in _cache:
        _cache["step"] = [
            (t, catalog.label(t), catalog.task_type(t).description or t)
            for t in catalog.task_types()
            if t != "import_model" and catalog.chain_problem(t, "import_model") is None
        ]
    return _cache["step"]


def _version_items(_self, _context):
    return catalog.enum_items("text_to_model", "model_version")


class TRIPO_OT_run_pipeline(OnlineOperator, bpy.types.Operator):
    """Run one of the Tripo pipelines (several tasks chained as one job) and import the final result"""

    bl_idname = "tripo.run_pipeline"
    bl_label = "Run Pipeline"
    bl_options = {'REGISTER'}

    pipeline: EnumProperty(name="Pipeline", items=PIPELINES, default='TEXT_TO_FINAL', options={'SKIP_SAVE'})
    prompt: StringProperty(name="Prompt", description="What to make", options={'SKIP_SAVE'})
    negative_prompt: StringProperty(name="Negative Prompt", description="What to avoid", options={'SKIP_SAVE'})
    image: StringProperty(name="Image", description="Input image (image pipelines)", subtype='FILE_PATH',
                          options=PATH_SKIP)
    model_version: EnumProperty(name="Model", items=_version_items, options={'SKIP_SAVE'})
    format: EnumProperty(name="Format", description="Format of the final conversion", items=_format_items,
                         options={'SKIP_SAVE'})
    animation: EnumProperty(name="Animation", description="Animation preset (image \u2192 animated)",
                            items=_animation_items, options={'SKIP_SAVE'})
    part_names: StringProperty(name="Part Names", description="Parts to complete, comma separated (empty: all)",
                               options={'SKIP_SAVE'})
    step: EnumProperty(name="Step", description="What to run on the selected meshes", items=_step_items,
                       options={'SKIP_SAVE'})
    model_options: StringProperty(
        name="Model Options",
        description="More parameters of the model generation step, as JSON, e.g. "
                    "{\"texture_quality\": \"detailed\", \"face_limit\": 20000} (scripts; the dialog takes them "
                    "from the Generate panel)",
        options={'SKIP_SAVE', 'HIDDEN'})
    face_limit: IntProperty(name="Face Limit", description="Low-poly face limit", default=5000, min=48,
                            max=20000, options={'SKIP_SAVE'})
    quad: BoolProperty(name="Quad", description="Low-poly quad topology", default=True, options={'SKIP_SAVE'})
    lods: IntProperty(name="LODs", description="Text \u2192 Low Poly: make this many LOD levels instead (100/50/25/"
                      "10 % of the face limit, imported as <name>_LOD0...; no conversion). 0: one low-poly model",
                      default=0, min=0, max=4, options={'SKIP_SAVE'})
    smart_uv: BoolProperty(name="Smart UV", description="LODs: unwrap new UVs on every level (decimation v3.0)",
                           default=False, options={'SKIP_SAVE'})
    export_fbx: BoolProperty(name="Export FBX", description="LODs: also write them as one FBX for Unity/Unreal "
                             "(in the download folder)", default=False, options={'SKIP_SAVE'})
    confirm_cost: BoolProperty(name="Confirm Cost", description="Send even though the estimated cost is above "
                               "your confirmation threshold (Tripo preferences)", default=False,
                               options={'SKIP_SAVE'})
    wait: BoolProperty(name="Wait", description="Run to the end and import the result before returning",
                       default=False, options={'SKIP_SAVE'})
    wait_timeout: FloatProperty(name="Wait Timeout", description="With Wait: seconds before giving up (0: none)",
                                default=0.0, min=0.0, options={'SKIP_SAVE'})

    def invoke(self, context, _event):
        self.from_panel(context)
        return context.window_manager.invoke_props_dialog(self, width=440)

    def from_panel(self, context) -> None:
        """Start from the Generate panel's inputs: its prompt, image, model version and options (what the caller
        set explicitly wins)."""
        s = getattr(context.scene, "tripo", None)
        if s is None:
            return
        props = self.properties
        if not props.is_property_set("prompt") and s.prompt.strip():
            self.prompt = s.prompt
        if not props.is_property_set("negative_prompt") and s.negative_prompt.strip():
            self.negative_prompt = s.negative_prompt
        if not props.is_property_set("image") and s.image.strip():
            self.image = s.image
        if not props.is_property_set("model_version") and s.model_version != AUTO:
            try:
                self.model_version = s.model_version
            except TypeError:  # not a choice of this list
                pass
        if not props.is_property_set("model_options"):
            from ..panels_generate import shared_options

            options = shared_options(s, "image_to_model")
            if options:
                self.model_options = json.dumps(options, sort_keys=True)

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "pipeline")
        p = self.pipeline
        if p in ("TEXT_TO_FINAL", "MESH_EDITING", "TEXT_TO_IMAGE_TO_MODEL", "LOW_POLY_ASSET"):
            layout.prop(self, "prompt")
            layout.prop(self, "negative_prompt")
        if p in ("IMAGE_TO_FINAL", "IMAGE_TO_ANIMATED", "IMAGE_TO_VIEWS_TO_MODEL"):
            layout.prop(self, "image")
        if p != "IMPORT_AND_PROCESS":
            layout.prop(self, "model_version")
            if self.model_options.strip():
                layout.label(text="Model options: as in the Generate panel", icon='PREFERENCES')
        if p in PIPELINE_DEFAULT_FORMAT:
            layout.prop(self, "format")
        if p == "IMAGE_TO_ANIMATED":
            layout.prop(self, "animation")
        if p == "MESH_EDITING":
            layout.prop(self, "part_names")
        if p == "IMPORT_AND_PROCESS":
            layout.prop(self, "step")
        if p == "LOW_POLY_ASSET":
            layout.prop(self, "face_limit")
            layout.prop(self, "quad")
            layout.prop(self, "lods")
            if self.lods:
                layout.prop(self, "smart_uv")
                layout.prop(self, "export_fbx")
        if p != "IMPORT_AND_PROCESS":  # (that one would export the selection just to draw)
            try:
                job = self.build_job(context, estimate=True)  # the cost at once, before the prompt is typed
            except Exception as exc:  # noqa: BLE001 - shown while the user edits
                if catalog.is_tripo_error(exc):
                    layout.label(text=catalog.user_message(exc)[:90], icon='INFO')
                    return
                raise
            from ..cost_ui import draw_costs

            draw_costs(layout, self, job, context)

    def _gen(self) -> dict:
        """Parameters of the pipeline's model generation step (text/image_to_model)."""
        gen = self._model_options()
        if self.model_version != AUTO:
            gen["model_version"] = self.model_version
        if self.negative_prompt.strip():
            gen["negative_prompt"] = self.negative_prompt.strip()
        return gen

    def _model_options(self) -> dict:
        text = self.model_options.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise catalog.validation_error(f"Model Options is not valid JSON ({exc.msg}); write it like "
                                           '{"texture_quality": "detailed"}.')
        if not isinstance(value, dict):
            raise catalog.validation_error('Model Options must be a JSON object, like {"texture_quality": "detailed"}.')
        return value

    def _format(self) -> str | None:
        if self.format == 'DEFAULT':
            return PIPELINE_DEFAULT_FORMAT.get(self.pipeline)
        if self.format == 'NONE':
            if self.pipeline != 'IMAGE_TO_ANIMATED':
                raise catalog.validation_error("This pipeline ends with a conversion: choose a format.")
            return None
        return self.format

    def _need(self, value: str, what: str) -> str:
        if not value.strip():
            if self._estimate:
                return "estimate.png" if what == "image" else "estimate"  # the cost does not depend on it
            raise catalog.validation_error(f"The {what} is missing.")
        return value.strip()

    _estimate = False

    def build_job(self, context, estimate: bool = False):
        type(self)._estimate = estimate
        try:
            return self._build_job(context)
        finally:
            type(self)._estimate = False

    def _build_job(self, context):
        p = self.pipeline
        meta: dict = {}
        if p == 'TEXT_TO_FINAL':
            job = pipelines.text_to_final(self._need(self.prompt, "prompt"), format=self._format(), **self._gen())
        elif p == 'IMAGE_TO_FINAL':
            job = pipelines.image_to_final(_path(self._need(self.image, "image")), format=self._format(),
                                           **self._gen())
        elif p == 'IMAGE_TO_ANIMATED':
            job = pipelines.image_to_animated(_path(self._need(self.image, "image")), animation=self.animation,
                                              format=self._format(), **self._gen())
        elif p == 'MESH_EDITING':
            parts = [s.strip() for s in self.part_names.split(",") if s.strip()] or None
            job = pipelines.mesh_editing(self._need(self.prompt, "prompt"), part_names=parts, **self._gen())
        elif p == 'IMPORT_AND_PROCESS':
            meshes = scene_export.selected_meshes(context)
            path = scene_export.export_selection_glb(context, settings.exports_dir())
            job = pipelines.import_and_process(path, self.step)
            job.title = f"{meshes[0].name} \u2192 {catalog.label(self.step)}"
            meta["source_objects"] = [o.name for o in meshes]
            meta["location"] = scene_export.source_location(meshes)
        elif p == 'IMAGE_TO_VIEWS_TO_MODEL':
            job = pipelines.image_to_views_to_model(_path(self._need(self.image, "image")), **self._gen())
        elif p == 'TEXT_TO_IMAGE_TO_MODEL':
            gen = self._gen()
            image = {"negative_prompt": gen.pop("negative_prompt")} if "negative_prompt" in gen else None
            job = pipelines.text_to_image_to_model(self._need(self.prompt, "prompt"), image=image, **gen)
        else:  # LOW_POLY_ASSET
            gen = self._gen()
            kwargs = {"face_limit": self.face_limit, "quad": self.quad, "format": self._format()}
            if self.lods:
                kwargs["lods"] = self.lods
                if self.smart_uv:
                    kwargs["lowpoly"] = {"model_version": "v3.0", "smart_uv": True}
            if "model_version" in gen:
                kwargs["model_version"] = gen.pop("model_version")
            clash = {k: gen.pop(k) for k in ("face_limit", "quad") if k in gen}  # the model's, not the low-poly's
            job = pipelines.low_poly_asset(self._need(self.prompt, "prompt"), **kwargs, **gen)
            job.steps[0].params.update(clash)
            if self.lods and self.export_fbx:
                job.meta["lod_fbx"] = str(settings.download_dir(settings.prefs(context))
                                          / f"{job.meta.get('lod_name') or 'Tripo'}_LODs.fbx")
        job.meta.update({k: v for k, v in meta.items() if v is not None})
        return job

    def execute(self, context):
        return build_and_run(self, context, lambda: self.build_job(context))


CLASSES = (*OPERATORS, TRIPO_OT_run_pipeline)
