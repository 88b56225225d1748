"""GLB results in a Blender without numpy (Debian's): Blender's glTF importer cannot run there, so the add-on's own
pure-Python reader (importers/glb_read.py) and builder (importers/glb.py) bring the meshes and materials in.

"No numpy" is forced through ``glb.gltf_importer_works`` (the one place the add-on decides it); the GUI smoke test
runs the same path for real in Debian trixie's Blender without python3-numpy. Each fallback result is compared with
what Blender's own glTF importer makes of the same file.
"""

from __future__ import annotations

import importlib
import struct

import bpy
import numpy as np
import pytest
from blender_helpers import MODULE, new_objects

from tripo_emulator.assets import glb as emu_glb
from tripo_emulator.assets import png, rig, shapes

PROV = {"tripo_task_id": "t-glb", "tripo_task_type": "text_to_model"}


@pytest.fixture
def glb(addon):
    return importlib.import_module(f"{MODULE}.blender.importers.glb")


@pytest.fixture
def reader(addon):
    return importlib.import_module(f"{MODULE}.blender.importers.glb_read")


@pytest.fixture
def no_numpy(glb, monkeypatch):
    """The add-on sees a Blender whose glTF importer needs a numpy it does not have."""
    monkeypatch.setattr(glb, "gltf_importer_works", lambda: False)


def textured_glb(path, *, skin: bool = False):
    mesh = shapes.generate("humanoid" if skin else "chair", 7)
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[..., 0], pixels[..., 3] = 200, 255
    mat = emu_glb.Material(name="Tripo Mat", base_color_png=png.encode_png(pixels),
                           metallic_roughness_png=png.encode_png(pixels), roughness=0.4)
    kw = {}
    if skin:
        sk = rig.skeleton("biped", [mesh])
        kw = {"skin": rig.make_skin(mesh, sk), "clips": [rig.clip("preset:walk", sk)]}
    path.write_bytes(emu_glb.write_glb([mesh], [mat], **kw))
    return path, mesh


def world_coords(objs) -> np.ndarray:
    out = []
    for o in objs:
        if o.type != 'MESH':
            continue
        co = np.empty(len(o.data.vertices) * 3, np.float32)
        o.data.vertices.foreach_get("co", co)
        m = np.array(o.matrix_world)
        pts = co.reshape(-1, 3)
        out.append(pts @ m[:3, :3].T + m[:3, 3])
    return np.concatenate(out)


def triangles(objs) -> int:
    return sum(len(o.data.polygons) for o in objs if o.type == 'MESH')


def vertices(objs) -> int:
    return sum(len(o.data.vertices) for o in objs if o.type == 'MESH')


@pytest.mark.parametrize("merge", [False, True])
def test_fallback_builds_what_blenders_gltf_importer_builds(ext, glb, tmp_path, monkeypatch, merge):
    path, mesh = textured_glb(tmp_path / "chair.glb")
    options = ext.scene_io.ImportOptions(place_at_cursor=False, target_size=0.0, collection_per_task=False,
                                         merge_vertices=merge)
    real = ext.scene_io.import_files(bpy.context, [str(path)], title="real", provenance=PROV, options=options)
    monkeypatch.setattr(glb, "gltf_importer_works", lambda: False)
    own = ext.scene_io.import_files(bpy.context, [str(path)], title="own", provenance=PROV, options=options)
    assert triangles(own.objects) == triangles(real.objects) == len(mesh.indices)
    if merge:  # welded by place and normal, as Blender's "Merge Vertices"
        assert vertices(own.objects) == vertices(real.objects) < len(mesh.positions)
    else:  # one Blender vertex per glTF vertex (Blender's importer also drops exact duplicates)
        assert vertices(own.objects) == len(mesh.positions) >= vertices(real.objects)
    a, b = world_coords(own.objects), world_coords(real.objects)
    assert np.allclose(a.min(axis=0), b.min(axis=0), atol=1e-4) and np.allclose(a.max(axis=0), b.max(axis=0),
                                                                                atol=1e-4)
    (obj,) = own.objects
    assert obj["tripo_task_id"] == "t-glb" and obj.data.uv_layers.active is not None
    mat = obj.data.materials[0]
    assert mat.name.startswith("Tripo Mat")
    images = [n.image for n in mat.node_tree.nodes if n.type == 'TEX_IMAGE']
    assert len(images) == 2 and all(img.packed_file is not None and img.size[0] == 8 for img in images)
    assert not any(img.filepath_raw for img in images)  # packed: no path to a temporary file left behind
    bsdf = next(n for n in mat.node_tree.nodes if n.type == 'BSDF_PRINCIPLED')
    assert bsdf.inputs["Base Color"].is_linked and bsdf.inputs["Roughness"].is_linked
    assert "tripo_note" not in obj  # nothing left out
    # UVs: the same per-loop coordinates as Blender's importer (v flipped)
    uv_own = sorted({tuple(np.round(d.uv[:], 4)) for d in obj.data.uv_layers.active.data})
    uv_real = sorted({tuple(np.round(d.uv[:], 4)) for o in real.objects if o.type == 'MESH'
                      for d in o.data.uv_layers.active.data})
    assert uv_own == uv_real


