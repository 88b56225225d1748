"""TripoClient against the emulator's v2 API over real HTTP (the v2 tier): every v2 task type, balance, uploads,
error mapping, local refusals that send nothing, and the key never leaking into error text."""

from __future__ import annotations

import traceback
import uuid

import pytest
from api_helpers import V2, WAIT, assert_model_file, gets, make_glb, make_image, posts, v2_url_of

from tripo_addon.api import errors as E
from tripo_addon.api.client import TripoClient
from tripo_addon.api.errors import ERROR_TEXT, TripoValidationError
from tripo_addon.api.models import Task
from tripo_addon.api.v2 import catalog as C2
from tripo_addon.api.v2.dialect import DialectV2
from tripo_addon.api.v2.wire import semantic_output


# ============================================================================================== module sources
@pytest.fixture(scope="module")
def mkey(emulator) -> str:
    key = "tsk_api_module_" + uuid.uuid4().hex
    emulator.add_account(key, balance=1_000_000)
    return key


@pytest.fixture(scope="module")
def mclient(emulator, mkey):
    c = TripoClient(mkey, v2_url_of(emulator), poll_min=0.05, poll_max=0.5, retry_base=0.02, retry_cap=0.2)
    yield c
    c.close()


@pytest.fixture(scope="module")
def sources(mclient, tmp_path_factory) -> dict[str, Task]:
    """Finished source tasks shared by the per-type tests (made once)."""
    c = mclient
    out: dict[str, Task] = {}
    def done(task_type: str, values: dict) -> Task:
        return c.wait(c.create_task(task_type, values), timeout=WAIT)

    out["model"] = done("text_to_model", V2.text_to_model("a knight in armour", model_seed=11))
    out["draft"] = done("text_to_model", V2.text_to_model("a clay pot", model_version="v1.4-20240625"))
    out["segmentation"] = done("mesh_segmentation", V2.mesh_segmentation(out["model"].task_id))
    out["rig"] = done("animate_rig", V2.animate_rig(out["model"].task_id))
    return out


def _run(c: TripoClient, task_type: str, values: dict) -> Task:
    updates: list[Task] = []
    task = c.wait(c.create_task(task_type, values), timeout=WAIT, on_update=updates.append)
    assert updates and updates[-1] is task and task.status == "success"
    assert task.type == task_type
    return task


def _body(task_type: str, c: TripoClient, src: dict[str, Task], tmp) -> dict:
    """Values (api v2) for a task of this type."""
    mid = src["model"].task_id
    if task_type == "text_to_image":
        return V2.text_to_image("a tin robot", negative_prompt="blurry")
    if task_type == "generate_image":
        ref = c.upload(make_image(tmp / "ref.png", "PNG", (128, 128)))
        return V2.generate_image("image[1] as a statue", file=ref, t_pose=True)
    if task_type == "text_to_model":
        return V2.text_to_model("a wooden chair", model_version="v3.1-20260211", texture_quality="detailed",
                               face_limit=20_000)
    if task_type == "image_to_model":
        return V2.image_to_model(c.upload(make_image(tmp / "in.jpg", "JPEG", (256, 256))),
                                enable_image_autofix=True, texture=False)
    if task_type == "multiview_to_model":
        front = c.upload(make_image(tmp / "front.png", "PNG", (128, 128)))
        back = c.upload(make_image(tmp / "back.webp", "WEBP", (128, 128)))
        return V2.multiview_to_model([front, None, back, None], model_version="P1-20260311", face_limit=5000)
    if task_type == "refine_model":
        return V2.refine_model(src["draft"].task_id, source_type="text_to_model",
                              source_model_version=src["draft"].model_version)
    if task_type == "texture_model":
        return V2.texture_model(mid, texture_prompt={"text": "rusty iron"}, texture_quality="detailed",
                               source_type="text_to_model")
    if task_type == "import_model":
        return V2.import_model(c.upload(make_glb(tmp / "own.glb")))
    if task_type == "mesh_segmentation":
        return V2.mesh_segmentation(mid, source_type="text_to_model")
    if task_type == "mesh_completion":
        return V2.mesh_completion(src["segmentation"].task_id, source_type="mesh_segmentation")
    if task_type == "highpoly_to_lowpoly":
        return V2.highpoly_to_lowpoly(mid, face_limit=2000, source_type="text_to_model")
    if task_type == "animate_prerigcheck":
        return V2.animate_prerigcheck(mid, source_type="text_to_model")
    if task_type == "animate_rig":
        return V2.animate_rig(mid, rig_type="biped", out_format="glb", source_type="text_to_model")
    if task_type == "animate_retarget":
        return V2.animate_retarget(src["rig"].task_id, animations=["preset:walk", "preset:idle"],
                                  source_type="animate_rig")
    if task_type == "stylize_model":
        return V2.stylize_model(mid, "minecraft", block_size=48, source_type="text_to_model")
    if task_type == "convert_model":
        return V2.convert_model(mid, "GLTF", face_limit=3000, source_type="text_to_model")
    raise AssertionError(task_type)


