"""glTF 2.0 binary (GLB) writer and reader in pure Python + numpy: meshes, PBR materials with embedded PNG
textures, skins (JOINTS_0/WEIGHTS_0/inverseBindMatrices) and animations."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

from .mesh import Mesh

FLOAT, UBYTE, USHORT, UINT = 5126, 5121, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_DTYPE = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}


@dataclass
class Material:
    name: str = "material"
    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    base_color_png: bytes | None = None
    metallic: float = 0.0
    roughness: float = 0.6
    metallic_roughness_png: bytes | None = None


@dataclass
class Skin:
    """A joint hierarchy; heads are rest positions in model space; joints/weights are per vertex of mesh 0."""

    names: list[str]
    parents: list[int]
    heads: np.ndarray
    joints: np.ndarray | None = None
    weights: np.ndarray | None = None


@dataclass
class Clip:
    """An animation: per-joint local rotation (xyzw) and translation keys at `times` seconds."""

    name: str
    times: np.ndarray
    rotations: dict[int, np.ndarray] = field(default_factory=dict)
    translations: dict[int, np.ndarray] = field(default_factory=dict)


class _Builder:
    def __init__(self) -> None:
        self.bin = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        self.bin += b"\x00" * (-len(self.bin) % 4)
        v = {"buffer": 0, "byteOffset": len(self.bin), "byteLength": len(data)}
        if target:
            v["target"] = target
        self.bin += data
        self.views.append(v)
        return len(self.views) - 1

    def accessor(self, arr: np.ndarray, kind: str, ctype: int, target: int | None = None,
                 minmax: bool = False) -> int:
        arr = np.ascontiguousarray(arr, _DTYPE[ctype])
        acc = {"bufferView": self.view(arr.tobytes(), target), "componentType": ctype,
               "count": int(arr.shape[0]), "type": kind}
        if minmax:
            flat = arr.reshape(arr.shape[0], -1).astype(np.float64)
            acc["min"] = [float(x) for x in flat.min(axis=0)]
            acc["max"] = [float(x) for x in flat.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def write_glb(meshes: list[Mesh], materials: list[Material] | None = None, *,
              mesh_materials: list[int] | None = None, skin: Skin | None = None, clips: list[Clip] | None = None,
              extras: dict | None = None) -> bytes:
    """GLB bytes. Each mesh becomes one node + one primitive; a skin applies to mesh 0."""
    materials = materials if materials is not None else [Material()]
    b = _Builder()
    gltf: dict = {"asset": {"version": "2.0", "generator": "Tripo emulator"}, "scene": 0, "scenes": [{"nodes": []}],
                  "nodes": [], "meshes": []}
    if extras:
        gltf["asset"]["extras"] = extras
    images: list[dict] = []
    textures: list[dict] = []
    mats = []
    for m in materials:
        pbr: dict = {"baseColorFactor": [float(c) for c in m.base_color], "metallicFactor": float(m.metallic),
                     "roughnessFactor": float(m.roughness)}
        if m.base_color_png:
            images.append({"bufferView": b.view(m.base_color_png), "mimeType": "image/png", "name": f"{m.name}_color"})
            textures.append({"sampler": 0, "source": len(images) - 1})
            pbr["baseColorTexture"] = {"index": len(textures) - 1}
        if m.metallic_roughness_png:
            images.append({"bufferView": b.view(m.metallic_roughness_png), "mimeType": "image/png",
                           "name": f"{m.name}_metallic_roughness"})
            textures.append({"sampler": 0, "source": len(images) - 1})
            pbr["metallicRoughnessTexture"] = {"index": len(textures) - 1}
        mats.append({"name": m.name, "pbrMetallicRoughness": pbr, "doubleSided": False})
    if mats:
        gltf["materials"] = mats
    if images:
        gltf["images"], gltf["textures"] = images, textures
        gltf["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]

    mesh_nodes = []
    for i, m in enumerate(meshes):
        attrs = {"POSITION": b.accessor(m.positions, "VEC3", FLOAT, ARRAY_BUFFER, minmax=True),
                 "NORMAL": b.accessor(m.normals, "VEC3", FLOAT, ARRAY_BUFFER)}
        if m.uvs is not None:
            attrs["TEXCOORD_0"] = b.accessor(m.uvs, "VEC2", FLOAT, ARRAY_BUFFER)
        if skin is not None and i == 0 and skin.joints is not None:
            jtype = UBYTE if len(skin.names) < 256 else USHORT
            attrs["JOINTS_0"] = b.accessor(skin.joints, "VEC4", jtype, ARRAY_BUFFER)
            attrs["WEIGHTS_0"] = b.accessor(skin.weights, "VEC4", FLOAT, ARRAY_BUFFER)
        itype = USHORT if m.vertex_count < 65536 else UINT
        prim = {"attributes": attrs, "indices": b.accessor(m.indices.reshape(-1), "SCALAR", itype,
                                                           ELEMENT_ARRAY_BUFFER), "mode": 4}
        if mats:
            prim["material"] = mesh_materials[i] if mesh_materials else 0
        gltf["meshes"].append({"name": m.name, "primitives": [prim]})
        gltf["nodes"].append({"name": m.name, "mesh": i})
        mesh_nodes.append(len(gltf["nodes"]) - 1)
    if not gltf["meshes"]:
        del gltf["meshes"]

    roots = mesh_nodes
    if skin is not None:
        first = len(gltf["nodes"])
        heads = np.asarray(skin.heads, np.float64)
        for j, name in enumerate(skin.names):
            p = skin.parents[j]
            local = heads[j] - (heads[p] if p >= 0 else 0.0)
            gltf["nodes"].append({"name": name, "translation": [float(x) for x in local]})
        for j, p in enumerate(skin.parents):
            if p >= 0:
                gltf["nodes"][first + p].setdefault("children", []).append(first + j)
        joint_roots = [first + j for j, p in enumerate(skin.parents) if p < 0]
        skinned = bool(mesh_nodes) and skin.joints is not None
        if skinned:
            ibm = np.tile(np.eye(4), (len(skin.names), 1, 1))
            ibm[:, :3, 3] = -heads
            gltf["skins"] = [{"name": "Armature", "joints": list(range(first, first + len(skin.names))),
                              "skeleton": joint_roots[0],
                              "inverseBindMatrices": b.accessor(ibm.transpose(0, 2, 1).reshape(-1, 16), "MAT4",
                                                                FLOAT)}]
            gltf["nodes"][mesh_nodes[0]]["skin"] = 0
        gltf["nodes"].append({"name": "Armature", "children": joint_roots + mesh_nodes})
        roots = [len(gltf["nodes"]) - 1]
        if clips:
            gltf["animations"] = [_animation(b, c, first, heads, skin.parents) for c in clips]
    gltf["scenes"][0]["nodes"] = roots
    b.bin += b"\x00" * (-len(b.bin) % 4)
    gltf["buffers"] = [{"byteLength": len(b.bin)}]
    gltf["bufferViews"], gltf["accessors"] = b.views, b.accessors
    return pack_glb(gltf, bytes(b.bin))


def _animation(b: _Builder, clip: Clip, first: int, heads: np.ndarray, parents: list[int]) -> dict:
    times = b.accessor(np.asarray(clip.times, np.float32), "SCALAR", FLOAT, minmax=True)
    samplers, channels = [], []
    for j, q in clip.rotations.items():
        samplers.append({"input": times, "output": b.accessor(q, "VEC4", FLOAT), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": first + j, "path": "rotation"}})
    for j, t in clip.translations.items():
        samplers.append({"input": times, "output": b.accessor(t, "VEC3", FLOAT), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": first + j, "path": "translation"}})
    return {"name": clip.name, "samplers": samplers, "channels": channels}


def pack_glb(gltf: dict, binary: bytes) -> bytes:
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\x00" * (-len(binary) % 4)
    body = struct.pack("<I4s", len(js), b"JSON") + js
    if binary:
        body += struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


# ------------------------------------------------------------------------------------------------------ reading
class GlbError(ValueError):
    pass


@dataclass
class GlbModel:
    """What the emulator needs from a GLB: world-space meshes, the first base colour image, some stats."""

    gltf: dict
    meshes: list[Mesh]
    image: bytes | None
    image_mime: str | None
    skinned: bool
    animations: list[str]

    @property
    def vertex_count(self) -> int:
        return sum(m.vertex_count for m in self.meshes)

    @property
    def face_count(self) -> int:
        return sum(m.face_count for m in self.meshes)


def split_glb(data: bytes) -> tuple[dict, bytes]:
    """(JSON dict, BIN chunk) of GLB bytes; GlbError when it is not a GLB 2.0."""
    if len(data) < 20 or data[:4] != b"glTF":
        raise GlbError("not a GLB (bad magic)")
    _, version, length = struct.unpack("<4sII", data[:12])
    if version != 2 or length > len(data):
        raise GlbError("unsupported GLB version or truncated file")
    pos, gltf, binary = 12, None, b""
    while pos + 8 <= length:
        clen, ctype = struct.unpack("<I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + clen]
        if ctype == b"JSON":
            gltf = json.loads(chunk.decode("utf-8"))
        elif ctype == b"BIN\x00":
            binary = chunk
        pos += 8 + clen + (-clen % 4)
    if gltf is None:
        raise GlbError("GLB has no JSON chunk")
    return gltf, binary


def read_glb(data: bytes, with_geometry: bool = True) -> GlbModel:
    """Parse GLB bytes; meshes are flattened to world space (triangle primitives only)."""
    gltf, binary = split_glb(data)
    meshes: list[Mesh] = []
    if with_geometry:
        for node_index, world in sorted(_world_matrices(gltf).items()):
            node = gltf["nodes"][node_index]
            if "mesh" not in node:
                continue
            gm = gltf["meshes"][node["mesh"]]
            for k, prim in enumerate(gm.get("primitives", [])):
                if prim.get("mode", 4) != 4 or "POSITION" not in prim.get("attributes", {}):
                    continue
                if "extensions" in prim and "KHR_draco_mesh_compression" in prim["extensions"]:
                    raise GlbError("Draco-compressed meshes are not supported")
                attrs = prim["attributes"]
                pos = _read_accessor(gltf, binary, attrs["POSITION"]).astype(np.float64)
                idx = (_read_accessor(gltf, binary, prim["indices"]).astype(np.int64).reshape(-1, 3)
                       if "indices" in prim else np.arange(len(pos)).reshape(-1, 3))
                uv = _read_accessor(gltf, binary, attrs["TEXCOORD_0"]) if "TEXCOORD_0" in attrs else None
                nrm = _read_accessor(gltf, binary, attrs["NORMAL"]).astype(np.float64) if "NORMAL" in attrs else None
                pos = pos @ world[:3, :3].T + world[:3, 3]
                if nrm is not None:
                    nrm = nrm @ np.linalg.inv(world[:3, :3]).T
                    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
                if np.linalg.det(world[:3, :3]) < 0:
                    idx = idx[:, ::-1]
                name = node.get("name") or gm.get("name") or f"mesh_{len(meshes)}"
                meshes.append(Mesh(pos, idx, uv, nrm, name=name if k == 0 else f"{name}_{k}"))
    image, mime = _first_image(gltf, binary)
    return GlbModel(gltf, meshes, image, mime, bool(gltf.get("skins")),
                    [a.get("name", "") for a in gltf.get("animations", [])])


def _read_accessor(gltf: dict, binary: bytes, index: int) -> np.ndarray:
    acc = gltf["accessors"][index]
    n = _NCOMP[acc["type"]]
    dtype = np.dtype(_DTYPE[acc["componentType"]])
    count = acc["count"]
    if "bufferView" not in acc:
        return np.zeros((count, n), dtype)
    view = gltf["bufferViews"][acc["bufferView"]]
    if view.get("buffer", 0) != 0:
        raise GlbError("external buffers are not supported")
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    stride = view.get("byteStride") or dtype.itemsize * n
    raw = np.frombuffer(binary, np.uint8, count=max(0, (count - 1) * stride + dtype.itemsize * n), offset=start)
    if stride == dtype.itemsize * n:
        out = raw.view(dtype).reshape(count, n)
    else:
        rows = np.lib.stride_tricks.as_strided(raw, shape=(count, dtype.itemsize * n), strides=(stride, 1))
        out = np.ascontiguousarray(rows).view(dtype).reshape(count, n)
    if acc.get("normalized") and dtype.kind in "ui":
        out = out.astype(np.float32) / np.iinfo(dtype).max
    return out.reshape(count, n) if n > 1 else out.reshape(count)


def _local_matrix(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], np.float64).reshape(4, 4).T
    m = np.eye(4)
    x, y, z, w = node.get("rotation", (0, 0, 0, 1))
    r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m[:3, :3] = r * np.asarray(node.get("scale", (1, 1, 1)), np.float64)
    m[:3, 3] = node.get("translation", (0, 0, 0))
    return m


def _world_matrices(gltf: dict) -> dict[int, np.ndarray]:
    nodes = gltf.get("nodes", [])
    scenes = gltf.get("scenes") or [{"nodes": list(range(len(nodes)))}]
    roots = scenes[gltf.get("scene", 0)].get("nodes", [])
    out: dict[int, np.ndarray] = {}
    stack = [(r, np.eye(4)) for r in roots]
    while stack:
        i, parent = stack.pop()
        if i in out or i >= len(nodes):
            continue
        out[i] = parent @ _local_matrix(nodes[i])
        stack.extend((c, out[i]) for c in nodes[i].get("children", []))
    return out


def _first_image(gltf: dict, binary: bytes) -> tuple[bytes | None, str | None]:
    for mat in gltf.get("materials", []):
        tex = mat.get("pbrMetallicRoughness", {}).get("baseColorTexture")
        if tex is None:
            continue
        img = gltf["images"][gltf["textures"][tex["index"]]["source"]]
        if "bufferView" in img:
            v = gltf["bufferViews"][img["bufferView"]]
            off = v.get("byteOffset", 0)
            return binary[off:off + v["byteLength"]], img.get("mimeType", "image/png")
    return None, None
