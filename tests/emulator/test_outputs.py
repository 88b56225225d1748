"""Every output is a real file of its format: GLB (parsed), skinned and animated GLB, PNG, WEBP, zips, FBX, USDZ,
STL, 3MF and .schem; deterministic geometry for a seed; outputs keys per texture/pbr/quad."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile

import pytest

from .helpers import download, glb_vertex_count, parse_glb, run, run_many, zip_names


def _model_url(d: dict) -> str:
    out = d["output"]
    return out.get("pbr_model") or out.get("model") or out["base_model"]


GENERATION_CASES = [
    ({}, {"pbr_model", "rendered_image"}),
    ({"pbr": False}, {"model", "rendered_image"}),
    ({"texture": False}, {"base_model", "rendered_image"}),
    ({"texture": False, "pbr": False, "generate_parts": True}, {"base_model", "rendered_image"}),
    ({"model_version": "P1-20260311"}, {"pbr_model", "rendered_image"}),
    ({"model_version": "v1.4-20240625"}, {"model", "rendered_image"}),
]


def test_generation_output_keys(emulator, api_key):
    done = run_many(emulator, api_key, [{"type": "text_to_model", "prompt": "a ceramic vase", **opts}
                                        for opts, _ in GENERATION_CASES])
    for (opts, keys), d in zip(GENERATION_CASES, done, strict=True):
        assert set(d["output"]) == keys, opts
        g = parse_glb(download(_model_url(d)))
        has_texture = "baseColorTexture" in g["materials"][0]["pbrMetallicRoughness"]
        assert has_texture == ("base_model" not in keys), opts
        if opts.get("generate_parts"):
            assert len(g["meshes"]) > 1 and all(m["name"].startswith("part_") for m in g["meshes"])


def test_glb_is_complete_pbr_mesh(emulator, mkey, model_task):
    data = download(model_task["output"]["pbr_model"])
    g = parse_glb(data)
    prim = g["meshes"][0]["primitives"][0]
    assert {"POSITION", "NORMAL", "TEXCOORD_0"} <= set(prim["attributes"])
    assert 1000 < glb_vertex_count(data) and g["accessors"][prim["indices"]]["count"] // 3 > 1000
    pos = g["accessors"][prim["attributes"]["POSITION"]]
    assert len(pos["min"]) == 3 and len(pos["max"]) == 3
    pbr = g["materials"][0]["pbrMetallicRoughness"]
    assert "baseColorTexture" in pbr and "metallicRoughnessTexture" in pbr
    view = g["bufferViews"][g["images"][0]["bufferView"]]
    binary = data[20 + struct.unpack("<I", data[12:16])[0] + 8:]
    assert binary[view["byteOffset"]:view["byteOffset"] + 8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_geometry_other_seed_other_geometry(emulator, api_key):
    body = {"type": "text_to_model", "prompt": "a strange rock", "model_seed": 5, "texture": False}
    a, b, c = (download(_model_url(d)) for d in run_many(emulator, api_key, [body, body, {**body, "model_seed": 6}]))
    assert glb_vertex_count(a) == glb_vertex_count(b)
    assert parse_glb(a)["accessors"][0]["min"] == parse_glb(b)["accessors"][0]["min"]
    assert parse_glb(a)["accessors"][0]["min"] != parse_glb(c)["accessors"][0]["min"]


def test_images_are_real_png_and_webp(emulator, mkey, model_task):
    assert download(model_task["output"]["rendered_image"])[:4] == b"RIFF"
    d = run(emulator, mkey, {"type": "text_to_image", "prompt": "a fox in the snow"})
    png = download(d["output"]["generated_image"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    d = run(emulator, mkey, {"type": "generate_image", "prompt": "a fox", "model_version": "gpt_image_2"})
    assert download(d["output"]["generated_image"])[:4] == b"\x89PNG"
    assert d["consumed_credit"] == 10


def test_multiview_images_and_model_from_them(emulator, mkey, image_task):
    mv = run(emulator, mkey, {"type": "generate_multiview_image",
                              "file": {"type": "png", "url": image_task["output"]["generated_image"]}})
    views = mv["output"]["generate_multiview_image"]
    assert set(views) == {"front_view_url", "left_view_url", "back_view_url", "right_view_url"}
    assert all(download(u)[:4] == b"\x89PNG" for u in views.values())
    files = [{"type": "png", "url": views[f"{v}_view_url"]} for v in ("front", "left")] + [{}, {}]
    ed, m1 = run_many(emulator, mkey, [
        {"type": "edit_multiview_image", "original_task_id": mv["task_id"],
         "prompts": [{"view": "left", "prompt": "make it red"}]},
        {"type": "multiview_to_model", "files": files}])
    assert ed["consumed_credit"] == 5
    parse_glb(download(m1["output"]["pbr_model"]))
    m2 = run(emulator, mkey, {"type": "multiview_to_model", "original_task_id": ed["task_id"]})
    parse_glb(download(m2["output"]["pbr_model"]))


def test_skinned_rig_and_animations(emulator, mkey, model_task, rig_task):
    g = parse_glb(download(rig_task["output"]["model"]))
    skin = g["skins"][0]
    assert len(skin["joints"]) >= 15 and "inverseBindMatrices" in skin
    names = {g["nodes"][j]["name"] for j in skin["joints"]}
    assert {"Hips", "Head", "L_Thigh", "R_Hand"} <= names
    prim = g["meshes"][0]["primitives"][0]
    assert {"JOINTS_0", "WEIGHTS_0"} <= set(prim["attributes"])
    assert "animations" not in g
    presets = ["preset:walk", "preset:run", "preset:idle"]
    d = run(emulator, mkey, {"type": "animate_retarget", "original_model_task_id": rig_task["task_id"],
                                "animations": presets})
    assert d["consumed_credit"] == 30
    g = parse_glb(download(d["output"]["model"]))
    assert g["skins"] and [a["name"] for a in g["animations"]] == ["walk", "run", "idle"]
    times = g["accessors"][g["animations"][0]["samplers"][0]["input"]]
    assert times["min"] == [0.0] and times["max"] == [1.0]
    assert {c["target"]["path"] for c in g["animations"][0]["channels"]} == {"rotation", "translation"}


def test_prerigcheck_guesses_rig_type_from_words(emulator, api_key):
    cases = (("a cute dog", "quadruped"), ("a brave knight", "biped"), ("a spider", "octopod"),
             ("a goldfish", "aquatic"), ("an eagle", "avian"), ("a snake", "serpentine"))
    srcs = run_many(emulator, api_key, [{"type": "text_to_model", "prompt": p, "texture": False} for p, _ in cases])
    checks = run_many(emulator, api_key, [{"type": "animate_prerigcheck", "original_model_task_id": s["task_id"]}
                                          for s in srcs])
    for (_, rig_type), d in zip(cases, checks, strict=True):
        assert d["output"] == {"riggable": True, "rig_type": rig_type}
        assert d["consumed_credit"] == 0 and "model" not in d["output"]


def test_quadruped_rig_and_walk(emulator, api_key):
    src = run(emulator, api_key, {"type": "text_to_model", "prompt": "a horse"})
    rig = run(emulator, api_key, {"type": "animate_rig", "original_model_task_id": src["task_id"],
                                  "rig_type": "quadruped", "model_version": "v2.5-20260210"})
    d = run(emulator, api_key, {"type": "animate_retarget", "original_model_task_id": rig["task_id"],
                                "animation": "preset:quadruped:walk", "animate_in_place": True})
    g = parse_glb(download(d["output"]["model"]))
    assert g["animations"][0]["name"] == "quadruped:walk"


@pytest.mark.parametrize("fmt, check", [
    ("GLTF", lambda b: any(n.endswith(".gltf") for n in zip_names(b)) and any(n.endswith(".bin")
                                                                               for n in zip_names(b))),
    ("OBJ", lambda b: {n.rsplit(".", 1)[-1] for n in zip_names(b)} == {"obj", "mtl", "jpg"}),
    ("STL", lambda b: len(b) == 84 + 50 * struct.unpack("<I", b[80:84])[0]),
    ("3MF", lambda b: "3D/3dmodel.model" in zip_names(b)
     and b"<triangle " in zipfile.ZipFile(io.BytesIO(b)).read("3D/3dmodel.model")),
])
def test_convert_pure_python_formats(emulator, mkey, model_task, fmt, check):
    d = run(emulator, mkey, {"type": "convert_model", "original_model_task_id": model_task["task_id"],
                                "format": fmt.lower() if fmt == "OBJ" else fmt})
    assert d["consumed_credit"] == 5
    assert check(download(d["output"]["model"]))


def test_convert_gltf_zip_is_a_valid_gltf(emulator, mkey, model_task):
    import json

    d = run(emulator, mkey, {"type": "convert_model", "original_model_task_id": model_task["task_id"],
                                "format": "GLTF", "scale_factor": 2, "pivot_to_center_bottom": True})
    assert d["consumed_credit"] == 10   # advanced options: +5
    z = zipfile.ZipFile(io.BytesIO(download(d["output"]["model"])))
    gltf = json.loads(z.read(next(n for n in z.namelist() if n.endswith(".gltf"))))
    assert z.getinfo(gltf["buffers"][0]["uri"]).file_size == gltf["buffers"][0]["byteLength"]
    assert all(img["uri"] in z.namelist() for img in gltf["images"])
    assert gltf["accessors"][0]["min"][1] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.blender
@pytest.mark.parametrize("fmt", ["FBX", "USDZ"])
def test_convert_through_blender(emulator, mkey, model_task, fmt):
    d = run(emulator, mkey, {"type": "convert_model", "original_model_task_id": model_task["task_id"],
                                "format": fmt}, timeout=240)
    data = download(d["output"]["model"])
    if fmt == "FBX":
        assert data.startswith(b"Kaydara FBX Binary")
    else:
        assert any(n.endswith((".usdc", ".usd", ".usda")) for n in zip_names(data))


@pytest.mark.blender
def test_fbx_outputs_of_quad_rig_and_retarget(emulator, mkey, rig_task):
    d = run(emulator, mkey, {"type": "animate_retarget", "original_model_task_id": rig_task["task_id"],
                                "animation": "preset:jump", "out_format": "fbx"}, timeout=240)
    assert download(d["output"]["model"]).startswith(b"Kaydara FBX Binary")
    d = run(emulator, mkey, {"type": "text_to_model", "prompt": "a barrel", "quad": True}, timeout=240)
    assert d["output"]["model"].split("?")[0].endswith(".fbx") and d["consumed_credit"] == 25
    assert download(d["output"]["model"]).startswith(b"Kaydara FBX Binary")


def test_convert_rigged_to_gltf_keeps_animation(emulator, mkey, rig_task):
    import json

    anim = run(emulator, mkey, {"type": "animate_retarget", "original_model_task_id": rig_task["task_id"],
                                   "animation": "preset:walk"})
    d = run(emulator, mkey, {"type": "convert_model", "original_model_task_id": anim["task_id"],
                                "format": "GLTF"})
    z = zipfile.ZipFile(io.BytesIO(download(d["output"]["model"])))
    gltf = json.loads(z.read(next(n for n in z.namelist() if n.endswith(".gltf"))))
    assert gltf["skins"] and gltf["animations"][0]["name"] == "walk"


@pytest.mark.parametrize("style", ["lego", "voxel", "voronoi"])
def test_stylize_glb(emulator, mkey, model_task, style):
    d = run(emulator, mkey, {"type": "stylize_model", "original_model_task_id": model_task["task_id"],
                                "style": style})
    assert glb_vertex_count(download(d["output"]["model"])) > 100


def test_stylize_minecraft_schem(emulator, mkey, model_task):
    d = run(emulator, mkey, {"type": "stylize_model", "original_model_task_id": model_task["task_id"],
                                "style": "minecraft", "block_size": 32})
    assert d["output"]["model"].split("?")[0].endswith(".schem")
    nbt = gzip.decompress(download(d["output"]["model"]))
    assert nbt[:1] == b"\x0a" and b"Schematic" in nbt[:16] and b"BlockData" in nbt and b"minecraft:air" in nbt


def test_segmentation_completion_lowpoly_texture(emulator, mkey, model_task):
    src = model_task["task_id"]
    seg, low, tex = run_many(emulator, mkey, [
        {"type": "mesh_segmentation", "original_model_task_id": src},
        {"type": "highpoly_to_lowpoly", "original_model_task_id": src, "face_limit": 500},
        {"type": "texture_model", "original_model_task_id": src, "texture_prompt": {"text": "golden armour"},
         "pbr": False}])
    g = parse_glb(download(seg["output"]["model"]))
    parts = [m["name"] for m in g["meshes"]]
    assert len(parts) >= 3
    total = glb_vertex_count(download(model_task["output"]["pbr_model"]))
    assert glb_vertex_count(download(seg["output"]["model"])) >= total  # same geometry, split
    comp = run(emulator, mkey, {"type": "mesh_completion", "original_model_task_id": seg["task_id"],
                                "part_names": parts[:2]})
    assert [m["name"] for m in parse_glb(download(comp["output"]["model"]))["meshes"]] == parts
    g = parse_glb(download(low["output"]["model"]))
    faces = sum(g["accessors"][p["indices"]]["count"] // 3 for m in g["meshes"] for p in m["primitives"])
    assert faces <= 500
    assert set(tex["output"]) == {"model", "rendered_image"} and tex["consumed_credit"] == 20
    assert glb_vertex_count(download(tex["output"]["model"])) == total   # the user's geometry is kept