@pytest.mark.parametrize("task_type", list(C2.TASK_TYPES))
def test_every_task_type(task_type, mclient, sources, tmp_path):
    task = _run(mclient, task_type, _body(task_type, mclient, sources, tmp_path))
    tt = C2.TASK_TYPES[task_type]
    assert set(task.output) <= set(tt.outputs) and task.output  # semantic keys ...
    assert task.raw["output"] and semantic_output(task.raw["output"]) == task.output  # ... from the v2 wire keys
    if task_type == "animate_prerigcheck":
        assert isinstance(task.output["riggable"], bool) and task.output["rig_type"] in C2.RIG_TYPES
        return
    key = "image" if not tt.model_output else task.model_key
    assert key == ("image" if not tt.model_output else "model")
    assert key, task.output
    path = mclient.download(task.task_id, key, tmp_path / "out")
    assert path.parent == tmp_path / "out" and not list(path.parent.glob(".*.part"))
    assert_model_file(path)


def test_create_get_balance_roundtrip(client, emulator, api_key):
    before = client.balance()
    assert before.balance == 100_000 and before.frozen == 0
    task_id = client.create_task("text_to_model", V2.text_to_model("a lamp", texture=False))
    task = client.get_task(task_id)
    assert task.task_id == task_id and task.status in ("queued", "running") and task.trace_id
    assert client.balance().balance == 100_000 - 10  # frozen at creation (or already charged)
    done = client.wait(task_id, timeout=WAIT)
    assert done.credits == 10 and done.progress == 100 and done.eta is None and done.created
    assert client.balance().to_dict() == {"balance": 100_000 - 10, "frozen": 0}
    wire_model = [done.raw["output"][k] for k in ("pbr_model", "model", "base_model") if done.raw["output"].get(k)]
    assert wire_model and done.output["model"] == wire_model[0]  # semantic "model" from the v2 answer's keys
    assert done.raw["consumed_credit"] == 10 and "credits" not in done.raw
    assert [r["body"] for r in posts(emulator, api_key)] == [{"type": "text_to_model", "prompt": "a lamp",
                                                               "texture": False, "pbr": False}]


def test_get_tasks_is_one_get_per_id_on_v2(client, emulator, api_key):
    """v2 has no batch route: get_tasks() asks for each id once; ids Tripo does not know are left out."""
    a = client.create_task("text_to_image", V2.text_to_image("a kite"))
    b = client.create_task("text_to_image", V2.text_to_image("a boat"))
    missing = str(uuid.uuid4())
    n = len(gets(emulator, api_key))
    found = client.get_tasks([a, b, a, missing])
    assert set(found) == {a, b} and found[a].task_id == a and found[b].type == "text_to_image"
    assert [r["path"].rsplit("/", 1)[-1] for r in gets(emulator, api_key)[n:]] == [a, b, missing]
    assert not [r for r in emulator.requests(key=api_key) if "list" in r["path"]]
    with pytest.raises(TripoValidationError):
        client.get_tasks([a, "../user/balance"])


