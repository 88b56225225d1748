"""Rules by certainty on the v3 tier (docs/api-notes.md): what the sources make certain is refused before any request
(nothing reaches the emulator), what they dispute is sent with a notice saying what Tripo will do; Smart Segment's
body; the published / approximate prices; ``tasks/list`` answered in both shapes the sources describe."""

from __future__ import annotations

import uuid

import pytest
import requests
from api_helpers import make_glb, make_image

from tripo_addon.api import errors as E
from tripo_addon.api import tasks
from tripo_addon.api.client import TripoClient
from tripo_addon.api.localfiles import check_local_file
from tripo_addon.api.v3.dialect import DIALECT as WIRE
from tripo_addon.api.v3.wire import semantic_output

WAIT = 60.0
TID = str(uuid.uuid4())
V25, V30, V31, P1, P2 = "v2.5-20250123", "v3.0-20250812", "v3.1-20260211", "P1-20260311", "P2-20260801"
GATED_VALUES = {"texture_quality": "detailed", "geometry_quality": "detailed", "auto_size": True, "quad": True,
                "smart_low_poly": True, "generate_parts": True, "compress": "geometry"}


@pytest.fixture
def v3(emulator, api_key):
    c = TripoClient(api_key=api_key, base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5)
    assert c.api == "v3"
    yield c
    c.close()


def _creates(emulator, key):
    return [r for r in emulator.requests(key=key) if r["route"] == "create"]


def build(task_type, params, **kw):
    return tasks.build_request(task_type, params, api="v3", **kw)


# ---------------------------------------------------------------------------------------------- R4 (Medium-high)
@pytest.mark.parametrize("name", sorted(GATED_VALUES))
def test_v25_takes_no_version_gated_option_and_nothing_is_sent(v3, emulator, api_key, name):
    params = {"prompt": "a lamp", "model_version": V25, name: GATED_VALUES[name]}
    if name == "generate_parts":
        params.update(texture=False, pbr=False)
    with pytest.raises(E.TripoValidationError) as info:
        v3.submit("text_to_model", params)
    msg = info.value.user_message
    assert f"`{name}`" in msg and V25 in msg and "v3.0" in msg and info.value.param == name
    assert _creates(emulator, api_key) == []


@pytest.mark.parametrize("name", ["quad", "smart_low_poly", "generate_parts", "geometry_quality"])
def test_p1_refuses_what_it_does_not_take(name):
    with pytest.raises(E.TripoValidationError, match=f"`{name}`.*{P1}.*only texture_quality, auto_size and compress"):
        build("text_to_model", {"prompt": "x", "model_version": P1, name: GATED_VALUES[name]})


def test_p1_and_v3_take_what_r4_allows():
    body = build("text_to_model", {"prompt": "x", "model_version": P1, "texture_quality": "detailed",
                                   "auto_size": True, "compress": "geometry"})
    assert body["texture_quality"] == "detailed" and body["auto_size"] is True and body["compress"] == "geometry"
    for mv in (V30, V31):
        body = build("text_to_model", {"prompt": "x", "model_version": mv, "quad": True, "smart_low_poly": True,
                                       "geometry_quality": "detailed", "texture_quality": "extreme"})
        assert body["quad"] is True and body["model_version"] == mv


def test_v25_defaults_still_go_through():
    assert build("image_to_model", {"file": "https://h.example/a.png", "model_version": V25, "quad": False,
                                    "texture_quality": "standard"}) == {"file": tasks.catalog("v3").build(
                                        "image_to_model", {"file": "https://h.example/a.png"})["file"],
                                        "model_version": V25}


# ---------------------------------------------------------------------------------------------- R5 (Medium)
def test_face_limit_refused_only_where_two_sources_agree():
    with pytest.raises(E.TripoValidationError, match="500,000"):
        build("text_to_model", {"prompt": "x", "model_version": V25, "face_limit": 600_000})
    with pytest.raises(E.TripoValidationError, match="20,000"):
        build("text_to_model", {"prompt": "x", "model_version": P1, "face_limit": 20_001})
    with pytest.raises(E.TripoValidationError, match="10,000"):
        build("text_to_model", {"prompt": "x", "model_version": V31, "smart_low_poly": True, "quad": True,
                                "face_limit": 12_000})


