"""Variants: "Generate ×N" on text, image and views to model; the results in a labelled grid at the 3D cursor;
"Keep this one" (``tripo.keep_variant``).

``bpy.ops.tripo.text_to_model(prompt=..., variants=4, wait=True)`` sends N jobs (seeds base+0 ... base+N-1; every
one is checked before any is sent, the total cost against the confirmation threshold), returns when all are in and
leaves them selected. Without ``wait`` the jobs import as they arrive and a timer moves each into its cell.
Results carry ``tripo_variant_group``, ``tripo_variant``, ``tripo_variants`` and ``tripo_seed``.
"""

from __future__ import annotations

import math
import random

import bpy
from bpy.props import EnumProperty, IntProperty
from mathutils import Vector

from ...jobs import cost
from ...jobs.job import new_id
from .. import catalog, cost_ui, drain, job_import, runtime, scene_io, tasklist, wakeup
from .base import collect, is_set

MAX_VARIANTS = 8
GAP = 1.35  # a cell is this many times the largest result
LABEL_PREFIX = "TripoVariantLabel"
TYPES = ("text_to_model", "image_to_model", "multiview_to_model")

VARIANTS_PROP = IntProperty(
    name="Variants", min=1, max=MAX_VARIANTS, default=1, options={'SKIP_SAVE'},
    description="Generate ×N: N versions, each with its own seed, laid out side by side at the 3D cursor",
)

_groups: dict[str, dict] = {}  # group id -> {"jobs": [...], "anchor": (x, y, z), "title": str, "seeds": [...]}


# ==================================================================================================== sending
def seeds(op, n: int) -> list[int]:
    """N seeds: from the operator's ``model_seed`` when the user set one, else from a random base."""
    base = int(op.model_seed) if hasattr(op, "model_seed") and is_set(op, "model_seed") else \
        random.randrange(1, 2**31 - MAX_VARIANTS)
    return [base + i for i in range(n)]


def build_jobs(op, context, n: int) -> tuple[list, list[int]]:
    params = collect(op, op.bindings)
    ss = seeds(op, n)
    jobs = []
    for i, seed in enumerate(ss):
        p = dict(params)
        if catalog.param(op.task_type, "model_seed") is not None:
            p["model_seed"] = seed
        if catalog.param(op.task_type, "texture_seed") is not None and not is_set(op, "texture_seed"):
            p["texture_seed"] = seed
        job = op.build_job(context, p)
        job.title = f"{job.title} #{i + 1}"
        jobs.append(job)
    return jobs, ss


def total_estimate(op, n: int) -> float | None:
    one = catalog.estimate_credits(op.task_type, op.safe_params())
    return None if one is None else float(one) * n


def draw_total(op, layout) -> None:
    """The dialog's "×N" line: the variants field and the total cost of all of them."""
    layout.prop(op, "variants")
    n = int(getattr(op, "variants", 1) or 1)
    if n > 1:
        layout.label(text=f"{n} variants: about {cost.text(total_estimate(op, n))} credits in all", icon='INFO')


def execute(op, context) -> set[str]:
    """Send ``op.variants`` jobs of the operator's task (all checked first); with ``op.wait``, import them all."""
    n = int(op.variants)
    try:
        jobs, ss = build_jobs(op, context, n)
        eng = runtime.engine()
        for job in jobs:  # every variant is checked before any is sent
            job.api = eng.api
            eng.validate(job)
    except Exception as exc:
        if not catalog.is_tripo_error(exc):
            raise
        op.report({'ERROR'}, catalog.user_message(exc))
        return {'CANCELLED'}
    costs = [c for job in jobs for c in cost_ui.costs_of(job)]
    if not getattr(op, "confirm_cost", False):
        problem = cost.needs_confirmation(costs, cost_ui.threshold(context))
        if problem:
            op.report({'ERROR'}, problem.replace("This costs", f"These {n} variants cost"))
            return {'CANCELLED'}
    gid = new_id()
    anchor = tuple(context.scene.cursor.location)
    group = {"jobs": [], "anchor": anchor, "title": jobs[0].title.rsplit(" #", 1)[0], "seeds": ss, "placed": set()}
    for i, job in enumerate(jobs):
        job.meta.update(variant_group=gid, variant=i + 1, variants=n, variant_seed=ss[i])
        try:
            job_id = runtime.submit(job, context)
        except Exception as exc:
            if not catalog.is_tripo_error(exc):
                raise
            op.report({'ERROR'}, f"Variant {i + 1} of {n} was not sent: {catalog.user_message(exc)}"
                      + (f" ({i} sent before it go on)" if i else ""))
            break
        group["jobs"].append(job_id)
        tasklist.mirror(eng.get(job_id), context, running=True)
    if not group["jobs"]:
        return {'CANCELLED'}
    _groups[gid] = group
    if not op.wait:
        wakeup.ensure_running(context)
        _ensure_timer()
        op.report({'INFO'}, f"Sent {len(group['jobs'])} variants to Tripo: {group['title']} "
                            f"(about {cost.text(cost.total(costs))} credits)")
        return {'FINISHED'}
    return _wait(op, context, gid)


