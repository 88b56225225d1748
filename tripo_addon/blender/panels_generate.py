"""The Generate panel: every way to make something new, chosen by a mode; model modes (text, image, views, text ->
image) are drawn here with an Options subpanel, the v3 modes (four views, image edit, depth, splat) by the headerless
subpanels of :mod:`.panels_v3`."""

from __future__ import annotations

import json

import bpy

from . import catalog
from .panels import _Sidebar, _wrap, draw_unavailable

GENERATE_OPERATOR = {'TEXT': "text_to_model", 'IMAGE': "image_to_model", 'MULTIVIEW': "multiview_to_model"}
MODEL_MODES = ('TEXT', 'IMAGE', 'MULTIVIEW', 'TEXT_IMAGE')
#: Scene settings that map onto generation parameters of the same name
SHARED_OPTIONS = ("texture", "pbr", "texture_quality", "geometry_quality", "face_limit", "quad", "smart_low_poly",
                  "auto_size")


def shared_options(settings, task_type: str) -> dict:
    """The panel's generation options that ``task_type`` takes and the user changed (others: Tripo's defaults)."""
    props: dict = {}
    for name in SHARED_OPTIONS:
        p = catalog.param(task_type, name)
        if p is None:
            continue
        value = getattr(settings, name)
        if p.kind == "enum" and (value == catalog.AUTO or value not in p.choices):
            continue
        if name == "face_limit" and value <= 0:
            continue
        if p.kind == "bool" and bool(value) == bool(p.default):
            continue
        props[name] = value
    return props


def generate_call(settings) -> tuple[str, dict]:
    """(operator id, properties) for the Generate button from the Scene settings; unset options are left out."""
    mode = settings.mode
    if mode == 'TEXT_IMAGE':  # text_to_image, then image_to_model with the panel's model options
        props = {"pipeline": 'TEXT_TO_IMAGE_TO_MODEL', "prompt": settings.prompt}
        if settings.negative_prompt:
            props["negative_prompt"] = settings.negative_prompt
        if settings.model_version != catalog.AUTO:
            props["model_version"] = settings.model_version
        options = shared_options(settings, "image_to_model")
        if options:
            props["model_options"] = json.dumps(options, sort_keys=True)
        return "tripo.run_pipeline", props
    task_type = GENERATE_OPERATOR[mode]
    props: dict = {}
    if mode == 'TEXT':
        props["prompt"] = settings.prompt
        if settings.negative_prompt and catalog.param(task_type, "negative_prompt"):
            props["negative_prompt"] = settings.negative_prompt
    elif mode == 'IMAGE':
        props["file"] = settings.image
    else:
        for view in ("front", "left", "back", "right"):
            if getattr(settings, view):
                props[f"{view}_image"] = getattr(settings, view)
    version = catalog.param(task_type, "model_version")
    if settings.model_version != catalog.AUTO and version is not None and settings.model_version in version.choices:
        props["model_version"] = settings.model_version  # (Turbo has no multiview: the panel says so)
    props.update(shared_options(settings, task_type))
    return f"tripo.{task_type}", props


def version_warning(settings) -> str | None:
    """A model version the chosen mode cannot use (it is then not sent, and Tripo's default applies)."""
    task_type = GENERATE_OPERATOR.get(settings.mode, "image_to_model")
    version = catalog.param(task_type, "model_version")
    chosen = settings.model_version
    if chosen == catalog.AUTO or version is None or chosen in version.choices:
        return None
    default = catalog.default_model_version(task_type) or "Tripo's default"
    return f"{chosen} cannot do {catalog.label(task_type)}: {default} is used"


def _api_params(props: dict) -> dict:
    return {k: v for k, v in props.items() if not k.endswith("_image")}


def _sum_credits(parts) -> float | None:
    total = 0.0
    for task_type, params in parts:
        c = catalog.estimate_credits(task_type, params)
        if c is None:
            return None
        total += c
    return total


def estimate(settings, idname: str, props: dict) -> float | None:
    if idname == "tripo.run_pipeline":
        model = {k: v for k, v in props.items() if k == "model_version"}
        model.update(json.loads(props.get("model_options") or "{}"))
        return _sum_credits((("text_to_image", {"prompt": settings.prompt or "x"}), ("image_to_model", model)))
    return catalog.estimate_credits(idname.split(".", 1)[1], _api_params(props))


