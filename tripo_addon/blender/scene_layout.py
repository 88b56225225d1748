"""Where results go in the scene: at the 3D cursor or beside earlier results in a row, scaled to a target size,
turned about their bottom centre, with Euler rotation."""

from __future__ import annotations

import math

from mathutils import Matrix, Vector


def world_bounds(objects) -> tuple[Vector, Vector] | None:
    """World-space (min, max) corners around the objects' bounding boxes, or None when there is none."""
    lo = Vector((float("inf"),) * 3)
    hi = Vector((float("-inf"),) * 3)
    found = False
    for obj in objects:
        if obj.type not in {'MESH', 'CURVE', 'SURFACE', 'META', 'FONT'}:
            continue
        for corner in obj.bound_box:
            w = obj.matrix_world @ Vector(corner)
            lo = Vector(map(min, lo, w))
            hi = Vector(map(max, hi, w))
            found = True
    return (lo, hi) if found else None


ROW_GAP = 0.25  # space between results side by side, as a fraction of the larger footprint side


def _occupied(context, exclude) -> list[tuple[Vector, Vector]]:
    """World bounds of the visible Tripo results of the view layer but ``exclude``: a new result lands at the 3D
    cursor, or beside the results already there (the artist's own objects, e.g. the default cube, are not moved
    around: the cursor is where they asked for it)."""
    boxes = []
    for obj in context.view_layer.objects:
        if obj in exclude or not obj.visible_get() or not obj.get("tripo_task_id"):
            continue
        bounds = world_bounds([obj])
        if bounds is not None:
            boxes.append(bounds)
    return boxes


def free_spot(context, target: Vector, size: Vector, exclude=()) -> Vector:
    """A bottom centre for a box of ``size`` at ``target`` or, if an earlier result is in the way, further along +X:
    results sit in a row starting at the 3D cursor, never inside each other."""
    boxes = _occupied(context, set(exclude))
    half_x, half_y = size.x / 2, size.y / 2
    gap = max(size.x, size.y, 0.1) * ROW_GAP
    spot = target.copy()
    for _ in range(len(boxes) + 1):
        lo = Vector((spot.x - half_x - gap, spot.y - half_y - gap, spot.z))
        hi = Vector((spot.x + half_x + gap, spot.y + half_y + gap, spot.z + size.z))
        blocking = [b for b in boxes if b[0].x < hi.x and b[1].x > lo.x and b[0].y < hi.y and b[1].y > lo.y
                    and b[0].z < max(hi.z, lo.z + 1e-6) and b[1].z > lo.z]
        if not blocking:
            break
        spot.x = max(b[1].x for b in blocking) + gap + half_x
    return spot


def place(context, roots, objects, options) -> None:
    """Scale to the target size and move the result's bottom centre to its place: where its source was, else at
    the 3D cursor (or next along a row from it when something is already there). ``options``: a
    :class:`.scene_io.ImportOptions`."""
    if not roots:
        return
    context.view_layer.update()
    bounds = world_bounds(objects)
    if bounds is None:
        pivot = Vector((0.0, 0.0, 0.0))
        size = 0.0
    else:
        lo, hi = bounds
        pivot = Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z))
        size = max(hi - lo)
    if options.turn % 360:
        # about the vertical axis through the bottom centre: the footprint's centre stays where it was
        spin = (Matrix.Translation(pivot) @ Matrix.Rotation(math.radians(options.turn), 4, 'Z')
                @ Matrix.Translation(-pivot))
        for root in roots:
            root.matrix_world = spin @ root.matrix_world
        context.view_layer.update()
    factor = 1.0
    if options.target_size > 0 and size > 1e-9:
        factor = options.target_size / size
    if options.location is not None:
        target = Vector(options.location)
    elif options.place_at_cursor:
        target = context.scene.cursor.location.copy()
        turned = world_bounds(objects)
        extent = (turned[1] - turned[0]) * factor if turned is not None else Vector((0.0, 0.0, 0.0))
        target = free_spot(context, target, extent, exclude=objects)
    else:
        target = pivot.copy()
    if factor == 1.0 and (target - pivot).length < 1e-9:
        return
    for root in roots:
        root.scale = root.scale * factor
        root.location = target + (root.location - pivot) * factor
    context.view_layer.update()


def main_object(roots, objects):
    for obj in roots:
        if obj.type == 'ARMATURE':
            return obj
    meshes = [o for o in objects if o.type == 'MESH']
    if meshes:
        return max(meshes, key=lambda o: len(o.data.vertices))
    return roots[0] if roots else (objects[0] if objects else None)


def use_euler(objects) -> None:
    """Euler rotation (XYZ), as objects made in Blender have: importers leave quaternions (glTF). Blender converts
    the rotation itself, so nothing turns."""
    for obj in objects:
        if obj.rotation_mode != 'XYZ':
            obj.rotation_mode = 'XYZ'
