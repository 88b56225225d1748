"""Input limits Tripo states for a step's source mesh, checked on the objects in the scene before anything is sent.

Smart UV (``mesh_uv``) takes at most 80,000 triangles (tripo-api-v3.md §18 R13): the source's triangles are counted
(modifiers applied, as the export sends them; n-gons as the triangles they become) and a larger mesh is refused with
the count and what to do.
"""

from __future__ import annotations

SMART_UV_MAX_TRIANGLES = 80_000


def triangles(objects, context=None) -> int:
    """Triangles of the mesh objects as sent (evaluated: modifiers applied)."""
    import bpy

    context = context or bpy.context
    depsgraph = context.evaluated_depsgraph_get()
    total = 0
    for obj in objects:
        if getattr(obj, "type", None) != 'MESH':
            continue
        ev = obj.evaluated_get(depsgraph)
        mesh = ev.to_mesh()
        try:
            total += sum(max(0, p.loop_total - 2) for p in mesh.polygons)
        finally:
            ev.to_mesh_clear()
    return total


def smart_uv_problem(objects, context=None) -> str | None:
    """Why Smart UV cannot take these objects (more than 80,000 triangles), or None."""
    n = triangles(objects, context)
    if n > SMART_UV_MAX_TRIANGLES:
        return (f"Smart UV takes at most {SMART_UV_MAX_TRIANGLES:,} triangles, and this model has {n:,}: decimate it "
                "first (Decimate / Smart Low Poly, or Blender's Decimate modifier) and unwrap that; nothing was sent.")
    return None
