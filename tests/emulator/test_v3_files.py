"""What the emulator's v3 hands back as files (tripo-api-v3.md §18), over real HTTP: `compress: geometry` gives an
EXT_meshopt_compression GLB that Blender's glTF importer refuses (R14), OBJ conversions are ZIPs (R10), texture
results of quad meshes and FBX imports are FBX (R7), `.gltf` is refused on import (R11), and Smart Segment (R9)."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zipfile

import pytest
import requests

from .helpers import auth, download, parse_glb, png_bytes
from .helpers3 import create3, error3, get3, run3, upload3, wait3

V31 = "v3.1-20260211"
IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]


@pytest.fixture(scope="module")
def chair(emulator, mkey) -> dict:
    return run3(emulator, mkey, "generation/text-to-model", {"prompt": "a wooden chair", "model": V31})


# ------------------------------------------------------------------------------------------------------ compress
@pytest.fixture(scope="module")
def compressed(emulator, mkey) -> tuple[bytes, bytes]:
    """(plain, compressed) GLBs of the same prompt and seed."""
    body = {"prompt": "a tin robot", "model": V31, "model_seed": 3, "texture_seed": 4}
    plain = run3(emulator, mkey, "generation/text-to-model", body)
    packed = run3(emulator, mkey, "generation/text-to-model", {**body, "compress": "geometry"})
    return download(plain["output"]["model_url"]), download(packed["output"]["model_url"])


def test_compress_geometry_returns_a_meshopt_glb(compressed):
    from tripo_emulator.assets.meshopt import EXTENSION, decompress_glb

    plain, packed = compressed
    g = parse_glb(packed)
    assert g["extensionsRequired"] == [EXTENSION] and EXTENSION in g["extensionsUsed"]
    views = [v for v in g["bufferViews"] if EXTENSION in v.get("extensions", {})]
    assert views and all(v["extensions"][EXTENSION]["mode"] == "ATTRIBUTES" for v in views)
    assert g["buffers"][1]["extensions"][EXTENSION] == {"fallback": True} and "uri" not in g["buffers"][1]
    # the streams decode back to the very bytes of the uncompressed result
    gltf, data = decompress_glb(packed)
    ref = parse_glb(plain)
    clen = struct.unpack("<I", plain[12:16])[0]
    ref_bin = plain[20 + clen + 8:]
    for i, acc in enumerate(ref["accessors"]):
        a, b = ref["bufferViews"][acc["bufferView"]], gltf["bufferViews"][gltf["accessors"][i]["bufferView"]]
        assert ref_bin[a["byteOffset"]:a["byteOffset"] + a["byteLength"]] == \
            data[b["byteOffset"]:b["byteOffset"] + b["byteLength"]]


def test_blender_refuses_the_compressed_glb(compressed, tmp_path):
    """The paid result a user could not import (R14): bpy's glTF importer knows no EXT_meshopt_compression."""
    plain, packed = compressed
    (tmp_path / "plain.glb").write_bytes(plain)
    (tmp_path / "packed.glb").write_bytes(packed)
    code = (f"import bpy\nprint('PLAIN', bpy.ops.import_scene.gltf(filepath={str(tmp_path / 'plain.glb')!r}))\n"
            f"try:\n    bpy.ops.import_scene.gltf(filepath={str(tmp_path / 'packed.glb')!r})\n    print('IMPORTED')\n"
            "except RuntimeError as e:\n    print('REFUSED', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert "PLAIN {'FINISHED'}" in out, out[-2000:]
    assert "REFUSED" in out and "EXT_meshopt_compression" in out and "IMPORTED" not in out, out[-2000:]


def test_the_meshopt_codec_round_trips():
    import random

    from tripo_emulator.assets.meshopt import decode_vertex_buffer, encode_vertex_buffer

    rng = random.Random(5)
    for stride in (4, 8, 12, 64):
        for n in (1, 16, 17, 700):
            data = bytes(rng.getrandbits(8) if rng.random() < 0.4 else 0 for _ in range(n * stride))
            enc = encode_vertex_buffer(data, n, stride)
            assert enc[0] == 0xA0 and decode_vertex_buffer(enc, n, stride) == data
    with pytest.raises(ValueError):
        decode_vertex_buffer(enc[:-1], 700, 64)


# ------------------------------------------------------------------------------------------------------ formats
def test_obj_conversion_is_a_zip(emulator, mkey, chair):
    conv = run3(emulator, mkey, "models/convert", {"input": chair["task_id"], "format": "OBJ"})
    assert conv["output"]["model_url"].split("?")[0].endswith(".zip")
    z = zipfile.ZipFile(io.BytesIO(download(conv["output"]["model_url"])))
    exts = {n.rsplit(".", 1)[-1] for n in z.namelist()}
    assert exts == {"obj", "mtl", "jpg"}
    obj = next(n for n in z.namelist() if n.endswith(".obj"))
    assert z.read(obj).count(b"\nf ") > 100 and b"mtllib" in z.read(obj)


def test_texture_of_a_quad_mesh_comes_back_as_fbx(emulator, mkey):
    quad = run3(emulator, mkey, "generation/text-to-model", {"prompt": "a crate", "model": V31, "quad": True},
                timeout=300)
    assert quad["output"]["model_url"].split("?")[0].endswith(".fbx")
    tex = run3(emulator, mkey, "models/texture", {"input": quad["task_id"], "texture_prompt": {"text": "rusty"}},
               timeout=300)
    url = tex["output"]["model_url"]
    assert url.split("?")[0].endswith(".fbx") and download(url)[:18] == b"Kaydara FBX Binary"


def test_texture_of_an_fbx_import_comes_back_as_fbx(emulator, mkey, chair):
    fbx = run3(emulator, mkey, "models/convert", {"input": chair["task_id"], "format": "FBX"}, timeout=300)
    token = upload3(emulator, mkey, download(fbx["output"]["model_url"]), "chair.fbx")
    imported = run3(emulator, mkey, "models/import", {"input": token}, timeout=300)
    tex = run3(emulator, mkey, "models/texture", {"input": imported["task_id"], "texture_prompt": {"text": "oak"}},
               timeout=300)
    assert tex["output"]["model_url"].split("?")[0].endswith(".fbx")
    glb_tex = run3(emulator, mkey, "models/texture", {"input": chair["task_id"]})     # a GLB source stays GLB
    assert glb_tex["output"]["model_url"].split("?")[0].endswith(".glb")


GLTF = b'{"asset": {"version": "2.0"}, "buffers": [{"uri": "chair.bin", "byteLength": 36}], "meshes": []}'


def test_gltf_is_refused_on_import(emulator, api_key):
    token = upload3(emulator, api_key, GLTF, "chair.gltf")          # uploading is fine ...
    for route, body in (("models/import", {"input": token}), ("models/convert", {"input": token, "format": "FBX"})):
        r = requests.post(f"{emulator.v3_base_url}/v3/{route}", json=body, headers=auth(api_key), timeout=10)
        assert error3(r) == (400, 2004), route                       # ... making a model of it is not
        assert ".gltf" in r.json()["message"] and "GLB" in r.json()["message"]
    assert get3(emulator, api_key, "account/balance")["data"]["balance"] == 100_000.0


# ------------------------------------------------------------------------------------------------------ smartsegment
@pytest.fixture(scope="module")
def from_image(emulator, mkey) -> dict:
    token = upload3(emulator, mkey, png_bytes(96, 64, seed=4))
    return run3(emulator, mkey, "mesh/smartsegment", {"seg_type": "image", "input": token, "hint": "the hat",
                                                       "granularity": "medium"})


def test_smartsegment_from_an_image(emulator, mkey, from_image):
    out = from_image["output"]
    assert from_image["type"] == "smart_segment" and from_image["credits_consumed"] == 85.0
    assert set(out) == {"seg_model_url", "mask_url", "seg_task_id", "model_task_id", "prompt"}
    names = out["prompt"].split(", ")
    assert len(names) == 5 and names[0] == "hat"                         # the hint names the first part
    seg = parse_glb(download(out["seg_model_url"]))
    assert [m["name"] for m in seg["meshes"]] == names
    mask = download(out["mask_url"])
    assert mask[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", mask[16:24]) == (96, 64)
    model = get3(emulator, mkey, f"tasks/{out['model_task_id']}")["data"]
    assert model["status"] == "success" and model["type"] == "image_to_model"
    assert parse_glb(download(model["output"]["model_url"]))["meshes"]
    rows = [r["task_id"] for r in get3(emulator, mkey, "account/usage", limit=200)["data"]["items"]]
    assert from_image["task_id"] in rows and out["seg_task_id"] not in rows   # billed once, as the smartsegment


def test_the_seg_task_goes_on_like_any_segmentation(emulator, mkey, from_image):
    out = from_image["output"]
    seg_id, first = out["seg_task_id"], out["prompt"].split(", ")[0]
    seg = get3(emulator, mkey, f"tasks/{seg_id}")["data"]
    assert seg["type"] == "mesh_segmentation" and seg["status"] == "success"
    done = run3(emulator, mkey, "mesh/complete", {"input": seg_id, "part_names": [first]})
    assert done["credits_consumed"] == 50.0
    assert run3(emulator, mkey, "mesh/decimate", {"input": seg_id, "face_limit": 1000})["status"] == "success"
    assert run3(emulator, mkey, "models/texture", {"input": seg_id, "texture_prompt": {"text": "red"}})["status"] \
        == "success"
    conv = run3(emulator, mkey, "models/convert", {"input": seg_id, "format": "GLB"})
    assert sorted(m["name"] for m in parse_glb(download(conv["output"]["model_url"]))["meshes"]) == \
        sorted(out["prompt"].split(", "))
    r = requests.post(f"{emulator.v3_base_url}/v3/mesh/complete", json={"input": seg_id, "part_names": ["wing"]},
                      headers=auth(mkey), timeout=10)
    assert error3(r) == (400, 1004)


def test_smartsegment_of_a_model_url_with_a_transform(emulator, mkey, chair):
    url = get3(emulator, mkey, f"tasks/{chair['task_id']}")["data"]["output"]["model_url"]
    plain = run3(emulator, mkey, "mesh/smartsegment", {"seg_type": "model", "input": url, "transform": IDENTITY,
                                                        "granularity": "fine"})
    assert plain["credits_consumed"] == 55.0 and len(plain["output"]["prompt"].split(", ")) == 8
    moved = IDENTITY[:12] + [2.0, 0, 0, 1]                               # column-major: translation in 12..14
    shifted = run3(emulator, mkey, "mesh/smartsegment", {"seg_type": "model", "input": url, "transform": moved,
                                                          "granularity": "coarse"})
    assert len(shifted["output"]["prompt"].split(", ")) == 3

    def min_x(task: dict) -> float:
        g = parse_glb(download(task["output"]["seg_model_url"]))
        return min(g["accessors"][p["attributes"]["POSITION"]]["min"][0] for m in g["meshes"]
                   for p in m["primitives"])

    assert min_x(shifted) == pytest.approx(min_x(plain) + 2.0, abs=1e-4)
    model = get3(emulator, mkey, f"tasks/{plain['output']['model_task_id']}")["data"]
    assert model["type"] == "import_model" and model["status"] == "success"


@pytest.mark.parametrize("body,word", [
    ({"input": "file_x"}, "`seg_type` is required"),
    ({"seg_type": "mesh", "input": "file_x"}, "seg_type"),
    ({"seg_type": "image"}, "`input` is required"),
    ({"seg_type": "image", "input": "https://example.invalid/a.png"}, "file token"),
    ({"seg_type": "model", "input": "file_x", "transform": IDENTITY}, "GLB URL"),
    ({"seg_type": "model", "input": "https://example.invalid/a.glb"}, "`transform` is required"),
    ({"seg_type": "model", "input": "https://example.invalid/a.glb", "transform": [1, 0, 0]}, "16 numbers"),
    ({"seg_type": "image", "input": "file_x", "granularity": "huge"}, "granularity"),
])
def test_smartsegment_refuses_what_it_cannot_take(emulator, api_key, body, word):
    r = requests.post(f"{emulator.v3_base_url}/v3/mesh/smartsegment", json=body, headers=auth(api_key), timeout=10)
    assert error3(r) == (400, 1004), r.text
    assert word in r.json()["message"]


def test_smartsegment_takes_glb_only(emulator, api_key, mkey, chair):
    conv = run3(emulator, mkey, "models/convert", {"input": chair["task_id"], "format": "STL"})
    r = requests.post(f"{emulator.v3_base_url}/v3/mesh/smartsegment", headers=auth(api_key), timeout=10,
                      json={"seg_type": "model", "input": conv["output"]["model_url"], "transform": IDENTITY})
    assert error3(r) == (400, 2004) and "GLB" in r.json()["message"]
    tid = create3(emulator, api_key, "mesh/smartsegment", {"seg_type": "image", "hint": "the head",
                                                            "input": upload3(emulator, api_key, png_bytes())})
    assert wait3(emulator, api_key, tid)["status"] == "success"


def _stl(triangles: int) -> bytes:
    import numpy as np

    rec = np.zeros(triangles, dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    i = np.arange(triangles, dtype=np.float32)
    rec["v"][:, 0, 0], rec["v"][:, 1, 0], rec["v"][:, 2, 1] = i * 0.001, i * 0.001 + 0.001, 0.001
    rec["v"][:, :, 2] = (i % 7)[:, None] * 0.01
    return b"\0" * 80 + struct.pack("<I", triangles) + rec.tobytes()


def test_smart_uv_refuses_models_over_80000_triangles(emulator, api_key):
    big = run3(emulator, api_key, "models/import", {"input": upload3(emulator, api_key, _stl(80_001), "big.stl")})
    before = get3(emulator, api_key, "account/balance")["data"]
    r = requests.post(f"{emulator.v3_base_url}/v3/mesh/uv", json={"input": big["task_id"]}, headers=auth(api_key),
                      timeout=30)
    assert error3(r) == (400, 1004) and "80,000 triangles" in r.json()["message"] and "80,001" in r.json()["message"]
    assert get3(emulator, api_key, "account/balance")["data"] == before
    small = run3(emulator, api_key, "models/import", {"input": upload3(emulator, api_key, _stl(80_000), "ok.stl")})
    tid = create3(emulator, api_key, "mesh/uv", {"input": small["task_id"]})
    emulator.forget(tid)


def test_smartsegment_splits_into_as_many_parts_as_asked():
    """Fine granularity gives 8 parts: a k-means part left empty takes the farthest triangle (a chair split with
    these seeds came out in 7 parts, so the emulator's test of model-URL segmentation failed now and then)."""
    from tripo_emulator.assets import shapes
    from tripo_emulator.assets.mesh import split_parts

    chair = shapes.generate("furniture", 3)
    assert [len(split_parts(chair, 8, seed)) for seed in (130, 962)] == [8, 8]
