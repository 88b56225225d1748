"""The "Tripo" sidebar (View3D N-panel): Generate, Active Object, Tasks, Balance; plus the Object > Tripo menu."""

from __future__ import annotations

import json
import textwrap

import bpy

from . import base_package, catalog, previews, runtime, settings
from .operators import TASK_OPERATORS, segment
from .operators.postprocess import source_problem, tripo_source
from .tasklist import format_credits

STATE_ICONS = {
    "pending": 'TIME',
    "uploading": 'EXPORT',
    "submitting": 'EXPORT',
    "queued": 'SORTTIME',
    "running": 'PLAY',
    "downloading": 'IMPORT',
    "succeeded": 'CHECKMARK',
    "failed": 'ERROR',
    "cancelled": 'CANCEL',
    "needs_attention": 'QUESTION',
}
GENERATE_OPERATOR = {'TEXT': "text_to_model", 'IMAGE': "image_to_model", 'MULTIVIEW': "multiview_to_model"}
#: Scene settings that map onto generation parameters of the same name
SHARED_OPTIONS = ("texture", "pbr", "texture_quality", "geometry_quality", "face_limit", "quad", "smart_low_poly",
                  "auto_size")


def _wrap(layout, text: str, *, icon='NONE', width: int = 44, alert: bool = False) -> None:
    col = layout.column(align=True)
    col.alert = alert
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        col.label(text=line, icon=icon if i == 0 else 'BLANK1' if icon != 'NONE' else 'NONE')


def draw_unavailable(layout, context) -> bool:
    """Say why nothing can be sent (offline, no key). Returns True when everything is available."""
    reason = settings.unavailable_reason(context)
    if not reason:
        return True
    box = layout.box()
    _wrap(box, reason, icon='ERROR', alert=True)
    box.operator("preferences.addon_show", text="Open Tripo Preferences", icon='PREFERENCES').module = base_package
    return False


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


class _Sidebar:
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Tripo"


class TRIPO_PT_generate(_Sidebar, bpy.types.Panel):
    bl_label = "Generate"
    bl_idname = "TRIPO_PT_generate"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.tripo
        draw_unavailable(layout, context)
        layout.row().prop(settings, "mode", expand=True)
        col = layout.column()
        if settings.mode in ('TEXT', 'TEXT_IMAGE'):
            col.prop(settings, "prompt", text="", placeholder="Describe the model, e.g. a red wooden chair")
            col.prop(settings, "negative_prompt", text="", placeholder="Avoid (optional)")
        elif settings.mode == 'IMAGE':
            col.prop(settings, "image")
        else:
            for view in ("front", "left", "back", "right"):
                col.prop(settings, view)
        col = layout.column()
        col.use_property_split = True
        col.use_property_decorate = False
        col.prop(settings, "model_version")
        warning = version_warning(settings)
        if warning:
            _wrap(col, warning, icon='ERROR', alert=True)
        row = col.row(heading="Texture")
        row.prop(settings, "texture", text="")
        row.prop(settings, "pbr")
        col.prop(settings, "texture_quality")
        layout.prop(settings, "show_advanced", icon='TRIA_DOWN' if settings.show_advanced else 'TRIA_RIGHT',
                    emboss=False)
        if settings.show_advanced:
            col = layout.column()
            col.use_property_split = True
            col.use_property_decorate = False
            col.prop(settings, "geometry_quality")
            col.prop(settings, "face_limit")
            col.prop(settings, "quad")
            col.prop(settings, "smart_low_poly")
            col.prop(settings, "auto_size")
        idname, props = generate_call(settings)
        if idname == "tripo.run_pipeline":
            model = {k: v for k, v in props.items() if k == "model_version"}
            model.update(json.loads(props.get("model_options") or "{}"))
            credits = _sum_credits((("text_to_image", {"prompt": settings.prompt}), ("image_to_model", model)))
        else:
            credits = catalog.estimate_credits(idname.split(".", 1)[1], _api_params(props))
        if credits is not None:
            layout.label(text=f"Estimated cost: {credits} credits", icon='INFO')
        from .cost_ui import threshold

        ask = credits is not None and 0 < threshold(context) < credits  # above it: the dialog asks to confirm
        if ask:
            layout.label(text="Above your confirmation threshold: Generate asks first", icon='ERROR')
        row = layout.row()
        row.scale_y = 1.4
        row.operator_context = 'INVOKE_DEFAULT' if ask else 'EXEC_DEFAULT'
        op = row.operator(idname, text="Generate", icon='PLAY')
        for key, value in props.items():
            setattr(op, key, value)
        layout.operator_context = 'INVOKE_DEFAULT'
        layout.operator("tripo.run_pipeline", text="Pipelines\u2026", icon='NODETREE')


