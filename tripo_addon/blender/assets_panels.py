"""The Batch subpanel (under Generate) and its window-manager settings."""

from __future__ import annotations

import bpy
from bpy.props import PointerProperty, StringProperty

from ..jobs import batch as jb
from ..jobs import cost
from .operators import batch as ops_batch
from .operators import variants as ops_variants

MAX_ROWS_SHOWN = 12


class TRIPO_PG_batch(bpy.types.PropertyGroup):
    filepath: StringProperty(name="Rows File", subtype='FILE_PATH',
                             description="A .txt (one prompt a line), .csv or .json of rows (prompt, image, model, "
                                         "options, pipeline, variants)")
    out_dir: StringProperty(name="Batch Folder", subtype='DIR_PATH',
                            description="Where the rows' folders, the contact sheet and the summary go (empty: "
                                        "<download folder>/batches/<file name>)")


class TRIPO_PT_batch(bpy.types.Panel):
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Tripo"
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


CLASSES = (TRIPO_PG_batch, *ops_batch.CLASSES, *ops_variants.CLASSES, TRIPO_PT_batch)


def attach() -> None:
    bpy.types.WindowManager.tripo_batch = PointerProperty(type=TRIPO_PG_batch)


def detach() -> None:
    ops_batch.stop()
    if hasattr(bpy.types.WindowManager, "tripo_batch"):
        del bpy.types.WindowManager.tripo_batch
