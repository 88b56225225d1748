"""The Batch subpanel (under Generate) and its window-manager settings."""

from __future__ import annotations

import bpy
from bpy.props import IntProperty, PointerProperty, StringProperty

from ..jobs import batch as jb
from ..jobs import cost
from . import assets_library, assets_lineage
from .operators import batch as ops_batch
from .operators import redo as ops_redo
from .operators import variants as ops_variants
from .panels import _Sidebar

MAX_ROWS_SHOWN = 12


class TRIPO_PG_batch(bpy.types.PropertyGroup):
    filepath: StringProperty(name="Rows File", subtype='FILE_PATH',
                             description="A .txt (one prompt a line), .csv or .json of rows (prompt, image, model, "
                                         "options, pipeline, variants)")
    out_dir: StringProperty(name="Batch Folder", subtype='DIR_PATH',
                            description="Where the rows' folders, the contact sheet and the summary go (empty: "
                                        "<download folder>/batches/<file name>)")


class TRIPO_PG_variants(bpy.types.PropertyGroup):
    count: IntProperty(name="Variants", min=2, max=ops_variants.MAX_VARIANTS, default=4,
                       description="How many versions of the Generate settings to make, each with its own seed")


def generate_call(context) -> tuple[str, dict] | None:
    """The Generate button's operator and properties (the Generate panel's own), or None for another mode."""
    from . import panels_generate

    try:
        idname, props = panels_generate.generate_call(context.scene.tripo)
    except (KeyError, ValueError):  # a mode without one Generate operator: no variants button
        return None
    return (idname, props) if idname.split(".", 1)[-1] in ops_variants.TYPES else None


class TRIPO_PT_variants(_Sidebar, bpy.types.Panel):
    bl_parent_id = "TRIPO_PT_generate"
    bl_idname = "TRIPO_PT_variants"
    bl_label = "Variants"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        from . import catalog, cost_ui

        layout = self.layout
        props = context.window_manager.tripo_variants
        call = generate_call(context)
        if call is None:
            layout.label(text="Variants: text, image or views to model", icon='INFO')
            return
        idname, values = call
        layout.prop(props, "count")
        one = catalog.estimate_credits(idname.split(".", 1)[1], {k: v for k, v in values.items()
                                                                 if not k.endswith("_image")})
        total = None if one is None else float(one) * props.count
        layout.label(text=f"{props.count} variants: about {cost.text(total)} credits in all", icon='INFO')
        ask = total is not None and 0 < cost_ui.threshold(context) < total
        row = layout.row()
        row.scale_y = 1.2
        row.operator_context = 'INVOKE_DEFAULT' if ask else 'EXEC_DEFAULT'
        op = row.operator(idname, text=f"Generate \u00d7{props.count}", icon='PLAY')
        for key, value in values.items():
            setattr(op, key, value)
        op.variants = props.count
        obj = context.active_object
        if obj is not None and ops_variants.TRIPO_OT_keep_variant._chosen(context) is not None:
            layout.operator("tripo.keep_variant", icon='CHECKMARK')


class TRIPO_PT_lineage(_Sidebar, bpy.types.Panel):
    bl_parent_id = "TRIPO_PT_active"
    bl_idname = "TRIPO_PT_lineage"
    bl_label = "Lineage"

    @classmethod
    def poll(cls, context):
        return ops_redo.chosen(context) is not None

    def draw(self, context):
        layout = self.layout
        obj = ops_redo.chosen(context)
        chain = assets_lineage.lineage(obj)
        col = layout.column(align=True)
        total = 0.0
        for i, step in enumerate(chain, 1):
            credits = step.get("credits")
            total += float(credits or 0)
            tid = (step.get("task_id") or "")[:8]
            here = assets_lineage.result_of(step.get("task_id") or "") is not None
            row = col.row(align=True)
            row.label(text=f"{i}. {step.get('task_type') or 'earlier step'}  {tid}  "
                           f"{cost.text(credits) if credits is not None else '?'} cr",
                      icon='CHECKMARK' if here else 'DOT')
            if not here and assets_library.find_asset_file(step.get("task_id") or "") is not None:
                row.operator("tripo.library_bring_back", text="", icon='IMPORT').task_id = step["task_id"]
            if step.get("task_type") and len(chain) > 1:
                row.operator("tripo.redo", text="", icon='FILE_REFRESH').from_step = i
        layout.label(text=f"Chain: {cost.text(total)} credits", icon='INFO')
        if obj.get("tripo_redo_of"):
            layout.label(text=f"Redo of task {str(obj['tripo_redo_of'])[:8]}", icon='FILE_REFRESH')
        row = layout.row(align=True)
        row.operator("tripo.redo", text="New Seed", icon='FILE_REFRESH')
        row.operator("tripo.redo_with_changes", text="Changes\u2026", icon='PREFERENCES')


