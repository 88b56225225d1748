"""The job engine against the local emulator: real HTTP through the real TripoClient, no request mocks."""

from __future__ import annotations

import json
import math
import struct
import time
import zlib
from pathlib import Path

import pytest

from tripo_addon.api.client import TripoClient
from tripo_addon.api.errors import TripoError, TripoValidationError
from tripo_addon.jobs import events as ev
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.engine import Engine
from tripo_addon.jobs.job import Job, JobState, Ref, Step
from tripo_addon.jobs.journal import Journal

WAIT = 60.0  # generous: no timing assert tighter than a few seconds


# ---------------------------------------------------------------------------------------------------- helpers
def make_png(path: Path, w: int = 64, h: int = 64) -> Path:
    """A valid RGB PNG (no Pillow)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"".join(bytes((x * 4 % 256, y * 4 % 256, 128)) for x in range(w)) for y in range(h))
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(data)
    return path


def make_glb(path: Path) -> Path:
    """A minimal valid GLB with one triangle."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    gltf = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}
        ],
    }
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    body = struct.pack("<I4s", len(js), b"JSON") + js + struct.pack("<I4s", len(positions), b"BIN\x00") + positions
    path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)
    return path


def posts(emulator, api_key: str) -> list[dict]:
    """POST /task requests of this account in the emulator's log (refused ones included)."""
    return [r for r in emulator.requests(method="POST", key=api_key) if r.get("route") == "create"]


def created(emulator, api_key: str) -> list[dict]:
    """POST /task requests that created a task (HTTP 200)."""
    return [r for r in posts(emulator, api_key) if r.get("status") == 200]


