"""api.tasks on the v2 catalogue (the v2 tier): the 16 task specs, build_request(..., api="v2") validation, chain
rules, outputs and credit estimates (pure)."""

from __future__ import annotations

import inspect

import pytest
from api_helpers import V2, wire_body

from tripo_addon.api import tasks as T
from tripo_addon.api.errors import TripoValidationError
from tripo_addon.api.inputs import Input
from tripo_addon.api.params import file_input
from tripo_addon.api.v2 import catalog as C2

TID = "11111111-2222-4333-8444-555555555555"
TOKEN = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
IMG = {"type": "png", "file_token": TOKEN}
SKILL_ORDER = [
    "text_to_image", "generate_image", "text_to_model", "image_to_model", "multiview_to_model", "refine_model",
    "texture_model", "import_model", "mesh_segmentation", "mesh_completion", "highpoly_to_lowpoly",
    "animate_prerigcheck", "animate_rig", "animate_retarget", "stylize_model", "convert_model",
]
KINDS = {"str", "int", "float", "bool", "enum", "file", "files", "task_id", "str_list", "enum_list", "texture_prompt"}

#: A minimal valid parameter set per type.
MINIMAL = {
    "text_to_image": {"prompt": "a red fox"},
    "generate_image": {"prompt": "a red fox"},
    "text_to_model": {"prompt": "a red fox"},
    "image_to_model": {"file": IMG},
    "multiview_to_model": {"files": [IMG, None, IMG, None]},
    "refine_model": {"draft_model_task_id": TID},
    "texture_model": {"original_model_task_id": TID},
    "import_model": {"file": {"type": "glb", "object": {"bucket": "tripo-data", "key": "k/input.glb"}}},
    "mesh_segmentation": {"original_model_task_id": TID},
    "mesh_completion": {"original_model_task_id": TID},
    "highpoly_to_lowpoly": {"original_model_task_id": TID},
    "animate_prerigcheck": {"original_model_task_id": TID},
    "animate_rig": {"original_model_task_id": TID},
    "animate_retarget": {"original_model_task_id": TID, "animation": "preset:walk"},
    "stylize_model": {"original_model_task_id": TID, "style": "lego"},
    "convert_model": {"original_model_task_id": TID, "format": "FBX"},
}


def build(task_type: str, params: dict, **kw) -> dict:
    """The validated values a v2 client sends."""
    return T.build_request(task_type, params, api="v2", **kw)


def chain(task_type: str, source_type: str, source_model_version: str | None = None) -> None:
    T.check_chain(task_type, source_type, source_model_version, api="v2")


def estimate(task_type: str, params: dict) -> float:
    return T.estimate_credits(task_type, params, api="v2")


def refused(task_type: str, params: dict, phrase: str, param: str | None = None, **kw) -> TripoValidationError:
    with pytest.raises(TripoValidationError) as ei:
        build(task_type, params, **kw)
    assert phrase.lower() in str(ei.value).lower(), str(ei.value)
    if param is not None:
        assert ei.value.param == param
    assert ei.value.user_message == ei.value.message
    return ei.value


# ============================================================================================== specs
def test_sixteen_types_in_skill_order_with_complete_specs():
    assert list(C2.TASK_TYPES) == SKILL_ORDER
    for name, tt in C2.TASK_TYPES.items():
        assert tt.name == name and tt.label and tt.description and tt.outputs
        names = [p.name for p in tt.params]
        assert len(names) == len(set(names)), name
        for p in tt.params:
            assert p.kind in KINDS, (name, p.name)
            assert p.doc, (name, p.name)
            if p.kind in ("enum", "enum_list"):
                assert p.choices and (p.default is None or p.default in p.choices), (name, p.name)
            if p.required:
                assert p.default is None
        if tt.source_field:
            assert tt.param(tt.source_field).required and tt.sources
        assert tt.model_output == (name not in ("text_to_image", "generate_image", "animate_prerigcheck"))


