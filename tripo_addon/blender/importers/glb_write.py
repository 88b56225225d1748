"""A minimal glTF 2.0 binary (GLB) writer in pure Python (no bpy, no numpy): triangle meshes with normals and UVs,
for sending a mesh to Tripo from a Blender whose glTF exporter cannot run (no numpy)."""

from __future__ import annotations

import json
import math
import struct
from array import array
from dataclasses import dataclass

FLOAT, UINT, ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 5126, 5125, 34962, 34963


@dataclass
class MeshData:
    name: str
    positions: array  # float32 x, y, z per vertex (glTF's Y-up)
    indices: array  # uint32, three per triangle
    normals: array | None = None  # float32 x, y, z per vertex
    uvs: array | None = None  # float32 u, v per vertex (glTF's v: 0 at the top)


def write(meshes: list[MeshData], generator: str = "Tripo add-on") -> bytes:
    """GLB bytes: one node and one indexed triangle primitive per mesh. Raises ValueError on unusable data."""
    binary = bytearray()
    views: list[dict] = []
    accessors: list[dict] = []

    def accessor(values: array, kind: str, ncomp: int, minmax: bool = False, ctype: int = FLOAT) -> int:
        data = array("f" if ctype == FLOAT else "I", values)
        if struct.pack("=H", 1) != struct.pack("<H", 1):  # pragma: no cover - a big-endian machine
            data.byteswap()
        binary.extend(b"\0" * (-len(binary) % 4))
        views.append({"buffer": 0, "byteOffset": len(binary), "byteLength": len(data) * 4,
                      "target": ARRAY_BUFFER if ctype == FLOAT else ELEMENT_ARRAY_BUFFER})
        binary.extend(data.tobytes())
        acc = {"bufferView": len(views) - 1, "componentType": ctype, "count": len(values) // ncomp, "type": kind}
        if minmax:
            cols = [values[k::ncomp] for k in range(ncomp)]
            acc["min"] = [float(min(c)) for c in cols]
            acc["max"] = [float(max(c)) for c in cols]
        accessors.append(acc)
        return len(accessors) - 1

    nodes, gl_meshes = [], []
    for m in meshes:
        nverts = len(m.positions) // 3
        if (not nverts or len(m.positions) % 3 or not m.indices or len(m.indices) % 3
                or not math.isfinite(sum(m.positions)) or max(m.indices) >= nverts):
            raise ValueError(f"{m.name}: no triangles (or invalid positions) to write")
        attrs = {"POSITION": accessor(m.positions, "VEC3", 3, minmax=True)}
        if m.normals is not None and len(m.normals) == 3 * nverts:
            attrs["NORMAL"] = accessor(m.normals, "VEC3", 3)
        if m.uvs is not None and len(m.uvs) == 2 * nverts:
            attrs["TEXCOORD_0"] = accessor(m.uvs, "VEC2", 2)
        indices = accessor(m.indices, "SCALAR", 1, ctype=UINT)
        gl_meshes.append({"name": m.name, "primitives": [{"attributes": attrs, "indices": indices, "mode": 4}]})
        nodes.append({"name": m.name, "mesh": len(gl_meshes) - 1})
    if not gl_meshes:
        raise ValueError("no mesh to write")
    binary.extend(b"\0" * (-len(binary) % 4))
    doc = {"asset": {"version": "2.0", "generator": generator}, "scene": 0,
           "scenes": [{"nodes": list(range(len(nodes)))}], "nodes": nodes, "meshes": gl_meshes,
           "buffers": [{"byteLength": len(binary)}], "bufferViews": views, "accessors": accessors}
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<I4s", len(js), b"JSON") + js + struct.pack("<I4s", len(binary), b"BIN\0") + bytes(binary)
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body