def _get(obj, name, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def assert_file(path: str) -> None:
    p = Path(path)
    assert p.is_file() and p.stat().st_size > 0, path
    head = p.read_bytes()[:4]
    if p.suffix.lower() == ".glb":
        assert head == b"glTF", path
    if p.suffix.lower() == ".png":
        assert head == b"\x89PNG", path


@pytest.fixture
def factory(emulator, api_key):
    def make() -> TripoClient:
        return TripoClient(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5)

    return make


@pytest.fixture
def engine(factory, tmp_path):
    eng = Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    yield eng
    eng.shutdown(timeout=5)


@pytest.fixture
def image(tmp_path) -> Path:
    return make_png(tmp_path / "input.png", 256, 256)


@pytest.fixture
def mesh(tmp_path) -> Path:
    return make_glb(tmp_path / "input.glb")


def drain_all(engine: Engine) -> list:
    got = engine.drain()
    for e in got:
        json.dumps(e.snapshot)  # every snapshot crosses to the main thread as plain data
        assert e.kind in ev.KINDS
    return got


# ---------------------------------------------------------------------------------------------------- pipelines
PIPELINE_CASES = {
    "text_to_final": lambda img, mesh: pipelines.text_to_final("a red chair", format="FBX"),
    "image_to_final": lambda img, mesh: pipelines.image_to_final(img, format="USDZ"),
    "image_to_animated": lambda img, mesh: pipelines.image_to_animated(img, animation="preset:walk"),
    "mesh_editing": lambda img, mesh: pipelines.mesh_editing("a robot"),
    "import_and_process": lambda img, mesh: pipelines.import_and_process(mesh, "convert_model", {"format": "OBJ"}),
    "text_to_image_to_model": lambda img, mesh: pipelines.text_to_image_to_model("a fox"),
    "low_poly_asset": lambda img, mesh: pipelines.low_poly_asset("a barrel"),
    "send_back_rig": lambda img, mesh: pipelines.send_back(mesh, "animate_rig", {"rig_type": "biped"}),
    "single_text_to_model": lambda img, mesh: pipelines.text_to_model("a mug"),
    "single_text_to_image": lambda img, mesh: pipelines.text_to_image("a mug"),
    "single_import": lambda img, mesh: pipelines.import_model(mesh),
}


@pytest.mark.parametrize("name", list(PIPELINE_CASES))
def test_pipeline_succeeds_with_file_on_disk(engine, emulator, api_key, image, mesh, tmp_path, name):
    job = PIPELINE_CASES[name](str(image), str(mesh))
    job_id = engine.submit(job)
    snap = engine.wait(job_id, WAIT)
    assert snap["state"] == "succeeded", snap["error"]
    assert snap["result_files"], snap
    for f in snap["result_files"]:
        assert_file(f)
        assert Path(f).parent.parent == tmp_path / "downloads"
        assert Path(f).parent.name in snap["task_ids"]
    assert snap["can_import"] and snap["progress"] == 100
    assert snap["estimated_credits"] is not None and snap["credits"] >= 0
    if name == "text_to_final":
        assert snap["credits"] == snap["estimated_credits"] > 0  # the estimate matches what Tripo charged
    assert all(s["state"] == "succeeded" and s["task_id"] for s in snap["steps"])
    # one POST per step, never more
    assert len(posts(emulator, api_key)) >= len(job.steps)
    kinds = [e.kind for e in drain_all(engine) if e.job_id == job_id]
    assert kinds and kinds[-1] == ev.FINISHED and ev.UPDATE in kinds
    # only the wanted results were downloaded
    for s in snap["steps"][:-1]:
        if not s["download"]:
            assert s["files"] == []
        elif s["outputs"] == ["preview"]:
            assert len(s["files"]) <= 1
    assert api_key not in (tmp_path / "state" / "jobs.json").read_text()
    engine.mark_imported(job_id)
    assert not engine.get(job_id)["can_import"]


def test_refs_resolve_rig_type_and_generated_image_url(engine, emulator, api_key, image):
    """The rig step gets the rig check's rig type and the model's task; the image-to-model step gets the generated
    image: by its task id on v3 (Tripo reads an earlier task's output by id), by its URL on v2."""
    a = engine.submit(pipelines.image_to_animated(str(image), format=None))
    b = engine.submit(pipelines.text_to_image_to_model("a fox"))
    sa, sb = engine.wait(a, WAIT), engine.wait(b, WAIT)
    assert sa["state"] == "succeeded", sa["error"]
    assert sb["state"] == "succeeded", sb["error"]
    rig_body = _create_body(emulator, api_key, "animate_rig")
    rig_type = sa["steps"][1]["output"]["rig_type"]
    assert rig_body["rig_type"] == rig_type
    source = sa["steps"][0]["task_id"]
    img_body = _create_body(emulator, api_key, "image_to_model")
    if engine.api == "v3":
        assert rig_body["input"] == source
        assert img_body["input"] == sb["steps"][0]["task_id"]
        assert rig_type != "biped" or "model" not in rig_body  # non-biped rigs need rig model v2.5 (set for them)
    else:
        assert rig_body["original_model_task_id"] == source
        url = img_body["file"]["url"]
        assert url.split("?")[0] == sb["steps"][0]["output"]["image"].split("?")[0]


def _create_body(emulator, api_key, task_type: str) -> dict:
    """The body of the latest successful create of this task type (either dialect)."""
    for r in reversed(created(emulator, api_key)):
        task = emulator.task(r["task_id"]) if r.get("task_id") else None
        if task is not None and task.type == task_type:
            return r.get("body") or {}
    raise AssertionError(f"no {task_type} create in the log")


# ---------------------------------------------------------------------------------------------------- validation
def _fake_png(img: str) -> str:
    bad = Path(img).with_name("fake.png")
    bad.write_bytes(b"this is text, not an image")
    return str(bad)


BAD_JOBS = {
    "bad chain": lambda img: Job("x", [Step("text_to_model", {"prompt": "a"}), Step("mesh_completion", {
        "original_model_task_id": Ref(0)})]),
    "retarget needs a rig": lambda img: Job("x", [Step("text_to_model", {"prompt": "a"}), Step("animate_retarget", {
        "original_model_task_id": Ref(0), "animation": "preset:walk"})]),
    "missing prompt": lambda img: Job("x", [Step("text_to_model", {})]),
    "bad enum": lambda img: pipelines.text_to_final("a", format="DOCX"),
    "missing file": lambda img: pipelines.image_to_model("/nonexistent/pic.png"),
    "mesh as image": lambda img: pipelines.import_model(img),
    "forward ref": lambda img: Job("x", [Step("convert_model", {"original_model_task_id": Ref(1), "format": "FBX"}),
                                         Step("text_to_model", {"prompt": "a"})]),
    "unknown output": lambda img: Job("x", [Step("text_to_model", {"prompt": "a"}), Step("animate_rig", {
        "original_model_task_id": Ref(0), "rig_type": Ref(0, "output:rig_type")})]),
    "unknown type": lambda img: Job("x", [Step("make_coffee", {})]),
    "not really a png": lambda img: pipelines.image_to_model(_fake_png(img)),
    "bad second step": lambda img: Job("x", [Step("text_to_model", {"prompt": "a"}), Step("convert_model", {
        "original_model_task_id": Ref(0)})]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BAD_JOBS))
def test_bad_jobs_refused_before_any_request(engine, emulator, api_key, image, name):
    before = len(posts(emulator, api_key))
    with pytest.raises(TripoValidationError) as info:
        engine.submit(BAD_JOBS[name](str(image)))
    assert str(info.value)
    assert len(posts(emulator, api_key)) == before
    assert engine.jobs() == []


# ---------------------------------------------------------------------------------------------------- cancel
def test_cancel_is_prompt_and_says_tripo_cannot_cancel(engine):
    job_id = engine.submit(pipelines.text_to_final("a slow thing"))
    deadline = time.monotonic() + WAIT
    while not engine.get(job_id)["task_ids"] and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    engine.cancel(job_id)
    snap = engine.wait(job_id, 10)
    assert time.monotonic() - t0 < 3
    assert snap["state"] == "cancelled"
    assert "no way to cancel" in snap["notice"] and snap["task_ids"][0] in snap["notice"]
    assert not engine.is_running(job_id) or engine.wait(job_id, 3)
    kinds = [e.kind for e in drain_all(engine) if e.job_id == job_id]
    assert ev.CANCELLED in kinds


def test_cancel_while_waiting_for_a_slot(factory, tmp_path):
    eng = Engine(factory, tmp_path / "s", tmp_path / "d", max_parallel=1, poll_min=0.05, poll_max=0.5)
    try:
        first = eng.submit(pipelines.text_to_model("one"))
        second = eng.submit(pipelines.text_to_model("two"))
        time.sleep(0.2)
        eng.cancel(second)
        assert eng.wait(second, 5)["state"] == "cancelled"
        assert eng.get(second)["task_ids"] == []
        assert eng.wait(first, WAIT)["state"] == "succeeded"
    finally:
        eng.shutdown(5)


# ---------------------------------------------------------------------------------------------------- resume
def test_resume_in_new_engine_polls_without_second_post(factory, emulator, api_key, tmp_path):
    state, dl = tmp_path / "state", tmp_path / "dl"
    e1 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)
    job_id = e1.submit(pipelines.text_to_final("a lamp"))
    deadline = time.monotonic() + WAIT
    while not e1.get(job_id)["task_ids"] and time.monotonic() < deadline:
        time.sleep(0.01)
    e1.shutdown(timeout=5)
    first_task = e1.get(job_id)["task_ids"][0]
    assert e1.get(job_id)["state"] not in JobState.STOPPED

    e2 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)
    try:
        assert e2.get(job_id)["task_ids"][0] == first_task
        assert e2.resume() == [job_id]
        assert e2.resume() == []  # idempotent: no second worker
        snap = e2.wait(job_id, WAIT)
        assert snap["state"] == "succeeded", snap["error"]
        assert snap["task_ids"][0] == first_task
        assert len(posts(emulator, api_key)) == 2  # text_to_model once, convert_model once
        assert_file(snap["result_files"][0])
    finally:
        e2.shutdown(5)

    e3 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)
    try:
        assert e3.resume() == []
        finished = [e for e in drain_all(e3) if e.kind == ev.FINISHED]
        assert [e.job_id for e in finished] == [job_id]  # finished but not imported: offered for import
        e3.mark_imported(job_id)
    finally:
        e3.shutdown(5)
    e4 = Engine(factory, state, dl)
    e4.resume()
    assert not [e for e in drain_all(e4) if e.kind == ev.FINISHED]
    e4.shutdown(1)