@pytest.mark.parametrize(
    "task_type, expected",
    [
        ("text_to_image", {"prompt", "negative_prompt"}),
        ("generate_image", {"prompt", "model_version", "file", "files", "template", "t_pose", "sketch_to_render"}),
        ("text_to_model", {"prompt", "negative_prompt", "image_seed", "model_version", "model_seed", "texture", "pbr",
                           "texture_seed", "texture_quality", "geometry_quality", "face_limit", "quad",
                           "smart_low_poly", "generate_parts", "auto_size", "compress", "export_uv", "style"}),
        ("image_to_model", {"file", "enable_image_autofix", "texture_alignment", "orientation", "model_version",
                            "model_seed", "texture", "pbr", "texture_seed", "texture_quality", "geometry_quality",
                            "face_limit", "quad", "smart_low_poly", "generate_parts", "auto_size", "compress",
                            "export_uv", "style"}),
        ("texture_model", {"original_model_task_id", "texture_prompt", "model_version", "texture", "pbr",
                           "texture_seed", "texture_alignment", "texture_quality", "part_names", "compress", "bake",
                           "model_seed"}),
        ("highpoly_to_lowpoly", {"original_model_task_id", "model_version", "quad", "face_limit", "part_names",
                                 "bake"}),
        ("animate_rig", {"original_model_task_id", "out_format", "model_version", "rig_type", "spec"}),
        ("animate_retarget", {"original_model_task_id", "animation", "animations", "out_format", "bake_animation",
                              "export_with_geometry", "animate_in_place"}),
        ("stylize_model", {"original_model_task_id", "style", "block_size"}),
        ("convert_model", {"original_model_task_id", "format", "quad", "force_symmetry", "face_limit",
                           "flatten_bottom", "flatten_bottom_threshold", "texture_size", "texture_format",
                           "pivot_to_center_bottom", "scale_factor", "with_animation", "pack_uv", "bake",
                           "part_names", "animate_in_place", "export_vertex_colors", "export_orientation",
                           "fbx_preset"}),
    ],
)
def test_documented_parameters_present(task_type, expected):
    assert {p.name for p in C2.TASK_TYPES[task_type].params} == expected | {"priority"}  # priority: every type (§5)


def test_documented_defaults():
    d = {(t, p.name): p.default for t, tt in C2.TASK_TYPES.items() for p in tt.params}
    assert d["text_to_model", "model_version"] == "v2.5-20250123"
    assert d["text_to_model", "texture"] is True and d["text_to_model", "pbr"] is True
    assert d["generate_image", "model_version"] == "flux.1_kontext_pro"
    assert d["convert_model", "with_animation"] is True and d["convert_model", "bake"] is True
    assert d["animate_retarget", "export_with_geometry"] is True and d["animate_retarget", "bake_animation"] is True
    assert d["stylize_model", "block_size"] == 80 and d["animate_rig", "rig_type"] == "biped"
    assert d["highpoly_to_lowpoly", "model_version"] == "P-v2.0-20251225"
    assert d["texture_model", "model_version"] == "v2.5-20250123"


@pytest.mark.parametrize("task_type", SKILL_ORDER)
def test_builder_per_type_matches_spec(task_type):
    fn = T.BUILDERS[task_type]
    assert fn.__name__ == task_type and fn is getattr(T, task_type)
    sig = inspect.signature(fn)
    spec = {p.name for p in C2.TASK_TYPES[task_type].params}
    args = set(sig.parameters) - {"source_type", "source_model_version"}
    assert args == spec
    for name, prm in sig.parameters.items():
        if C2.TASK_TYPES[task_type].param(name) is not None and not C2.TASK_TYPES[task_type].param(name).required:
            assert prm.default is None, (task_type, name)
    # the builders validate for v3 (the default API): the same values or the same refusal as build_request
    try:
        expected = T.build_request(task_type, MINIMAL[task_type])
    except TripoValidationError as exc:
        with pytest.raises(TripoValidationError) as ei:
            fn(**MINIMAL[task_type])
        assert ei.value.message == exc.message
    else:
        assert fn(**MINIMAL[task_type]) == expected
    assert V2.__getattr__(task_type)(**MINIMAL[task_type]) == build(task_type, MINIMAL[task_type])


@pytest.mark.parametrize("task_type", SKILL_ORDER)
def test_minimal_bodies(task_type):
    values = build(task_type, MINIMAL[task_type])
    assert "type" not in values  # the dialect adds it on the wire
    body = wire_body(task_type, values)
    assert body["type"] == task_type
    for p in C2.TASK_TYPES[task_type].params:
        if p.required:
            assert p.name in values and p.name in body


