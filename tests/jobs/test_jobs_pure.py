"""Pure parts of the job engine: model, journal, event queue, schedule, pipeline step lists. No network."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tripo_addon.api import tasks as api_tasks
from tripo_addon.api.dialects import by_name
from tripo_addon.jobs import events as ev
from tripo_addon.jobs import pipelines
from tripo_addon.jobs.events import Event, EventQueue
from tripo_addon.jobs.job import Job, JobState, Ref, Step, decode_value, encode_value, iter_refs
from tripo_addon.jobs.journal import Journal, JournalError
from tripo_addon.jobs.schedule import Slots, Stopped

ROOT = Path(__file__).resolve().parents[2]
JOBS_DIR = ROOT / "tripo_addon" / "jobs"


# ------------------------------------------------------------------------------------------------------ no bpy
def test_jobs_package_never_imports_bpy():
    for path in JOBS_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import bpy" not in text and "from bpy" not in text, path
    # Load the jobs package without running tripo_addon/__init__.py (the extension entry point imports bpy).
    code = (
        "import sys, types\n"
        f"pkg = types.ModuleType('tripo_addon'); pkg.__path__ = [{str(ROOT / 'tripo_addon')!r}]\n"
        "sys.modules['tripo_addon'] = pkg\n"
        "import tripo_addon.jobs, tripo_addon.jobs.engine, tripo_addon.jobs.pipelines\n"
        "assert 'bpy' not in sys.modules, 'bpy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ------------------------------------------------------------------------------------------------------ job model
def test_refs_and_paths_round_trip_through_json(tmp_path):
    img = tmp_path / "a.png"
    step = Step("image_to_model", {"file": img, "x": (1, 2), "tp": {"image": Ref(0, "output:image")}})
    assert step.params["file"] == str(img) and step.params["x"] == [1, 2]
    d = json.loads(json.dumps(step.to_dict()))
    back = Step.from_dict(d)
    assert back.params["tp"]["image"] == Ref(0, "output:image")
    assert list(iter_refs(back.params)) == [Ref(0, "output:image")]
    assert decode_value(encode_value(Ref(2))) == Ref(2, "task_id")
    assert Ref(1, "output:rig_type").output_key == "rig_type" and Ref(1).output_key is None


def test_job_snapshot_is_plain_json_and_derived_fields():
    job = pipelines.image_to_animated("/tmp/x.png")
    job.steps[0].state = JobState.SUCCEEDED
    job.steps[0].task_id = "t0"
    job.steps[0].files = ["/d/t0/rendered_image.webp"]
    job.steps[1].progress = 50
    snap = job.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert snap["current_step"] == 1 and snap["task_ids"] == ["t0"]
    assert snap["progress"] == (100 + 50) // 5
    assert snap["steps"][2]["params"]["rig_type"] == {"$ref": {"step": 1, "what": "output:rig_type"}}
    assert "uploads" not in snap["steps"][0]
    assert snap["can_import"] is False and snap["result_files"] == ["/d/t0/rendered_image.webp"]
    for key in ("id", "title", "kind", "state", "created", "updated", "imported", "error", "notice", "final"):
        assert key in snap
    again = Job.from_dict(json.loads(json.dumps(job.to_dict())))
    assert again.to_dict() == job.to_dict()


def test_records_and_snapshots_never_share_a_container_with_the_job():
    """Saves and snapshots copy without deepcopy: a caller changing them must not change the job (or the reverse)."""
    import copy
    import dataclasses
    import typing

    from tripo_addon.jobs import job as job_mod

    job = pipelines.image_to_animated("/tmp/x.png")
    s = job.steps[0]
    s.files, s.output = ["/d/a.glb"], {"model": {"url": "https://x/a.glb", "list": [1, {"k": "v"}]}}
    s.uploads, s.sent, s.outputs = {"/tmp/x.png": {"input": {"file_token": "t"}}}, {"body": {"a": [1]}}, ["model"]
    job.meta = {"lineage": {"from": ["j1"]}}
    before = copy.deepcopy(job.to_dict())
    for got in (job.to_dict(), job.snapshot()):
        st = got["steps"][0]
        st["files"].append("x")
        st["output"]["model"]["list"][1]["k"] = "changed"
        st.get("uploads", {}).clear()
        st["sent"]["body"]["a"].append(2)
        st["outputs"].append("x")
        got["meta"]["lineage"]["from"].append("j2")
    assert job.to_dict() == before
    rec = job.to_dict()
    s.output["model"]["list"][1]["k"] = "later"
    assert rec["steps"][0]["output"]["model"]["list"][1]["k"] == "v"
    # a Step field of a container type must be listed as one (else saves would share it with the job)
    hints = typing.get_type_hints(Step)
    for f in dataclasses.fields(Step):
        if f.name != "params" and any(w in str(hints[f.name]) for w in ("dict", "list", "set", "tuple")):
            assert f.name in job_mod._STEP_CONTAINERS, f.name


def test_job_from_dict_rejects_garbage():
    with pytest.raises(ValueError):
        Job.from_dict({"id": 3})
    with pytest.raises(ValueError):
        Job.from_dict({"id": "x", "steps": [], "state": "weird"})


# ------------------------------------------------------------------------------------------------------ journal
def _job(title="j") -> Job:
    return Job(title=title, steps=[Step("text_to_model", {"prompt": "cat"})])


def test_journal_atomic_round_trip(tmp_path):
    j = Journal(tmp_path)
    jobs = [_job("a"), _job("b")]
    assert j.save(jobs)
    assert not list(tmp_path.glob("*.tmp"))
    loaded, notices = Journal(tmp_path).load()
    assert notices == [] and [x.title for x in loaded] == ["a", "b"]
    assert "tsk_" not in (tmp_path / "jobs.json").read_text()


def test_journal_coalesces_progress_only_writes(tmp_path):
    j = Journal(tmp_path, min_interval=60)
    job = _job()
    j.save([job])
    n = j.writes
    for p in range(20):
        job.steps[0].progress = p
        j.save([job], important=False)
    assert j.writes == n
    j.flush()
    assert j.writes == n + 1
    assert Journal(tmp_path).load()[0][0].steps[0].progress == 19


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b'{"jobs": 3}', b"[]"])
def test_corrupt_journal_is_quarantined_with_notice(tmp_path, content):
    (tmp_path / "jobs.json").write_bytes(content)
    jobs, notices = Journal(tmp_path).load()
    assert jobs == [] and len(notices) == 1 and "corrupt" in notices[0]
    moved = list(tmp_path.glob("jobs.json.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == content
    assert not (tmp_path / "jobs.json").exists()


def test_bad_record_is_skipped_and_log_copied(tmp_path):
    good = _job("good").to_dict()
    (tmp_path / "jobs.json").write_text(json.dumps({"version": 1, "jobs": [good, {"id": 1}]}))
    jobs, notices = Journal(tmp_path).load()
    assert [x.title for x in jobs] == ["good"] and "1 unreadable" in notices[0]
    assert len(list(tmp_path.glob("jobs.json.corrupt-*"))) == 1


def test_closed_journal_refuses_writes(tmp_path):
    j = Journal(tmp_path)
    j.save([_job()])
    j.close()
    with pytest.raises(JournalError):
        j.save([_job(), _job()])
    assert not j.save([_job()], important=False)
    assert len(Journal(tmp_path).load()[0]) == 1


def test_unwritable_state_dir_raises_journal_error(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the state folder should be")
    with pytest.raises(JournalError):
        Journal(blocker).save([_job()])
    Journal(blocker, min_interval=0).save([_job()], important=False)  # a coalescable save never raises


# ------------------------------------------------------------------------------------------------------ events
def test_event_queue_keeps_one_pending_update_per_job():
    q = EventQueue()
    for i in range(100):
        q.put(Event("a", ev.UPDATE, {"n": i}))
        q.put(Event("b", ev.UPDATE, {"n": i}))
    q.put(Event("a", ev.FINISHED, {"n": "done"}))
    assert q.qsize() == 3
    got = [q.get_nowait() for _ in range(3)]
    assert [(e.job_id, e.kind, e.snapshot["n"]) for e in got] == [
        ("a", "update", 99),
        ("b", "update", 99),
        ("a", "finished", "done"),
    ]
    q.put(Event("a", ev.UPDATE, {"n": 1}))  # after the pending one was taken, a new one queues again
    assert q.get_nowait().snapshot == {"n": 1}
    for _ in range(4):
        q.task_done()
    q.join()  # counts stay consistent


# ------------------------------------------------------------------------------------------------------ schedule
def _pools(api, task_type, params=None):
    return tuple((p.name, p.limit) for p in by_name(api).pools(task_type, params))


def test_v2_concurrency_groups():
    assert _pools("v2", "text_to_model", {}) == (("v2 generation", 10),)
    assert _pools("v2", "image_to_model", {"model_version": "P1-20260311"}) == (("v2 generation_p1", 5),
                                                                               ("v2 generation", 10))
    assert _pools("v2", "refine_model") == (("v2 refine_model", 5),)
    assert _pools("v2", "animate_rig") == (("v2 animate_rig", 10),)
    assert _pools("v2", "generate_multiview_image") == (("v2 generate_multiview_image", 1),)
    assert _pools("v2", "convert_model") == (("v2 other", 10),)


def test_v3_concurrency_pools():
    """tripo-api-v3.md §13: image 1, P-series 5, processing (texture, convert, import) 5, the rest 10."""
    assert _pools("v3", "text_to_image") == (("v3 image", 1),)
    assert _pools("v3", "generate_multiview_image") == (("v3 image", 1),)
    assert _pools("v3", "text_to_model", {"model_version": "P2-20260801"}) == (("v3 p-series", 5),)
    assert _pools("v3", "text_to_model", {}) == (("v3 generation", 10),)
    assert _pools("v3", "convert_model") == (("v3 processing", 5),)
    assert _pools("v3", "animate_rig") == (("v3 animation", 10),)
    assert _pools("v3", "mesh_uv") == (("v3 mesh", 10),)


def test_slots_fifo_interruptible_and_force():
    s = Slots("g", 2)
    stop = threading.Event()
    s.acquire(stop)
    s.acquire(stop)
    got = []

    def waiter(n):
        s.acquire(stop)
        got.append(n)

    t1 = threading.Thread(target=waiter, args=(1,))
    t1.start()
    time.sleep(0.05)
    t2 = threading.Thread(target=waiter, args=(2,))
    t2.start()
    time.sleep(0.05)
    assert got == [] and s.waiting == 2
    s.release()
    t1.join(2)
    assert got == [1]
    s.force()
    assert s.used == 3 and s.peak == 3
    other = threading.Event()
    other.set()
    with pytest.raises(Stopped):
        s.acquire(other)
    s.release()
    s.release()
    t2.join(2)
    assert got == [1, 2]


# ------------------------------------------------------------------------------------------------------ pipelines
def _types(job: Job) -> list[str]:
    return [s.task_type for s in job.steps]


def test_pipeline_step_lists(tmp_path):
    img = str(tmp_path / "a.png")
    mesh = str(tmp_path / "m.glb")
    j = pipelines.text_to_final("a chair", format="OBJ")
    assert _types(j) == ["text_to_model", "convert_model"]
    assert j.steps[1].params == {"original_model_task_id": Ref(0), "format": "OBJ"}
    assert j.steps[0].outputs == ["preview"] and j.steps[1].download and j.steps[1].outputs is None

    assert _types(pipelines.image_to_final(img)) == ["image_to_model", "convert_model"]

    j = pipelines.image_to_animated(img, animation="preset:run")
    assert _types(j) == ["image_to_model", "animate_prerigcheck", "animate_rig", "animate_retarget", "convert_model"]
    assert j.steps[2].params["rig_type"] == Ref(1, "output:rig_type")
    assert j.steps[2].params["original_model_task_id"] == Ref(0)
    assert j.steps[3].params == {"original_model_task_id": Ref(2), "animation": "preset:run"}
    assert [s.download for s in j.steps] == [True, False, False, False, True]

    j = pipelines.mesh_editing("robot", part_names=["arm"])
    assert _types(j) == ["text_to_model", "mesh_segmentation", "mesh_completion"]

    j = pipelines.import_and_process(mesh, "stylize_model", {"style": "lego"})
    assert _types(j) == ["import_model", "stylize_model"] and j.steps[0].upload == "auto"  # the dialect decides
    assert j.steps[1].params == {"style": "lego", "original_model_task_id": Ref(0)}

    j = pipelines.text_to_image_to_model("a fox", model_version="v3.0-20250812")
    assert _types(j) == ["text_to_image", "image_to_model"]
    assert j.steps[1].params["file"] == Ref(0, "output:image")

    j = pipelines.low_poly_asset("a barrel")  # the skill's pipeline 7: low poly, then FBX conversion
    assert _types(j) == ["text_to_model", "highpoly_to_lowpoly", "convert_model"] and not j.steps[1].download
    assert j.steps[1].params["face_limit"] == 5000 and j.steps[1].params["quad"] is True
    assert j.steps[2].params["format"] == "FBX" and j.steps[2].params["original_model_task_id"] == Ref(1)
    j = pipelines.low_poly_asset("a barrel", format=None)
    assert _types(j) == ["text_to_model", "highpoly_to_lowpoly"] and j.steps[1].download

    j = pipelines.send_back(mesh, "animate_rig", {"rig_type": "quadruped"})
    assert _types(j) == ["import_model", "animate_rig"] and j.kind == "send_back"

    assert set(pipelines.PIPELINES) == {
        "text_to_final", "image_to_final", "image_to_animated", "mesh_editing", "import_and_process",
        "text_to_image_to_model", "low_poly_asset", "image_to_views_to_model",
    }  # fmt: skip


def test_single_builders_cover_every_task_type():
    j = pipelines.convert_model("abc", format="FBX", quad=None)
    assert j.steps[0].params == {"original_model_task_id": "abc", "format": "FBX"}
    assert pipelines.single("text_to_model", {"prompt": "x"}).title == "text_to_model: x"
    expected = {
        "text_to_image", "generate_image", "text_to_model", "image_to_model", "multiview_to_model", "refine_model",
        "texture_model", "import_model", "mesh_segmentation", "mesh_completion", "highpoly_to_lowpoly",
        "animate_prerigcheck", "animate_rig", "animate_retarget", "stylize_model", "convert_model",
        "generate_multiview_image", "edit_multiview_image", "image_to_splat", "image_to_depth", "mesh_uv",
        "smart_segment",
    }  # fmt: skip
    assert expected == set(pipelines.SINGLE_BUILDERS) == set(api_tasks.TASK_TYPES)
    mv = pipelines.multiview_to_model(["f.png", None, "b.png", None])
    assert mv.steps[0].params["files"] == ["f.png", {}, "b.png", {}]


def test_job_states_change_only_by_the_table(tmp_path):
    """Issue 16 item 2: one table, one move(); a success is final and an illegal move is refused, not applied."""
    import pytest as _pytest

    from tripo_addon.jobs import states
    from tripo_addon.jobs.job import Job, Step
    from tripo_addon.jobs.journal import Journal
    from tripo_addon.jobs.store import Store

    S = states.JobState
    assert set(states.TRANSITIONS) == set(S.ALL)
    assert all(set(v) <= set(S.ALL) for v in states.TRANSITIONS.values())
    assert states.TRANSITIONS[S.SUCCEEDED] == {S.SUCCEEDED}
    store = Store(Journal(tmp_path))
    try:
        job = Job("t", [Step("text_to_model", {"prompt": "a"})])
        store.jobs[job.id] = job
        store.move(job, S.QUEUED, save=False, emit=None)
        store.move(job, S.SUCCEEDED, save=False, emit=None)
        with _pytest.raises(states.IllegalTransition):
            store.move(job, S.FAILED, save=False, emit=None, reopen=True)
        assert job.state == S.SUCCEEDED
    finally:
        close = getattr(store, "close", None)
        if close:
            close()
