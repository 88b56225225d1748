"""Bad input that arrives from the other side (a hostile or broken result file) or through the client and engine
directly (scripts): each gives a clear message, nothing unsafe is written, and no credit is spent on a request the
client should have refused.

The Blender-facing bad inputs (prompt, images, multiview, options, keys, folders, disk) are in
tests/reliability/blender/test_rel_bad_inputs_blender.py.
"""

from __future__ import annotations

import pytest
from rel_helpers import (
    WAIT,
    clear_message,
    make_evil_zip,
    make_glb,
    make_png,
    settled_balance,
    task_posts,
)

from tripo_addon.api.errors import TripoDownloadError, TripoError, TripoUnsafeArchive, TripoValidationError
from tripo_addon.jobs import pipelines


def _served_file(emulator, task_id: str, suffix: str):
    files = [f for f in emulator.task(task_id).dir.rglob(f"*{suffix}") if f.is_file()]
    assert files, list(emulator.task(task_id).dir.rglob("*"))
    return files[0]


def _converted_obj(client):
    model = client.run("text_to_model", {"prompt": "a crate"}, timeout=WAIT)
    return client.run("convert_model", {"original_model_task_id": model.task_id, "format": "OBJ"},
                      source_type="text_to_model", timeout=WAIT)


def test_zip_with_parent_paths_is_refused_never_extracted(emulator, make_client, tmp_path):
    client = make_client(retry_base=0.05)
    task = _converted_obj(client)
    served = _served_file(emulator, task.task_id, ".zip")
    make_evil_zip(served)  # the server now hands out a zip holding ../../escaped.txt
    dest = tmp_path / "a" / "b" / "downloads"
    with pytest.raises(TripoUnsafeArchive) as info:
        client.download(task.task_id, "model", dest)
    clear_message(info.value.user_message, "refused", "outside the folder", "not", "extracted")
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not [p for p in dest.rglob("*") if p.is_file()]  # no partial or refused file is left behind


def test_zip_with_parent_paths_fails_the_job_clearly(emulator, api_key, make_client, engines, tmp_path):
    client = make_client(retry_base=0.05)
    model = client.run("text_to_model", {"prompt": "a crate"}, timeout=WAIT)
    eng = engines(lambda: make_client(retry_base=0.05))
    # a job that converts to OBJ; its zip is swapped for a hostile one as soon as the task exists
    job_id = eng.submit(pipelines.convert_model(model.task_id, format="OBJ"))
    from rel_helpers import wait_until

    def swapped():
        snap = eng.get(job_id)
        tid = snap["steps"][0].get("task_id")
        task = emulator.task(tid) if tid else None
        if task is None or task.status != "success":
            return False
        make_evil_zip(_served_file(emulator, tid, ".zip"))
        return True

    emulator.inject(route="download", kind="delay", seconds=1, match={"type": "convert_model"})
    wait_until(swapped, what="converted task")
    snap = eng.wait(job_id, WAIT)
    assert snap["state"] == "failed", snap
    clear_message(snap["error"], "refused", "outside the folder")
    assert not list(tmp_path.rglob("escaped.txt"))


def test_glb_with_bad_header_is_retried_then_reported(emulator, make_client, tmp_path):
    client = make_client(retry_base=0.05, retry_cap=0.1)
    task = client.run("text_to_model", {"prompt": "a stool"}, timeout=WAIT)
    served = _served_file(emulator, task.task_id, ".glb")
    served.write_bytes(b"<html>oops</html>" + b"\0" * 500)  # not a GLB: wrong magic
    with pytest.raises(TripoDownloadError) as info:
        client.download(task.task_id, "model", tmp_path / "dl")
    clear_message(info.value.user_message, "GLB", "try again")
    assert not [p for p in (tmp_path / "dl").rglob("*") if p.is_file()]