# ============================================================================================== defaults & sending
def test_values_equal_to_defaults_are_not_sent():
    body = V2.text_to_model("a fox", model_version="v2.5-20250123", texture=True, pbr=True, quad=False,
                           texture_quality="standard", export_uv=True, negative_prompt="", face_limit=None)
    assert body == {"prompt": "a fox"}
    body = V2.convert_model(TID, "fbx", face_limit=10_000, scale_factor=1.0, pack_uv=False)
    assert body == {"original_model_task_id": TID, "format": "FBX"}
    # disputed defaults (tripo-api.md §12): whatever the caller sets is sent
    body = V2.convert_model(TID, "fbx", with_animation=True, bake=True)
    assert body == {"original_model_task_id": TID, "format": "FBX", "with_animation": True,
                    "bake": True}
    assert V2.animate_retarget(TID, animation="preset:walk", export_with_geometry=True)["export_with_geometry"] is True
    assert "bake" not in V2.texture_model(TID, bake=True) and "bake" not in V2.highpoly_to_lowpoly(TID, bake=True)
    assert V2.stylize_model(TID, "minecraft", block_size=80) == {"original_model_task_id": TID, "style": "minecraft"}


def test_non_defaults_are_sent_and_enum_case_is_normalized():
    body = V2.text_to_model("a fox", model_version="v3.1-20260211", geometry_quality="DETAILED", face_limit=1_800_000,
                           quad=True, texture_seed=7, compress="geometry")
    assert body["geometry_quality"] == "detailed" and body["face_limit"] == 1_800_000 and body["quad"] is True
    assert body["texture_seed"] == 7 and body["compress"] == "geometry"


def test_texture_off_turns_pbr_off_too():
    assert V2.text_to_model("x", texture=False) == {"prompt": "x", "texture": False,
                                                    "pbr": False}
    refused("text_to_model", {"prompt": "x", "texture": False, "pbr": True}, "pbr` needs a texture", "pbr")


def test_p1_never_sends_forbidden_keys():
    body = V2.text_to_model("x", model_version="P1-20260311", quad=False, smart_low_poly=False, generate_parts=False,
                           geometry_quality="standard", face_limit=48)
    assert body == {"prompt": "x", "model_version": "P1-20260311", "face_limit": 48}
    for name, value in [("quad", True), ("smart_low_poly", True), ("generate_parts", True),
                        ("geometry_quality", "detailed"), ("style", "object:clay")]:
        refused("text_to_model", {"prompt": "x", "model_version": "P1-20260311", name: value}, "not supported", name)
    refused("multiview_to_model", {"files": [IMG, IMG, None, None], "model_version": "P1-20260311",
                                   "enable_image_autofix": True}, "enable_image_autofix", "enable_image_autofix")


# ============================================================================================== generation rules
@pytest.mark.parametrize(
    "version, extra, ok, bad",
    [
        ("v3.1-20260211", {}, 1_500_000, 1_500_001),
        ("v3.0-20250812", {"geometry_quality": "detailed"}, 2_000_000, 2_000_001),
        ("v2.5-20250123", {}, 500_000, 500_001),
        ("v2.0-20240919", {}, 500_000, 500_001),
        ("Turbo-v1.0-20250506", {}, 50_000, 50_001),
        ("P1-20260311", {}, 20_000, 20_001),
        ("P1-20260311", {}, 48, 47),
        ("v2.5-20250123", {"smart_low_poly": True}, 20_000, 20_001),
        ("v2.5-20250123", {"smart_low_poly": True}, 1_000, 999),
        ("v3.0-20250812", {"smart_low_poly": True, "quad": True}, 10_000, 10_001),
        ("v3.0-20250812", {"smart_low_poly": True, "quad": True}, 500, 499),
    ],
)
def test_face_limit_per_family(version, extra, ok, bad):
    params = {"prompt": "x", "model_version": version, **extra}
    assert build("text_to_model", {**params, "face_limit": ok})["face_limit"] == ok
    refused("text_to_model", {**params, "face_limit": bad}, "face_limit", "face_limit")


def test_face_limit_minus_one_and_junk():
    refused("text_to_model", {"prompt": "x", "face_limit": -1}, "adaptive", "face_limit")
    refused("text_to_model", {"prompt": "x", "face_limit": 0}, "adaptive", "face_limit")
    refused("text_to_model", {"prompt": "x", "face_limit": 12.5}, "whole number", "face_limit")
    refused("text_to_model", {"prompt": "x", "face_limit": "1000"}, "number", "face_limit")
    assert build("text_to_model", {"prompt": "x", "face_limit": 1000.0})["face_limit"] == 1000