def test_generated_model_arrives_without_numpy(connected, no_numpy):
    """The artist's path: text_to_model on the emulator, downloaded GLB imported by the add-on's own reader."""
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt="a wooden chair", wait=True) == {'FINISHED'}
    objs = [o for o in new_objects(before) if o.type == 'MESH']
    assert objs and all(len(o.data.polygons) > 10 for o in objs)
    assert all(o.get("tripo_task_id") for o in objs)


def test_rig_and_animation_are_named_with_the_fix(ext, tmp_path, no_numpy):
    path, _ = textured_glb(tmp_path / "rigged.glb", skin=True)
    before = set(bpy.data.objects)
    result = ext.scene_io.import_files(bpy.context, [str(path)], title="rigged", provenance=PROV)
    (obj,) = new_objects(before)
    assert result.objects == [obj] and len(obj.data.polygons) > 10
    note = obj["tripo_note"]
    assert "skins (the rig) and animations" in note and "sudo apt install python3-numpy" in note


def test_fbx_without_numpy_says_what_to_install(ext, tmp_path, no_numpy):
    path = tmp_path / "model.fbx"
    path.write_bytes(b"Kaydara FBX Binary  \0" + bytes(64))
    with pytest.raises(ext.scene_io.ImportFailed, match="FBX importer needs numpy.*python3-numpy"):
        ext.scene_io.import_files(bpy.context, [str(path)], title="fbx", provenance=PROV)


def test_broken_glb_fails_with_a_message_not_a_traceback(ext, tmp_path, no_numpy):
    path, _ = textured_glb(tmp_path / "cut.glb")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ext.scene_io.ImportFailed, match="cut short"):
        ext.scene_io.import_files(bpy.context, [str(path)], title="cut", provenance=PROV)


def test_send_back_without_numpy_keeps_the_mesh(ext, connected, user_mesh, no_numpy):
    """The user's own mesh goes to Tripo through the add-on's GLB writer and comes back through its reader, whole."""
    n_verts, n_faces = len(user_mesh.data.vertices), len(user_mesh.data.polygons)
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.import_model(wait=True) == {'FINISHED'}
    (back,) = [o for o in new_objects(before) if o.type == 'MESH']
    assert (len(back.data.vertices), len(back.data.polygons)) == (n_verts, n_faces)
    assert back["tripo_task_type"] == "import_model"


def test_export_fallback_reads_back_in_blenders_importer(ext, glb, user_mesh, tmp_path):
    """The GLB the writer makes is one Blender's own glTF importer reads as the same mesh, in the same place."""
    user_mesh.data.uv_layers.new(name="UVMap")
    user_mesh.rotation_euler = (0.3, 0.0, 1.0)
    user_mesh.scale = (1.0, -1.0, 2.0)  # mirrored: the faces must still point outward
    bpy.context.view_layer.update()
    src = world_coords([user_mesh])
    path = tmp_path / "mine.glb"
    glb.export_glb(bpy.context, [user_mesh], path)
    before = set(bpy.data.objects)
    assert bpy.ops.import_scene.gltf(filepath=str(path)) == {'FINISHED'}
    (back,) = new_objects(before)
    assert len(back.data.polygons) == 2 * len(user_mesh.data.polygons) or \
        len(back.data.polygons) == len(user_mesh.data.polygons)  # (an icosphere's faces are triangles already)
    got = world_coords([back])
    assert np.allclose(got.min(axis=0), src.min(axis=0), atol=1e-4)
    assert np.allclose(got.max(axis=0), src.max(axis=0), atol=1e-4)
    assert back.data.uv_layers.active is not None
    centre = got.mean(axis=0)  # outward: each face's normal points away from the sphere's centre
    back.data.update()
    outward = [np.dot(np.array(back.matrix_world.to_3x3() @ p.normal), np.array(back.matrix_world @ p.center) - centre)
               for p in back.data.polygons]
    assert min(outward) > 0