def _wait(op, context, gid: str) -> set[str]:
    eng = runtime.engine()
    group = _groups[gid]
    timeout = float(getattr(op, "wait_timeout", 0.0) or 0.0) or None
    for job_id in group["jobs"]:
        eng.wait(job_id, timeout)
    drain.drain(context, budget=None)
    bad = []
    for job_id in group["jobs"]:
        snap = eng.get(job_id)
        if snap.get("state") != "succeeded":
            bad.append(f"{snap.get('title')}: {snap.get('error') or snap.get('state')}")
            continue
        if not snap.get("imported"):
            try:
                job_import.import_job(job_id, context)
            except scene_io.ImportFailed as exc:
                bad.append(f"{snap.get('title')}: not imported ({exc})")
    roots = layout_group(context, gid)
    for obj in context.view_layer.objects:
        obj.select_set(False)
    for obj in roots:
        obj.select_set(True)
    if roots:
        context.view_layer.objects.active = roots[0]
    if bad:
        op.report({'ERROR'}, f"{len(bad)} of {len(group['jobs'])} variants did not arrive: " + "; ".join(bad))
        return {'CANCELLED'}
    op.report({'INFO'}, f"Tripo: {len(roots)} variants of {group['title']} side by side")
    return {'FINISHED'}


# ==================================================================================================== the grid
def _task_id(snap: dict) -> str:
    ids = snap.get("task_ids") or []
    return ids[-1] if ids else ""


def _roots(context, task_id: str) -> list:
    objs = [o for o in context.scene.objects if o.get("tripo_task_id") == task_id]
    return [o for o in objs if o.parent is None or o.parent.get("tripo_task_id") != task_id]


def layout_group(context, gid: str) -> list:
    """Move every imported variant of a group into its cell (columns along +X, rows along -Y from the cursor where
    the group was sent) with a text label under it; returns the results' root objects in variant order."""
    group = _groups.get(gid)
    eng = runtime.engine(create=False)
    if group is None or eng is None:
        return []
    placed: list[tuple[int, list, object]] = []
    for job_id in group["jobs"]:
        try:
            snap = eng.get(job_id)
        except KeyError:
            continue
        meta = snap.get("meta") or {}
        roots = _roots(context, _task_id(snap)) if snap.get("imported") else []
        if roots:
            placed.append((int(meta.get("variant") or 0), roots, meta))
    if not placed:
        return []
    context.view_layer.update()
    sizes = []
    for _, roots, _ in placed:
        b = scene_io.world_bounds(_with_children(roots))
        sizes.append(max((b[1] - b[0])[:2]) if b else 1.0)
    cell = max(max(sizes), 0.1) * GAP
    n = max(int(m.get("variants") or len(placed)) for _, _, m in placed)
    cols = math.ceil(math.sqrt(n))
    anchor = Vector(group["anchor"])
    out = []
    for v, roots, meta in sorted(placed, key=lambda t: t[0]):
        col, row = (v - 1) % cols, (v - 1) // cols
        target = anchor + Vector((col * cell, -row * cell, 0.0))
        objs = _with_children(roots)
        b = scene_io.world_bounds(objs)
        if b is not None:
            pivot = Vector(((b[0].x + b[1].x) / 2, (b[0].y + b[1].y) / 2, b[0].z))
            for r in roots:
                r.location = r.location + (target - pivot)
        for r in roots:
            r["tripo_variant_group"] = gid
            r["tripo_variant"] = v
            r["tripo_variants"] = n
            r["tripo_seed"] = int(meta.get("variant_seed") or 0)
        _label(context, gid, v, n, int(meta.get("variant_seed") or 0), group["title"], roots[0],
               target + Vector((0.0, -cell * 0.42, 0.0)), cell * 0.07)
        out.append(roots[0])
        group["placed"].add(v)
    context.view_layer.update()
    return out


def _with_children(roots) -> list:
    out = []
    for r in roots:
        out.append(r)
        out.extend(r.children_recursive)
    return out


def _label(context, gid: str, v: int, n: int, seed: int, title: str, owner, where: Vector, size: float) -> None:
    name = f"{LABEL_PREFIX}_{gid}_{v}"
    obj = bpy.data.objects.get(name)
    if obj is None:
        curve = bpy.data.curves.new(name, 'FONT')
        curve.body = f"{title} #{v}/{n}  seed {seed}"
        curve.align_x = 'CENTER'
        obj = bpy.data.objects.new(name, curve)
        coll = owner.users_collection[0] if owner.users_collection else context.scene.collection
        coll.objects.link(obj)
        obj["tripo_variant_group"] = gid
        obj["tripo_variant_label"] = v
    obj.data.size = max(size, 0.02)
    obj.location = where