def test_family_specific_options():
    refused("text_to_model", {"prompt": "x", "geometry_quality": "detailed"}, "not supported", "geometry_quality")
    refused("text_to_model", {"prompt": "x", "model_version": "Turbo-v1.0-20250506", "smart_low_poly": True},
            "not supported", "smart_low_poly")
    refused("text_to_model", {"prompt": "x", "model_version": "v1.4-20240625", "texture": False}, "not supported",
            "texture")
    refused("image_to_model", {"file": IMG, "model_version": "Turbo-v1.0-20250506", "texture_alignment": "geometry"},
            "not supported", "texture_alignment")
    refused("multiview_to_model", {"files": [IMG, IMG, None, None], "model_version": "Turbo-v1.0-20250506"},
            "model_version", "model_version")
    refused("text_to_model", {"prompt": "x", "model_version": "v1.3-20240522"}, "retired", "model_version")
    refused("text_to_model", {"prompt": "x", "model_version": "v9"}, "not valid", "model_version")
    assert V2.text_to_model("x", model_version="v1.4-20240625", model_seed=3)["model_seed"] == 3


def test_generate_parts_needs_texture_pbr_quad_off():
    refused("text_to_model", {"prompt": "x", "generate_parts": True}, "texture, pbr", "generate_parts")
    refused("text_to_model", {"prompt": "x", "generate_parts": True, "texture": False, "quad": True}, "quad",
            "generate_parts")
    body = V2.text_to_model("x", generate_parts=True, texture=False, pbr=False)
    assert body["generate_parts"] is True and body["texture"] is False and body["pbr"] is False


def test_texture_quality_combinations():
    assert V2.text_to_model("x", texture=False, pbr=False)["texture"] is False  # untextured base mesh is fine
    refused("text_to_model", {"prompt": "x", "texture": False, "texture_quality": "detailed"}, "v3.0-20250812",
            "texture_quality")
    assert V2.text_to_model("x", model_version="v3.0-20250812", texture=False, texture_quality="extreme")
    refused("texture_model", {"original_model_task_id": TID, "texture": False, "pbr": False}, "does nothing",
            "texture")
    refused("texture_model", {"original_model_task_id": TID, "texture": False, "pbr": False,
                              "texture_quality": "detailed"}, "v3.0-20250812", "model_version")
    assert V2.texture_model(TID, texture=False, pbr=False, texture_quality="detailed", model_version="v3.0-20250812")
    assert V2.texture_model(TID, texture=False)["texture"] is False  # pbr-only update


def test_orientation_needs_texture():
    refused("image_to_model", {"file": IMG, "orientation": "align_image", "texture": False}, "textured",
            "orientation")


# ============================================================================================== text
def test_prompt_rules():
    refused("text_to_model", {"prompt": "a cat \U0001F431"}, "emoji", "prompt")
    refused("text_to_model", {"prompt": "a \u2764\ufe0f heart"}, "emoji", "prompt")
    refused("text_to_image", {"prompt": "x\x07y"}, "control character", "prompt")
    refused("text_to_model", {"prompt": "x" * 1025}, "at most 1024", "prompt")
    refused("text_to_model", {"prompt": "x", "negative_prompt": "n" * 256}, "at most 255", "negative_prompt")
    refused("text_to_model", {"prompt": "   "}, "empty", "prompt")
    refused("text_to_model", {}, "needs `prompt`", "prompt")
    assert V2.text_to_model("x" * 1024)["prompt"] == "x" * 1024
    assert V2.text_to_model("un chat roux, \u732b, \u043a\u043e\u0442, line\nbreak")  # multilingual is fine
    refused("texture_model", {"original_model_task_id": TID, "texture_prompt": {"text": "wood \U0001FAB5"}}, "emoji")


def test_unknown_and_aliased_parameters():
    e = refused("text_to_model", {"prompt": "x", "qaud": True}, "no parameter `qaud`", "qaud")
    assert "quad" in str(e)
    assert build("text_to_model", {"prompt": "x", "model": "v3.1-20260211"})["model_version"] == \
        "v3.1-20260211"
    assert build("text_to_model", {"prompt": "x", "text_seed": 5})["image_seed"] == 5
    assert build("refine_model", {"rough_model_task_id": TID})["draft_model_task_id"] == TID
    assert build("animate_rig", {"original_model_task_id": TID, "topology": "quad"})["rig_type"] == \
        "quadruped"
    refused("text_to_model", {"prompt": "x", "type": "image_to_model"}, "does not match")
    refused("texture_modle", {}, "Unknown task type")
    refused("text_to_model", {"prompt": "x", "texture": "yes"}, "true or false", "texture")