# ------------------------------------------------------------------------------------------ the reader alone
def pack(doc: dict, binary: bytes) -> bytes:
    return emu_glb.pack_glb(doc, binary)


def tri_doc(binary_len: int, **acc) -> dict:
    return {"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
            "buffers": [{"byteLength": binary_len}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": binary_len, **acc.pop("view", {})}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", **acc}]}


def test_reader_interleaved_and_unindexed(reader):
    """byteStride 16 (position + 4 padding bytes), no indices: one triangle 0-1-2."""
    pts = [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 2.0, 0.0)]
    binary = b"".join(struct.pack("<3f", *p) + b"\xff" * 4 for p in pts)
    model = reader.read(pack(tri_doc(len(binary), view={"byteStride": 16}), binary))
    (node,) = model.meshes
    (prim,) = node.primitives
    assert list(prim.positions) == [c for p in pts for c in p] and list(prim.indices) == [0, 1, 2]


def test_reader_node_transforms(reader):
    binary = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    doc = tri_doc(len(binary))
    doc["nodes"] = [{"children": [1], "translation": [1.0, 2.0, 3.0]}, {"mesh": 0, "scale": [2.0, 2.0, 2.0]}]
    (node,) = reader.read(pack(doc, binary)).meshes
    m = node.matrix
    assert (m[0], m[5], m[10]) == (2.0, 2.0, 2.0) and (m[3], m[7], m[11]) == (1.0, 2.0, 3.0)


@pytest.mark.parametrize("change, expect", [
    ({"extensionsRequired": ["KHR_draco_mesh_compression"]}, "KHR_draco_mesh_compression"),
    ({"accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                     "sparse": {"count": 1}}]}, "sparse"),
    ({"accessors": [{"bufferView": 0, "componentType": 5126, "count": 300, "type": "VEC3"}]}, "reaches past"),
    ({"buffers": [{"byteLength": 36, "uri": "model.bin"}]}, "separate file"),
])
def test_reader_refuses_what_it_cannot_load(reader, change, expect):
    binary = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    doc = tri_doc(len(binary))
    doc.update(change)
    with pytest.raises(reader.GlbError, match=expect):
        reader.read(pack(doc, binary))


def test_reader_refuses_nan_positions_and_bad_indices(reader):
    binary = struct.pack("<9f", 0, 0, 0, 1, 0, float("nan"), 0, 1, 0)
    with pytest.raises(reader.GlbError, match="NaN"):
        reader.read(pack(tri_doc(len(binary)), binary))
    good = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0) + struct.pack("<3H", 0, 1, 7) + b"\0\0"
    doc = tri_doc(36)
    doc["bufferViews"].append({"buffer": 0, "byteOffset": 36, "byteLength": 6})
    doc["accessors"].append({"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"})
    doc["meshes"][0]["primitives"][0]["indices"] = 1
    doc["buffers"][0]["byteLength"] = len(good)
    with pytest.raises(reader.GlbError, match="naming vertices"):
        reader.read(pack(doc, good))


def test_reader_is_not_fooled_by_other_files(reader):
    with pytest.raises(reader.GlbError, match="not a GLB"):
        reader.read(b"PK\x03\x04" + bytes(40))
    with pytest.raises(reader.GlbError, match="JSON part is not valid"):
        reader.read(b"glTF" + struct.pack("<II", 2, 24) + struct.pack("<II", 4, 0x4E4F534A) + b"{{{{")
    with pytest.raises(reader.GlbError, match="no JSON part"):
        reader.read(b"glTF" + struct.pack("<II", 2, 20) + struct.pack("<II", 0, 0x004E4942))