class TRIPO_OT_library_register(bpy.types.Operator):
    """Add the Tripo asset library to Preferences > File Paths > Asset Libraries (once); from then on every result
    is also saved there as an asset"""

    bl_idname = "tripo.library_register"
    bl_label = "Register Tripo Asset Library"
    bl_options = {'REGISTER'}

    directory: StringProperty(name="Folder", subtype='DIR_PATH', options={'SKIP_SAVE'},
                              description="Where the library lives (empty: <download folder>/Tripo Library)")

    def execute(self, context):
        try:
            lib, added = assets_library.register_library(bpy.path.abspath(self.directory) or None)
        except ValueError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        except OSError as exc:
            self.report({'ERROR'}, f"The library folder cannot be made: {exc}")
            return {'CANCELLED'}
        self.report({'INFO'}, ("Registered" if added else "Already registered") + f": {lib.name} at {lib.path}")
        return {'FINISHED'}


class TRIPO_OT_library_unregister(bpy.types.Operator):
    """Remove the Tripo library from the preferences (its saved assets stay on disk); results are no longer saved"""

    bl_idname = "tripo.library_unregister"
    bl_label = "Unregister Tripo Asset Library"
    bl_options = {'REGISTER'}

    def execute(self, context):
        if not assets_library.unregister_library():
            self.report({'WARNING'}, "No Tripo asset library is registered")
            return {'CANCELLED'}
        self.report({'INFO'}, "The Tripo library is no longer registered (its files stay where they are)")
        return {'FINISHED'}


class TRIPO_OT_library_bring_back(bpy.types.Operator):
    """Bring this step's result back from the Tripo asset library (appended at the 3D cursor)"""

    bl_idname = "tripo.library_bring_back"
    bl_label = "Bring Back from the Library"
    bl_options = {'REGISTER', 'UNDO'}

    task_id: StringProperty(name="Task ID", options={'SKIP_SAVE'})

    def execute(self, context):
        added = assets_library.bring_back(self.task_id.strip(), context)
        if not added:
            self.report({'ERROR'}, f"The Tripo library holds no asset of task {self.task_id} (is it registered?)")
            return {'CANCELLED'}
        for o in context.view_layer.objects:
            o.select_set(o in added)
        context.view_layer.objects.active = added[0]
        self.report({'INFO'}, f"Brought back {len(added)} object(s) of task {self.task_id[:8]}")
        return {'FINISHED'}


class TRIPO_PT_library(_Sidebar, bpy.types.Panel):
    bl_parent_id = "TRIPO_PT_tasks"
    bl_idname = "TRIPO_PT_library"
    bl_label = "Asset Library"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        lib = assets_library.registered()
        if lib is None:
            layout.label(text="Keep every result as an asset", icon='ASSET_MANAGER')
            layout.operator("tripo.library_register", icon='ADD')
            return
        layout.label(text=f"{lib.name}: {lib.path}", icon='ASSET_MANAGER')
        layout.label(text="Every result is also saved here (Asset Browser > Tripo)")
        obj = context.active_object
        if obj is not None and obj.get("tripo_asset_file"):
            layout.label(text=f"Active: {obj['tripo_asset_file']}", icon='CHECKMARK')
        layout.operator("tripo.library_unregister", icon='REMOVE')