@pytest.mark.parametrize("params, says", [
    ({"model_version": V30, "face_limit": 1_200_000}, "clamps it to 1,000,000"),
    ({"model_version": V31, "quad": True, "face_limit": 300_000}, "clamps it to 150,000"),
    ({"model_version": P2, "quad": True, "face_limit": 40_000}, "clamps it to 25,000"),
    ({"model_version": P1, "face_limit": 48}, "raise it to 50"),
    ({"model_version": V31, "smart_low_poly": True, "face_limit": 700}, "raise it to 1,000"),
])
def test_disputed_face_limits_are_sent_with_what_tripo_will_do(v3, emulator, api_key, params, says):
    notes = tasks.notes("text_to_model", {"prompt": "x", **params}, api="v3")
    assert any(says in n for n in notes), notes
    notices: list[str] = []
    tid = v3.submit("text_to_model", {"prompt": "x", **params}, notices=notices)  # sent as given: Tripo decides
    assert any(says in n for n in notices), notices
    last = _creates(emulator, api_key)[-1]
    assert last["task_id"] == tid and last["body"]["face_limit"] == params["face_limit"]


def test_face_limit_in_range_has_no_note():
    assert tasks.notes("text_to_model", {"prompt": "x", "model_version": V31, "face_limit": 10_000}, api="v3") == []


# ---------------------------------------------------------------------------------------------- C4, C2, R12
def test_a_template_alone_is_sent_on_text_and_image_to_image(v3, emulator, api_key):
    assert build("text_to_image", {"template": "t_pose"}) == {"template": "t_pose"}
    assert build("generate_image", {"template": "variants", "file": "https://h.example/a.png"})["template"] == \
        "variants"
    with pytest.raises(E.TripoValidationError, match="prompt"):
        build("text_to_image", {})
    task = v3.run("text_to_image", {"template": "t_pose"}, timeout=WAIT)  # sent, and the emulator (as the SDKs)
    assert task.status == "success"                                       # takes a template alone
    body = _creates(emulator, api_key)[-1]["body"]
    assert body["template"] == "t_pose" and "prompt" not in body


@pytest.mark.parametrize("task_type,params", [("text_to_model", {"prompt": "a stool"}),
                                              ("image_to_model", {"file": "https://h.example/a.png"}),
                                              ("multiview_to_model", {"files": ["https://h.example/f.png", "https://h.example/l.png",
                                                                                None, None]})])
def test_the_model_is_always_sent_though_the_server_defaults_to_v31(task_type, params):
    """C2: the SDKs leave `model` out (the server then takes v3.1); the add-on names the model it means."""
    values = build(task_type, dict(params))
    assert values["model_version"] == tasks.catalog("v3").task_type(task_type).param("model_version").default
    body = WIRE.create_request(task_type, values)[1]
    assert body["model"] == values["model_version"]


def test_a_v1_rigs_clips_are_sent_by_their_biped_names(v3, emulator, api_key):
    model = v3.run("text_to_model", {"prompt": "a knight"}, timeout=WAIT).task_id
    rig = v3.run("animate_rig", {"original_model_task_id": model, "model_version": "v1.0-20240301"}, timeout=WAIT)
    task = v3.run("animate_retarget", {"original_model_task_id": rig.task_id, "animations": ["preset:walk",
                                                                                          "preset:run"]},
                  timeout=WAIT)
    assert task.status == "success"
    assert _creates(emulator, api_key)[-1]["body"]["animations"] == ["preset:biped:walk", "preset:biped:run"]


