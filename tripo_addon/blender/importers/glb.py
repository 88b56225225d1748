"""GLB results in a Blender whose glTF importer cannot run (no numpy: Linux distributions' Blender packages).

``scene_io`` calls ``import_glb`` instead of ``bpy.ops.import_scene.gltf`` when ``gltf_importer_works()`` is False:
the file is read by ``glb_read`` (pure Python) and built here with ``foreach_set``: one object per mesh node, placed
by the node tree, turned from glTF's Y-up to Blender's Z-up as Blender's importer does, with UVs, custom normals and
Principled BSDF materials with the embedded textures packed into the .blend. What it cannot build (skins,
animations, morph targets) is named in the object's ``tripo_note`` with the fix: install numpy.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from array import array
from pathlib import Path

import bpy
from mathutils import Matrix

from . import glb_read, glb_write

log = logging.getLogger(__name__)

NUMPY_FIX = ("install numpy for Blender's Python (Debian/Ubuntu: sudo apt install python3-numpy) and restart "
             "Blender")
# glTF's Y-up to Blender's Z-up: (x, y, z) -> (x, -z, y)
Y_UP_TO_Z_UP = Matrix(((1.0, 0.0, 0.0, 0.0), (0.0, 0.0, -1.0, 0.0), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)))
_EXT = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def gltf_importer_works() -> bool:
    """Blender's glTF importer (io_scene_gltf2) imports numpy when it runs: without numpy it fails with a traceback."""
    return importlib.util.find_spec("numpy") is not None


def note_for(unsupported: list[str]) -> str:
    return (f"This Blender has no numpy, so Tripo's own reader imported the meshes and materials but not the "
            f"{' and '.join(unsupported)}: {NUMPY_FIX}, then Import again for the full result.")


def import_glb(context, path: str | os.PathLike, *, merge_vertices: bool = True) -> list:
    """Build the GLB at ``path`` into the scene's collection. Returns the new objects. Raises glb_read.GlbError."""
    model = glb_read.read(Path(path).read_bytes())
    if not model.meshes:
        raise glb_read.GlbError("The GLB holds no triangle mesh this reader can build"
                                + (f" (it holds {' and '.join(model.unsupported)})" if model.unsupported else "")
                                + f": {NUMPY_FIX}, then Import again.")
    images = _images(model)
    materials = [_material(m, images) for m in model.materials]
    objects = []
    coll = context.scene.collection
    for node in model.meshes:
        mesh = _mesh(node, materials, merge_vertices)
        obj = bpy.data.objects.new(node.name, mesh)
        coll.objects.link(obj)
        m = Matrix([node.matrix[r * 4:r * 4 + 4] for r in range(4)])
        obj.matrix_world = Y_UP_TO_Z_UP @ m @ Y_UP_TO_Z_UP.inverted()
        objects.append(obj)
    if model.unsupported:
        note = note_for(model.unsupported)
        log.warning("Tripo: %s: %s", Path(path).name, note)
        for obj in objects:
            obj["tripo_note"] = note
    return objects