def test_submitting_without_task_id_needs_attention_then_attach(factory, emulator, api_key, tmp_path):
    state = tmp_path / "state"
    job = pipelines.text_to_final("a lost chair")
    job.state = JobState.SUBMITTING
    job.steps[0].state = JobState.SUBMITTING
    Journal(state).save([job])
    before = len(posts(emulator, api_key))

    eng = Engine(factory, state, tmp_path / "dl", poll_min=0.05, poll_max=0.5)
    try:
        assert eng.resume() == []
        snap = eng.get(job.id)
        assert snap["state"] == "needs_attention"
        assert "task history" in snap["error"] and "not sent again" in snap["error"]
        assert len(posts(emulator, api_key)) == before
        notices = [e for e in drain_all(eng) if e.kind == ev.NOTICE and e.job_id == job.id]
        assert notices and "task history" in notices[0].message
        assert eng.wait(job.id, 1)["state"] == "needs_attention"

        # The user found the task in their history: attach it to the job, which then continues.
        client = factory()
        try:
            task_id = client.submit("text_to_model", {"prompt": "a lost chair"})
        finally:
            client.close()
        eng.attach(task_id, job_id=job.id)
        snap = eng.wait(job.id, WAIT)
        assert snap["state"] == "succeeded", snap["error"]
        assert snap["task_ids"][0] == task_id
        assert len(posts(emulator, api_key)) == before + 2  # ours by hand + the convert step
    finally:
        eng.shutdown(5)


