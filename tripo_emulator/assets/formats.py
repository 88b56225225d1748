"""Mesh formats in pure Python: sniffing and reading (GLB/OBJ/STL/FBX header), and writers for OBJ (zip),
STL, 3MF, glTF (zip of .gltf + .bin + textures) and Minecraft .schem (Sponge schematic v2)."""

from __future__ import annotations

import gzip
import io
import json
import re
import struct
import zipfile

import numpy as np

from .mesh import Mesh


# ------------------------------------------------------------------------------------------------------ sniffing
def sniff_mesh_format(data: bytes) -> str | None:
    """'glb' | 'fbx' | 'stl' | 'obj' | 'gltf' from the bytes, or None."""
    if data[:4] == b"glTF":
        return "glb"
    if data[:18] == b"Kaydara FBX Binary" or data.lstrip()[:5] == b"; FBX":
        return "fbx"
    if len(data) >= 84:
        n = struct.unpack("<I", data[80:84])[0]
        if 84 + 50 * n == len(data) and n > 0:
            return "stl"
    head = data[:4096].lstrip().lower()
    if head.startswith(b"solid") and b"facet" in data[:65536].lower():
        return "stl"
    try:
        text = data[:1 << 20].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if re.search(r"^v\s+\S+\s+\S+\s+\S+", text, re.M) and re.search(r"^f\s+\S+", text, re.M):
        return "obj"
    if text.lstrip().startswith("{") and re.search(r'"asset"\s*:\s*\{[^}]*"version"', text):
        return "gltf"   # JSON glTF: stored when uploaded, refused on import (R11)
    return None


def count_faces(data: bytes, kind: str) -> int:
    """Triangle count without decoding geometry (0 when unknown, e.g. FBX)."""
    if kind == "glb":
        from .glb import GlbError, split_glb

        try:
            gltf, _ = split_glb(data)
        except (GlbError, ValueError):
            return 0
        total = 0
        counts: dict[int, int] = {}
        for node in gltf.get("nodes", []):
            if "mesh" in node:
                counts[node["mesh"]] = counts.get(node["mesh"], 0) + 1
        for mi, gm in enumerate(gltf.get("meshes", [])):
            for prim in gm.get("primitives", []):
                acc = prim.get("indices", prim.get("attributes", {}).get("POSITION"))
                if acc is not None and prim.get("mode", 4) == 4:
                    total += gltf["accessors"][acc]["count"] // 3 * max(counts.get(mi, 1), 1)
        return total
    if kind == "stl":
        if data[:5].lower() == b"solid" and b"facet" in data[:65536].lower():
            return data.lower().count(b"facet normal")
        return struct.unpack("<I", data[80:84])[0]
    if kind == "obj":
        total = 0
        for line in data.decode("utf-8", "replace").splitlines():
            if line.startswith("f "):
                total += max(len(line.split()) - 3, 0)
        return total
    return 0


# ------------------------------------------------------------------------------------------------------ reading
def read_obj(data: bytes) -> list[Mesh]:
    """OBJ (v/vt/vn/f, negative indices, polygons fanned) as one mesh per o/g group."""
    v: list[list[float]] = []
    vt: list[list[float]] = []
    vn: list[list[float]] = []
    groups: list[tuple[str, list[list[tuple[int, int, int]]]]] = [("mesh", [])]
    for line in data.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if not parts:
            continue
        tag = parts[0]
        if tag == "v":
            v.append([float(x) for x in parts[1:4]])
        elif tag == "vt":
            vt.append([float(x) for x in (parts[1:3] + ["0"])[:2]])
        elif tag == "vn":
            vn.append([float(x) for x in parts[1:4]])
        elif tag in ("o", "g") and len(parts) > 1:
            if groups[-1][1]:
                groups.append((parts[1], []))
            else:
                groups[-1] = (parts[1], [])
        elif tag == "f":
            face = []
            for ref in parts[1:]:
                ids = (ref.split("/") + ["", ""])[:3]

                def fix(s: str, n: int) -> int:
                    if not s:
                        return -1
                    i = int(s)
                    return i - 1 if i > 0 else n + i

                face.append((fix(ids[0], len(v)), fix(ids[1], len(vt)), fix(ids[2], len(vn))))
            groups[-1][1].append(face)
    out = []
    V, VT, VN = np.asarray(v, float).reshape(-1, 3), np.asarray(vt, float).reshape(-1, 2), np.asarray(vn, float)
    for name, faces in groups:
        if not faces:
            continue
        index: dict[tuple[int, int, int], int] = {}
        tris = []
        for face in faces:
            ids = [index.setdefault(k, len(index)) for k in face]
            tris += [(ids[0], ids[i], ids[i + 1]) for i in range(1, len(ids) - 1)]
        keys = list(index)
        pos = V[[k[0] for k in keys]]
        uv = VT[[max(k[1], 0) for k in keys]] if len(VT) and all(k[1] >= 0 for k in keys) else None
        nrm = VN[[k[2] for k in keys]] if len(VN) and all(k[2] >= 0 for k in keys) else None
        out.append(Mesh(pos, np.asarray(tris), uv, nrm, name=name))
    return out