# ============================================================================================== files
def test_file_objects():
    """Every accepted spelling of a file becomes an Input; v2 sends it as its {type, file_token|url|object}."""
    cases = [
        ("https://cdn.example/x/image.JPEG?sig=1", Input("url", "https://cdn.example/x/image.JPEG?sig=1", "jpg"),
         {"type": "jpg", "url": "https://cdn.example/x/image.JPEG?sig=1"}),
        (TOKEN, Input("token", TOKEN, "jpg"), {"type": "jpg", "file_token": TOKEN}),
        ({"url": "https://h/a.webp"}, Input("url", "https://h/a.webp", "webp"), {"type": "webp", "url": "https://h/a.webp"}),
        ({"object": {"bucket": "b", "key": "k/input.png"}}, Input("object", "b/k/input.png", "png"),
         {"type": "png", "object": {"bucket": "b", "key": "k/input.png"}}),
        (IMG, Input("token", TOKEN, "png"), IMG),
    ]
    for given, inp, wire in cases:
        assert file_input(given) == inp
        values = build("image_to_model", {"file": given})
        assert values["file"] == inp and wire_body("image_to_model", values)["file"] == wire
    for bad, phrase in [
        ({"type": "png"}, "exactly one"),
        ({"type": "png", "file_token": TOKEN, "url": "https://h/a.png"}, "exactly one"),
        ({"url": "ftp://h/a.png"}, r"http\(s\)"),
        ({"object": {"bucket": "b"}}, "bucket, key"),
        ({"file_token": TOKEN, "extra": 1}, "unknown fields"),
        ("/home/me/picture.png", "upload it first"),
        (42, "must be a file"),
    ]:
        with pytest.raises(TripoValidationError, match=phrase):
            build("image_to_model", {"file": bad})


def test_multiview_slots():
    ok = V2.multiview_to_model([IMG, None, {}, "https://h/r.png"])
    assert ok["files"] == [file_input(IMG), None, None, Input("url", "https://h/r.png", "png")]
    files = wire_body("multiview_to_model", ok)["files"]  # v2 sends a missing view as {}
    assert files[1] == {} and files[2] == {} and files[3]["url"] == "https://h/r.png" and files[0] == IMG
    refused("multiview_to_model", {"files": [IMG, IMG]}, "exactly 4", "files")
    refused("multiview_to_model", {"files": [None, IMG, IMG, IMG]}, "front view", "files")
    refused("multiview_to_model", {"files": [IMG, None, None, None]}, "at least 2", "files")
    refused("multiview_to_model", {}, "either `files`", "files")
    refused("multiview_to_model", {"files": [IMG, IMG, None, None], "original_task_id": TID}, "not both", "files")
    assert V2.multiview_to_model(original_task_id=TID) == {"original_task_id": TID}
    refused("texture_model", {"original_model_task_id": TID, "texture_prompt": {"images": [None, IMG, IMG, IMG]}},
            "front view")
    refused("texture_model", {"original_model_task_id": TID, "texture_prompt": {"text": "wood", "image": IMG}},
            "only one of")
    body = V2.texture_model(TID, texture_prompt={"image": IMG, "style_image": "https://h/s.png"})
    assert body["texture_prompt"]["style_image"] == Input("url", "https://h/s.png", "png")
    assert wire_body("texture_model", body)["texture_prompt"] == {"image": IMG, "style_image": {
        "type": "png", "url": "https://h/s.png"}}


def test_generate_image_rules():
    refused("generate_image", {"prompt": "x", "files": [IMG] * 5}, "at most 4", "files")
    assert len(V2.generate_image("x", model_version="gpt_4o", files=[IMG] * 10)["files"]) == 10
    refused("generate_image", {"prompt": "x", "files": [IMG] * 11, "model_version": "gpt_4o"}, "at most 10")
    refused("generate_image", {"prompt": "x", "model_version": "midjourney", "file": IMG}, "does not take")
    refused("generate_image", {"prompt": "x", "file": {"type": "webp", "file_token": TOKEN}}, "WEBP", "files")
    refused("generate_image", {"template": "t-pose"}, "needs `prompt`", "prompt")
    assert V2.generate_image(template="t-pose", file=IMG)["template"] == "t-pose"
    assert V2.generate_image("x", files=[IMG, None, {}])["files"] == [file_input(IMG)]