def test_corrupt_journal_is_quarantined_with_notice(factory, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "jobs.json").write_text('{"version": 1, "jobs": [ {"id": "tru')
    eng = Engine(factory, state, tmp_path / "dl")
    try:
        notices = [e for e in drain_all(eng) if e.kind == ev.NOTICE]
        assert len(notices) == 1 and notices[0].job_id == "" and "could not be read" in notices[0].message
        assert len(list(state.glob("jobs.json.corrupt-*"))) == 1
        assert eng.jobs() == [] and eng.resume() == []
    finally:
        eng.shutdown(1)


# ---------------------------------------------------------------------------------------------------- failures
class ExplodingClient(TripoClient):
    def download(self, *args, **kwargs):
        raise RuntimeError("disk on fire")


def test_worker_exception_ends_job_failed_with_message(emulator, api_key, tmp_path):
    def factory():
        return ExplodingClient(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5)

    eng = Engine(factory, tmp_path / "s", tmp_path / "d", poll_min=0.05, poll_max=0.5)
    try:
        job_id = eng.submit(pipelines.text_to_model("boom"))
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == "failed"
        assert "disk on fire" in snap["error"] and "RuntimeError" in snap["error"]
        assert api_key not in snap["error"]
        assert [e.kind for e in drain_all(eng) if e.job_id == job_id][-1] == ev.FAILED
        assert not eng.is_running(job_id)
    finally:
        eng.shutdown(5)


def test_client_factory_failure_fails_the_job(tmp_path):
    def factory():
        raise ValueError("no API key set")

    eng = Engine(factory, tmp_path / "s", tmp_path / "d")
    try:
        snap = eng.wait(eng.submit(pipelines.text_to_model("x")), 10)
        assert snap["state"] == "failed" and "no API key set" in snap["error"]
    finally:
        eng.shutdown(1)


# ---------------------------------------------------------------------------------------------------- load
def test_many_jobs_respect_concurrency_groups(engine, emulator, api_key):
    ids = [engine.submit(pipelines.text_to_model(f"thing {i}")) for i in range(32)]
    ids += [engine.submit(pipelines.text_to_image(f"pic {i}")) for i in range(4)]
    snaps = [engine.wait(i, 120) for i in ids]
    assert [s["state"] for s in snaps] == ["succeeded"] * len(ids), [s["error"] for s in snaps if s["error"]]
    gen = next(s for name, s in engine.slots.items() if name.endswith("generation"))
    image = next(s for name, s in engine.slots.items() if name.endswith("image") or name.endswith("other"))
    assert gen.peak == 10  # saturated, never exceeded
    assert image.peak <= (1 if engine.api == "v3" else 10)  # v3 runs image tasks one at a time per account
    refused = [r for r in emulator.requests(key=api_key) if r.get("status") == 429 or r.get("code") == 2000]
    assert refused == []
    assert len(posts(emulator, api_key)) == len(ids)
    # the event queue was not flooded: at most one pending update per job plus the final events
    assert engine.events.qsize() <= 3 * len(ids)


# ---------------------------------------------------------------------------------------------------- attach
def test_attach_by_id_downloads_result_without_post(engine, factory, emulator, api_key):
    client = factory()
    try:
        task_id = client.submit("text_to_model", {"prompt": "an attached duck"})
    finally:
        client.close()
    before = len(posts(emulator, api_key))
    job_id = engine.attach(task_id, "duck")
    snap = engine.wait(job_id, WAIT)
    assert snap["state"] == "succeeded", snap["error"]
    assert snap["steps"][0]["task_type"] == "text_to_model" and snap["task_ids"] == [task_id]
    assert_file(snap["result_files"][0])
    assert len(posts(emulator, api_key)) == before