def test_submit_and_run_upload_local_files(client, emulator, api_key, tmp_path):
    img = make_image(tmp_path / "photo.png", "PNG", (200, 150))
    task = client.run("image_to_model", {"file": str(img), "texture": False}, timeout=WAIT)
    assert task.status == "success"
    body = posts(emulator, api_key)[-1]["body"]
    assert body["file"]["type"] == "png" and "file_token" in body["file"]
    assert client.run("image_to_model", {"file": str(img), "texture": False}, upload="sts", timeout=WAIT).is_success
    body = posts(emulator, api_key)[-1]["body"]  # the large-file path: STS, then the stored object
    assert body["file"]["type"] == "png" and body["file"]["object"]["bucket"] == "tripo-data"
    assert emulator.s3_get("tripo-data", body["file"]["object"]["key"]) == img.read_bytes()
    mesh = make_glb(tmp_path / "thing.glb")
    imported = client.run("import_model", {"file": mesh}, timeout=WAIT)
    assert imported.status == "success"
    assert "object" in posts(emulator, api_key)[-1]["body"]["file"]


# ============================================================================================== uploads
def test_direct_upload_sniffs_type(client, emulator, api_key, tmp_path):
    for name, fmt, expected in [("a.png", "PNG", "png"), ("b.jpg", "JPEG", "jpg"), ("c.webp", "WEBP", "webp"),
                                ("misnamed.png", "JPEG", "jpg")]:
        fobj = client.upload(make_image(tmp_path / name, fmt, (64, 64)))
        assert fobj.kind == "token" and fobj.ext == expected and uuid.UUID(fobj.value)
    ups = [r for r in emulator.requests(method="POST", key=api_key) if r["route"] == "upload"]
    assert len(ups) == 4 and all(r["path"].endswith("/upload/sts") for r in ups)
    assert ups[-1]["body"]["multipart"]["file"]["content_type"] == "image/jpeg"


def test_direct_upload_falls_back_to_legacy_route(fast, fault, emulator, api_key, tmp_path):
    fault("upload", "status", status=404, match={"path": "/upload/sts"}, count=-1)
    fobj = fast.upload(make_image(tmp_path / "a.png"))
    fast.upload(make_image(tmp_path / "b.png"))
    paths = [r["path"] for r in emulator.requests(method="POST", key=api_key) if r["route"] == "upload"]
    assert paths == ["/v2/openapi/upload/sts", "/v2/openapi/upload", "/v2/openapi/upload"]  # remembered
    assert fobj.kind == "token" and fobj.value


def test_sts_upload_with_and_without_ca_bundle(emulator, api_key, make_client, tmp_path):
    mesh = make_glb(tmp_path / "m.glb")
    for client in (make_client(), make_client(ca_bundle=emulator.s3_ca_file)):
        fobj = client.upload(mesh)  # a model goes through STS on v2
        assert fobj.kind == "object" and fobj.ext == "glb" and fobj.bucket == "tripo-data"
        assert emulator.s3_get(fobj.bucket, fobj.key) == mesh.read_bytes()
    img = client.upload(make_image(tmp_path / "i.jpg", "JPEG", (80, 80)), method="sts")
    assert img.kind == "object" and img.ext == "jpg" and img.key.endswith("input.jpeg")
    tokens = [r["body"] for r in emulator.requests(method="POST", key=api_key) if r["route"] == "sts_token"]
    assert tokens == [{"format": "glb"}, {"format": "glb"}, {"format": "jpeg"}]


def test_v2_upload_functions(client, emulator, api_key, tmp_path):
    """tripo_addon.api.v2.uploads: the functions behind client.upload on v2, called with the client."""
    from tripo_addon.api.v2 import uploads

    img = uploads.upload_image(client, make_image(tmp_path / "u.webp", "WEBP", (64, 64)))
    assert img.kind == "token" and img.ext == "webp" and uuid.UUID(img.value)
    tok = uploads.sts_token(client, "glb")
    assert tok.resource_bucket == "tripo-data" and tok.sts_sk not in repr(tok)
    mesh = make_glb(tmp_path / "u.glb")
    obj = uploads.upload_sts(client, mesh)
    assert obj.kind == "object" and obj.ext == "glb" and emulator.s3_get(obj.bucket, obj.key) == mesh.read_bytes()
    routes = [r["route"] for r in emulator.requests(method="POST", key=api_key)]
    assert routes == ["upload", "sts_token", "sts_token"]


def test_sts_upload_verifies_tls_when_given_a_ca_bundle(emulator, make_client, tmp_path):
    import certifi

    wrong = make_client(ca_bundle=certifi.where())  # trusts public CAs only, not the emulator's certificate
    with pytest.raises(E.TripoNetworkError) as ei:
        wrong.upload(make_glb(tmp_path / "m.glb"))
    assert "SSL" in str(ei.value) or "certificate" in str(ei.value).lower()