def test_import_model_needs_sts_object():
    assert V2.import_model("https://example.com/models/chair")["file"] == Input(
        "url", "https://example.com/models/chair", "glb")
    assert wire_body("import_model", V2.import_model("https://example.com/models/chair"))["file"] == {
        "type": "glb", "url": "https://example.com/models/chair"}
    assert V2.import_model({"object": {"bucket": "b", "key": "k/input.fbx"}})["file"].ext == "fbx"
    refused("import_model", {"file": {"type": "glb", "file_token": TOKEN}}, "STS", "file")
    refused("import_model", {"file": {"type": "png", "object": {"bucket": "b", "key": "k/input.png"}}},
            "GLB, OBJ, FBX or STL", "file")


# ============================================================================================== post-processing
def test_retarget_rules():
    assert V2.animate_retarget(TID, animations=["preset:walk", "preset:run", "preset:walk"])["animations"] == [
        "preset:walk", "preset:run"]
    refused("animate_retarget", {"original_model_task_id": TID}, "needs `animation`", "animations")
    refused("animate_retarget", {"original_model_task_id": TID, "animation": "preset:walk",
                                 "animations": ["preset:run"]}, "not both", "animations")
    refused("animate_retarget", {"original_model_task_id": TID, "animations": [a for a in C2.ANIMATIONS[:6]]},
            "at most 5", "animations")
    refused("animate_retarget", {"original_model_task_id": TID, "animation": "preset:moonwalk"}, "not valid",
            "animation")
    refused("animate_retarget", {"original_model_task_id": TID, "animations": []}, "empty", "animations")


def test_stylize_rules():
    assert V2.stylize_model(TID, "minecraft", block_size=32)["block_size"] == 32
    refused("stylize_model", {"original_model_task_id": TID, "style": "minecraft", "block_size": 31}, "at least 32")
    refused("stylize_model", {"original_model_task_id": TID, "style": "minecraft", "block_size": 129}, "at most 128")
    refused("stylize_model", {"original_model_task_id": TID, "style": "lego", "block_size": 64}, "minecraft",
            "block_size")
    refused("stylize_model", {"original_model_task_id": TID}, "needs `style`", "style")


def test_convert_rules():
    assert V2.convert_model(TID, "gltf")["format"] == "GLTF"
    refused("convert_model", {"original_model_task_id": TID, "format": "OBJ"}, "rig", "format",
            source_type="animate_rig")
    for fmt in ("STL", "3MF"):
        refused("convert_model", {"original_model_task_id": TID, "format": fmt}, "FBX, GLTF or USDZ", "format",
                source_type="animate_retarget")
    assert V2.convert_model(TID, "FBX", source_type="animate_retarget")["format"] == "FBX"
    assert V2.convert_model(TID, "OBJ", source_type="text_to_model")["format"] == "OBJ"
    refused("convert_model", {"original_model_task_id": TID, "format": "FBX", "force_symmetry": True}, "quad",
            "force_symmetry")
    refused("convert_model", {"original_model_task_id": TID, "format": "FBX", "flatten_bottom_threshold": 0.1},
            "flatten_bottom", "flatten_bottom_threshold")
    refused("convert_model", {"original_model_task_id": TID, "format": "FBX", "export_vertex_colors": True},
            "OBJ and GLTF", "export_vertex_colors")
    refused("convert_model", {"original_model_task_id": TID, "format": "OBJ", "fbx_preset": "mixamo"}, "FBX",
            "fbx_preset")
    refused("convert_model", {"original_model_task_id": TID, "format": "FBX", "texture_size": 8192}, "at most 4,096")
    refused("convert_model", {"original_model_task_id": TID, "format": "FBX", "texture_size": 4096}, "2048",
            source_type="text_to_model", source_model_version="v1.4-20240625")
    refused("convert_model", {"original_model_task_id": TID, "format": "DAE"}, "not valid", "format")
    refused("convert_model", {"original_model_task_id": TID, "format": "FBX", "quad": True}, "only changes",
            "quad", source_type="convert_model")