class TRIPO_PT_batch(_Sidebar, bpy.types.Panel):
    bl_parent_id = "TRIPO_PT_generate"
    bl_idname = "TRIPO_PT_batch"
    bl_label = "Batch"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        props = context.window_manager.tripo_batch
        st = ops_batch.state
        col = layout.column()
        col.prop(props, "filepath", text="")
        col.prop(props, "out_dir", text="")
        row = layout.row(align=True)
        row.operator("tripo.batch_plan", text="Plan", icon='VIEWZOOM')
        sub = row.row(align=True)
        sub.enabled = not st.running
        sub.operator("tripo.batch_run", text="Run", icon='PLAY')
        if st.running:
            row.operator("tripo.batch_stop", text="", icon='PAUSE')
        if st.error:
            box = layout.box()
            box.alert = True
            for line in _wrap(st.error):
                box.label(text=line)
        if st.plan is not None and st.runner is not None:
            box = layout.box()
            for line in _wrap(st.plan.text()):
                box.label(text=line)
            recs = st.runner.records()
            counts = {s: sum(1 for r in recs if r.state == s) for s in (jb.PENDING, jb.SENT, jb.DONE, jb.FAILED)}
            box.label(text=f"{counts[jb.DONE]} done, {counts[jb.SENT]} running, {counts[jb.PENDING]} waiting, "
                           f"{counts[jb.FAILED]} failed", icon='INFO')
            col = box.column(align=True)
            shown = [r for r in recs if r.state in (jb.SENT, jb.FAILED)] + [r for r in recs if r.state == jb.DONE]
            for rec in shown[:MAX_ROWS_SHOWN]:
                r = col.row(align=True)
                icon = {jb.DONE: 'CHECKMARK', jb.FAILED: 'ERROR', jb.SENT: 'TIME'}.get(rec.state, 'DOT')
                what = (f"{cost.text(rec.credits)} cr" if rec.state == jb.DONE else
                        "failed" if rec.state == jb.FAILED else _progress(st.runner, rec))
                r.label(text=f"{rec.key}  {what}", icon=icon)
                if rec.state == jb.FAILED:
                    r.operator("tripo.batch_retry", text="", icon='FILE_REFRESH').row = rec.key
            if len(shown) > MAX_ROWS_SHOWN:
                col.label(text=f"... and {len(shown) - MAX_ROWS_SHOWN} more")
            if counts[jb.FAILED]:
                box.operator("tripo.batch_retry", text="Retry Failed Rows", icon='FILE_REFRESH')
        if st.message:
            layout.label(text=st.message, icon='CHECKMARK')
        if st.sheet:
            layout.label(text=f"Contact sheet: {st.sheet}", icon='IMAGE_DATA')


def _progress(runner, rec) -> str:
    snaps = runner.snapshots(rec)
    if not snaps:
        return "sent"
    return f"{snaps[0].get('state', '')} {int(sum(int(s.get('progress') or 0) for s in snaps) / len(snaps))}%"


def _wrap(text: str, width: int = 48) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    return lines + ([cur] if cur else [])


CLASSES = (TRIPO_PG_batch, TRIPO_PG_variants, *ops_batch.CLASSES, *ops_variants.CLASSES, *ops_redo.CLASSES,
           TRIPO_OT_library_register, TRIPO_OT_library_unregister, TRIPO_OT_library_bring_back,
           TRIPO_PT_variants, TRIPO_PT_batch, TRIPO_PT_lineage, TRIPO_PT_library)


def attach() -> None:
    bpy.types.WindowManager.tripo_batch = PointerProperty(type=TRIPO_PG_batch)
    bpy.types.WindowManager.tripo_variants = PointerProperty(type=TRIPO_PG_variants)


def detach() -> None:
    ops_batch.stop()
    for name in ("tripo_batch", "tripo_variants"):
        if hasattr(bpy.types.WindowManager, name):
            delattr(bpy.types.WindowManager, name)