def test_sts_multipart_upload_of_a_large_file(client, emulator, tmp_path):
    import json
    import struct

    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    pad = b"\x00" * (9 * 1024 * 1024)  # > 8 MB: multipart
    binary = positions + pad
    gltf = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
            "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}], "buffers": [{"byteLength": len(binary)}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0],
                           "max": [1, 1, 0]}]}
    js = json.dumps(gltf).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<I4s", len(js), b"JSON") + js + struct.pack("<I4s", len(binary), b"BIN\x00") + binary
    big = tmp_path / "big.glb"
    big.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)
    seen: list[tuple[int, int | None]] = []
    fobj = client.upload(big, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (big.stat().st_size, big.stat().st_size) and len(seen) > 1
    assert fobj.kind == "object" and emulator.s3_get("tripo-data", fobj.key) == big.read_bytes()
    assert client.run("import_model", {"file": fobj}, timeout=WAIT).status == "success"


# ============================================================================================== errors from the server
def _expect(exc_info, cls, code, status):
    err = exc_info.value
    assert type(err) is cls, (type(err), err)
    assert err.code == code and err.status == status, err
    assert err.user_message.startswith(ERROR_TEXT[code]), err.user_message
    assert err.trace_id and err.message
    return err


def test_server_errors_map_to_exceptions(client, emulator, api_key, tmp_path):
    """Codes the emulator produces by itself, each mapped to its exception class and plain sentence."""
    model = client.wait(client.create_task("text_to_model", V2.text_to_model("a chair")), timeout=WAIT)
    mid = model.task_id
    raw = client.create_task  # values not validated locally: these reach the server
    with pytest.raises(E.TripoError) as ei:
        raw("text_to_model", {"prompt": "x", "face_limit": 10**7})
    _expect(ei, E.TripoBadRequest, 1004, 400)
    assert "face_limit" in ei.value.user_message  # the server's detail is kept
    with pytest.raises(E.TripoError) as ei:
        raw("paint_model", {})
    _expect(ei, E.TripoBadRequest, 2002, 400)
    with pytest.raises(E.TripoError) as ei:
        raw("animate_model", {"original_model_task_id": mid})
    _expect(ei, E.TripoBadRequest, 2016, 400)
    with pytest.raises(E.TripoError) as ei:
        raw("text_to_model", {"prompt": "x", "model_version": "v1.3-20240522"})
    _expect(ei, E.TripoBadRequest, 2015, 400)
    with pytest.raises(E.TripoError) as ei:
        raw("text_to_model", {"prompt": "x", "model_version": "v9.9"})
    _expect(ei, E.TripoBadRequest, 2017, 400)
    with pytest.raises(E.TripoError) as ei:
        raw("text_to_model", {"prompt": "a cat \U0001F431"})
    _expect(ei, E.TripoBadRequest, 2009, 400)
    with pytest.raises(E.TripoError) as ei:  # not locally detectable: the content policy
        client.submit("text_to_model", {"prompt": "a forbiddenword statue"})
    _expect(ei, E.TripoContentRejected, 2008, 400)
    with pytest.raises(E.TripoError) as ei:
        client.get_task(str(uuid.uuid4()))
    _expect(ei, E.TripoNotFound, 2001, 404)
    with pytest.raises(E.TripoError) as ei:
        raw("image_to_model", {"file": {"type": "png", "file_token": str(uuid.uuid4())}})
    _expect(ei, E.TripoFileError, 2019, 404)
    with pytest.raises(E.TripoError) as ei:
        raw("image_to_model", {"file": {"type": "png", "url": emulator.root_url + "/files/x/y.png"}})
    _expect(ei, E.TripoFileError, 2003, 400)
    png = client.upload(make_image(tmp_path / "p.png"), method="sts")
    with pytest.raises(E.TripoError) as ei:
        raw("import_model", {"file": {"type": "glb", "object": {"bucket": png.bucket, "key": png.key}}})
    _expect(ei, E.TripoFileError, 2004, 400)
    image = client.wait(client.create_task("text_to_image", V2.text_to_image("a sign")), timeout=WAIT)
    with pytest.raises(E.TripoError) as ei:
        raw("convert_model", {"original_model_task_id": image.task_id, "format": "FBX"})
    _expect(ei, E.TripoChainError, 2006, 400)
    with pytest.raises(E.TripoError) as ei:
        raw("animate_prerigcheck", {"original_model_task_id": image.task_id})
    _expect(ei, E.TripoChainError, 2011, 400)
    with pytest.raises(E.TripoError) as ei:
        raw("animate_retarget", {"original_model_task_id": mid, "animation": "preset:walk"})
    _expect(ei, E.TripoChainError, 2012, 400)
    pending = client.create_task("text_to_model", V2.text_to_model("a slow thing"))
    with pytest.raises(E.TripoError) as ei:
        raw("texture_model", {"original_model_task_id": pending})
    _expect(ei, E.TripoChainError, 2007, 400)
    draft = client.create_task("text_to_model", V2.text_to_model("a draft", model_version="v1.4-20240625"))
    with pytest.raises(E.TripoError) as ei:
        raw("refine_model", {"draft_model_task_id": draft})
    _expect(ei, E.TripoChainError, 2005, 400)
    emulator.set_balance(api_key, 5)
    with pytest.raises(E.TripoError) as ei:
        client.submit("text_to_model", {"prompt": "too expensive"})
    _expect(ei, E.TripoInsufficientCredit, 2010, 403)
    assert client.balance().balance == 5


#: code -> (HTTP status, exception class) as Tripo documents them.
INJECTED = {
    1000: (500, E.TripoServerError), 1001: (500, E.TripoServerError), 1002: (401, E.TripoAuthError),
    1003: (400, E.TripoBadRequest), 1004: (400, E.TripoBadRequest), 1005: (403, E.TripoPermissionError),
    1007: (429, E.TripoRateLimited), 2000: (429, E.TripoRateLimited), 2001: (404, E.TripoNotFound),
    2002: (400, E.TripoBadRequest), 2003: (400, E.TripoFileError), 2004: (400, E.TripoFileError),
    2005: (400, E.TripoChainError), 2006: (400, E.TripoChainError), 2007: (400, E.TripoChainError),
    2008: (400, E.TripoContentRejected), 2009: (400, E.TripoBadRequest), 2010: (403, E.TripoInsufficientCredit),
    2011: (400, E.TripoChainError), 2012: (400, E.TripoChainError), 2013: (403, E.TripoPermissionError),
    2014: (400, E.TripoServerError), 2015: (400, E.TripoBadRequest), 2016: (400, E.TripoBadRequest),
    2017: (400, E.TripoBadRequest), 2018: (400, E.TripoBadRequest), 2019: (404, E.TripoFileError),
}


@pytest.mark.parametrize("code", sorted(INJECTED))
def test_every_documented_code_from_the_wire(code, make_client, fault, emulator, api_key):
    status, cls = INJECTED[code]
    client = make_client(max_retries=0)
    if status >= 500:  # a 5xx on a create: the task may exist, so it is outcome unknown (never re-sent) ...
        fault("create", "status", status=status, code=code)
        with pytest.raises(E.TripoOutcomeUnknown) as ei:
            client.create_task("text_to_model", V2.text_to_model("a mug"))
        assert ei.value.status == status and f"HTTP {status}" in ei.value.reason
        assert len(posts(emulator, api_key)) == 1
        fault("balance", "status", status=status, code=code)  # ... and the code is mapped on a safe request
        with pytest.raises(E.TripoError) as ei:
            client.balance()
        _expect(ei, cls, code, status)
        assert ei.value.suggestion == "Injected fault."
        assert api_key not in "".join(traceback.format_exception(ei.value)) + ei.value.user_message
        return
    fault("create", "status", status=status, code=code, retry_after=1 if status == 429 else None)
    with pytest.raises(E.TripoError) as ei:
        client.create_task("text_to_model", V2.text_to_model("a mug"))
    _expect(ei, cls, code, status)
    assert ei.value.suggestion == "Injected fault."
    if status == 429:
        assert ei.value.retry_after == 1
    assert len(posts(emulator, api_key)) == 1
    assert api_key not in "".join(traceback.format_exception(ei.value)) + ei.value.user_message


def test_gateway_error_without_tripo_body(make_client, fault):
    client = make_client(max_retries=1)
    fault("balance", "status", status=502, count=-1)
    with pytest.raises(E.TripoServerError) as ei:
        client.balance()
    assert ei.value.code is None and ei.value.status == 502 and "HTTP 502" in ei.value.user_message


# ============================================================================================== refused locally
def test_local_validation_sends_nothing(client, emulator, api_key, tmp_path):
    gif = make_image(tmp_path / "anim.png", "GIF", (64, 64))
    tiny = make_image(tmp_path / "tiny.png", "PNG", (10, 10))
    big = make_image(tmp_path / "huge.jpg", "JPEG", (6100, 30))
    junk_glb = tmp_path / "junk.glb"
    junk_glb.write_bytes(b"definitely not a model")
    cases = [
        lambda: client.submit("text_to_model", {"prompt": "a cat \U0001F408"}),
        lambda: client.submit("text_to_model", {"prompt": "x" * 1025}),
        lambda: client.submit("text_to_model", {"prompt": "x", "model_version": "P1-20260311", "quad": True}),
        lambda: client.submit("text_to_model", {"prompt": "x", "face_limit": 600_000}),
        lambda: client.submit("text_to_model", {"prompt": "x", "generate_parts": True}),
        lambda: client.submit("image_to_model", {"file": str(gif)}),
        lambda: client.submit("image_to_model", {"file": str(tiny)}),
        lambda: client.submit("image_to_model", {"file": str(big)}),
        lambda: client.submit("image_to_model", {"file": str(tmp_path / "missing.png")}),
        lambda: client.submit("multiview_to_model", {"files": [str(make_image(tmp_path / "f.png")), None, None,
                                                               None]}),
        lambda: client.submit("import_model", {"file": str(junk_glb)}),
        lambda: client.submit("animate_retarget", {"original_model_task_id": str(uuid.uuid4()),
                                                   "animations": list(C2.ANIMATIONS[:6])}),
        lambda: client.submit("convert_model", {"original_model_task_id": str(uuid.uuid4()), "format": "OBJ"},
                              source_type="animate_rig"),
        lambda: client.submit("mesh_completion", {"original_model_task_id": str(uuid.uuid4())},
                              source_type="text_to_model"),
        lambda: client.submit("stylize_model", {"original_model_task_id": str(uuid.uuid4()), "style": "lego",
                                                "block_size": 200}),
        lambda: client.submit("image_to_model", {"file": str(make_image(tmp_path / "ok.png")),
                                                 "face_limit": -1}),
        lambda: client.upload(gif),
        lambda: client.upload(tmp_path / "nothing.png"),
        lambda: client.upload(gif, method="sts"),
        lambda: client.upload(junk_glb),
        lambda: client.upload(tmp_path / "scene.blend", method="sts"),
        lambda: client.upload(tmp_path / "scene.blend"),
        lambda: client.get_task("../user/balance"),
        lambda: client.create_task({"prompt": "no type"}, {}),
        lambda: client.create_task(None, {"prompt": "no type"}),
    ]
    for i, case in enumerate(cases):
        with pytest.raises(TripoValidationError) as ei:
            case()
        assert ei.value.user_message and ei.value.code is None, i
    assert emulator.requests(method="POST", key=api_key) == []
    assert emulator.requests(key=api_key) == []


def test_values_the_v2_wire_cannot_express_are_refused_locally(client, emulator, api_key):
    """An earlier task's output without its URL cannot be sent to v2: a validation error, nothing sent."""
    from tripo_addon.api.inputs import task_output

    earlier = task_output(str(uuid.uuid4()), None)
    with pytest.raises(TripoValidationError, match="without its URL"):
        client.create_task("image_to_model", {"file": earlier})
    with pytest.raises(TripoValidationError, match="without its URL"):
        client.submit("image_to_model", {"file": earlier})
    assert emulator.requests(key=api_key) == []


def test_malformed_keys_never_reach_the_server(emulator, v2_url):
    before = len(emulator.requests())
    for key in ("", "  ", "sk-abc", "tsk_two words", "tcli_" + "0" * 32):
        with pytest.raises(TripoValidationError) as ei:
            TripoClient(key, v2_url)
        assert ei.value.param == "api_key"
    assert len(emulator.requests()) == before


def test_pasted_key_with_whitespace_works(v2_url, api_key):
    with TripoClient(f"\n  {api_key} \r\n", v2_url) as c:
        assert c.balance().balance == 100_000


def test_key_from_environment(emulator, v2_url, api_key, monkeypatch):
    monkeypatch.setenv("TRIPO_API_KEY", api_key)
    with TripoClient(base_url=v2_url) as c:
        assert c.balance().balance == 100_000
    assert gets(emulator, api_key, "/user/balance")


# ============================================================================================== the key never leaks
def test_key_never_in_exception_text(make_client, fault, emulator, api_key, tmp_path):
    client = make_client(max_retries=0)
    failures: list[BaseException] = []
    fault("balance", "status", status=401, code=1002, message=f"Key {api_key} is not valid")
    fault("poll", "status", status=500)
    fault("create", "drop")
    fault("create", "fail_task", error_msg=f"failed for Bearer {api_key}")
    for op in (client.balance, lambda: client.get_task(str(uuid.uuid4())),
               lambda: client.create_task("text_to_model", V2.text_to_model("a"))):
        try:
            op()
        except E.TripoError as exc:
            failures.append(exc)
    task_id = client.create_task("text_to_model", V2.text_to_model("b"))
    try:
        client.wait(task_id, timeout=WAIT)
    except E.TripoTaskFailed as exc:
        failures.append(exc)
    dead = TripoClient(api_key, "http://127.0.0.1:9/v2/openapi", max_retries=0)
    try:
        dead.balance()
    except E.TripoNetworkError as exc:
        failures.append(exc)
    assert [type(f).__name__ for f in failures] == ["TripoAuthError", "TripoServerError", "TripoOutcomeUnknown",
                                                    "TripoTaskFailed", "TripoNetworkError"]
    for exc in failures:
        text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc.args) + exc.user_message
        text += str(getattr(exc, "body", "")) + repr(getattr(exc, "task", ""))
        assert api_key not in text, type(exc)
        assert api_key[4:] not in text
    assert "tsk_***" in failures[0].message


