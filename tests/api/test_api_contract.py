"""Client behaviour checked against tripo-api.md over real HTTP to the emulator's v2 API (the v2 tier): what is sent
(the emulator's request log), what is refused before anything is sent, and that the client's local rules and the
emulator agree."""

from __future__ import annotations

import pytest
from api_helpers import V2, WAIT, gets, posts, v2_url_of

from tripo_addon.api import tasks as T
from tripo_addon.api.errors import TripoValidationError
from tripo_addon.api.v2 import catalog as C2


def _last_body(emulator, api_key) -> dict:
    return posts(emulator, api_key)[-1]["body"]


# ============================================================================================== chain rules
def test_lowpoly_accepts_a_v14_generation_while_texture_and_rig_refuse_it(client, emulator, api_key):
    """§5.3.11 / §6: only texture_model, mesh_segmentation, prerigcheck and rig need Turbo or >= v2.0 sources."""
    draft = client.wait(client.create_task("text_to_model",
                                           V2.text_to_model("a clay pot", model_version="v1.4-20240625")),
                        timeout=WAIT)
    values = V2.highpoly_to_lowpoly(draft.task_id, source_type="text_to_model",
                                    source_model_version=draft.model_version)
    assert client.wait(client.create_task("highpoly_to_lowpoly", values), timeout=WAIT).status == "success"
    for target in ("texture_model", "mesh_segmentation", "animate_prerigcheck", "animate_rig"):
        with pytest.raises(TripoValidationError, match="Turbo or v2.0"):
            T.build_request(target, {"original_model_task_id": draft.task_id}, api="v2",
                            source_type="text_to_model", source_model_version=draft.model_version)


# ============================================================================================== what is sent
@pytest.fixture(scope="module")
def rigged(emulator):
    """(client, key, model task, rig task) on a module account."""
    import uuid

    from tripo_addon.api.client import TripoClient

    key = "tsk_contract_" + uuid.uuid4().hex
    emulator.add_account(key, balance=1_000_000)
    c = TripoClient(key, v2_url_of(emulator), poll_min=0.05, poll_max=0.5, retry_base=0.02, retry_cap=0.2)
    model = c.wait(c.create_task("text_to_model", V2.text_to_model("a knight in armour", model_seed=11)), timeout=WAIT)
    rig = c.wait(c.create_task("animate_rig", V2.animate_rig(model.task_id)), timeout=WAIT)
    yield c, key, model, rig
    c.close()


def _sent(emulator, key, c, task_type, params, **kw):
    task = c.run(task_type, params, timeout=WAIT, **kw)
    assert task.status == "success"
    return posts(emulator, key)[-1]["body"], task


def test_disputed_defaults_are_sent_when_set(rigged, emulator):
    """§12: convert with_animation/bake and retarget export_with_geometry have disputed defaults: an explicit value
    is sent (even the likely default); unset they stay out. Undisputed defaults are still left out."""
    c, key, model, rig = rigged
    body, task = _sent(emulator, key, c, "convert_model", {"original_model_task_id": rig.task_id, "format": "FBX",
                                                           "with_animation": True, "bake": True})
    assert body["with_animation"] is True and body["bake"] is True
    assert task.credits == T.estimate_credits("convert_model", body, api="v2") == 5  # not surcharged options
    body, _ = _sent(emulator, key, c, "convert_model", {"original_model_task_id": rig.task_id, "format": "GLTF",
                                                        "with_animation": False, "bake": False})
    assert body["with_animation"] is False and body["bake"] is False
    body, _ = _sent(emulator, key, c, "convert_model", {"original_model_task_id": rig.task_id, "format": "GLTF"})
    assert "with_animation" not in body and "bake" not in body
    body, _ = _sent(emulator, key, c, "animate_retarget", {"original_model_task_id": rig.task_id,
                                                           "animation": "preset:walk", "export_with_geometry": True})
    assert body["export_with_geometry"] is True
    body, _ = _sent(emulator, key, c, "texture_model", {"original_model_task_id": model.task_id, "bake": True})
    assert "bake" not in body  # texture_model's bake default (true) is not disputed


def test_lowpoly_always_sends_quad(rigged, emulator):
    """§5.3.11: OD lists `quad` as required for highpoly_to_lowpoly: sent as false when unset."""
    c, key, model, _ = rigged
    body, _ = _sent(emulator, key, c, "highpoly_to_lowpoly", {"original_model_task_id": model.task_id})
    assert body == {"type": "highpoly_to_lowpoly", "original_model_task_id": model.task_id, "quad": False}
    body, _ = _sent(emulator, key, c, "highpoly_to_lowpoly", {"original_model_task_id": model.task_id, "quad": True,
                                                              "face_limit": 2000})
    assert body["quad"] is True and body["face_limit"] == 2000