class TRIPO_PT_generate(_Sidebar, bpy.types.Panel):
    bl_label = "Generate"
    bl_idname = "TRIPO_PT_generate"
    bl_order = 0

    def draw(self, context):
        layout = self.layout
        settings = context.scene.tripo
        draw_unavailable(layout, context)  # the one place that says why nothing can be sent, with its fix
        grid = layout.grid_flow(row_major=True, columns=mode_columns(context), even_columns=True, even_rows=True,
                                align=True)
        grid.prop(settings, "mode", expand=True)
        if settings.mode not in MODEL_MODES:
            return  # four views, image edit, depth, splat: panels_v3's headerless subpanels
        col = layout.column()
        if settings.mode in ('TEXT', 'TEXT_IMAGE'):
            col.prop(settings, "prompt", text="", placeholder="Describe the model, e.g. a red wooden chair")
            col.prop(settings, "negative_prompt", text="", placeholder="Avoid (optional)")
        elif settings.mode == 'IMAGE':
            col.prop(settings, "image", text="")
        else:
            for view in ("front", "left", "back", "right"):
                col.prop(settings, view)
        col = layout.column()
        col.use_property_split = True
        col.use_property_decorate = False
        col.prop(settings, "model_version")
        warning = version_warning(settings)
        if warning:
            _wrap(col, warning, icon='ERROR', alert=True, context=context)
        idname, props = generate_call(settings)
        credits = estimate(settings, idname, props)
        from .cost_ui import threshold

        ask = credits is not None and 0 < threshold(context) < credits  # above it: the dialog asks to confirm
        row = layout.row(align=True)
        row.scale_y = 1.4
        row.operator_context = 'INVOKE_DEFAULT' if ask else 'EXEC_DEFAULT'
        text = "Generate" if credits is None else f"Generate \u00b7 {_credits(credits)} credits"
        op = row.operator(idname, text=text, icon='PLAY')
        for key, value in props.items():
            setattr(op, key, value)
        sub = row.row(align=True)
        sub.operator_context = 'INVOKE_DEFAULT'
        sub.operator("tripo.run_pipeline", text="", icon='NODETREE')  # Pipelines…: starts from these inputs
        if ask:
            _wrap(layout, "Above your confirmation threshold: Generate asks first", icon='ERROR', context=context)


def mode_columns(context) -> int:
    """Mode buttons per row: as many as fit their names at the sidebar's width (2 at the default width)."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) if region is not None else 0
    scale = getattr(getattr(context.preferences, "view", None), "ui_scale", 1.0) or 1.0
    return max(1, min(4, int(width / (118 * scale)))) if width else 2


def _credits(value: float) -> str:
    from .ui_text import credits_text

    return credits_text(value)


class TRIPO_PT_generate_options(_Sidebar, bpy.types.Panel):
    """Texture and geometry options of the model modes"""

    bl_label = "Options"
    bl_idname = "TRIPO_PT_generate_options"
    bl_parent_id = "TRIPO_PT_generate"
    bl_options = {'DEFAULT_CLOSED'}

    @classmethod
    def poll(cls, context):
        s = getattr(context.scene, "tripo", None)
        return s is not None and s.mode in MODEL_MODES

    def draw(self, context):
        layout = self.layout
        settings = context.scene.tripo
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(heading="Texture", align=True)
        col.prop(settings, "texture", text="Textured")
        sub = col.column(align=True)
        sub.enabled = settings.texture
        sub.prop(settings, "pbr", text="PBR Materials")
        sub = layout.column()
        sub.enabled = settings.texture
        sub.prop(settings, "texture_quality", text="Texture Detail")
        col = layout.column()
        col.prop(settings, "geometry_quality", text="Mesh Detail")
        col.prop(settings, "face_limit")
        col = layout.column(heading="Mesh", align=True)
        col.prop(settings, "quad", text="Quads")
        col.prop(settings, "smart_low_poly", text="Smart Low Poly")
        col.prop(settings, "auto_size", text="Real-World Size")


CLASSES = (TRIPO_PT_generate, TRIPO_PT_generate_options)