def _sum_credits(parts) -> int | None:
    total = 0
    for task_type, params in parts:
        c = catalog.estimate_credits(task_type, params)
        if c is None:
            return None
        total += c
    return total


class TRIPO_PT_active(_Sidebar, bpy.types.Panel):
    bl_label = "Active Object"
    bl_idname = "TRIPO_PT_active"

    def draw(self, context):
        layout = self.layout
        obj = context.active_object
        if obj is None:
            layout.label(text="Select a Tripo result or a mesh", icon='INFO')
            return
        src = tripo_source(obj)
        if src is not None:
            box = layout.box()
            box.label(text=obj.name, icon='OBJECT_DATA')
            box.label(text=f"From: {catalog.label(src[1])}")
            row = box.row(align=True)
            row.label(text=f"Task: {src[0][:13]}\u2026")
            row.operator("tripo.copy_task_id", text="", icon='COPYDOWN').task_id = src[0]
            if obj.get("tripo_model_version"):
                box.label(text=f"Model: {obj['tripo_model_version']}")
            if obj.get("tripo_rig_type"):
                box.label(text=f"Rig check: {obj['tripo_rig_type']}"
                          f"{'' if obj.get('tripo_riggable', True) else ' (not riggable)'}")
        elif obj.type == 'MESH':
            layout.label(text="Your own mesh: Tripo imports it first", icon='MESH_DATA')
            row = layout.row()
            row.operator_context = 'EXEC_DEFAULT'
            row.operator("tripo.import_model", text="Send Selected to Tripo", icon='EXPORT')
        else:
            layout.label(text=f"{obj.name} is neither a Tripo result nor a mesh", icon='INFO')
            return
        if not draw_unavailable(layout, context):
            return
        col = layout.column(align=True)
        shown = 0
        for cls in TASK_OPERATORS:
            if cls.task_type in catalog.GENERATION or cls.task_type in catalog.IMAGE_RESULT:
                continue
            if cls.task_type == "import_model":
                continue
            if cls.task_type == "smart_segment":  # a step of its own (operators/segment.py): any selected mesh
                if not catalog.retired_reason(cls.task_type) and segment.source_problem(context) is None:
                    segment.draw_step(col, context)
                    shown += 1
                continue
            if source_problem(cls.task_type, context) is not None:
                continue
            col.operator(cls.bl_idname, text=catalog.label(cls.task_type))
            shown += 1
        if not shown:
            layout.label(text="No further Tripo step applies to this result", icon='INFO')


class TRIPO_UL_tasks(bpy.types.UIList):
    """Tripo jobs of this session and earlier ones (from the job log)"""

    bl_idname = "TRIPO_UL_tasks"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        kind = catalog.label(item.task_type) if item.task_type else item.kind
        row.label(text=item.name, icon=STATE_ICONS.get(item.state, 'QUESTION'))
        right = row.row(align=True)
        right.alignment = 'RIGHT'
        if item.state in ("failed", "needs_attention"):
            right.label(text=(item.error or item.state)[:28], icon='ERROR')
        elif not item.final:
            text = f"{kind} {item.progress}%"
            if item.eta >= 0:
                text += f" \u00b7 {_eta(item.eta)}"
            if item.notice.startswith("Waiting for the image slot") or (
                    item.notice.startswith("Waiting for a free slot") and item.task_type in catalog.IMAGE_RESULT):
                text = "waiting for the image slot"  # v3: one image task at a time per account
            sub = right.row()
            sub.ui_units_x = 6
            sub.progress(factor=item.progress / 100.0, type='BAR', text=text)
        else:
            if item.credits:
                right.label(text=f"{format_credits(item.credits)} cr")
            if item.can_import:
                right.operator("tripo.import_result", text="", icon='IMPORT').job_id = item.job_id


def _eta(seconds: int) -> str:
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class TRIPO_PT_tasks(_Sidebar, bpy.types.Panel):
    bl_label = "Tasks"
    bl_idname = "TRIPO_PT_tasks"

    def draw(self, context):
        layout = self.layout
        state = context.window_manager.tripo
        reason = settings.offline_reason()
        if reason:
            _wrap(layout, f"Not following tasks: {reason}", icon='ERROR', alert=True)
        layout.template_list("TRIPO_UL_tasks", "", state, "tasks", state, "active_task", rows=3)
        if 0 <= state.active_task < len(state.tasks):
            draw_task(layout.box(), state.tasks[state.active_task])
        row = layout.row(align=True)
        row.prop(state, "attach_task_id", text="", icon='LINKED', placeholder="Task id to attach")
        row.operator("tripo.attach_task", text="Attach")
        if state.notice:
            _wrap(layout, state.notice, icon='INFO')