# ============================================================================================== ranges
def test_scale_factor_must_be_positive_like_the_emulator_says(rigged, emulator):
    c, key, model, _ = rigged
    before = len(posts(emulator, key))
    for bad in (0, 0.0, -1.5):
        with pytest.raises(TripoValidationError, match="greater than 0") as ei:
            c.submit("convert_model", {"original_model_task_id": model.task_id, "format": "FBX", "scale_factor": bad})
        assert ei.value.param == "scale_factor"
    assert len(posts(emulator, key)) == before  # refused before sending
    from tripo_addon.api.errors import TripoBadRequest

    with pytest.raises(TripoBadRequest) as ei:  # the emulator refuses it too
        c.create_task("convert_model", {"original_model_task_id": model.task_id, "format": "FBX",
                       "scale_factor": 0})
    assert ei.value.code == 1004
    body, _ = _sent(emulator, key, c, "convert_model", {"original_model_task_id": model.task_id, "format": "FBX",
                                                        "scale_factor": 0.01})
    assert body["scale_factor"] == 0.01


def test_seeds_take_negative_32_bit_integers(rigged, emulator):
    """§5.2: model_seed (and the other seeds) take any int; the client bounds them to int32."""
    c, key, model, _ = rigged
    body, task = _sent(emulator, key, c, "text_to_model", {"prompt": "a lamp", "model_seed": -(2**31),
                                                           "texture_seed": -7, "image_seed": -1})
    assert (body["model_seed"], body["texture_seed"], body["image_seed"]) == (-(2**31), -7, -1)
    assert task.input["model_seed"] == -(2**31)
    body, _ = _sent(emulator, key, c, "texture_model", {"original_model_task_id": model.task_id, "texture_seed": -3,
                                                        "model_seed": 2**31 - 1})
    assert body["texture_seed"] == -3 and body["model_seed"] == 2**31 - 1
    for bad in (2**31, -(2**31) - 1):
        with pytest.raises(TripoValidationError, match="32-bit"):
            c.submit("text_to_model", {"prompt": "a lamp", "model_seed": bad})


# ============================================================================================== version families
V14 = "v1.4-20240625"


@pytest.mark.parametrize("name, value", [("negative_prompt", "blurry"), ("image_seed", 3), ("texture", False),
                                         ("texture_seed", 4), ("face_limit", 5000), ("quad", True)])
def test_v14_text_to_model_takes_only_prompt_and_model_seed(client, emulator, api_key, name, value):
    """§5.3.3: v1.4 takes only prompt and model_seed. Refused locally with a clear message, and by the emulator."""
    with pytest.raises(TripoValidationError) as ei:
        client.submit("text_to_model", {"prompt": "a pot", "model_version": V14, name: value})
    assert ei.value.param == name and "prompt and model_seed" in ei.value.user_message
    assert V14 in ei.value.user_message and posts(emulator, api_key) == []
    from tripo_addon.api.errors import TripoBadRequest

    with pytest.raises(TripoBadRequest) as ei:
        client.create_task("text_to_model", {"prompt": "a pot", "model_version": V14, name: value})
    assert ei.value.code == 1004 and name in ei.value.message


def test_v14_text_to_model_with_prompt_and_seed_runs(client, emulator, api_key):
    task = client.run("text_to_model", {"prompt": "a pot", "model_version": V14, "model_seed": -2}, timeout=WAIT)
    assert task.status == "success" and task.output["model"]
    assert _last_body(emulator, api_key) == {"type": "text_to_model", "prompt": "a pot", "model_version": V14,
                                             "model_seed": -2}


def test_p1_multiview_refuses_autofix_in_client_and_emulator(client, emulator, api_key, png):
    """§5.3.5: no enable_image_autofix on P1 multiview (image_to_model on P1 takes it)."""
    front = client.upload(png)
    params = {"files": [front, None, front, None], "model_version": "P1-20260311"}
    with pytest.raises(TripoValidationError, match="enable_image_autofix"):
        client.submit("multiview_to_model", {**params, "enable_image_autofix": True})
    from tripo_addon.api.errors import TripoBadRequest

    with pytest.raises(TripoBadRequest) as ei:
        client.create_task("multiview_to_model", {**params, "enable_image_autofix": True})
    assert ei.value.code == 1004 and "enable_image_autofix" in ei.value.message
    assert client.run("multiview_to_model", {**params, "enable_image_autofix": False}, timeout=WAIT).is_success
    assert client.run("image_to_model", {"file": front, "model_version": "P1-20260311",
                                         "enable_image_autofix": True}, timeout=WAIT).is_success