def test_rig_model_is_always_sent(v3, emulator, api_key):
    body = build("animate_rig", {"original_model_task_id": TID})
    assert body["model_version"] == "v2.5-20260210"  # C5: explicit (v2.5 rigs every body type)


def test_model_is_always_sent(v3, emulator, api_key):
    v3.submit("text_to_model", {"prompt": "a cup"})
    assert _creates(emulator, api_key)[-1]["body"]["model"] == V25


def test_only_v1_mixamo_rigs_are_refused_for_retarget():
    assert "v1.0" in tasks.retarget_problem("v1.0-20240301", "mixamo")
    assert "v1.0" in tasks.retarget_problem(None, "mixamo")  # Tripo's default rig model is v1.0
    assert tasks.retarget_problem("v2.5-20260210", "mixamo") is None
    assert tasks.retarget_problem("v1.0-20240301", "tripo") is None
    assert tasks.retarget_source_problem({"spec": "mixamo", "model_version": "v1.0-20240301"})
    assert not tasks.retarget_source_problem({"spec": "mixamo"})  # the add-on sends rig v2.5 when none is chosen


def test_a_v1_mixamo_rig_is_refused_before_the_retarget_is_sent(v3, emulator, api_key):
    model = v3.run("text_to_model", {"prompt": "a knight"}, timeout=WAIT).task_id
    rig = v3.run("animate_rig", {"original_model_task_id": model, "spec": "mixamo",
                                 "model_version": "v1.0-20240301"}, timeout=WAIT)
    assert rig.status == "success"
    before = len(_creates(emulator, api_key))
    with pytest.raises(E.TripoValidationError, match="v1.0 and the Mixamo skeleton") as info:
        v3.check_source("animate_retarget", rig.task_id)
    assert info.value.code == 2012 and len(_creates(emulator, api_key)) == before


def test_a_v25_mixamo_rig_is_left_to_the_server(v3, emulator, api_key):
    model = v3.run("text_to_model", {"prompt": "a knight"}, timeout=WAIT).task_id
    rig = v3.run("animate_rig", {"original_model_task_id": model, "spec": "mixamo",
                                 "model_version": "v2.5-20260210"}, timeout=WAIT)
    v3.check_source("animate_retarget", rig.task_id)  # not refused locally
    task = v3.run("animate_retarget", {"original_model_task_id": rig.task_id, "animation": "preset:walk"},
                  timeout=WAIT)  # and the emulator, as Tripo's own rig-and-animate examples, animates it (C3)
    assert task.status == "success" and task.output.get("model")
    last = _creates(emulator, api_key)[-1]
    assert last["path"] == "/v3/animations/retarget" and last["body"]["input"] == rig.task_id


# ---------------------------------------------------------------------------------------------- R11, R14
def test_gltf_is_refused_locally_with_what_to_do(tmp_path, v3, emulator, api_key):
    p = tmp_path / "chair.gltf"
    p.write_text('{"asset": {"version": "2.0"}}')
    with pytest.raises(E.TripoValidationError, match="single-file GLB"):
        check_local_file(p, "file", "import_model")
    with pytest.raises(E.TripoValidationError, match=r"\.gltf"):
        v3.submit("import_model", {"file": str(p)})
    with pytest.raises(E.TripoValidationError, match=r"\.gltf"):
        build("import_model", {"file": "https://h.example/chair.gltf"})
    assert emulator.requests(key=api_key) == []


def test_compress_is_refused_with_the_reason_where_it_cannot_be_opened(v3, emulator, api_key):
    tasks.set_compress_support(False, "this Blender's glTF importer does not support EXT_meshopt_compression")
    try:
        for task_type, params in (("text_to_model", {"prompt": "x", "model_version": V31}),
                                  ("texture_model", {"original_model_task_id": TID})):
            with pytest.raises(E.TripoValidationError, match="EXT_meshopt_compression") as info:
                v3.submit(task_type, {**params, "compress": "geometry"})
            assert info.value.param == "compress"
        assert _creates(emulator, api_key) == []
    finally:
        tasks.set_compress_support(True)
    assert build("text_to_model", {"prompt": "x", "model_version": V31, "compress": "geometry"})["compress"]


