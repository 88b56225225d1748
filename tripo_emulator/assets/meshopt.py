"""EXT_meshopt_compression GLBs, as Tripo returns them for `compress: "geometry"` (tripo-api-v3.md §18 R14).

The vertex codec is meshoptimizer's (format version 0, the one every decoder reads): a 0xA0 header byte, blocks of
at most 256 elements in which each byte column holds zigzagged deltas to the element before, written in groups of
16 bytes whose 2-bit header slot gives their width (here 0 bits for an all-zero group, else 8), and a tail holding the
first element, padded to 32 bytes. compress_glb() moves every geometry/skin/animation buffer view of a GLB into that
form (mode ATTRIBUTES, no filter) behind a fallback buffer without data, and marks the extension required, so an
importer without EXT_meshopt_compression refuses the file, as Blender's glTF importer does up to 5.2."""

from __future__ import annotations

import numpy as np

from .glb import pack_glb, split_glb

EXTENSION = "EXT_meshopt_compression"
HEADER = 0xA0
GROUP = 16
TAIL = 32
_COMPONENT_SIZE = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COUNT = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def _block_size(stride: int) -> int:
    return min((8192 // stride) & ~(GROUP - 1), 256)


def encode_vertex_buffer(data: bytes, count: int, stride: int) -> bytes:
    """meshopt_encodeVertexBuffer (version 0) of `count` elements of `stride` bytes."""
    if not 0 < stride <= 256 or stride % 4 or len(data) != count * stride:
        raise ValueError("stride must be a multiple of 4 up to 256 and data count x stride bytes")
    arr = np.frombuffer(data, np.uint8).reshape(count, stride)
    out = bytearray([HEADER])
    last = arr[0].copy() if count else np.zeros(stride, np.uint8)
    first = last.copy()
    size = _block_size(stride)
    for start in range(0, count, size):
        block = arr[start:start + size]
        prev = np.vstack([last[None, :], block[:-1]])
        delta = (block.astype(np.int16) - prev.astype(np.int16)).astype(np.uint8)
        zz = (((delta.astype(np.uint16) << 1) & 0xFF) ^ np.where(delta & 0x80, 0xFF, 0)).astype(np.uint8)
        n = block.shape[0]
        aligned = -(-n // GROUP) * GROUP
        cols = np.zeros((stride, aligned), np.uint8)
        cols[:, :n] = zz.T
        groups = cols.reshape(stride, aligned // GROUP, GROUP)
        nonzero = groups.any(axis=2)
        slots = np.where(nonzero, 3, 0).astype(np.uint8)
        pad = -slots.shape[1] % 4
        slots = np.pad(slots, ((0, 0), (0, pad))).reshape(stride, -1, 4)
        headers = (slots[..., 0] | (slots[..., 1] << 2) | (slots[..., 2] << 4) | (slots[..., 3] << 6)).astype(np.uint8)
        for k in range(stride):
            out += headers[k].tobytes()
            out += groups[k][nonzero[k]].tobytes()
        last = block[-1].copy()
    if stride < TAIL:
        out += bytes(TAIL - stride)
    out += first.tobytes()
    return bytes(out)


def decode_vertex_buffer(data: bytes, count: int, stride: int) -> bytes:
    """meshopt_decodeVertexBuffer (version 0, every group width); ValueError on a malformed stream."""
    if not data or data[0] & 0xF0 != HEADER or data[0] & 0x0F != 0:
        raise ValueError("not a version-0 meshopt vertex stream")
    tail = max(stride, TAIL)
    if len(data) < 1 + tail:
        raise ValueError("stream too short")
    last = bytearray(data[len(data) - stride:])
    pos, end = 1, len(data) - tail
    out = bytearray(count * stride)
    size = _block_size(stride)
    for start in range(0, count, size):
        n = min(size, count - start)
        aligned = -(-n // GROUP) * GROUP
        groups = aligned // GROUP
        for k in range(stride):
            hsize = (groups + 3) // 4
            header = data[pos:pos + hsize]
            pos += hsize
            column = bytearray()
            for g in range(groups):
                bits = (0, 2, 4, 8)[(header[g // 4] >> ((g % 4) * 2)) & 3]
                if bits == 0:
                    column += bytes(GROUP)
                elif bits == 8:
                    column += data[pos:pos + GROUP]
                    pos += GROUP
                else:
                    per = 8 // bits
                    sentinel = (1 << bits) - 1
                    packed = data[pos:pos + GROUP // per]
                    pos += GROUP // per
                    vals = [(packed[i // per] >> (8 - bits * (i % per + 1))) & sentinel for i in range(GROUP)]
                    for i, v in enumerate(vals):
                        if v == sentinel:
                            vals[i] = data[pos]
                            pos += 1
                    column += bytes(vals)
            if pos > end:
                raise ValueError("stream overruns its tail")
            p = last[k]
            for i in range(n):
                z = column[i]
                p = (p + ((z >> 1) ^ (-(z & 1) & 0xFF))) & 0xFF
                out[(start + i) * stride + k] = p
        last = bytearray(out[(start + n - 1) * stride:(start + n) * stride])
    if pos != end:
        raise ValueError("stream length does not match its contents")
    return bytes(out)


def compress_glb(data: bytes) -> bytes:
    """The GLB with its accessor buffer views meshopt-compressed and EXT_meshopt_compression required."""
    gltf, binary = split_glb(data)
    users: dict[int, list[dict]] = {}
    for acc in gltf.get("accessors", []):
        if "bufferView" in acc:
            users.setdefault(acc["bufferView"], []).append(acc)
    new_bin, fallback = bytearray(), 0
    for i, view in enumerate(gltf.get("bufferViews", [])):
        raw = binary[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]
        accs = users.get(i, [])
        stride = 0
        if len(accs) == 1 and not accs[0].get("byteOffset"):
            acc = accs[0]
            stride = view.get("byteStride") or _COMPONENT_SIZE[acc["componentType"]] * _TYPE_COUNT[acc["type"]]
        new_bin += bytes(-len(new_bin) % 4)
        if stride and stride % 4 == 0 and stride <= 256 and len(raw) == accs[0]["count"] * stride:
            packed = encode_vertex_buffer(raw, accs[0]["count"], stride)
            fallback += -fallback % 4
            view["extensions"] = {EXTENSION: {"buffer": 0, "byteOffset": len(new_bin), "byteLength": len(packed),
                                              "byteStride": stride, "count": accs[0]["count"],
                                              "mode": "ATTRIBUTES"}}
            view.update(buffer=1, byteOffset=fallback)
            fallback += len(raw)
            new_bin += packed
        else:
            view.update(buffer=0, byteOffset=len(new_bin))
            new_bin += raw
    new_bin += bytes(-len(new_bin) % 4)
    gltf["buffers"] = [{"byteLength": len(new_bin)},
                       {"byteLength": max(fallback, 4), "extensions": {EXTENSION: {"fallback": True}}}]
    for key in ("extensionsUsed", "extensionsRequired"):
        gltf[key] = sorted(set(gltf.get(key, [])) | {EXTENSION})
    return pack_glb(gltf, bytes(new_bin))


def decompress_glb(data: bytes) -> tuple[dict, bytes]:
    """(JSON, BIN) of a compress_glb() file with every compressed view decoded back into a plain buffer 0."""
    gltf, binary = split_glb(data)
    plain = bytearray()
    for view in gltf["bufferViews"]:
        ext = (view.get("extensions") or {}).get(EXTENSION)
        if ext:
            raw = decode_vertex_buffer(binary[ext["byteOffset"]:ext["byteOffset"] + ext["byteLength"]],
                                       ext["count"], ext["byteStride"])
            del view["extensions"]
        else:
            raw = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        plain += bytes(-len(plain) % 4)
        view.update(buffer=0, byteOffset=len(plain), byteLength=len(raw))
        plain += raw
    gltf["buffers"] = [{"byteLength": len(plain)}]
    for key in ("extensionsUsed", "extensionsRequired"):
        gltf[key] = [e for e in gltf.get(key, []) if e != EXTENSION]
        if not gltf[key]:
            del gltf[key]
    return gltf, bytes(plain)