# ============================================================================================== generate_image
def test_flux_dev_with_images_is_capped_like_kontext(client, emulator, api_key, png):
    """§5.3.2: flux.1_dev given images is upgraded to flux.1_kontext_pro, which takes at most 4."""
    ref = client.upload(png)
    with pytest.raises(TripoValidationError, match="at most 4"):
        client.submit("generate_image", {"prompt": "x", "model_version": "flux.1_dev", "files": [ref] * 5})
    assert posts(emulator, api_key) == []
    from tripo_addon.api.errors import TripoBadRequest

    with pytest.raises(TripoBadRequest) as ei:
        client.create_task("generate_image", {"prompt": "x", "model_version": "flux.1_dev",
                            "files": [ref] * 5})
    assert ei.value.code == 1004 and "at most 4" in ei.value.message
    task = client.run("generate_image", {"prompt": "image[1] as a statue", "model_version": "flux.1_dev",
                                         "files": [ref] * 4}, timeout=WAIT)
    assert task.is_success and task.output["image"]
    assert task.credits == T.estimate_credits("generate_image", {"model_version": "flux.1_dev"}, api="v2") == 5


# ============================================================================================== credits
@pytest.mark.parametrize("extra", [
    {}, {"quad": False}, {"face_limit": 10_000}, {"scale_factor": 1.0}, {"flatten_bottom": False},
    {"with_animation": True, "bake": False, "pack_uv": True}, {"face_limit": 3000}, {"texture_format": "JPEG"},
    {"texture_size": 4096}, {"pivot_to_center_bottom": True}, {"quad": True},
])
def test_convert_estimate_matches_what_the_emulator_charges(rigged, emulator, extra):
    """§5.3.16: +5 when any of the listed options is set (present in the body); the estimate agrees."""
    c, key, model, _ = rigged
    params = {"original_model_task_id": model.task_id, "format": "FBX", **extra}
    body, task = _sent(emulator, key, c, "convert_model", params)
    assert task.credits == T.estimate_credits("convert_model", params, api="v2")
    assert task.credits == (10 if set(body) & set(C2.CONVERT_ADVANCED) else 5)


# ============================================================================================== priority
@pytest.mark.parametrize("task_type", list(C2.TASK_TYPES))
def test_every_task_type_takes_an_optional_priority(task_type):
    p = C2.TASK_TYPES[task_type].param("priority")
    assert p is not None and p.kind == "int" and (p.min, p.max) == (1, 3) and p.default is None
    assert "priority" in T.BUILDERS[task_type].__code__.co_varnames


def test_priority_needs_an_entitled_account(client, emulator, api_key):
    """§5 / §8: optional priority 1-3; 403/2013 unless the account is entitled (the emulator's default: not)."""
    from tripo_addon.api.errors import ERROR_TEXT, TripoPermissionError

    for bad in (0, 4, 1.5, True):
        with pytest.raises(TripoValidationError) as ei:
            client.submit("text_to_image", {"prompt": "a sign", "priority": bad})
        assert ei.value.param == "priority"
    assert posts(emulator, api_key) == []
    with pytest.raises(TripoPermissionError) as ei:
        client.submit("text_to_image", {"prompt": "a sign", "priority": 2})
    assert (ei.value.code, ei.value.status) == (2013, 403) and ei.value.user_message == ERROR_TEXT[2013]
    assert len(posts(emulator, api_key)) == 1 and client.balance().frozen == 0  # refused: nothing charged
    emulator.set_priority(api_key, True)
    task = client.run("text_to_image", {"prompt": "a sign", "priority": 3}, timeout=WAIT)
    assert task.is_success and task.input["priority"] == 3
    assert _last_body(emulator, api_key) == {"type": "text_to_image", "prompt": "a sign", "priority": 3}
    conv = V2.convert_model(task.task_id, "FBX", priority=1)  # re-conversion rule ignores priority
    assert conv["priority"] == 1
    assert V2.convert_model(task.task_id, "FBX", priority=1, source_type="convert_model")["priority"] == 1


# ============================================================================================== submit: the source
def _refused(fn, code: int, *phrases: str) -> TripoValidationError:
    with pytest.raises(TripoValidationError) as ei:
        fn()
    assert ei.value.code == code, ei.value
    for phrase in phrases:
        assert phrase in ei.value.user_message, ei.value.user_message
    return ei.value


