"""The v3 dialect pieces that need no emulator (pure): request bodies for every v3 task type, semantic outputs,
error mapping keyed on the HTTP status, strict task parsing, v3 validation messages, and which API a URL speaks."""

from __future__ import annotations

import json

import pytest

from tripo_addon.api import errors as E
from tripo_addon.api import tasks as T
from tripo_addon.api.dialect import GLOBAL_URL, api_of
from tripo_addon.api.dialects import by_name, dialect_for
from tripo_addon.api.inputs import Input, task_output
from tripo_addon.api.v3 import catalog as C3
from tripo_addon.api.v3.dialect import DIALECT as WIRE
from tripo_addon.api.v3.wire import AUTH_TEXT, ROUTES, semantic_output

TID = "11111111-2222-4333-8444-555555555555"
TOK = "file_0123456789abcdef"
URL = "https://h.example/img/b.png"
KEY = "tsk_" + "Secret_Value-1234567890abcdef"  # a fake key, built so secret scanners do not flag it

#: A minimal valid parameter set per v3 task type.
MINIMAL = {
    "text_to_image": {"prompt": "a red fox"},
    "generate_image": {"prompt": "image[1] as a statue", "file": TOK},
    "text_to_model": {"prompt": "a red fox"},
    "image_to_model": {"file": TOK},
    "multiview_to_model": {"files": [TOK, None, URL, None]},
    "texture_model": {"original_model_task_id": TID},
    "import_model": {"file": TOK},
    "mesh_segmentation": {"original_model_task_id": TID},
    "mesh_completion": {"original_model_task_id": TID},
    "highpoly_to_lowpoly": {"original_model_task_id": TID},
    "animate_prerigcheck": {"original_model_task_id": TID},
    "animate_rig": {"original_model_task_id": TID},
    "animate_retarget": {"original_model_task_id": TID, "animation": "preset:walk"},
    "convert_model": {"original_model_task_id": TID, "format": "FBX"},
    "generate_multiview_image": {"file": TOK},
    "edit_multiview_image": {"original_task_id": TID, "prompts": {"front": "a hat"}},
    "image_to_splat": {"file": TOK},
    "image_to_depth": {"file": TOK},
    "mesh_uv": {"original_model_task_id": TID},
    "smart_segment": {"seg_type": "model", "file": URL.replace(".png", ".glb") if URL.endswith(".png") else URL},
}
GENERATION_3D = ("text_to_model", "image_to_model", "multiview_to_model")


def v3(task_type: str, params: dict, **kw) -> tuple[dict, str, dict]:
    """(values, route, wire body) a v3 client sends for these parameters."""
    values = T.build_request(task_type, params, api="v3", **kw)
    route, body = WIRE.create_request(task_type, values)
    json.dumps(body, allow_nan=False)  # always plain JSON
    return values, route, body


def refused(task_type: str, params: dict, phrase: str, param: str | None = None, **kw) -> E.TripoValidationError:
    with pytest.raises(E.TripoValidationError) as ei:
        T.build_request(task_type, params, api="v3", **kw)
    assert phrase.lower() in ei.value.user_message.lower(), ei.value.user_message
    if param is not None:
        assert ei.value.param == param
    return ei.value


# ============================================================================================== request bodies
def test_minimal_cover_every_v3_task_type():
    assert set(MINIMAL) == set(C3.TASK_TYPES) == set(ROUTES)


@pytest.mark.parametrize("task_type", sorted(MINIMAL))
def test_every_v3_task_type_has_its_route_and_no_type_field(task_type):
    values, route, body = v3(task_type, MINIMAL[task_type])
    assert route == ROUTES[task_type] and route.startswith("/v3/")
    assert "type" not in body and "type" not in values
    assert not {"file", "files", "original_model_task_id", "model_version"} & set(body)  # v3 names only
    tt = C3.TASK_TYPES[task_type]
    if tt.source_field or any(p.kind == "file" for p in tt.params if p.required):
        assert body.get("input") or body.get("inputs"), body


