"""image_to_splat: a Gaussian splat (antimatter15 ``.splat``) as a coloured point cloud Blender's viewport shows.

A ``.splat`` is a list of 32-byte records: position (3 float32), scale (3 float32), colour RGBA (4 uint8) and
rotation (4 uint8, quaternion as ``q * 128 + 128``). Blender has no Gaussian splat renderer: each splat becomes a
vertex of a mesh with a ``Col`` colour attribute (the active colour: Solid view > Attribute shows it), ``opacity``,
``radius`` (from the scale) and ``scale`` attributes; a Geometry Nodes modifier turns the vertices into points of
that radius with a material reading ``Col``, so Material Preview and renders show coloured points. What is not shown:
the splats' elliptical shape, rotation and soft, view-dependent blending (open the saved ``.splat`` in a splat viewer
for those). Positions are read Y-up (as Tripo's models) and turned Z-up.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from pathlib import Path

import bpy
from mathutils import Matrix

from .. import scene_io, scene_names

RECORD = 32
NODE_GROUP = "Tripo Splat Points"
MAX_POINTS = 20_000_000
LIMITS = ("Blender shows the splat as coloured points (Material Preview or Solid > Attribute); the Gaussian shapes, "
          "rotations and soft blending are not shown: open the .splat file in a splat viewer for those.")
# Y-up (Tripo's models) -> Z-up: (x, y, z) -> (x, -z, y), a +90 degree turn about X
Y_UP_TO_Z_UP = Matrix.Rotation(math.pi / 2, 4, 'X')
_CLEAR_SIGN = bytes(b & 0x7F for b in range(256))  # bytes.translate table: the top bit of a byte cleared


def srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


_LINEAR = [srgb_to_linear(b / 255.0) for b in range(256)]  # a colour byte -> linear float
_UNIT = [b / 255.0 for b in range(256)]  # an alpha byte -> float


@dataclass(frozen=True)
class Records:
    """The records of a .splat file, split into flat arrays (record i's values at [3i:3i+3] / [4i:4i+4])."""

    n: int
    pos: array  # float32 x, y, z (Y-up, as in the file)
    scale: array  # float32 |sx|, |sy|, |sz|
    rgba: bytes  # uint8 r, g, b, a (sRGB colour, linear alpha)
    rot: bytes  # uint8 quaternion, q * 128 + 128


def parse(data: bytes) -> Records:
    """The records of a .splat file, in pure Python (no numpy: Debian's Blender has none). Raises ImportFailed.

    Every step is a C-level slice of ``array``/``bytes``: 1 M records take well under a second."""
    if not data:
        raise scene_io.ImportFailed("The splat file is empty: nothing to show. Run Image to Splat again.")
    if len(data) % RECORD:
        raise scene_io.ImportFailed(f"This is not a .splat file Blender can read: its size ({len(data)} bytes) is not "
                                    f"a multiple of {RECORD}-byte records. It stays saved on disk.")
    n = len(data) // RECORD
    if n > MAX_POINTS:
        raise scene_io.ImportFailed(f"The splat has {n:,} points, more than Blender can show comfortably "
                                    f"({MAX_POINTS:,}); it stays saved on disk.")
    raw = bytearray(data)
    for off in (15, 19, 23):  # |scale|: clear the sign bit (top bit of the last byte of each little-endian float32)
        raw[off::RECORD] = raw[off::RECORD].translate(_CLEAR_SIGN)
    words = array("f")
    words.frombytes(bytes(raw))  # 8 float32 words per record: pos (0-2), scale (3-5), then the 8 bytes of rgba/rot
    if array("f", b"\0\0\x80\x3f")[0] != 1.0:  # pragma: no cover - a big-endian machine
        words.byteswap()
    pos, scale = array("f", bytes(12 * n)), array("f", bytes(12 * n))
    for k in range(3):
        pos[k::3] = words[k::8]
        scale[k::3] = words[3 + k::8]
    if not math.isfinite(sum(pos)):  # one NaN or infinity makes the (float64) sum NaN or infinite
        raise scene_io.ImportFailed("The splat file holds invalid positions (NaN or infinite); it stays saved on disk.")
    rgba, rot = bytearray(4 * n), bytearray(4 * n)
    for k in range(4):
        rgba[k::4] = raw[24 + k::RECORD]
        rot[k::4] = raw[28 + k::RECORD]
    return Records(n=n, pos=pos, scale=scale, rgba=bytes(rgba), rot=bytes(rot))


def import_splat(context, files: list[str], *, title: str, provenance: dict,
                 options: scene_io.ImportOptions) -> scene_io.ImportResult:
    paths = [f for f in files if Path(f).suffix.lower() == ".splat"] or list(files)
    if not paths:
        raise scene_io.ImportFailed("The splat task returned no file; attach the task again later.")
    rec = parse(Path(paths[0]).read_bytes())
    obj = build(context, rec, title=title, options=options)
    obj["tripo_splat_file"] = str(paths[0])
    scene_io.tag([obj], provenance)
    result = scene_io.ImportResult(objects=[obj])
    result.collection_name = obj.users_collection[0].name if obj.users_collection else ""
    scene_io.push_undo(f"Import Tripo result: {title}")
    return result


def build(context, rec: Records, *, title: str, options: scene_io.ImportOptions):
    """A mesh of one vertex per splat with colour/opacity/radius/scale attributes and the points modifier."""
    n = rec.n
    name = f"{' '.join(str(title).split())[:48]} splat"
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(n)
    mesh.vertices.foreach_set("co", rec.pos)
    mesh.transform(Y_UP_TO_Z_UP)
    col = mesh.color_attributes.new("Col", 'FLOAT_COLOR', 'POINT')
    colour = array("f", map(_LINEAR.__getitem__, rec.rgba))
    alpha = array("f", map(_UNIT.__getitem__, rec.rgba[3::4]))
    colour[3::4] = alpha
    col.data.foreach_set("color", colour)
    mesh.color_attributes.active_color = col
    try:
        mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index
    except AttributeError:  # pragma: no cover
        pass
    s = rec.scale
    radius = array("f", (max(1e-5, (a + b + c) / 3.0) for a, b, c in zip(s[0::3], s[1::3], s[2::3], strict=True)))
    scale = array("f", bytes(12 * n))
    scale[0::3], scale[1::3], scale[2::3] = s[0::3], s[2::3], s[1::3]  # Y-up -> Z-up: (x, z, y)
    _attr(mesh, "opacity", 'FLOAT', "value", alpha)
    _attr(mesh, "radius", 'FLOAT', "value", radius)
    _attr(mesh, "scale", 'FLOAT_VECTOR', "vector", scale)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    if options.collection_per_task:
        coll = bpy.data.collections.new(scene_names.unique_collection_name(title))
        context.scene.collection.children.link(coll)
    else:
        coll = context.scene.collection
    coll.objects.link(obj)
    if options.place_at_cursor:
        obj.location = context.scene.cursor.location.copy()
    obj["tripo_splat_points"] = n
    obj["tripo_note"] = LIMITS
    try:
        mod = obj.modifiers.new("Splat Points", 'NODES')
        mod.node_group = _node_group(_material())
    except (RuntimeError, KeyError, AttributeError, TypeError):  # the vertex colours still show in Solid view
        pass
    for o in context.view_layer.objects:
        o.select_set(False)
    if obj.name in context.view_layer.objects:
        obj.select_set(True)
        context.view_layer.objects.active = obj
    return obj


def _attr(mesh, name: str, kind: str, field: str, values: array) -> None:
    attr = mesh.attributes.new(name, kind, 'POINT')
    attr.data.foreach_set(field, values)


def _material():
    mat = bpy.data.materials.get("Tripo Splat")
    if mat is not None:
        return mat
    mat = bpy.data.materials.new("Tripo Splat")
    if bpy.app.version < (5, 0, 0) and not mat.use_nodes:  # always on from 5.0
        mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next((n for n in nodes if n.type == 'BSDF_PRINCIPLED'), None)
    attr = nodes.new('ShaderNodeAttribute')
    attr.attribute_name = "Col"
    if bsdf is not None:
        links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
        emission = bsdf.inputs.get("Emission Color") or bsdf.inputs.get("Emission")
        if emission is not None:
            links.new(attr.outputs["Color"], emission)
            strength = bsdf.inputs.get("Emission Strength")
            if strength is not None:
                strength.default_value = 0.6
    return mat


def _node_group(material):
    """Mesh to Points (radius from the ``radius`` attribute) -> Set Material."""
    ng = bpy.data.node_groups.get(NODE_GROUP)
    if ng is not None:
        return ng
    ng = bpy.data.node_groups.new(NODE_GROUP, 'GeometryNodeTree')
    ng.interface.new_socket("Geometry", in_out='INPUT', socket_type='NodeSocketGeometry')
    ng.interface.new_socket("Geometry", in_out='OUTPUT', socket_type='NodeSocketGeometry')
    nodes, links = ng.nodes, ng.links
    gin, gout = nodes.new('NodeGroupInput'), nodes.new('NodeGroupOutput')
    to_points = nodes.new('GeometryNodeMeshToPoints')
    radius = nodes.new('GeometryNodeInputNamedAttribute')
    radius.data_type = 'FLOAT'
    radius.inputs["Name"].default_value = "radius"
    set_mat = nodes.new('GeometryNodeSetMaterial')
    set_mat.inputs["Material"].default_value = material
    links.new(gin.outputs[0], to_points.inputs["Mesh"])
    links.new(radius.outputs["Attribute"], to_points.inputs["Radius"])
    links.new(to_points.outputs["Points"], set_mat.inputs["Geometry"])
    links.new(set_mat.outputs["Geometry"], gout.inputs[0])
    return ng