def test_submit_fetches_the_source_and_refuses_before_posting(rigged, emulator):
    """§4/§6: without source_type, submit() GETs the source (free) and refuses locally what Tripo would refuse."""
    c, key, model, rig = rigged
    n_get, n_post = len(gets(emulator, key)), len(posts(emulator, key))
    err = _refused(lambda: c.submit("mesh_completion", {"original_model_task_id": model.task_id}), 2006,
                   "segment the model first", model.task_id, "text_to_model, model version v2.5-20250123")
    assert err.param == "original_model_task_id"
    _refused(lambda: c.submit("animate_retarget", {"original_model_task_id": model.task_id,
                                                   "animation": "preset:walk"}), 2012, "rig the model first")
    with pytest.raises(TripoValidationError, match="cannot hold a rig"):  # source-dependent rules apply too
        c.submit("convert_model", {"original_model_task_id": rig.task_id, "format": "OBJ"})
    assert len(posts(emulator, key)) == n_post

    def got() -> list[str]:
        return [r["path"].rsplit("/", 1)[-1] for r in gets(emulator, key)[n_get:]]

    assert got() == [model.task_id, model.task_id, rig.task_id]
    # accepted: one GET of the source, then the POST
    n_get = len(gets(emulator, key))
    task = c.run("convert_model", {"original_model_task_id": rig.task_id, "format": "FBX"}, timeout=WAIT)
    assert task.is_success and len(posts(emulator, key)) == n_post + 1
    assert got()[0] == rig.task_id and set(got()[1:]) == {task.task_id}
    # source_type given (what the job engine does): no extra GET before the POST
    n_get = len(gets(emulator, key))
    c.submit("convert_model", {"original_model_task_id": rig.task_id, "format": "FBX"}, source_type="animate_rig")
    assert got() == [] and len(posts(emulator, key)) == n_post + 2


def test_submit_refuses_a_v14_source_naming_its_version(client, emulator, api_key):
    draft = client.wait(client.create_task("text_to_model",
                                           V2.text_to_model("a clay pot", model_version="v1.4-20240625")),
                        timeout=WAIT)
    _refused(lambda: client.submit("texture_model", {"original_model_task_id": draft.task_id}), 2006,
             "v1.4-20240625", "Turbo or v2.0")
    _refused(lambda: client.submit("animate_prerigcheck", {"original_model_task_id": draft.task_id}), 2011,
             "v1.4-20240625")
    assert len(posts(emulator, api_key)) == 1  # only the draft
    assert client.run("refine_model", {"draft_model_task_id": draft.task_id}, timeout=WAIT).is_success
    assert client.run("highpoly_to_lowpoly", {"original_model_task_id": draft.task_id}, timeout=WAIT).is_success


def test_submit_refuses_a_source_that_has_not_succeeded(slow_emulator, make_client, fault, emulator, api_key):
    import uuid

    key = "tsk_contract_slow_" + uuid.uuid4().hex
    slow_emulator.add_account(key, balance=10_000)
    slow = make_client(api_key=key, base_url=v2_url_of(slow_emulator))
    pending = slow.create_task("text_to_model", V2.text_to_model("a slow lamp"))
    err = _refused(lambda: slow.submit("texture_model", {"original_model_task_id": pending}), 2007,
                   "has not finished successfully", "wait until it succeeds")
    assert "queued" in err.user_message or "running" in err.user_message
    draft = slow.create_task("text_to_model", V2.text_to_model("a slow draft", model_version="v1.4-20240625"))
    _refused(lambda: slow.submit("refine_model", {"draft_model_task_id": draft}), 2005, "draft task")
    assert len(posts(slow_emulator, key)) == 2  # the two sources only
    # a failed source (emulator fault) on the fast emulator
    fault("create", "fail_task")
    failed = client_wait_failed(make_client(), "text_to_model", V2.text_to_model("a doomed lamp"))
    _refused(lambda: make_client().submit("animate_rig", {"original_model_task_id": failed}), 2007, "failed",
             "pick a successful task")


def client_wait_failed(c, task_type: str, values: dict) -> str:
    from tripo_addon.api.errors import TripoTaskFailed

    tid = c.create_task(task_type, values)
    with pytest.raises(TripoTaskFailed):
        c.wait(tid, timeout=WAIT)
    return tid


def test_submit_source_of_another_key_is_not_found_before_posting(client, emulator, api_key, rigged):
    from tripo_addon.api.errors import TripoNotFound

    _, _, model, _ = rigged
    with pytest.raises(TripoNotFound) as ei:
        client.submit("convert_model", {"original_model_task_id": model.task_id, "format": "FBX"})
    assert ei.value.code == 2001 and posts(emulator, api_key) == []


def test_submit_multiview_original_task_id_must_be_a_multiview_image(client, emulator, api_key, rigged):
    model = client.wait(client.create_task("text_to_model", V2.text_to_model("a lamp", texture=False)), timeout=WAIT)
    _refused(lambda: client.submit("multiview_to_model", {"original_task_id": model.task_id}), 2006,
             "must be a Four Views task", model.task_id)
    assert len(posts(emulator, api_key)) == 1