@pytest.mark.parametrize("task_type", GENERATION_3D)
def test_generation_always_sends_the_model(task_type):
    _, _, body = v3(task_type, MINIMAL[task_type])
    assert body["model"] == C3.DEFAULT_MODEL_VERSION == "v2.5-20250123"  # required on v3: sent even when unset
    _, _, body = v3(task_type, {**MINIMAL[task_type], "model_version": "v3.1-20260211"})
    assert body["model"] == "v3.1-20260211"
    _, _, body = v3(task_type, {**MINIMAL[task_type], "model": "v3.0-20250812"})  # v3's own name is an alias
    assert body["model"] == "v3.0-20250812"
    refused(task_type, {**MINIMAL[task_type], "model_version": "Turbo-v1.0-20250506"}, "retired", "model_version")


@pytest.mark.parametrize("task_type", GENERATION_3D)
def test_p_series_never_receive_forbidden_options(task_type):
    """tripo-api-v3.md §6.1: P-series refuse smart_low_poly/generate_parts/geometry_quality (P1 also quad) even
    when false: they are never sent."""
    off = {"quad": False, "smart_low_poly": False, "generate_parts": False, "geometry_quality": "standard"}
    _, _, body = v3(task_type, {**MINIMAL[task_type], "model_version": "P1-20260311", **off})
    assert body["model"] == "P1-20260311" and not set(off) & set(body)
    _, _, body = v3(task_type, {**MINIMAL[task_type], "model_version": "P2-20260801", **off, "quad": True})
    assert body["quad"] is True and not {"smart_low_poly", "generate_parts", "geometry_quality"} & set(body)
    for name, value in (("quad", True), ("smart_low_poly", True), ("generate_parts", True),
                        ("geometry_quality", "detailed")):
        e = refused(task_type, {**MINIMAL[task_type], "model_version": "P1-20260311", name: value}, "P1-20260311",
                    name)
        assert "only texture_quality, auto_size and compress" in e.user_message  # R4
    _, _, body = v3(task_type, {**MINIMAL[task_type], "model_version": "v3.0-20250812", "smart_low_poly": True})
    assert body["smart_low_poly"] is True  # H-series take them


def test_input_shapes():
    """A token, a URL or an earlier task all become the plain ``input`` string."""
    for given, sent in ((TOK, TOK), (URL, URL), (task_output(TID, None), TID),
                        ({"type": "png", "file_token": TOK}, TOK), ({"url": URL}, URL),
                        (Input("token", TOK, "png"), TOK)):
        values, _, body = v3("image_to_model", {"file": given})
        assert isinstance(values["file"], Input) and body["input"] == sent
    _, _, body = v3("generate_image", {"prompt": "x", "file": TOK, "files": [URL]})
    assert body["inputs"] == [TOK, URL] and "input" not in body  # one reference list, file first
    _, _, body = v3("generate_image", {"prompt": "x", "files": [TOK, None, URL]})
    assert body["inputs"] == [TOK, URL]
    _, _, body = v3("texture_model", {"original_model_task_id": TID})
    assert body == {"input": TID}


def test_multiview_inputs_with_an_empty_slot_are_null():
    _, _, body = v3("multiview_to_model", {"files": [TOK, None, URL, {}]})
    assert body["inputs"] == [TOK, None, URL, None]
    assert '"inputs": ["' + TOK + '", null, "' + URL + '", null]' in json.dumps(body)
    _, _, body = v3("multiview_to_model", {"original_task_id": TID})  # a Four Views task instead of files
    assert body["inputs"] == [{"task_id": TID}] and "original_task_id" not in body
    refused("multiview_to_model", {"files": [None, TOK, URL, TOK]}, "front view", "files")
    refused("multiview_to_model", {"files": [TOK, TOK, None, None], "original_task_id": TID}, "not both", "files")


def test_edit_multiview_prompts_list():
    _, route, body = v3("edit_multiview_image", {"original_task_id": TID,
                                                 "prompts": {"front": "a red hat", "back": "a cape"}})
    assert route == "/v3/generation/edit-multiview"
    assert body == {"input": TID, "prompts": [{"view": "front", "prompt": "a red hat"},
                                              {"view": "back", "prompt": "a cape"}]}
    _, _, again = v3("edit_multiview_image", {"original_task_id": TID, "prompts": [
        {"view": "front", "prompt": "a red hat"}, {"view": "back", "prompt": "a cape"}]})  # the wire's own form
    assert again == body
    refused("edit_multiview_image", {"original_task_id": TID, "prompts": {"top": "x"}}, "unknown view", "prompts")
    refused("edit_multiview_image", {"original_task_id": TID, "prompts": {}}, "at least one view", "prompts")
    refused("edit_multiview_image", {"original_task_id": TID, "prompts": [
        {"view": "front", "prompt": "a"}, {"view": "front", "prompt": "b"}]}, "twice", "prompts")