def read_stl(data: bytes) -> list[Mesh]:
    """Binary or ASCII STL (Z-up) as one Y-up mesh (one vertex per corner)."""
    if data[:5].lower() == b"solid" and b"facet" in data[:65536].lower():
        nums = re.findall(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)", data)
        pts = np.asarray([[float(a), float(b), float(c)] for a, b, c in nums], float)
    else:
        n = struct.unpack("<I", data[80:84])[0]
        rec = np.frombuffer(data, np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), n, 84)
        pts = rec["v"].reshape(-1, 3).astype(float)
    pts = pts[:, [0, 2, 1]] * [1, 1, -1]
    tris = np.arange(len(pts)).reshape(-1, 3)
    return [Mesh(pts, tris, None, name="mesh")]


# ------------------------------------------------------------------------------------------------------ writing
def _zup(p: np.ndarray) -> np.ndarray:
    """glTF Y-up -> Z-up (STL / 3MF): (x, y, z) -> (x, -z, y)."""
    return np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1)


def write_obj_zip(meshes: list[Mesh], texture_png: bytes | None, name: str) -> bytes:
    """A zip with <name>.obj, <name>.mtl and texture.png (when textured), as the service returns for OBJ."""
    lines = [f"# Tripo emulator\nmtllib {name}.mtl"]
    base = 1
    for m in meshes:
        lines.append(f"o {m.name}")
        lines.append("\n".join(f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in m.positions))
        uvs = m.uvs if m.uvs is not None else np.zeros((m.vertex_count, 2))
        lines.append("\n".join(f"vt {u:.6f} {v:.6f}" for u, v in uvs))
        lines.append("\n".join(f"vn {x:.5f} {y:.5f} {z:.5f}" for x, y, z in m.normals))
        lines.append("usemtl material")
        lines.append("\n".join("f " + " ".join(f"{i + base}/{i + base}/{i + base}" for i in t) for t in m.indices))
        base += m.vertex_count
    mtl = "newmtl material\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nNs 10\nillum 2\n"
    if texture_png:
        mtl += "map_Kd texture.png\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.obj", "\n".join(lines) + "\n")
        z.writestr(f"{name}.mtl", mtl)
        if texture_png:
            z.writestr("texture.png", texture_png)
    return out.getvalue()


def write_stl(meshes: list[Mesh]) -> bytes:
    """Binary STL (Z-up, geometry only)."""
    tris = []
    for m in meshes:
        tris.append(_zup(m.positions.astype(np.float64))[m.indices])
    t = np.concatenate(tris) if tris else np.zeros((0, 3, 3))
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    rec = np.zeros(len(t), np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]))
    rec["n"], rec["v"] = n, t
    header = b"Binary STL written by the Tripo emulator".ljust(80, b" ")
    return header + struct.pack("<I", len(t)) + rec.tobytes()


def write_3mf(meshes: list[Mesh], unit: str = "millimeter", scale: float = 100.0) -> bytes:
    """3MF package (zip): [Content_Types].xml, _rels/.rels, 3D/3dmodel.model; geometry only, Z-up."""
    objs, items = [], []
    for k, m in enumerate(meshes, start=1):
        p = _zup(m.positions.astype(np.float64)) * scale
        p[:, 2] -= p[:, 2].min() if len(p) else 0
        verts = "".join(f'<vertex x="{x:.4f}" y="{y:.4f}" z="{z:.4f}"/>' for x, y, z in p)
        tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in m.indices)
        objs.append(f'<object id="{k}" name="{m.name}" type="model"><mesh><vertices>{verts}</vertices>'
                    f"<triangles>{tris}</triangles></mesh></object>")
        items.append(f'<item objectid="{k}"/>')
    model = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             f'<model unit="{unit}" xml:lang="en-US" '
             'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
             '<metadata name="Application">Tripo emulator</metadata>'
             f'<resources>{"".join(objs)}</resources><build>{"".join(items)}</build></model>')
    types = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
             "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
            'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        z.writestr("3D/3dmodel.model", model)
    return out.getvalue()


