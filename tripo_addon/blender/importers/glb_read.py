"""A small glTF 2.0 binary (GLB) reader in pure Python (no bpy, no numpy), for Blenders whose glTF importer cannot
run: Blender's own importer needs numpy, which Linux distributions' Blender packages do not install.

It reads what Tripo's models hold: triangle meshes (positions, normals, first UV set, indices) placed by the node
tree, and PBR materials (base colour, metallic/roughness, normal and emissive maps) with their images embedded in
the file. Skins, animations and morph targets are reported, not read (``Model.unsupported``); files that need a glTF
extension (Draco, meshopt, Basis textures) or external buffers are refused with a ``GlbError`` saying so.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from array import array
from dataclasses import dataclass, field

MAGIC = b"glTF"
JSON_CHUNK, BIN_CHUNK = 0x4E4F534A, 0x004E4942
MAX_JSON = 64 << 20  # bytes of JSON: far beyond any model's
MAX_VERTICES = 50_000_000
# componentType -> array typecode (every one of these has the size glTF means on the platforms Blender runs on)
_CODES = {5120: "b", 5121: "B", 5122: "h", 5123: "H", 5125: "I", 5126: "f"}
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_NORM = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}
IDENTITY = (1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)


class GlbError(ValueError):
    """The file is not a GLB this reader can load; the message says why and what to do."""


@dataclass
class Image:
    name: str
    mime: str
    data: bytes


@dataclass
class Material:
    name: str
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    metallic: float = 1.0
    roughness: float = 1.0
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_color_image: int | None = None  # index into Model.images
    metallic_roughness_image: int | None = None
    normal_image: int | None = None
    normal_scale: float = 1.0
    emissive_image: int | None = None
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = False


@dataclass
class Primitive:
    positions: array  # float32 x, y, z per vertex (glTF's Y-up)
    indices: array  # uint32, three per triangle
    normals: array | None = None  # float32 x, y, z per vertex
    uvs: array | None = None  # float32 u, v per vertex (glTF's v: 0 at the top)
    material: int | None = None  # index into Model.materials


@dataclass
class MeshNode:
    name: str
    matrix: tuple[float, ...]  # world matrix, row-major 4x4 (glTF's Y-up space)
    primitives: list[Primitive]


@dataclass
class Model:
    meshes: list[MeshNode] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # what the file holds that was not read ("skins", ...)


def split(data: bytes) -> tuple[dict, bytes]:
    """(JSON document, binary chunk) of a GLB file. Raises GlbError."""
    if len(data) < 20 or data[:4] != MAGIC:
        raise GlbError("This is not a GLB file (no glTF header).")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise GlbError(f"This GLB is glTF version {version}; only version 2 can be read.")
    if length > len(data):
        raise GlbError(f"The GLB file is cut short ({len(data)} of {length} bytes): download it again.")
    doc, binary, pos = None, b"", 12
    while pos + 8 <= length:
        size, kind = struct.unpack_from("<II", data, pos)
        body = data[pos + 8:pos + 8 + size]
        if len(body) != size:
            raise GlbError("The GLB file is cut short inside a chunk: download it again.")
        if kind == JSON_CHUNK and doc is None:
            if size > MAX_JSON:
                raise GlbError(f"The GLB's JSON part is {size:,} bytes, more than this reader accepts.")
            try:
                doc = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise GlbError(f"The GLB's JSON part is not valid ({exc}).") from None
        elif kind == BIN_CHUNK and not binary:
            binary = bytes(body)
        pos += 8 + size + (-size % 4)
    if not isinstance(doc, dict):
        raise GlbError("The GLB file has no JSON part.")
    return doc, binary


class _Reader:
    def __init__(self, doc: dict, binary: bytes) -> None:
        self.doc, self.bin = doc, binary
        self.views = doc.get("bufferViews") or []
        self.accessors = doc.get("accessors") or []

    def view_bytes(self, index: int) -> tuple[bytes, int]:
        """(bytes of buffer view ``index``, its byteStride or 0)."""
        try:
            view = self.views[index]
        except (IndexError, TypeError):
            raise GlbError(f"The GLB names buffer view {index}, which it does not hold.") from None
        buffers = self.doc.get("buffers") or []
        buf = buffers[view.get("buffer", 0)] if view.get("buffer", 0) < len(buffers) else {}
        if view.get("buffer", 0) != 0 or "uri" in buf:
            raise GlbError("The GLB keeps its data in a separate file, which this reader cannot load.")
        start, size = int(view.get("byteOffset", 0)), int(view["byteLength"])
        if start < 0 or size < 0 or start + size > len(self.bin):
            raise GlbError("The GLB's data is shorter than its buffer views say: download it again.")
        return self.bin[start:start + size], int(view.get("byteStride") or 0)

    def accessor(self, index: int, *, as_float: bool = False) -> tuple[array, int]:
        """(flat values, components per element) of accessor ``index``; normalized integers become floats."""
        try:
            acc = self.accessors[index]
        except (IndexError, TypeError):
            raise GlbError(f"The GLB names accessor {index}, which it does not hold.") from None
        if "sparse" in acc:
            raise GlbError("The GLB uses sparse accessors, which this reader cannot load.")
        ctype, ncomp, count = acc.get("componentType"), _NCOMP.get(acc.get("type")), int(acc.get("count", 0))
        if ctype not in _CODES or ncomp is None or not 0 <= count <= MAX_VERTICES * 3:
            raise GlbError(f"The GLB's accessor {index} has a type this reader does not know.")
        code = _CODES[ctype]
        item = array(code).itemsize
        if "bufferView" not in acc:
            out = array(code, bytes(item * ncomp * count))
        else:
            raw, stride = self.view_bytes(acc["bufferView"])
            elem = item * ncomp
            start = int(acc.get("byteOffset", 0))
            stride = stride or elem
            need = start + (count - 1) * stride + elem if count else 0
            if start < 0 or need > len(raw):
                raise GlbError(f"The GLB's accessor {index} reaches past its data: download the file again.")
            if stride == elem:
                packed = raw[start:start + count * elem]
            else:  # interleaved: gather each element's bytes with C-level slices
                src, dst = bytearray(raw[start:start + count * stride]), bytearray(count * elem)
                src += bytes(max(0, count * stride - len(src)))
                for b in range(elem):
                    dst[b::elem] = src[b::stride]
                packed = bytes(dst)
            out = array(code)
            out.frombytes(packed)
            if struct.pack("=H", 1) != struct.pack("<H", 1):  # pragma: no cover - a big-endian machine
                out.byteswap()
        if code != "f" and acc.get("normalized"):
            scale = _NORM.get(ctype, 1.0)
            out = array("f", (max(-1.0, v / scale) for v in out))
        elif code != "f" and as_float:
            out = array("f", out)
        return out, ncomp


def _local_matrix(node: dict) -> tuple[float, ...]:
    """A node's local matrix, row-major."""
    if "matrix" in node:
        m = [float(v) for v in node["matrix"]]
        if len(m) != 16:
            raise GlbError("A node of the GLB has a matrix that is not 4x4.")
        return tuple(m[c * 4 + r] for r in range(4) for c in range(4))  # glTF stores columns
    x, y, z, w = (float(v) for v in node.get("rotation", (0.0, 0.0, 0.0, 1.0)))
    sx, sy, sz = (float(v) for v in node.get("scale", (1.0, 1.0, 1.0)))
    tx, ty, tz = (float(v) for v in node.get("translation", (0.0, 0.0, 0.0)))
    return (
        (1 - 2 * (y * y + z * z)) * sx, 2 * (x * y - z * w) * sy, 2 * (x * z + y * w) * sz, tx,
        2 * (x * y + z * w) * sx, (1 - 2 * (x * x + z * z)) * sy, 2 * (y * z - x * w) * sz, ty,
        2 * (x * z - y * w) * sx, 2 * (y * z + x * w) * sy, (1 - 2 * (x * x + y * y)) * sz, tz,
        0.0, 0.0, 0.0, 1.0,
    )