def test_attach_unknown_task_fails_clearly(engine):
    snap = engine.wait(engine.attach("11111111-2222-4333-8444-555555555555"), WAIT)
    assert snap["state"] == "failed" and snap["error"]
    with pytest.raises(TripoValidationError):
        engine.attach("not an id!")


# ---------------------------------------------------------------------------------------------------- shutdown
def test_shutdown_is_fast_and_jobs_stay_resumable(factory, tmp_path):
    eng = Engine(factory, tmp_path / "s", tmp_path / "d", poll_min=0.05, poll_max=0.5)
    ids = [eng.submit(pipelines.text_to_final(f"thing {i}")) for i in range(5)]
    time.sleep(0.3)
    t0 = time.monotonic()
    eng.shutdown(timeout=2)
    assert time.monotonic() - t0 < 4
    states = {eng.get(i)["state"] for i in ids}
    assert states <= JobState.ACTIVE | {"succeeded"}
    with pytest.raises(TripoError):
        eng.submit(pipelines.text_to_model("late"))
    eng2 = Engine(factory, tmp_path / "s", tmp_path / "d", poll_min=0.05, poll_max=0.5)
    try:
        eng2.resume()
        assert all(eng2.wait(i, WAIT)["state"] == "succeeded" for i in ids)
    finally:
        eng2.shutdown(5)


def test_retry_after_failure_does_not_resend_finished_steps(emulator, api_key, tmp_path):
    calls = {"n": 0}

    class FlakyDownload(TripoClient):
        def download(self, *a, **kw):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("network went away")
            return super().download(*a, **kw)

    def factory():
        return FlakyDownload(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5)

    eng = Engine(factory, tmp_path / "s", tmp_path / "d", poll_min=0.05, poll_max=0.5)
    try:
        job_id = eng.submit(pipelines.text_to_model("flaky"))
        assert eng.wait(job_id, WAIT)["state"] == "failed"
        before = len(posts(emulator, api_key))
        eng.retry(job_id)
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == "succeeded", snap["error"]
        assert len(posts(emulator, api_key)) == before
        assert_file(snap["result_files"][0])
    finally:
        eng.shutdown(5)


def test_forget_removes_job_from_journal(engine, tmp_path):
    job_id = engine.submit(pipelines.text_to_image("forget me"))
    engine.wait(job_id, WAIT)
    engine.forget(job_id)
    assert engine.jobs() == []
    assert engine.flush()  # written by the writer thread, not the caller (the main thread)
    jobs, _ = Journal(tmp_path / "state").load()
    assert jobs == []


# ---------------------------------------------------------------------------------------------------- faults
def test_lost_create_answer_needs_attention_and_is_never_resent(engine, factory, emulator, api_key, tmp_path):
    emulator.inject("create", "drop", after=True, match={"key": api_key})
    job_id = engine.submit(pipelines.text_to_final("a lost answer"))
    snap = engine.wait(job_id, WAIT)
    assert snap["state"] == "needs_attention"
    assert "not sent again" in snap["error"] and "task history" in snap["error"]
    assert len(posts(emulator, api_key)) == 1
    engine.shutdown(5)
    again = Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    try:
        assert again.resume() == []
        assert again.get(job_id)["state"] == "needs_attention"
        time.sleep(0.3)
        assert len(posts(emulator, api_key)) == 1
    finally:
        again.shutdown(5)


def test_failed_task_fails_job_then_retry_sends_a_new_task(engine, emulator, api_key):
    emulator.inject("create", "fail_task", error_code=1001, match={"key": api_key, "type": "convert_model"})
    job_id = engine.submit(pipelines.text_to_final("a doomed chair"))
    snap = engine.wait(job_id, WAIT)
    assert snap["state"] == "failed"
    assert snap["error"].startswith("Step 2 of 2 (convert_model)") and "1001" in snap["error"]
    assert snap["steps"][0]["state"] == "succeeded" and snap["steps"][1]["state"] == "failed"
    assert [e.kind for e in drain_all(engine) if e.job_id == job_id][-1] == ev.FAILED
    first_model_task = snap["task_ids"][0]
    engine.retry(job_id)
    snap = engine.wait(job_id, WAIT)
    assert snap["state"] == "succeeded", snap["error"]
    assert snap["task_ids"][0] == first_model_task  # the generation was not sent again
    assert len(created(emulator, api_key)) == 3