def test_retarget_animations_list():
    _, route, body = v3("animate_retarget", {"original_model_task_id": TID,
                                             "animations": ["preset:walk", "preset:run", "preset:walk"]})
    assert route == "/v3/animations/retarget"
    assert body == {"input": TID, "animations": ["preset:walk", "preset:run"]}
    _, _, body = v3("animate_retarget", {"original_model_task_id": TID, "animation": "preset:idle"})
    assert body == {"input": TID, "animation": "preset:idle"}
    refused("animate_retarget", {"original_model_task_id": TID, "bake_animation": True}, "no parameter")


def test_texture_prompt_is_nested():
    _, _, body = v3("texture_model", {"original_model_task_id": TID, "texture_prompt": {"text": "rusty iron"}})
    assert body == {"input": TID, "texture_prompt": {"text": "rusty iron"}}
    _, _, body = v3("texture_model", {"original_model_task_id": TID,
                                      "texture_prompt": {"image": TOK, "style_image": URL}})
    assert body["texture_prompt"] == {"image": TOK, "style_image": URL}
    _, _, body = v3("texture_model", {"original_model_task_id": TID,
                                      "texture_prompt": {"images": [TOK, None, URL, None]}})
    assert body["texture_prompt"] == {"images": [TOK, None, URL, None]}
    assert not {"text_prompt", "image_prompt", "style_image"} & set(body)  # not the JS SDK's top-level form


def test_retired_types_have_no_route():
    from tripo_addon.api.client import TripoClient

    for task_type in ("refine_model", "stylize_model"):
        with pytest.raises(ValueError):
            WIRE.create_request(task_type, {"original_model_task_id": TID})
    with TripoClient(KEY, "http://127.0.0.1:9") as client:  # v3; nothing listens there: nothing may be sent
        assert client.api == "v3"
        with pytest.raises(E.TripoValidationError, match="no route for refine_model"):
            client.create_task("refine_model", {"draft_model_task_id": TID})
        with pytest.raises(E.TripoValidationError, match="retired"):
            client.submit("stylize_model", {"original_model_task_id": TID, "style": "lego"})


# ============================================================================================== outputs
def test_semantic_output_of_v3_objects():
    out = semantic_output({
        "model_url": "https://c/m.glb", "rendered_image_url": "https://c/r.webp",
        "generated_image_url": "https://c/g.png", "uv_render_url": "https://c/uv.png",
        "depth_image_url": "https://c/d.png", "splat_url": "https://c/s.splat",
        "rendered_video_url": "https://c/v.mp4", "front_view_url": "https://c/f.png",
        "riggable": True, "rig_type": "biped", "unknown_url": "https://c/x", "size": 12,
    })
    assert out == {"model": "https://c/m.glb", "preview": "https://c/r.webp", "image": "https://c/g.png",
                   "uv_render": "https://c/uv.png", "depth_image": "https://c/d.png", "splat": "https://c/s.splat",
                   "video": "https://c/v.mp4", "front_view": "https://c/f.png", "riggable": True, "rig_type": "biped"}


def test_semantic_output_clips_and_images():
    clips = ["https://c/walk.glb", "https://c/run.glb"]
    assert semantic_output({"model_urls": clips}) == {"clips": clips, "model": clips[0]}
    assert semantic_output({"model_url": "https://c/m.glb", "model_urls": clips})["model"] == "https://c/m.glb"
    assert semantic_output({"model_urls": ["", None, 3]}) == {}
    assert semantic_output({"image_urls": ["https://c/1.png", "https://c/2.png"]}) == {
        "images": ["https://c/1.png", "https://c/2.png"], "image": "https://c/1.png"}