def test_natural_rate_limits_and_routing_errors(slow_emulator, emulator, make_client):
    key = "tsk_api_slow_" + uuid.uuid4().hex
    slow_emulator.add_account(key, 100_000)
    client = make_client(api_key=key, base_url=v2_url_of(slow_emulator), max_retries=0)
    for i in range(10):  # real-time durations: these stay queued/running
        client.create_task("text_to_model", V2.text_to_model(f"crowd {i}"))
    with pytest.raises(E.TripoRateLimited) as ei:  # the 11th generation: concurrency limit
        client.create_task("text_to_model", V2.text_to_model("one too many"))
    assert ei.value.code == 2000 and ei.value.status == 429 and ei.value.retry_after >= 1
    assert "wait" in ei.value.user_message.lower()
    slow_emulator.configure(rate_limit_per_minute=2)
    try:
        client.create_task("text_to_image", V2.text_to_image("a"))
        client.create_task("text_to_image", V2.text_to_image("b"))
        with pytest.raises(E.TripoRateLimited) as ei:
            client.create_task("text_to_image", V2.text_to_image("c"))
        assert ei.value.code == 1007 and ei.value.retry_after >= 1
    finally:
        slow_emulator.configure(rate_limit_per_minute=None)
    wrong = make_client(base_url=emulator.root_url + "/v1/v2/openapi", max_retries=0)  # a wrong v2 address
    with pytest.raises(E.TripoNotFound) as ei:
        wrong.balance()
    assert ei.value.code == 9404 and "9404" in ei.value.user_message


def test_sts_upload_refused_by_storage_is_reported(emulator, api_key, tmp_path):
    """A real S3 refusal (the bucket in the credentials does not exist) becomes a TripoUploadError."""

    class WrongBucket(DialectV2):
        def sts_token_from(self, data):
            tok = super().sts_token_from(data)
            tok.resource_bucket = "no-such-bucket-" + uuid.uuid4().hex[:8]
            return tok

    with TripoClient(api_key, v2_url_of(emulator), dialect=WrongBucket()) as client:
        with pytest.raises(E.TripoUploadError) as ei:
            client.upload(make_glb(tmp_path / "m.glb"))
    assert "NoSuchBucket" in ei.value.user_message and "refused" in ei.value.user_message
    assert api_key not in str(ei.value) + ei.value.user_message
