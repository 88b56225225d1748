"""image_to_depth: the depth image as a Blender image and, on request, a plane displaced by it.

The plane stands upright facing -Y (as the picture was taken), as wide as the image's aspect, with a Displace
modifier driven by an image texture of the depth map (brighter is nearer) over the plane's UVs, and the source picture
(when it was a local file) as its colour.
"""

from __future__ import annotations

import math
from pathlib import Path

import bmesh
import bpy

from .. import scene_io, scene_names

DEFAULT_STRENGTH = 0.3
MAX_SEGMENTS = 256


def import_depth(context, snap: dict, files: list[str], *, title: str, provenance: dict,
                 options: scene_io.ImportOptions, plane: bool | None = None,
                 strength: float | None = None) -> scene_io.ImportResult:
    result = scene_io.ImportResult()
    images = [f for f in files if scene_io.is_image(f)]
    if not images:
        raise scene_io.ImportFailed("The depth task returned no image to load; attach the task again later.")
    img = scene_io.load_image(images[0], f"{title} depth", provenance)
    img["tripo_depth"] = True
    img.use_fake_user = True
    try:
        img.colorspace_settings.name = 'Non-Color'  # data, not a picture: the displacement reads it as is
    except TypeError:  # pragma: no cover - a colour management config without Non-Color
        pass
    result.images.append(img.name)
    if plane is None:
        settings = getattr(context.scene, "tripo_v3", None)
        plane = bool(getattr(settings, "depth_plane", False))
    if plane:
        source = _source_picture(snap)
        obj = depth_plane(context, img, title=title, strength=DEFAULT_STRENGTH if strength is None else strength,
                          picture=source, options=options)
        scene_io.tag([obj], provenance)
        result.objects = [obj]
        result.collection_name = obj.users_collection[0].name if obj.users_collection else ""
    scene_io.push_undo(f"Import Tripo result: {title}")
    return result


def _source_picture(snap: dict) -> str | None:
    for step in snap.get("steps") or []:
        path = (step.get("params") or {}).get("file")
        if isinstance(path, str) and Path(path).is_file() and scene_io.is_image(path):
            return path
    return None


def depth_plane(context, img, *, title: str, strength: float, picture: str | None,
                options: scene_io.ImportOptions):
    """A subdivided plane displaced by ``img`` (Displace modifier + image texture), in its own collection."""
    w, h = img.size[:] if img.size[0] and img.size[1] else (1, 1)
    aspect = w / h
    long_side = MAX_SEGMENTS
    sx, sy = (long_side, max(2, round(long_side / aspect))) if aspect >= 1 else (max(2, round(long_side * aspect)),
                                                                               long_side)
    name = f"{' '.join(str(title).split())[:48]} depth"
    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    try:
        bmesh.ops.create_grid(bm, x_segments=sx, y_segments=sy, size=0.5, calc_uvs=True)
        for v in bm.verts:
            v.co.x *= aspect if aspect >= 1 else 1.0
            v.co.y *= 1.0 if aspect >= 1 else 1.0 / aspect
        bm.to_mesh(mesh)
    finally:
        bm.free()
    obj = bpy.data.objects.new(name, mesh)
    coll = bpy.data.collections.new(scene_names.unique_collection_name(title)) if options.collection_per_task \
        else context.scene.collection
    if coll is not context.scene.collection:
        context.scene.collection.children.link(coll)
    coll.objects.link(obj)
    obj.rotation_euler = (math.radians(90.0), 0.0, 0.0)  # upright, facing -Y like the picture
    obj.location = context.scene.cursor.location.copy() if options.place_at_cursor else (0.0, 0.0, 0.0)
    obj.location.z += 0.5 if aspect >= 1 else 0.5 / aspect
    tex = bpy.data.textures.new(name, 'IMAGE')
    tex.image = img
    tex.extension = 'EXTEND'
    mod = obj.modifiers.new("Tripo Depth", 'DISPLACE')
    mod.texture = tex
    mod.texture_coords = 'UV'
    mod.strength = float(strength)
    mod.mid_level = 0.0
    obj.data.materials.append(_material(name, picture, img))
    obj["tripo_depth_image"] = img.name
    for o in context.view_layer.objects:
        o.select_set(False)
    if obj.name in context.view_layer.objects:
        obj.select_set(True)
        context.view_layer.objects.active = obj
    return obj


def _material(name: str, picture: str | None, depth_img):
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0) and not mat.use_nodes:  # always on from 5.0
        mat.use_nodes = True
    nodes = mat.node_tree.nodes
    bsdf = next((n for n in nodes if n.type == 'BSDF_PRINCIPLED'), None)
    if bsdf is None:
        return mat
    tex = nodes.new('ShaderNodeTexImage')
    tex.image = bpy.data.images.load(picture, check_existing=True) if picture else depth_img
    mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return mat