def test_lowpoly_rules():
    assert V2.highpoly_to_lowpoly(TID, quad=True, face_limit=5000)["face_limit"] == 5000
    assert V2.highpoly_to_lowpoly(TID) == {"original_model_task_id": TID, "quad": False}
    assert V2.highpoly_to_lowpoly(TID, quad=False)["quad"] is False
    refused("highpoly_to_lowpoly", {"original_model_task_id": TID, "quad": True, "face_limit": 12_000}, "quad",
            "face_limit")
    refused("highpoly_to_lowpoly", {"original_model_task_id": TID, "face_limit": 400}, "at least 500")
    refused("highpoly_to_lowpoly", {"original_model_task_id": TID, "face_limit": 20_001}, "at most 20,000")


def test_task_id_checks():
    refused("texture_model", {"original_model_task_id": ""}, "task id", "original_model_task_id")
    refused("texture_model", {"original_model_task_id": "../../user/balance"}, "not a valid task id")
    refused("texture_model", {"original_model_task_id": 12}, "task id")


# ============================================================================================== chain rules
ALL_MODEL_SOURCES = ["text_to_model", "image_to_model", "multiview_to_model", "refine_model", "texture_model",
                     "import_model", "mesh_segmentation", "mesh_completion", "highpoly_to_lowpoly", "animate_rig",
                     "animate_retarget", "stylize_model", "convert_model"]
CHAIN = {  # §6 and the skill's table A
    "texture_model": {"text_to_model", "image_to_model", "multiview_to_model", "texture_model", "import_model"},
    "mesh_segmentation": {"text_to_model", "image_to_model", "multiview_to_model", "texture_model", "refine_model",
                          "import_model", "highpoly_to_lowpoly"},
    "mesh_completion": {"mesh_segmentation"},
    "highpoly_to_lowpoly": {"text_to_model", "image_to_model", "multiview_to_model", "texture_model", "refine_model",
                            "import_model", "mesh_segmentation", "mesh_completion"},
    "animate_prerigcheck": set(ALL_MODEL_SOURCES),
    "animate_rig": set(ALL_MODEL_SOURCES),
    "animate_retarget": {"animate_rig"},
    "stylize_model": {"text_to_model", "image_to_model", "multiview_to_model", "texture_model", "refine_model",
                      "import_model", "animate_rig", "animate_retarget"},
    "convert_model": {"text_to_model", "image_to_model", "multiview_to_model", "texture_model", "refine_model",
                      "import_model", "animate_rig", "animate_retarget", "convert_model",
                      "highpoly_to_lowpoly"},  # the skill's pipeline 7 (not in the §6 table)
}


@pytest.mark.parametrize("target", sorted(CHAIN))
def test_chain_table(target):
    assert set(C2.TASK_TYPES[target].sources) == CHAIN[target]
    for src in ALL_MODEL_SOURCES + ["animate_prerigcheck"]:
        if src in CHAIN[target]:
            chain(target, src)
        else:
            with pytest.raises(TripoValidationError):
                chain(target, src)


def test_chain_specific_messages():
    def msg(*args):
        with pytest.raises(TripoValidationError) as ei:
            chain(*args)
        return str(ei.value)

    assert "segment the model first" in msg("mesh_completion", "text_to_model")
    assert "rig the model first" in msg("animate_retarget", "texture_model")
    assert "by its URL" in msg("image_to_model", "text_to_image")
    assert "by its URL" in msg("image_to_model", "generate_image")
    assert "makes an image" in msg("convert_model", "text_to_image")
    assert "before v2.0" in msg("refine_model", "text_to_model")          # default v2.5 cannot be refined
    assert "before v2.0" in msg("refine_model", "image_to_model", "v2.0-20240919")
    chain("refine_model", "multiview_to_model", "v1.4-20240625")
    assert "Turbo or v2.0" in msg("animate_rig", "text_to_model", "v1.4-20240625")
    assert "Turbo or v2.0" in msg("animate_prerigcheck", "image_to_model", "v1.4-20240625")
    chain("animate_rig", "text_to_model", "Turbo-v1.0-20250506")
    chain("animate_rig", "texture_model", "v1.4-20240625")  # the version only matters for generations
    assert "does not start from an earlier task" in msg("text_to_model", "text_to_model")
    chain("multiview_to_model", "generate_multiview_image")
    assert "Unknown source" in msg("convert_model", "bake_a_cake")