def test_concurrency_refusal_is_retried_by_the_client_only(engine, emulator, api_key):
    emulator.inject("create", "status", status=429, code=2000, retry_after=0.1, count=2, match={"key": api_key})
    snap = engine.wait(engine.submit(pipelines.text_to_model("busy account")), WAIT)
    assert snap["state"] == "succeeded", snap["error"]
    assert len(posts(emulator, api_key)) == 3 and len(created(emulator, api_key)) == 1


def test_polling_survives_server_errors(engine, emulator, api_key):
    emulator.inject("poll", "status", status=503, count=6, match={"key": api_key})
    snap = engine.wait(engine.submit(pipelines.text_to_model("flaky server")), WAIT)
    assert snap["state"] == "succeeded", snap["error"]
    assert len(created(emulator, api_key)) == 1


def test_unknown_status_is_polled_through_then_gives_up(engine, emulator, api_key):
    emulator.inject("poll", "unknown_status", count=2, match={"key": api_key})
    snap = engine.wait(engine.submit(pipelines.text_to_image("glitch")), WAIT)
    assert snap["state"] == "succeeded", snap["error"]
    emulator.inject("poll", "unknown_status", count=-1, match={"key": api_key})
    snap = engine.wait(engine.submit(pipelines.text_to_image("lost")), WAIT)
    assert snap["state"] == "failed" and "unknown" in snap["error"]


# ---------------------------------------------------------------------------------------------------- two instances
def test_second_engine_on_same_state_dir_never_runs_the_shared_jobs(factory, emulator, api_key, tmp_path):
    state, dl = tmp_path / "state", tmp_path / "dl"
    e1 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)
    assert e1.role == "primary"
    first = e1.submit(pipelines.text_to_final("shared"))
    e2 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)  # e.g. a second Blender instance
    try:
        assert e2.role == "secondary"
        assert any(e.kind == ev.NOTICE and "Another Blender instance" in e.message for e in drain_all(e2))
        assert e2.jobs() == [] and e2.resume() == []  # e1's jobs are never followed (or continued) twice
        own = e2.submit(pipelines.text_to_image("mine"))
        assert e2.wait(own, WAIT)["state"] == "succeeded"
        assert e1.wait(first, WAIT)["state"] == "succeeded"
        assert len(created(emulator, api_key)) == 3
    finally:
        e2.shutdown(5)
    e3 = Engine(factory, state, dl)  # while e1 still runs: a new secondary adopts the ended one's jobs
    assert e3.role == "secondary" and [j["id"] for j in e3.jobs()] == [own]
    e3.shutdown(1)
    e1.shutdown(5)
    e4 = Engine(factory, state, dl)
    try:
        assert e4.role == "primary"
        assert {j["id"] for j in e4.jobs()} == {first, own}
        assert not list(state.glob("jobs.secondary-*"))
    finally:
        e4.shutdown(1)


def test_what_another_instance_removed_or_dismissed_stays_known_after_its_jobs_are_adopted(
        factory, emulator, api_key, tmp_path):
    """A second Blender's registry (tombstones of the jobs removed there, its dismissals) joins the shared one when
    its jobs are adopted: a task it removed is never handed to a lost create here afterwards."""
    state, dl = tmp_path / "state", tmp_path / "dl"
    e1 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)
    e2 = Engine(factory, state, dl, poll_min=0.05, poll_max=0.5)
    try:
        assert e1.role == "primary" and e2.role == "secondary"
        gone = e2.submit(pipelines.text_to_image("removed in the second Blender"))
        tid = e2.wait(gone, WAIT)["steps"][0]["task_id"]
        e2.forget(gone)
        e2.owners.dismiss("job-lost-there", 0, 1_700_000_000.25)
        assert e2.owners.why(tid) and "removed" in e2.owners.why(tid)
    finally:
        e2.shutdown(5)
        e1.shutdown(5)
    e3 = Engine(factory, state, dl)
    try:
        assert e3.role == "primary" and not list(state.glob("owners-jobs.secondary-*"))
        assert e3.owners.known(tid) and "removed" in (e3.owners.why(tid) or ""), e3.owners.why(tid)
        assert e3.owners.dismissed("job-lost-there", 0, 1_700_000_000.25)
    finally:
        e3.shutdown(1)
    again = Engine(factory, state, dl)  # and on disk: the next start knows it too
    try:
        assert again.owners.known(tid) and again.owners.dismissed("job-lost-there", 0, 1_700_000_000.25)
    finally:
        again.shutdown(1)