def draw_task(box, item) -> None:
    box.label(text=item.name, icon=STATE_ICONS.get(item.state, 'QUESTION'))
    step = f" (step {item.step}/{item.steps})" if item.steps > 1 else ""
    kind = catalog.label(item.task_type) if item.task_type else item.kind
    box.label(text=f"{kind}{step}: {item.status or item.state}")
    if not item.final and item.state != "needs_attention":
        text = f"{item.progress}%"
        if item.eta >= 0:
            text += f", about {_eta(item.eta)} left"
        elif item.queue_position >= 0:
            text += f", queue position {item.queue_position}"
        if hasattr(box, "progress"):
            box.progress(factor=item.progress / 100.0, type='BAR', text=text)
        else:  # pragma: no cover - Blender < 4.0
            box.prop(item, "progress", slider=True, text=text)
    if item.credits:
        box.label(text=f"Credits: {format_credits(item.credits)}", icon='FUND')
    if item.steps > 1 or item.credits:
        from .cost_ui import draw_step_credits

        draw_step_credits(box, item.job_id)  # per step: estimated before, used after
    if item.error:
        _wrap(box, item.error, icon='ERROR', alert=True)
    if item.notice:
        _wrap(box, item.notice, icon='INFO')
    if item.saved_path:
        _wrap(box, f"Saved: {item.saved_path}", icon='FILE_TICK')
    icon = previews.icon_id(item.preview_path)
    if icon:
        box.template_icon(icon_value=icon, scale=6.0)
    row = box.row(align=True)
    if item.state == "succeeded":
        row.operator("tripo.import_result", text="Import Again" if item.imported else "Import",
                     icon='IMPORT').job_id = item.job_id
    elif not item.final and item.state != "needs_attention":
        row.operator("tripo.cancel_job", text="Cancel", icon='CANCEL').job_id = item.job_id
    if item.state in ("failed", "cancelled", "needs_attention"):
        row.operator("tripo.retry_job", text="Retry", icon='FILE_REFRESH').job_id = item.job_id
    if item.task_id:
        row.operator("tripo.copy_task_id", text="", icon='COPYDOWN').job_id = item.job_id
    if item.result_files or item.saved_path:
        path = (item.saved_path or item.result_files).splitlines()[0]
        row.operator("tripo.open_folder", text="", icon='FILE_FOLDER').path = path
    row.operator("tripo.remove_job", text="", icon='X').job_id = item.job_id


class TRIPO_PT_balance(_Sidebar, bpy.types.Panel):
    bl_label = "Balance"
    bl_idname = "TRIPO_PT_balance"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        state = context.window_manager.tripo
        runtime.balance_watched()  # on screen: it follows finished jobs by itself
        row = layout.row()
        if state.balance_known:
            text = f"{format_credits(state.balance)} credits"
            if state.frozen:
                text += f" ({format_credits(state.frozen)} reserved)"
            row.label(text=text, icon='FUND')
        else:
            row.label(text="Balance not checked yet", icon='FUND')
        row.operator("tripo.refresh_balance", text="", icon='FILE_REFRESH')
        if state.balance_text:
            _wrap(layout, state.balance_text, icon='ERROR', alert=True)


class TRIPO_MT_main(bpy.types.Menu):
    """All Tripo operators (Object > Tripo; F3 search finds them through this menu)"""

    bl_label = "Tripo"
    bl_idname = "TRIPO_MT_main"

    def draw(self, context):
        layout = self.layout
        layout.operator_context = 'INVOKE_DEFAULT'
        for cls in TASK_OPERATORS:
            layout.operator(cls.bl_idname, text=catalog.label(cls.task_type))
        layout.separator()
        layout.operator("tripo.run_pipeline", text="Run Pipeline\u2026")
        layout.menu("TRIPO_MT_v3")  # panels_v3: four views, image to image, depth, splat
        layout.operator("tripo.attach_task", text="Attach Task by ID")
        layout.operator("tripo.make_lods", text="Make LODs\u2026")
        layout.operator("tripo.export_lods", text="Export LODs as FBX\u2026")
        layout.operator("tripo.refresh_history", text="Refresh Account History")
        layout.operator("tripo.refresh_balance")


def menu_func(self, _context):
    self.layout.menu(TRIPO_MT_main.bl_idname)


CLASSES = (TRIPO_UL_tasks, TRIPO_PT_generate, TRIPO_PT_active, TRIPO_PT_tasks, TRIPO_PT_balance, TRIPO_MT_main)
MENUS = (("VIEW3D_MT_object", menu_func),)