def test_build_request_with_source_hint_checks_the_chain():
    refused("mesh_completion", {"original_model_task_id": TID}, "mesh_segmentation", source_type="text_to_model")
    assert V2.mesh_completion(TID, part_names=["arm"], source_type="mesh_segmentation")["part_names"] == ["arm"]
    refused("refine_model", {"draft_model_task_id": TID}, "before v2.0", source_type="text_to_model")
    assert V2.refine_model(TID, source_type="text_to_model", source_model_version="v1.4-20240625")


# ============================================================================================== outputs & credits
def test_outputs_and_model_output_key():
    """Outputs are semantic; v2's model keys collapse into "model" (pbr_model > model > base_model)."""
    from tripo_addon.api.outputs import main_key
    from tripo_addon.api.v2.wire import semantic_output

    assert C2.TASK_TYPES["text_to_image"].outputs == ("image",)
    assert set(C2.TASK_TYPES["text_to_model"].outputs) == {"model", "preview"}
    assert C2.TASK_TYPES["animate_prerigcheck"].outputs == ("riggable", "rig_type")
    assert "model" in C2.TASK_TYPES["convert_model"].outputs
    assert T.output_keys("text_to_model") == ("model", "preview")
    assert semantic_output({"pbr_model": "https://u1", "model": "https://u2", "base_model": "https://u3"}) == {
        "model": "https://u1"}
    assert semantic_output({"model": "https://u2", "base_model": "https://u3"})["model"] == "https://u2"
    assert semantic_output({"base_model": "https://u3", "rendered_image": "https://r"}) == {
        "model": "https://u3", "preview": "https://r"}
    image = semantic_output({"generated_image": "https://g"})
    assert image == {"image": "https://g"} and main_key(image) == "image"  # no model: the image is the result
    assert main_key(semantic_output({"model": ""})) is None and main_key(None) is None
    assert semantic_output({"riggable": False, "topology": "quadruped"}) == {"riggable": False,
                                                                              "rig_type": "quadruped"}


@pytest.mark.parametrize(
    "task_type, params, credits",
    [
        ("text_to_model", {}, 20),
        ("text_to_model", {"texture": False}, 10),
        ("text_to_model", {"texture": False, "pbr": False}, 10),
        ("text_to_model", {"texture_quality": "detailed"}, 30),
        ("text_to_model", {"model_version": "P1-20260311"}, 40),
        ("text_to_model", {"model_version": "P1-20260311", "texture": False}, 30),
        ("text_to_model", {"quad": True, "smart_low_poly": True}, 35),
        ("text_to_model", {"texture": False, "pbr": False, "generate_parts": True}, 30),
        ("text_to_model", {"model_version": "v3.1-20260211", "geometry_quality": "detailed"}, 40),
        ("image_to_model", {}, 30),
        ("image_to_model", {"texture": False}, 20),
        ("multiview_to_model", {"model_version": "P1-20260311", "texture_quality": "extreme"}, 70),
        ("text_to_image", {}, 5),
        ("generate_image", {}, 5),
        ("generate_image", {"model_version": "gpt_image_1.5"}, 10),
        ("texture_model", {}, 20),
        ("texture_model", {"texture_quality": "extreme"}, 40),
        ("import_model", {}, 0),
        ("animate_prerigcheck", {}, 0),
        ("mesh_segmentation", {}, 40),
        ("mesh_completion", {}, 50),
        ("highpoly_to_lowpoly", {}, 30),
        ("animate_rig", {}, 25),
        ("animate_retarget", {"animation": "preset:walk"}, 10),
        ("animate_retarget", {"animations": ["preset:walk", "preset:run", "preset:idle"]}, 30),
        ("convert_model", {"format": "FBX"}, 5),
        ("convert_model", {"format": "FBX", "face_limit": 10_000}, 5),
        ("convert_model", {"format": "FBX", "face_limit": 5_000}, 10),
        ("convert_model", {"format": "OBJ", "texture_format": "PNG"}, 10),
    ],
)
def test_estimate_credits(task_type, params, credits):
    assert estimate(task_type, params) == credits


def test_estimate_credits_is_lenient():
    assert estimate("text_to_model", {"texture_quality": 5, "model_version": None}) == 20
    assert estimate("animate_retarget", {"animations": "oops"}) == 10