def _mesh(node: glb_read.MeshNode, materials: list, merge: bool):
    """One mesh of all the node's primitives (one material slot per material), built with foreach_set; ``merge``
    welds vertices at the same place with the same normal (glTF splits them at every UV seam), as Blender's
    importer's "Merge Vertices" does: the UVs stay per corner."""
    pos, idx, normals, uvs, mat_index, slots = array("f"), array("I"), array("f"), array("f"), array("i"), []
    have_normals = all(p.normals is not None for p in node.primitives)
    have_uvs = any(p.uvs is not None for p in node.primitives)
    for p in node.primitives:
        base = len(pos) // 3
        pos.extend(p.positions)
        idx.extend(p.indices if base == 0 else array("I", (i + base for i in p.indices)))
        if have_normals:
            normals.extend(p.normals)
        if have_uvs:
            uvs.extend(p.uvs if p.uvs is not None else array("f", bytes(8 * (len(p.positions) // 3))))
        mat = materials[p.material] if p.material is not None else None
        if mat not in slots:
            slots.append(mat)
        mat_index.extend([slots.index(mat)] * (len(p.indices) // 3))
    nloops = len(idx)
    ntris = nloops // 3
    loop_vert, co = idx, pos
    if merge:
        where: dict[tuple, int] = {}
        co, remap = array("f"), array("I")
        for i in range(len(pos) // 3):
            key = tuple(pos[3 * i:3 * i + 3])
            full = key + tuple(normals[3 * i:3 * i + 3]) if have_normals else key  # a hard edge stays split
            j = where.get(full)
            if j is None:
                j = where[full] = len(co) // 3
                co.extend(key)
            remap.append(j)
        loop_vert = array("I", map(remap.__getitem__, idx))
    mesh = bpy.data.meshes.new(node.name)
    mesh.vertices.add(len(co) // 3)
    mesh.vertices.foreach_set("co", co)
    mesh.loops.add(nloops)
    mesh.loops.foreach_set("vertex_index", loop_vert)
    mesh.polygons.add(ntris)
    mesh.polygons.foreach_set("loop_start", array("i", range(0, nloops, 3)))
    if bpy.app.version < (4, 0, 0):  # pragma: no cover - loop_total is derived from loop_start since 4.0
        mesh.polygons.foreach_set("loop_total", array("i", [3]) * ntris)
    mesh.polygons.foreach_set("material_index", mat_index)
    for mat in slots:
        mesh.materials.append(mat)
    if have_uvs:
        u, v = uvs[0::2], uvs[1::2]
        loop_uv = array("f", bytes(8 * nloops))
        loop_uv[0::2] = array("f", map(u.__getitem__, idx))
        loop_uv[1::2] = array("f", (1.0 - v[i] for i in idx))  # glTF's v runs down the image, Blender's up
        mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", loop_uv)
    mesh.transform(Y_UP_TO_Z_UP)
    mesh.update()
    mesh.validate(clean_customdata=False)
    if have_normals and len(mesh.loops) == nloops:  # (validate removed no degenerate triangle)
        nx, ny, nz = normals[0::3], normals[1::3], normals[2::3]
        mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
        mesh.normals_split_custom_set([(nx[i], -nz[i], ny[i]) for i in idx])  # Y-up -> Z-up, per corner
    return mesh


def _images(model: glb_read.Model) -> list:
    """Blender images of the model's embedded images, packed into the .blend (their temporary files removed)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="tripo-glb-") as tmp:
        for i, img in enumerate(model.images):
            path = Path(tmp) / f"image{i}{_EXT.get(img.mime, '.png')}"
            path.write_bytes(img.data)
            try:
                bimg = bpy.data.images.load(str(path))
                bimg.pack()
            except RuntimeError as exc:  # a format this Blender cannot read: the material keeps its colours
                log.warning("Tripo: image %r of the GLB not loaded: %s", img.name, exc)
                out.append(None)
                continue
            bimg.name = img.name
            bimg.filepath_raw = ""  # packed; the temporary file is gone
            out.append(bimg)
    return out


def _material(m: glb_read.Material, images: list):
    mat = bpy.data.materials.new(m.name)
    if bpy.app.version < (5, 0, 0) and not mat.use_nodes:  # always on from 5.0
        mat.use_nodes = True
    mat.use_backface_culling = not m.double_sided
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next((n for n in nodes if n.type == 'BSDF_PRINCIPLED'), None)
    if bsdf is None:  # pragma: no cover - a new material always has one
        return mat
    mat.diffuse_color = m.base_color
    bsdf.inputs["Base Color"].default_value = m.base_color
    bsdf.inputs["Metallic"].default_value = m.metallic
    bsdf.inputs["Roughness"].default_value = m.roughness
    if m.alpha_mode != "OPAQUE":
        bsdf.inputs["Alpha"].default_value = m.base_color[3]
        if hasattr(mat, "surface_render_method"):
            mat.surface_render_method = 'BLENDED' if m.alpha_mode == "BLEND" else 'DITHERED'

    def texture(index: int | None, non_color: bool, y: float):
        img = images[index] if index is not None and 0 <= index < len(images) else None
        if img is None:
            return None
        if non_color:
            try:
                img.colorspace_settings.name = 'Non-Color'
            except TypeError:  # pragma: no cover - a colour config without Non-Color
                pass
        node = nodes.new('ShaderNodeTexImage')
        node.image = img
        node.location = (bsdf.location.x - 600, bsdf.location.y + y)
        return node

    tex = texture(m.base_color_image, False, 300)
    if tex is not None:
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        if m.alpha_mode != "OPAQUE":
            links.new(tex.outputs["Alpha"], bsdf.inputs["Alpha"])
    tex = texture(m.metallic_roughness_image, True, 0)
    if tex is not None:  # glTF: roughness in green, metallic in blue
        sep = nodes.new('ShaderNodeSeparateColor')
        sep.location = (bsdf.location.x - 300, bsdf.location.y)
        links.new(tex.outputs["Color"], sep.inputs["Color"])
        links.new(sep.outputs["Green"], bsdf.inputs["Roughness"])
        links.new(sep.outputs["Blue"], bsdf.inputs["Metallic"])
    tex = texture(m.normal_image, True, -300)
    if tex is not None:
        nmap = nodes.new('ShaderNodeNormalMap')
        nmap.location = (bsdf.location.x - 300, bsdf.location.y - 300)
        nmap.inputs["Strength"].default_value = m.normal_scale
        links.new(tex.outputs["Color"], nmap.inputs["Color"])
        links.new(nmap.outputs["Normal"], bsdf.inputs["Normal"])
    emission = bsdf.inputs.get("Emission Color") or bsdf.inputs.get("Emission")
    tex = texture(m.emissive_image, False, -600)
    if emission is not None and (tex is not None or any(m.emissive)):
        if tex is not None:
            links.new(tex.outputs["Color"], emission)
        else:
            emission.default_value = (*m.emissive, 1.0)
        strength = bsdf.inputs.get("Emission Strength")
        if strength is not None:
            strength.default_value = 1.0
    return mat


# ---------------------------------------------------------------------------------------------------- export
def export_glb(context, objects, path: str | os.PathLike) -> None:
    """Write ``objects`` (meshes, modifiers applied, in world space) to one GLB at ``path``, as Blender's glTF exporter
    would for sending a mesh to Tripo: geometry, normals and the active UV map, no materials. Raises ValueError."""
    depsgraph = context.evaluated_depsgraph_get()
    to_y_up = Y_UP_TO_Z_UP.inverted()
    meshes = []
    for obj in objects:
        ev = obj.evaluated_get(depsgraph)
        mesh = ev.to_mesh()
        try:
            mesh.transform(to_y_up @ obj.matrix_world)
            if obj.matrix_world.determinant() < 0:  # a mirrored object: keep the faces' winding outward
                mesh.flip_normals()
            mesh.calc_loop_triangles()
            ntri = len(mesh.loop_triangles)
            if not ntri:
                continue
            tri_loops = array("i", bytes(12 * ntri))
            mesh.loop_triangles.foreach_get("loops", tri_loops)
            loop_vert = array("i", bytes(4 * len(mesh.loops)))
            mesh.loops.foreach_get("vertex_index", loop_vert)
            co = array("f", bytes(12 * len(mesh.vertices)))
            mesh.vertices.foreach_get("co", co)
            normals = array("f", bytes(12 * len(mesh.loops)))
            corner = getattr(mesh, "corner_normals", None)  # 4.1+
            if corner is not None and len(corner) == len(mesh.loops):
                corner.foreach_get("vector", normals)
            else:  # pragma: no cover - before 4.1
                mesh.loops.foreach_get("normal", normals)
            loop_uv = None
            if mesh.uv_layers.active is not None:
                loop_uv = array("f", bytes(8 * len(mesh.loops)))
                mesh.uv_layers.active.data.foreach_get("uv", loop_uv)
            # one glTF vertex per distinct (vertex, normal, UV) corner, as Blender's exporter writes them
            keys: dict[tuple, int] = {}
            indices, pos, nrm, uvs = array("I"), array("f"), array("f"), array("f") if loop_uv is not None else None
            for li in tri_loops:
                v = loop_vert[li]
                n = (normals[3 * li], normals[3 * li + 1], normals[3 * li + 2])
                uv = (loop_uv[2 * li], 1.0 - loop_uv[2 * li + 1]) if loop_uv is not None else ()
                key = (v, *n, *uv)
                index = keys.get(key)
                if index is None:
                    index = keys[key] = len(keys)
                    pos.extend(co[3 * v:3 * v + 3])
                    nrm.extend(n)
                    if uvs is not None:
                        uvs.extend(uv)
                indices.append(index)
            meshes.append(glb_write.MeshData(obj.name, pos, indices, nrm, uvs))
        finally:
            ev.to_mesh_clear()
    if not meshes:
        raise ValueError("the selected meshes have no faces")
    data = glb_write.write(meshes)
    tmp = Path(f"{path}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