def _ensure_timer() -> None:
    if not bpy.app.timers.is_registered(_watch):
        bpy.app.timers.register(_watch, first_interval=0.5, persistent=True)


def _watch():
    """Lay out variants that were imported since the last look (jobs sent without ``wait``)."""
    eng = runtime.engine(create=False)
    if eng is None or not _groups:
        return None
    busy = False
    for gid, group in list(_groups.items()):
        states = []
        for job_id in group["jobs"]:
            try:
                states.append(eng.get(job_id))
            except KeyError:
                continue
        imported = {int((s.get("meta") or {}).get("variant") or 0) for s in states if s.get("imported")}
        if imported - group["placed"]:
            try:
                layout_group(bpy.context, gid)
            except Exception:  # noqa: BLE001 - a removed object or collection: the rest still gets placed
                group["placed"] |= imported
        if any(s.get("state") not in ("succeeded", "failed", "cancelled", "needs_attention") or
               (s.get("state") == "succeeded" and not s.get("imported")) for s in states):
            busy = True
    return 0.5 if busy else None


# ==================================================================================================== keep one
def group_members(gid: str) -> dict[int, list]:
    """Every object of a variant group in this file, by variant number (labels included)."""
    out: dict[int, list] = {}
    for obj in bpy.data.objects:
        if obj.get("tripo_variant_group") != gid:
            continue
        v = int(obj.get("tripo_variant") or obj.get("tripo_variant_label") or 0)
        out.setdefault(v, []).append(obj)
    return out


class TRIPO_OT_keep_variant(bpy.types.Operator):
    """Keep the active variant in the scene; the group's other variants are removed or kept as assets"""

    bl_idname = "tripo.keep_variant"
    bl_label = "Keep This One"
    bl_options = {'REGISTER', 'UNDO'}

    others: EnumProperty(
        name="The Others",
        items=(('REMOVE', "Remove", "Delete the other variants from this file"),
               ('ASSETS', "Keep as Assets", "Take them out of the scene but keep them in this file as assets "
                                            "(Asset Browser > Current File)")),
        default='REMOVE',
    )

    @classmethod
    def _chosen(cls, context):
        obj = context.active_object
        while obj is not None and obj.get("tripo_variant_group") is None and obj.parent is not None:
            obj = obj.parent
        return obj if obj is not None and obj.get("tripo_variant_group") and obj.get("tripo_variant") else None

    @classmethod
    def poll(cls, context):
        if cls._chosen(context) is None:
            cls.poll_message_set("Select one variant of a Generate ×N result")
            return False
        return True

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        chosen = self._chosen(context)
        gid, keep = chosen["tripo_variant_group"], int(chosen["tripo_variant"])
        removed = kept = 0
        for v, objs in group_members(gid).items():
            labels = [o for o in objs if o.get("tripo_variant_label")]
            results = [o for o in objs if o not in labels]
            for o in labels:
                bpy.data.objects.remove(o, do_unlink=True)
            if v == keep:
                for o in results:
                    o["tripo_variant_kept"] = True
                continue
            everything = _with_children(results)
            colls = {c for o in everything for c in o.users_collection}
            if self.others == 'REMOVE':
                for o in everything:
                    bpy.data.objects.remove(o, do_unlink=True)
                removed += 1
            else:
                for o in results:
                    o.asset_mark()
                    o.asset_data.description = f"Tripo variant {v} (seed {o.get('tripo_seed', '')})"
                    for tag in ("tripo", "variant", str(o.get("tripo_task_type") or "")):
                        if tag:
                            o.asset_data.tags.new(tag, skip_if_exists=True)
                    o.use_fake_user = True
                for o in everything:
                    for c in list(o.users_collection):
                        c.objects.unlink(o)
                kept += 1
            for c in colls:
                if c.name in bpy.data.collections and not c.all_objects and not c.children:
                    bpy.data.collections.remove(c)
        _groups.pop(gid, None)
        self.report({'INFO'}, f"Kept variant {keep}" + (f"; {removed} removed" if removed else "")
                    + (f"; {kept} kept as assets" if kept else ""))
        return {'FINISHED'}


CLASSES = (TRIPO_OT_keep_variant,)


def with_variants(mixin: type) -> type:
    """``mixin`` plus the ``variants`` property: above 1, execute sends N seeds and the dialog shows the total."""

    def execute_n(self, context):
        if int(getattr(self, "variants", 1) or 1) > 1:
            return execute(self, context)
        return mixin.execute(self, context)

    def draw_n(self, context):
        mixin.draw(self, context)
        draw_total(self, self.layout)

    return type(f"{mixin.__name__}Variants", (mixin,), {
        "extra_annotations": {**getattr(mixin, "extra_annotations", {}), "variants": VARIANTS_PROP},
        "execute": execute_n, "draw": draw_n, "__doc__": mixin.__doc__})