def test_semantic_output_views_top_level_and_nested():
    views = {f"{v}_view_url": f"https://c/{v}.png" for v in ("front", "left", "back", "right")}
    expected = {f"{v}_view": f"https://c/{v}.png" for v in ("front", "left", "back", "right")}
    assert semantic_output(views) == expected
    assert semantic_output({"generate_multiview_image": views}) == expected
    mixed = semantic_output({"front_view_url": "https://c/top.png",
                             "generate_multiview_image": {"front_view_url": "https://c/nested.png",
                                                          "back_view_url": "https://c/back.png"}})
    assert mixed == {"front_view": "https://c/top.png", "back_view": "https://c/back.png"}


def test_semantic_output_rig_check_and_junk():
    assert semantic_output({"riggable": False, "topology": "quadruped"}) == {"riggable": False,
                                                                              "rig_type": "quadruped"}
    assert semantic_output({"riggable": "yes", "rig_type": ""}) == {}  # not a bool, empty: dropped
    assert semantic_output({"model_url": "ftp://c/m.glb", "splat_url": "", "uv_render_url": None,
                            "depth_image_url": 5, "rendered_image_url": "javascript:alert(1)"}) == {}


# ============================================================================================== errors
def test_error_401_is_auth_whatever_the_code():
    for code in (None, 2, 1000, 1001, 1002):
        doc = {"code": code, "status": "error", "message": f"bad key {KEY}", "request_id": "req-1"}
        err = WIRE.error_from(401, doc if code is not None else None, trace_id="hdr")
        assert type(err) is E.TripoAuthError and err.status == 401 and err.user_message == AUTH_TEXT
        assert KEY not in str(err) + err.message
        assert err.trace_id == ("req-1" if code is not None else "hdr")  # the body's request_id wins


def test_error_403_insufficient_credit_and_permission():
    err = WIRE.error_from(403, {"code": 2010, "status": "error", "message": "no credit", "request_id": "r"})
    assert type(err) is E.TripoInsufficientCredit and err.code == 2010 and err.user_message == E.ERROR_TEXT[2010]
    err = WIRE.error_from(403, {"code": 2013, "status": "error", "message": "priority"})
    assert type(err) is E.TripoPermissionError and err.code == 2013


def test_error_429_is_rate_limited_with_retry_after():
    err = WIRE.error_from(429, {"code": 2000, "status": "error", "message": "busy"}, retry_after=7)
    assert type(err) is E.TripoRateLimited and err.code == 2000 and err.retry_after == 7
    assert err.user_message.startswith(E.ERROR_TEXT[2000]) and "waiting 7 s" in err.user_message
    err = WIRE.error_from(429, None)  # no body at all: the concurrency refusal
    assert type(err) is E.TripoRateLimited and err.code == 2000 and err.retry_after is None
    err = WIRE.error_from(429, {"code": 1007, "status": "error", "message": "quota"}, retry_after=1.4)
    assert err.code == 1007 and err.user_message.startswith(E.ERROR_TEXT[1007]) and "waiting 1 s" in err.user_message


def test_error_404_not_found():
    err = WIRE.error_from(404, {"code": 2001, "status": "error", "message": "task not found"})
    assert type(err) is E.TripoNotFound and err.user_message == E.ERROR_TEXT[2001]
    err = WIRE.error_from(404, None)  # a route that does not exist: the address is wrong
    assert type(err) is E.TripoNotFound and "API address" in err.user_message and err.code is None
    err = WIRE.error_from(404, {"code": 4001, "status": "error", "message": "unknown route"})
    assert isinstance(err, E.TripoAPIError) and err.status == 404 and err.code == 4001


def test_error_400_bad_parameter_keeps_the_detail():
    err = WIRE.error_from(400, {"code": 1004, "status": "error", "message": "`model` is required",
                                "suggestion": "send model", "request_id": "req-9"})
    assert type(err) is E.TripoBadRequest and err.code == 1004 and err.status == 400
    assert "`model` is required" in err.user_message and err.suggestion == "send model"
    assert err.trace_id == "req-9"


def test_error_500_is_a_server_error():
    for doc in (None, {"code": 1000, "status": "error", "message": "boom"}, {"status": "error"}):
        err = WIRE.error_from(500, doc)
        assert type(err) is E.TripoServerError and err.status == 500, (doc, err)