# ---------------------------------------------------------------------------------------------- R7 (Medium)
def test_texture_notes_say_what_tripo_may_do():
    notes = tasks.notes("texture_model", {"original_model_task_id": TID,
                                          "texture_prompt": {"image": "https://h.example/a.png"}},
                        api="v3", source_type="import_model")
    assert any("reference images" in n for n in notes) and any("FBX" in n for n in notes)
    notes = tasks.notes("texture_model", {"original_model_task_id": TID}, api="v3", source_type="import_model")
    assert any("texture prompt text" in n for n in notes)
    with pytest.raises(E.TripoValidationError, match="only one of"):  # two sources agree: refused
        build("texture_model", {"original_model_task_id": TID,
                                "texture_prompt": {"text": "wood", "image": "https://h.example/a.png"}})


# ---------------------------------------------------------------------------------------------- R2, R3
def test_prices_from_the_published_table():
    est = lambda t, p: tasks.estimate_credits(t, p, api="v3")  # noqa: E731
    assert est("text_to_model", {"texture": False, "pbr": False}) == 10
    assert est("text_to_model", {}) == 20
    assert est("image_to_model", {"texture_quality": "detailed", "model_version": V31}) == 40
    assert est("text_to_model", {"model_version": V31, "quad": True, "geometry_quality": "detailed"}) == 45
    assert est("text_to_model", {"model_version": P1, "texture_quality": "extreme"}) == 60
    assert [est("texture_model", {"texture_quality": q}) for q in ("standard", "detailed", "extreme")] == [10, 20, 30]
    assert est("smart_segment", {"seg_type": "model"}) == 55 and est("smart_segment", {"seg_type": "image"}) == 85
    assert tasks.price_kind("text_to_model", {"model_version": V31}, api="v3") == "published"
    assert tasks.price_kind("text_to_model", {"model_version": P1}, api="v3") == "approximate"
    assert tasks.price_kind("texture_model", {}, api="v3") == "approximate"
    assert tasks.price_kind("image_to_model", {}, api="v2") == "published"


# ---------------------------------------------------------------------------------------------- R9 Smart Segment
def test_smart_segment_body_on_the_wire():
    link = "https://h.example/model.glb"
    route, body = WIRE.create_request("smart_segment", build("smart_segment", {
        "seg_type": "model", "file": link, "hint": "head, body", "granularity": "fine"}))
    assert route == "/v3/mesh/smartsegment"
    assert body == {"seg_type": "model", "input": link, "hint": "head, body", "granularity": "fine",
                    "transform": [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]}
    from tripo_addon.api.inputs import task_output

    values = build("smart_segment", {"seg_type": "model", "file": task_output(TID, link, "glb")})
    assert WIRE.create_request("smart_segment", values)[1]["input"] == link  # an earlier result: its URL
    with pytest.raises(E.TripoValidationError, match="URL"):
        build("smart_segment", {"seg_type": "model", "file": "file_0c6f0b7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"})
    with pytest.raises(E.TripoValidationError, match="16 numbers"):
        build("smart_segment", {"seg_type": "model", "file": link, "transform": [1.0] * 15})
    with pytest.raises(E.TripoValidationError, match="seg_type model"):
        build("smart_segment", {"seg_type": "image", "file": link})
    out = semantic_output({"seg_model_url": link, "mask_url": "https://h.example/m.png", "seg_task_id": TID,
                           "prompt": "head; body"})
    assert out == {"model": link, "mask": "https://h.example/m.png", "seg_task_id": TID, "parts_prompt": "head; body"}


# ---------------------------------------------------------------------------------------------- C1 tasks/list
@pytest.fixture(params=["object", "array"])
def list_shape(request, emulator):
    before = emulator.tasks_list_shape
    emulator.configure(tasks_list_shape=request.param)
    yield request.param
    emulator.configure(tasks_list_shape=before)