def test_no_request_when_the_job_log_cannot_be_written(factory, emulator, api_key, tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    eng = Engine(factory, blocker, tmp_path / "dl")
    try:
        try:
            job_id = eng.submit(pipelines.text_to_model("unlogged"))
        except TripoError as exc:  # refused at once
            assert "job log" in exc.user_message
        else:  # or failed before its worker sent anything
            snap = eng.wait(job_id, WAIT)
            assert snap["state"] == "failed" and "job log" in snap["error"], snap
        assert posts(emulator, api_key) == []
    finally:
        eng.shutdown(1)


@pytest.mark.parametrize("gap", [0.0, 1.0])
def test_pause_then_resume_continues_without_a_second_post(engine, emulator, api_key, gap):
    """pause() (online access turned off) stops the workers but keeps the jobs; resume() continues them, also when
    it comes while a paused worker is still returning from a request (gap 0)."""
    job_id = engine.submit(pipelines.text_to_final("a paused lamp"))
    deadline = time.monotonic() + WAIT
    while not engine.get(job_id)["task_ids"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.pause() == [job_id]
    time.sleep(gap)
    if gap:
        assert not engine.is_running(job_id)
        assert engine.get(job_id)["state"] not in JobState.STOPPED  # paused, not cancelled or failed
        seen = len(emulator.requests(key=api_key))
        time.sleep(0.5)
        assert len(emulator.requests(key=api_key)) == seen  # nothing is sent while paused
    assert engine.resume() == [job_id]
    snap = engine.wait(job_id, WAIT)
    deadline = time.monotonic() + WAIT
    while snap["state"] != "succeeded" and time.monotonic() < deadline:  # (a restarted worker after gap 0)
        time.sleep(0.05)
        snap = engine.wait(job_id, WAIT)
    assert snap["state"] == "succeeded", snap["error"]
    assert len(created(emulator, api_key)) == 2  # text_to_model once, convert_model once


def test_external_source_is_checked_before_the_post(engine, emulator, api_key):
    """A step on a task given by id (not an earlier step): the engine fetches it and refuses a chain Tripo would
    refuse (retarget of a model that is not a rig) without sending the task; a valid chain goes through."""
    first = engine.wait(engine.submit(pipelines.text_to_model("a mannequin")), WAIT)
    assert first["state"] == "succeeded", first["error"]
    model = first["task_ids"][0]
    n = len(posts(emulator, api_key))
    bad = engine.wait(engine.submit(pipelines.animate_retarget(model, animation="preset:walk")), WAIT)
    assert bad["state"] == "failed"
    assert "text_to_model" in bad["error"] and model in bad["error"]
    assert len(posts(emulator, api_key)) == n  # refused here: nothing sent, nothing charged
    good = engine.wait(engine.submit(pipelines.convert_model(model, format="STL")), WAIT)
    assert good["state"] == "succeeded", good["error"]
    assert len(posts(emulator, api_key)) == n + 1


def test_next_activity_tells_when_workers_sleep(factory, emulator, api_key, tmp_path):
    """next_activity(): None while a worker works (launching, a request), the end of its sleep while it waits for
    its next poll (the Blender poller slows down in between)."""
    eng = Engine(factory, tmp_path / "state", tmp_path / "dl", poll_min=2.0, poll_max=4.0)
    try:
        assert eng.next_activity() == math.inf  # nothing runs
        job_id = eng.submit(pipelines.text_to_model("a sleepy owl"))
        seen_sleep = None
        seen = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and eng.get(job_id)["state"] not in JobState.STOPPED:
            nxt = eng.next_activity()
            left = nxt if nxt in (None, math.inf) else round(nxt - time.monotonic(), 2)
            seen.append((eng.get(job_id)["state"], left))
            if nxt is not None and nxt != math.inf and nxt - time.monotonic() > 1.0:
                seen_sleep = nxt
                break
            time.sleep(0.01)
        assert seen_sleep is not None, f"the worker never slept between polls: {sorted(set(seen), key=str)[:20]}"
        assert eng.wait(job_id, WAIT)["state"] == "succeeded"
        assert eng.next_activity() == math.inf
    finally:
        eng.shutdown(5)