# ============================================================================================== envelope, tasks
def test_envelope_success_needs_an_integer_zero_code():
    assert WIRE.is_success(200, {"code": 0, "status": "success", "data": {}})
    assert WIRE.is_success(201, {"code": 0, "data": {}})
    assert not WIRE.is_success(200, {"code": False, "data": {"task_id": TID}})  # false is not 0
    assert not WIRE.is_success(200, {"code": 0.0, "data": {}})
    assert not WIRE.is_success(200, {"code": 0, "status": "error", "data": {}})
    assert not WIRE.is_success(200, {"data": {}}) and not WIRE.is_success(500, {"code": 0, "data": {}})
    assert not WIRE.is_error_envelope({"code": False}) and WIRE.is_error_envelope({"code": 1004})
    assert WIRE.is_error_envelope({"status": "error"})


def test_json_constants_are_refused():
    for raw in (b'{"code": 0, "data": {"progress": Infinity}}', b'{"x": NaN}', b'{"x": -Infinity}', b""):
        with pytest.raises(ValueError):
            WIRE.parse_json(raw)


def test_task_from_drops_non_finite_and_absurd_numbers():
    doc = WIRE.parse_json(b'{"task_id": "t1", "status": "running", "progress": 1e400, "credits_consumed": 1e400,'
                          b' "running_left_time": 1e400, "queuing_num": -1, "error_code": 1e400}')
    t = WIRE.task_from(doc)
    assert t.progress == 0 and t.credits is None and t.eta is None and t.queuing_num is None
    assert t.error_code is None
    t = WIRE.task_from({"task_id": "t2", "status": "running", "progress": float("inf"),
                        "credits_consumed": float("nan"), "running_left_time": 10 * 86400})
    assert t.progress == 0 and t.credits is None and t.eta is None
    t = WIRE.task_from({"task_id": "t3", "status": "running", "progress": True, "credits_consumed": "12"})
    assert t.progress == 0 and t.credits is None  # a bool or a string is not a number
    t = WIRE.task_from({"task_id": "t4", "status": "running", "progress": 140.7, "credits_consumed": 12.5})
    assert t.progress == 100 and t.credits == 12.5


def test_task_from_iso_times_and_fields():
    t = WIRE.task_from({
        "task_id": TID, "type": "text_to_model", "status": "success", "progress": 100,
        "created_at": "2026-12-04T10:00:00Z", "completed_at": "2026-12-04T10:01:30.5+00:00",
        "input": {"model": "v3.1-20260211", "prompt": "x"}, "output": {"model_url": "https://c/m.glb"},
        "credits_consumed": 20.25, "error_message": None,
    }, trace_id="req-1")
    assert t.created == 1796378400.0 and t.completed == 1796378490.5
    assert t.model_version == "v3.1-20260211" and t.credits == 20.25 and t.trace_id == "req-1"
    assert t.output == {"model": "https://c/m.glb"} and t.model_url == "https://c/m.glb" and t.is_success
    assert t.raw["output"] == {"model_url": "https://c/m.glb"}
    assert WIRE.task_from({"task_id": "a", "created_at": "2026-12-04T18:00:00+08:00"}).created == 1796378400.0
    assert WIRE.task_from({"task_id": "a", "created_at": "2026-12-04T10:00:00"}).created == 1796378400.0  # UTC
    assert WIRE.task_from({"task_id": "a", "created_at": "yesterday"}).created is None
    for absurd in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", -5, 1e12):  # bounded like v2's create_time
        assert WIRE.task_from({"task_id": "a", "created_at": absurd, "completed_at": absurd}).created is None
        assert WIRE.task_from({"task_id": "a", "completed_at": absurd}).completed is None
    assert WIRE.task_from({"task_id": "a", "created_at": 1796378400}).created == 1796378400.0
    assert WIRE.task_from({"task_id": "a"}).completed is None


def test_task_from_status_and_error_message():
    t = WIRE.task_from({"task_id": "a", "status": "failed", "error_code": 2008,
                        "error_message": f"policy; key {KEY}"})
    assert t.status == "failed" and t.error_code == 2008 and KEY not in t.error_msg and "tsk_***" in t.error_msg
    assert "error_message" not in t.raw and KEY not in repr(t.raw)
    assert WIRE.task_from({"task_id": "a", "error_msg": "old name"}).error_msg == "old name"
    for status in ("queued", "running", "success", "failed", "banned", "expired", "cancelled", "unknown"):
        assert WIRE.task_from({"task_id": "a", "status": status}).status == status
    assert WIRE.task_from({"task_id": "a", "status": "paused"}).status == "unknown"
    for bad in (None, [], {"status": "success"}, {"task_id": ""}, {"task_id": 5}):
        with pytest.raises(ValueError):
            WIRE.task_from(bad)


