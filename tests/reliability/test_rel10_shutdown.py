"""Issue 10.3: quitting or disabling while POST /task is in flight. The task it creates exists and is paid for: its id
must reach the journal (or the late-id file the next start reads) whatever the timing, never "needs attention" with
no id, and the task is never sent twice."""

from __future__ import annotations

import time

from rel_helpers import WAIT, fired, task_posts, wait_until

from tripo_addon.jobs import pipelines


def _submitting(eng, job_id):
    step = eng.get(job_id)["steps"][0]
    return step.get("state") == "submitting" and not step.get("task_id")


def test_shutdown_waits_for_a_create_in_flight(emulator, api_key, fault, make_client, engines):
    """The POST answers 3 s after shutdown(timeout=0.5) began: shutdown waits for it (bounded) and journals the id."""
    fault("create", "delay", seconds=3)
    eng = engines(lambda: make_client())
    job_id = eng.submit(pipelines.text_to_model("a chair sent as Blender quits"))
    wait_until(lambda: _submitting(eng, job_id), what="the POST in flight")
    wait_until(lambda: fired(emulator, api_key, "create", "delay"), what="the emulator holding the POST")
    started = time.monotonic()
    eng.shutdown(timeout=0.5)
    took = time.monotonic() - started
    assert took < 15, took  # bounded
    task_id = eng.get(job_id)["steps"][0].get("task_id")
    assert task_id, eng.get(job_id)

    again = engines(lambda: make_client())
    snap = again.get(job_id)
    assert snap["steps"][0]["task_id"] == task_id and snap["state"] != "needs_attention"
    assert job_id in again.resume()
    assert again.wait(job_id, WAIT)["state"] == "succeeded"
    assert task_posts(emulator, api_key) == 1  # followed, not sent again


def test_a_create_answered_after_the_journal_closed_reaches_the_next_start(emulator, api_key, fault, make_client,
                                                                           engines, tmp_path):
    """The answer comes after shutdown gave up waiting and closed the journal (a disable; the process lives on): the
    id goes to the late-id file; the next engine gives the step its id and follows the task (no second POST)."""
    fault("create", "delay", seconds=2)
    eng = engines(lambda: make_client())
    job_id = eng.submit(pipelines.text_to_model("a lamp sent as the add-on is disabled"))
    wait_until(lambda: _submitting(eng, job_id), what="the POST in flight")
    wait_until(lambda: fired(emulator, api_key, "create", "delay"), what="the emulator holding the POST")
    eng.shutdown(timeout=0.2, submit_grace=0.1)
    assert not eng.get(job_id)["steps"][0].get("task_id")  # the journal closed before the answer
    wait_until(lambda: not eng.is_running(job_id), timeout=20, what="the worker got its answer")
    task_id = eng.get(job_id)["steps"][0].get("task_id")
    assert task_id
    late = tmp_path / "state" / "jobs.json.late-ids"
    assert late.is_file() and task_id in late.read_text()

    again = engines(lambda: make_client())
    snap = again.get(job_id)
    assert snap["steps"][0]["task_id"] == task_id and snap["state"] == "queued", snap
    assert task_id in snap["notice"]
    assert not late.exists()  # merged into the journal
    assert job_id in again.resume()
    assert again.wait(job_id, WAIT)["state"] == "succeeded"
    assert task_posts(emulator, api_key) == 1


def test_retry_after_a_late_id_polls_instead_of_paying_again(emulator, api_key, fault, make_client, engines,
                                                            tmp_path):
    """An engine that started while the old one's POST was still in flight shows the job as needing attention; once
    the late id has arrived, Retry follows that task instead of sending a second one."""
    fault("create", "delay", seconds=2)
    eng = engines(lambda: make_client())
    job_id = eng.submit(pipelines.text_to_model("a vase sent during a quick re-enable"))
    wait_until(lambda: _submitting(eng, job_id), what="the POST in flight")
    wait_until(lambda: fired(emulator, api_key, "create", "delay"), what="the emulator holding the POST")
    eng.shutdown(timeout=0.1, submit_grace=0.0)
    again = engines(lambda: make_client())
    again.resume()
    assert again.get(job_id)["state"] == "needs_attention"  # (no id yet: the answer has not come)
    wait_until(lambda: not eng.is_running(job_id), timeout=20, what="the old worker got its answer")
    again.retry(job_id)
    assert again.wait(job_id, WAIT)["state"] == "succeeded"
    assert task_posts(emulator, api_key) == 1


def test_a_second_blender_instance_keeps_a_late_id_too(emulator, api_key, fault, make_client, engines):
    """The same for a secondary engine (a second Blender instance on the same job list): its late id is carried over
    when the next primary adopts its jobs."""
    fault("create", "delay", seconds=2)
    primary = engines(lambda: make_client())
    second = engines(lambda: make_client())
    assert (primary.role, second.role) == ("primary", "secondary")
    job_id = second.submit(pipelines.text_to_model("a bench from the second instance"))
    wait_until(lambda: _submitting(second, job_id), what="the POST in flight")
    wait_until(lambda: fired(emulator, api_key, "create", "delay"), what="the emulator holding the POST")
    second.shutdown(timeout=0.1, submit_grace=0.0)
    wait_until(lambda: not second.is_running(job_id), timeout=20, what="the worker got its answer")
    task_id = second.get(job_id)["steps"][0]["task_id"]
    assert task_id
    primary.shutdown()
    again = engines(lambda: make_client())
    snap = again.get(job_id)
    assert snap["steps"][0]["task_id"] == task_id and snap["state"] == "queued", snap
    assert job_id in again.resume()
    assert again.wait(job_id, WAIT)["state"] == "succeeded"
    assert task_posts(emulator, api_key) == 1