def matmul(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(sum(a[r * 4 + k] * b[k * 4 + c] for k in range(4)) for r in range(4) for c in range(4))


def _material(doc: dict, m: dict, index: int) -> Material:
    pbr = m.get("pbrMetallicRoughness") or {}

    def image_of(ref) -> int | None:
        if not isinstance(ref, dict) or "index" not in ref:
            return None
        try:
            source = (doc.get("textures") or [])[ref["index"]].get("source")
        except (IndexError, TypeError, AttributeError):
            return None
        return source if isinstance(source, int) else None

    base = tuple(float(v) for v in pbr.get("baseColorFactor", (1.0, 1.0, 1.0, 1.0)))
    emissive = tuple(float(v) for v in m.get("emissiveFactor", (0.0, 0.0, 0.0)))
    return Material(
        name=str(m.get("name") or f"Material {index}"),
        base_color=base if len(base) == 4 else (1.0, 1.0, 1.0, 1.0),
        metallic=float(pbr.get("metallicFactor", 1.0)), roughness=float(pbr.get("roughnessFactor", 1.0)),
        emissive=emissive if len(emissive) == 3 else (0.0, 0.0, 0.0),
        base_color_image=image_of(pbr.get("baseColorTexture")),
        metallic_roughness_image=image_of(pbr.get("metallicRoughnessTexture")),
        normal_image=image_of(m.get("normalTexture")),
        normal_scale=float((m.get("normalTexture") or {}).get("scale", 1.0)),
        emissive_image=image_of(m.get("emissiveTexture")),
        alpha_mode=str(m.get("alphaMode") or "OPAQUE"), alpha_cutoff=float(m.get("alphaCutoff", 0.5)),
        double_sided=bool(m.get("doubleSided", False)),
    )


def _image(reader: _Reader, img: dict, index: int) -> Image:
    name = str(img.get("name") or f"Image {index}")
    if "bufferView" in img:
        data, _ = reader.view_bytes(img["bufferView"])
        return Image(name, str(img.get("mimeType") or "image/png"), data)
    uri = str(img.get("uri") or "")
    if uri.startswith("data:") and ";base64," in uri:
        head, payload = uri.split(";base64,", 1)
        try:
            return Image(name, head[5:] or "image/png", base64.b64decode(payload, validate=False))
        except ValueError:
            raise GlbError(f"The GLB's image {name!r} is not valid base64.") from None
    raise GlbError(f"The GLB's image {name!r} lives in a separate file, which this reader cannot load.")


def read(data: bytes) -> Model:
    """The meshes, materials and images of a GLB file (see the module's docstring). Raises GlbError."""
    doc, binary = split(data)
    required = [str(e) for e in doc.get("extensionsRequired") or []]
    if required:
        raise GlbError(f"The GLB needs the glTF extension(s) {', '.join(required)}, which this reader cannot load.")
    reader = _Reader(doc, binary)
    model = Model()
    model.images = [_image(reader, img, i) for i, img in enumerate(doc.get("images") or [])]
    model.materials = [_material(doc, m, i) for i, m in enumerate(doc.get("materials") or [])]
    if doc.get("skins"):
        model.unsupported.append("skins (the rig)")
    if doc.get("animations"):
        model.unsupported.append("animations")
    nodes = doc.get("nodes") or []
    scenes = doc.get("scenes") or [{"nodes": list(range(len(nodes)))}]
    scene_index = doc.get("scene", 0)
    roots = (scenes[scene_index] if isinstance(scene_index, int) and 0 <= scene_index < len(scenes)
             else scenes[0]).get("nodes") or []
    meshes = doc.get("meshes") or []
    stack = [(r, IDENTITY) for r in reversed(roots)]
    seen: set[int] = set()
    total = 0
    while stack:
        i, parent = stack.pop()
        if not isinstance(i, int) or i in seen or not 0 <= i < len(nodes):
            continue
        seen.add(i)
        node = nodes[i]
        world = matmul(parent, _local_matrix(node))
        stack.extend((c, world) for c in reversed(node.get("children") or []))
        if "mesh" not in node:
            continue
        try:
            mesh = meshes[node["mesh"]]
        except (IndexError, TypeError):
            raise GlbError(f"A node of the GLB names mesh {node['mesh']}, which it does not hold.") from None
        prims = []
        for p in mesh.get("primitives") or []:
            if p.get("mode", 4) != 4:
                if "points or lines" not in model.unsupported:
                    model.unsupported.append("points or lines")
                continue
            if p.get("targets") and "morph targets (shape keys)" not in model.unsupported:
                model.unsupported.append("morph targets (shape keys)")
            attrs = p.get("attributes") or {}
            if "POSITION" not in attrs:
                continue
            pos, n = reader.accessor(attrs["POSITION"], as_float=True)
            nverts = len(pos) // 3
            if n != 3 or not math.isfinite(sum(pos)):
                raise GlbError("The GLB holds invalid vertex positions (NaN, infinite or not 3D).")
            total += nverts
            if total > MAX_VERTICES:
                raise GlbError(f"The GLB has more than {MAX_VERTICES:,} vertices, more than this reader accepts.")
            if "indices" in p:
                idx, _ = reader.accessor(p["indices"])
                idx = idx if idx.typecode == "I" else array("I", idx)
            else:
                idx = array("I", range(nverts))
            if len(idx) % 3:
                raise GlbError("The GLB has a triangle list whose length is not a multiple of 3.")
            if idx and max(idx) >= nverts:
                raise GlbError("The GLB has triangles naming vertices it does not hold.")
            normals = uvs = None
            if "NORMAL" in attrs:
                normals, n = reader.accessor(attrs["NORMAL"], as_float=True)
                normals = normals if n == 3 and len(normals) == 3 * nverts else None
            if "TEXCOORD_0" in attrs:
                uvs, n = reader.accessor(attrs["TEXCOORD_0"], as_float=True)
                uvs = uvs if n == 2 and len(uvs) == 2 * nverts else None
            material = p.get("material")
            material = material if isinstance(material, int) and 0 <= material < len(model.materials) else None
            prims.append(Primitive(positions=pos, indices=idx, normals=normals, uvs=uvs, material=material))
        if prims:
            model.meshes.append(MeshNode(str(node.get("name") or mesh.get("name") or f"Mesh {i}"), world, prims))
    return model