def test_glb_with_wrong_length_in_header(emulator, make_client, tmp_path):
    client = make_client(retry_base=0.05, retry_cap=0.1)
    task = client.run("text_to_model", {"prompt": "a stool"}, timeout=WAIT)
    served = _served_file(emulator, task.task_id, ".glb")
    data = bytearray(served.read_bytes())
    data[8:12] = (len(data) + 1000).to_bytes(4, "little")  # header promises more than the file holds
    served.write_bytes(bytes(data))
    with pytest.raises(TripoDownloadError) as info:
        client.download(task.task_id, "model", tmp_path / "dl")
    clear_message(info.value.user_message, "GLB", "header says", "try again")
    assert not [p for p in (tmp_path / "dl").rglob("*") if p.is_file()]  # no partial or damaged file is left


def test_local_glb_with_bad_header_is_refused_before_upload(emulator, api_key, make_client, engines, tmp_path):
    """A glTF 1.0 file named .glb: refused at submit (the engine checks local files' content), nothing journaled."""
    bad = tmp_path / "broken.glb"
    bad.write_bytes(b"glTF\x01\x00\x00\x00" + b"\0" * 64)  # glTF 1.0 header
    before = settled_balance(emulator, api_key)
    eng = engines(lambda: make_client())
    with pytest.raises(TripoValidationError) as info:
        eng.submit(pipelines.import_model(str(bad)))
    message = info.value.user_message
    assert eng.jobs() == []
    print("broken local glb:", message)
    clear_message(message, "broken.glb", "glTF", "export it again")
    assert emulator.requests(key=api_key) == []
    assert settled_balance(emulator, api_key) == before


SCRIPT_CASES = {
    # name: (task type, params, words)
    "prompt is not text": ("text_to_model", {"prompt": 42}, ("prompt", "text")),
    "unknown task type": ("text_to_modle", {"prompt": "a cup"}, ("text_to_modle",)),
    "unknown parameter": ("text_to_model", {"prompt": "a cup", "face_limt": 1000}, ("face_limt",)),
    "enum value out of range": ("text_to_model", {"prompt": "a cup", "texture_quality": "ultra"},
                                ("texture_quality", "ultra")),
    "face_limit negative": ("text_to_model", {"prompt": "a cup", "face_limit": -1}, ("face_limit",)),
    "model version that does not exist": ("text_to_model", {"prompt": "a cup", "model_version": "v9"},
                                          ("model_version",)),
    "both animation and animations": ("animate_retarget", {"original_model_task_id": "0" * 8 + "-0000-4000-8000-"
                                                           + "0" * 12, "animation": "preset:walk",
                                                           "animations": ["preset:run"]}, ("animation",)),
    "source task id that is not an id": ("texture_model", {"original_model_task_id": "my chair"},
                                         ("original_model_task_id",)),
}


@pytest.mark.parametrize("name", list(SCRIPT_CASES))
def test_script_inputs_refused_by_the_engine(name, emulator, api_key, make_client, engines):
    task_type, params, words = SCRIPT_CASES[name]
    eng = engines(lambda: make_client())
    from tripo_addon.jobs.job import Job, Step

    with pytest.raises(TripoError) as info:
        eng.submit(Job(title=name, steps=[Step(task_type, params)]))
    clear_message(getattr(info.value, "user_message", "") or str(info.value), *words)
    assert task_posts(emulator, api_key) == 0
    assert eng.jobs() == []  # nothing journaled either


def test_image_checks_happen_before_the_upload(emulator, api_key, make_client, tmp_path):
    """The client's own submit(): a 10x10 image is refused before any request (not even the upload)."""
    client = make_client()
    with pytest.raises(TripoValidationError) as info:
        client.submit("image_to_model", {"file": str(make_png(tmp_path / "tiny.png", 10, 10))})
    clear_message(info.value.user_message, "10x10", "20")
    assert emulator.requests(key=api_key) == []


def test_local_mesh_is_uploaded_only_after_checks(emulator, api_key, make_client, tmp_path):
    client = make_client()
    with pytest.raises(TripoValidationError):
        client.submit("image_to_model", {"file": str(make_glb(tmp_path / "m.glb"))})
    assert emulator.requests(key=api_key) == []