def write_gltf_zip(glb: bytes, name: str) -> bytes:
    """A zip with <name>.gltf, <name>.bin and the textures as separate image files (from a GLB)."""
    from .glb import split_glb

    gltf, binary = split_glb(glb)
    gltf = json.loads(json.dumps(gltf))
    files: dict[str, bytes] = {}
    for i, img in enumerate(gltf.get("images", [])):
        if "bufferView" in img:
            v = gltf["bufferViews"][img["bufferView"]]
            ext = {"image/jpeg": "jpg", "image/webp": "webp"}.get(img.get("mimeType"), "png")
            fname = f"texture_{i}.{ext}"
            files[fname] = binary[v.get("byteOffset", 0):v.get("byteOffset", 0) + v["byteLength"]]
            img.pop("bufferView")
            img["uri"] = fname
    gltf["buffers"] = [{"byteLength": len(binary), "uri": f"{name}.bin"}]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.gltf", json.dumps(gltf, indent=1))
        z.writestr(f"{name}.bin", binary)
        for fname, data in files.items():
            z.writestr(fname, data)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------------ .schem
CONCRETE = {
    "white": (207, 213, 214), "orange": (224, 97, 1), "magenta": (169, 48, 159), "light_blue": (36, 137, 199),
    "yellow": (241, 175, 21), "lime": (94, 169, 24), "pink": (214, 101, 143), "gray": (55, 58, 62),
    "light_gray": (125, 125, 115), "cyan": (21, 119, 136), "purple": (100, 32, 156), "blue": (45, 47, 143),
    "brown": (96, 60, 32), "green": (73, 91, 36), "red": (142, 33, 33), "black": (8, 10, 15),
}


def _nbt(tag: int, name: str, payload: bytes) -> bytes:
    n = name.encode()
    return bytes([tag]) + struct.pack(">H", len(n)) + n + payload


def _nbt_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def write_schem(grid: np.ndarray, colors: np.ndarray | None = None) -> bytes:
    """Sponge schematic v2 (gzip NBT). grid[x, y, z] bool; colors[x, y, z] RGB picks a concrete block."""
    width, height, length = grid.shape
    names = list(CONCRETE)
    ref = np.asarray([CONCRETE[n] for n in names], float)
    palette = {"minecraft:air": 0}
    block = np.zeros(grid.shape, np.int64)
    occ = np.argwhere(grid)
    if len(occ):
        if colors is not None:
            c = colors[occ[:, 0], occ[:, 1], occ[:, 2]].astype(float)
            nearest = np.argmin(((c[:, None, :] - ref[None]) ** 2).sum(-1), axis=1)
        else:
            nearest = np.zeros(len(occ), int)
        for i, n in enumerate(nearest):
            key = f"minecraft:{names[n]}_concrete"
            block[tuple(occ[i])] = palette.setdefault(key, len(palette))
    order = block.transpose(1, 2, 0).reshape(-1)  # index = x + z*W + y*W*L
    varints = bytearray()
    for v in order.tolist():
        while True:
            byte = v & 0x7F
            v >>= 7
            if v:
                varints.append(byte | 0x80)
            else:
                varints.append(byte)
                break
    pal = b"".join(_nbt(3, k, struct.pack(">i", v)) for k, v in palette.items()) + b"\x00"
    body = b"".join([
        _nbt(3, "Version", struct.pack(">i", 2)), _nbt(3, "DataVersion", struct.pack(">i", 3465)),
        _nbt(2, "Width", struct.pack(">h", width)), _nbt(2, "Height", struct.pack(">h", height)),
        _nbt(2, "Length", struct.pack(">h", length)), _nbt(11, "Offset", struct.pack(">iiii", 3, 0, 0, 0)),
        _nbt(3, "PaletteMax", struct.pack(">i", len(palette))), _nbt(10, "Palette", pal),
        _nbt(7, "BlockData", struct.pack(">i", len(varints)) + bytes(varints)),
        _nbt(9, "BlockEntities", bytes([10]) + struct.pack(">i", 0)),
        _nbt(10, "Metadata", _nbt(8, "Generator", _nbt_str("Tripo emulator")) + b"\x00"),
    ]) + b"\x00"
    return gzip.compress(_nbt(10, "Schematic", body))