def test_task_list_both_shapes():
    one = {"task_id": "a", "status": "success"}
    tasks, missed = WIRE.tasks_from_list({"tasks": {"a": one, "b": {"junk": 1}}, "missed": ["c", 5]})
    assert list(tasks) == ["a"] and missed == ["c"]
    tasks, missed = WIRE.tasks_from_list({"tasks": [one, {"task_id": "d", "status": "running"}]})
    assert set(tasks) == {"a", "d"} and missed == []
    with pytest.raises(ValueError):
        WIRE.tasks_from_list([one])


# ============================================================================================== v3 validation
@pytest.mark.parametrize("task_type", ["refine_model", "stylize_model"])
def test_retired_types_are_refused_before_anything_is_sent(task_type):
    e = refused(task_type, {"original_model_task_id": TID, "draft_model_task_id": TID, "style": "lego"},
                "retired it in API v3")
    assert e.user_message == C3.RETIRED[task_type] and "nothing was sent" in e.user_message
    assert T.retired_reason(task_type, "v3") == C3.RETIRED[task_type] and T.retired_reason(task_type, "v2") is None
    with pytest.raises(E.TripoValidationError, match="retired"):
        T.BUILDERS[task_type](TID, **({"style": "lego"} if task_type == "stylize_model" else {}))


def test_v3_only_types_are_refused_on_v2():
    for task_type in ("mesh_uv", "image_to_splat", "image_to_depth"):
        reason = T.retired_reason(task_type, "v2")
        assert reason and "needs Tripo's API v3" in reason
        with pytest.raises(E.TripoValidationError, match="API v3"):
            T.build_request(task_type, MINIMAL[task_type], api="v2")
    assert T.retired_reason("mesh_uv", "v3") is None


def test_rig_v20_becomes_v25_with_a_notice():
    notices: list[str] = []
    values, _, body = v3("animate_rig", {"original_model_task_id": TID, "model_version": "v2.0-20250506"},
                         notices=notices)
    assert values["model_version"] == body["model"] == "v2.5-20260210"
    assert len(notices) == 1 and "v2.0-20250506 is retired" in notices[0] and "v2.5-20260210" in notices[0]
    values, _, _ = v3("animate_rig", {"original_model_task_id": TID, "model_version": "v2.0-20250506"})
    assert values["model_version"] == "v2.5-20260210"  # rewritten without a notices list too


def test_engine_skeletons_need_rig_v25_or_later():
    for spec in ("unity", "unreal", "vrm"):
        e = refused("animate_rig", {"original_model_task_id": TID, "spec": spec, "model_version": "v1.0-20240301"},
                    "needs rig model v2.5 or v3.0", "spec")
        assert spec in e.user_message
        for mv in ("v2.5-20260210", "v3.0-20260909"):
            _, _, body = v3("animate_rig", {"original_model_task_id": TID, "spec": spec, "model_version": mv})
            assert body["spec"] == spec and body["model"] == mv
    _, _, body = v3("animate_rig", {"original_model_task_id": TID, "spec": "mixamo", "model_version": "v1.0-20240301"})
    assert body["spec"] == "mixamo"


def test_decimate_smart_uv_needs_v30():
    refused("highpoly_to_lowpoly", {"original_model_task_id": TID, "smart_uv": True}, "needs decimation model v3.0",
            "smart_uv")
    refused("highpoly_to_lowpoly", {"original_model_task_id": TID, "smart_uv": True, "model_version": "v1.0",
                                    "face_limit": 5000}, "v3.0", "smart_uv")
    _, route, body = v3("highpoly_to_lowpoly", {"original_model_task_id": TID, "smart_uv": True,
                                                "model_version": "v3.0"})
    assert route == "/v3/mesh/decimate" and body == {"input": TID, "model": "v3.0", "smart_uv": True}
    notices: list[str] = []
    values, _, _ = v3("highpoly_to_lowpoly", {"original_model_task_id": TID, "model_version": "P-v2.0-20251225"},
                      notices=notices)
    assert "model_version" not in values and notices  # the v2 name of the default: rewritten, then not sent