def test_batch_polling_reads_both_list_shapes(v3, emulator, api_key, list_shape):
    ids = [v3.submit("text_to_image", {"prompt": f"a cat {i}"}) for i in range(3)]
    gone = str(uuid.uuid4())
    emulator.clear_requests()
    found = v3.get_tasks([*ids, gone])
    assert set(found) == set(ids) and all(found[i].task_id == i for i in ids)
    routes = [r["route"] for r in emulator.requests(key=api_key)]
    assert routes == ["list"]  # one request, no per-task GET behind it
    raw = requests.post(f"{emulator.v3_base_url}/v3/tasks/list", json={"task_ids": [*ids, gone]}, timeout=10,
                        headers={"Authorization": f"Bearer {api_key}"}).json()["data"]
    assert isinstance(raw["tasks"], list if list_shape == "array" else dict) and raw["missed"] == [gone]


def test_jobs_follow_tasks_through_either_list_shape(emulator, api_key, tmp_path, list_shape):
    """The add-on's own flow (the job engine and its batch poller) to a downloaded file, in either shape."""
    from tripo_addon.jobs import pipelines
    from tripo_addon.jobs.engine import Engine

    def factory():
        return TripoClient(api_key=api_key, base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5)

    eng = Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    try:
        job_ids = [eng.submit(pipelines.single("text_to_model", {"prompt": f"a vase {i}"})) for i in range(2)]
        snaps = [eng.wait(j, WAIT) for j in job_ids]
        assert [s["state"] for s in snaps] == ["succeeded", "succeeded"], snaps
        routes = [r["route"] for r in emulator.requests(key=api_key)]
        # the batch poller read every status from tasks/list in this shape: no task was asked about on its own
        # (the hub's fallback for a task missing from the answer), so the shape's reading is what ended the jobs
        assert "list" in routes and "poll" not in routes, routes
        for s in snaps:
            files = [f for st in s["steps"] for f in (st.get("files") or [])]
            assert files and all(open(f, "rb").read(4) == b"glTF" for f in files)
    finally:
        eng.shutdown(timeout=5)


def test_image_segment_upload(v3, emulator, api_key, tmp_path):
    """seg_type image: a local picture is uploaded and sent as its file token (R9)."""
    img = make_image(tmp_path / "robot.png", size=(300, 300))
    values = tasks.build_request("smart_segment", {"seg_type": "image", "file": v3.upload(img)}, api="v3")
    assert WIRE.create_request("smart_segment", values)[1]["input"].startswith("file_")
    assert make_glb  # (the model mode is covered through the Blender step)


# ---------------------------------------------------------------------------------------------- C7
@pytest.mark.parametrize("status,code,phrase", [("banned", 2008, "content policy"), ("expired", 2018, "expired"),
                                                ("cancelled", None, "cancelled")])
def test_banned_expired_cancelled_reach_the_user_with_the_live_codes(v3, emulator, api_key, status, code, phrase):
    """The emulator ends these tasks as the live API does (banned 2008, expired 2018, cancelled without a code); the
    add-on's failure carries the code and says what happened, and nothing is charged."""
    emulator.inject("create", "fail_task", task_status=status, match={"key": api_key})
    tid = v3.submit("text_to_image", {"prompt": "a lamp"})
    with pytest.raises(E.TripoTaskFailed) as info:
        v3.wait(tid, timeout=WAIT)
    err = info.value
    assert err.task.status == status and err.task.error_code == code and err.task.task_id == tid
    assert phrase in err.user_message.lower()
    if status == "expired":  # not 2018's create-time text ("too complex"): it expired, and is sent again
        assert "too complex" not in err.user_message and "send it again" in err.user_message, err.user_message
    if code is not None:
        assert err.code == code
    assert emulator.balance(api_key)["frozen"] == 0 and emulator.task(tid).consumed == 0