def test_texture_delight_needs_v35():
    refused("texture_model", {"original_model_task_id": TID, "delight": False}, "v3.5-20260815", "delight")
    _, _, body = v3("texture_model", {"original_model_task_id": TID, "delight": False,
                                      "model_version": "v3.5-20260815"})
    assert body == {"input": TID, "model": "v3.5-20260815", "delight": False}
    refused("text_to_model", {"prompt": "x", "delight": False}, "texture_version v3.5", "delight")
    refused("text_to_model", {"prompt": "x", "texture_quality": "fast", "model_version": "v3.1-20260211"},
            "texture_version v3.5", "texture_quality")
    _, _, body = v3("text_to_model", {"prompt": "x", "delight": False, "texture_version": "v3.5-20260815",
                                      "texture_quality": "fast", "model_version": "v3.1-20260211"})
    assert body["delight"] is False and body["texture_version"] == "v3.5-20260815"


@pytest.mark.parametrize("model, cap", [("seedream_v5", 4), ("banana", 10), ("banana_pro", 10),
                                        ("chat_image_2", 16)])
def test_image_to_image_reference_caps(model, cap):
    refs = [f"https://h.example/{i}.png" for i in range(cap + 1)]
    _, _, body = v3("generate_image", {"prompt": "x", "model_version": model, "files": refs[:cap]})
    assert body["inputs"] == refs[:cap] and body.get("model", "seedream_v5") == model
    e = refused("generate_image", {"prompt": "x", "model_version": model, "files": refs}, "at most")
    assert str(cap) in e.user_message
    if cap < 16:
        e = refused("generate_image", {"prompt": "x", "model_version": model, "file": refs[0], "files": refs[1:]},
                    f"at most {cap} reference images", "files")


def test_image_to_image_rules():
    refused("generate_image", {"prompt": "x", "model_version": "seedream_v4", "file": TOK}, "not valid",
            "model_version")
    refused("generate_image", {"prompt": "x"}, "at least one reference image", "file")
    refused("generate_image", {"file": TOK}, "needs a `prompt`", "prompt")
    _, _, body = v3("generate_image", {"template": "t_pose", "file": TOK})
    assert body == {"template": "t_pose", "input": TOK}


def test_import_takes_a_token_or_url_not_a_storage_object():
    refused("import_model", {"file": {"type": "glb", "object": {"bucket": "b", "key": "k/input.glb"}}},
            "not a storage object", "file")
    _, _, body = v3("import_model", {"file": "https://h.example/m.fbx"})
    assert body == {"input": "https://h.example/m.fbx"}


# ============================================================================================== which API a URL speaks
@pytest.mark.parametrize("url, api", [
    (GLOBAL_URL, "v3"), ("https://openapi.tripo3d.com", "v3"), ("http://127.0.0.1:8123", "v3"),
    ("https://api.tripo3d.ai/v2/openapi", "v2"), ("https://api.tripo3d.com/v2/openapi/", "v2"),
    ("http://127.0.0.1:8123/v2/openapi", "v2"), ("https://proxy.example/tripo/v2/openapi", "v2"),
    ("https://api.tripo3d.ai/v2/openapi/task", "v3"), ("https://api.tripo3d.ai/v3/openapi", "v3"),
])
def test_api_of(url, api):
    assert api_of(url) == api
    assert dialect_for(url) is by_name(api) and by_name(api).name == api


def test_default_url_and_dialects():
    assert GLOBAL_URL == "https://openapi.tripo3d.ai" and api_of(GLOBAL_URL) == "v3"
    assert by_name("v3") is WIRE and by_name("v3").batch_limit == 100 and by_name("v2").batch_limit == 0
    assert by_name("v3").catalog is T.catalog("v3") and by_name("v2").catalog is T.catalog("v2")
    with pytest.raises(ValueError, match="unknown API version"):
        T.catalog("v4")


def test_p2_takes_every_option_p1_takes():
    """P2 (preview) accepts P1's options; quad is P2's own (P1 refuses it)."""
    from tripo_addon.api import tasks as T

    values = T.build_request("image_to_model", {"file": "https://example.com/a.png", "model_version": "P2-20260801",
                                                "texture_alignment": "geometry", "quad": True}, api="v3")
    assert values["texture_alignment"] == "geometry" and values["quad"] is True
