"""Shutdown with jobs in flight: the engine returns promptly (daemon threads, interruptible waits), nothing is lost,
and the jobs resume at the next start without a second POST /task. (The Blender process side is in
test_rel_restart.py: quit with a download in flight.)"""

from __future__ import annotations

import threading
import time

from rel_helpers import WAIT, assert_fired, fired, make_png, task_posts, wait_until

from tripo_addon.jobs import pipelines


def test_engine_shutdown_is_prompt_with_every_phase_in_flight(emulator, api_key, fault, make_client, engines,
                                                              tmp_path):
    fault("download", "slow_body", seconds=20, match={"type": "text_to_image"})  # a download trickling in
    fault("upload", "delay", seconds=20)                                          # an upload hanging
    eng = engines(lambda: make_client(retry_base=0.05), max_parallel=10)
    ids = {
        "download": eng.submit(pipelines.text_to_image("a slow picture")),
        "upload": eng.submit(pipelines.image_to_model(str(make_png(tmp_path / "p.png", 64, 64)))),
    }
    wait_until(lambda: eng.get(ids["download"])["state"] == "downloading", what="download phase")
    wait_until(lambda: eng.get(ids["upload"])["state"] == "uploading", what="upload phase")
    # polling forever. v3 polls every task of the account with one tasks/list request, which names no task type,
    # so the fault is armed only once the picture is past its polls (downloading) and matches the account only.
    fault("poll", "unknown_status", count=-1)
    ids["poll"] = eng.submit(pipelines.text_to_model("a chair polled forever"))
    wait_until(lambda: eng.get(ids["poll"])["steps"][0].get("task_id"), what="poll phase")
    wait_until(lambda: fired(emulator, api_key, "poll", "unknown_status"), what="a poll answered unknown")
    # the journal says "downloading" / "uploading" just before the request leaves: wait until the emulator has it
    wait_until(lambda: fired(emulator, api_key, "download", "slow_body"), what="the download trickling in")
    wait_until(lambda: fired(emulator, api_key, "upload", "delay"), what="the upload hanging")
    assert_fired(emulator, api_key, ("download", "slow_body"), ("upload", "delay"))  # each phase really hangs
    posts_before = task_posts(emulator, api_key)
    workers = [t for t in threading.enumerate() if t.name.startswith("tripo-job-")]
    assert workers and all(t.daemon for t in workers)

    started = time.monotonic()
    eng.shutdown(timeout=2.0)
    took = time.monotonic() - started
    print(f"engine shutdown took {took:.2f} s")
    assert took < 8.0, f"shutdown took {took:.1f} s"  # hung transfers last 20 s; the engine does not wait for them
    states = {k: eng.get(v)["state"] for k, v in ids.items()}
    assert states["poll"] in ("queued", "running") and states["download"] == "downloading", states

    emulator.clear_faults()
    again = engines(lambda: make_client(retry_base=0.05))
    resumed = set(again.resume())
    assert set(ids.values()) <= resumed
    for name, job_id in ids.items():
        snap = again.wait(job_id, WAIT)
        assert snap["state"] == "succeeded", (name, snap.get("error"))
    # the two tasks that existed were followed, not re-sent; only the upload job sent its task after the restart
    assert task_posts(emulator, api_key) == posts_before + 1


def test_cancel_interrupts_a_long_poll_wait_at_once(emulator, api_key, make_client, engines):
    eng = engines(lambda: make_client(), poll_min=30.0, poll_max=60.0)
    job_id = eng.submit(pipelines.text_to_model("a chair polled rarely"))
    wait_until(lambda: eng.get(job_id)["steps"][0].get("task_id"), what="task id")
    time.sleep(0.3)  # the worker is now sleeping ~30 s before its next poll
    started = time.monotonic()
    eng.cancel(job_id)
    wait_until(lambda: not eng.is_running(job_id), timeout=10, what="worker stop")
    assert time.monotonic() - started < 5
    snap = eng.get(job_id)
    assert snap["state"] == "cancelled" and "cannot cancel" in snap["notice"].lower().replace("no way to cancel",
                                                                                              "cannot cancel")


def test_client_wait_is_interruptible(emulator, api_key, make_client, fault):
    from tripo_addon.api.errors import TripoCancelled

    fault("poll", "unknown_status", count=-1)
    client = make_client(poll_min=20.0, poll_max=20.0, unknown_polls=100)
    task_id = client.submit("text_to_model", {"prompt": "a patient lamp"})
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    try:
        client.wait(task_id, cancel=cancel)
        raise AssertionError("wait() returned")
    except TripoCancelled:
        pass
    assert time.monotonic() - started < 5
    assert_fired(emulator, api_key, ("poll", "unknown_status"))  # it was waiting on an unfinished task


def test_shutdown_with_a_job_waiting_for_a_slot(emulator, api_key, fault, make_client, engines):
    """A job queued behind Tripo's concurrency limit (no task yet) stops at once and is sent after the restart."""
    fault("poll", "unknown_status", count=-1)
    eng = engines(lambda: make_client(), max_parallel=1)
    first = eng.submit(pipelines.text_to_model("the first chair"))
    second = eng.submit(pipelines.text_to_model("the second chair"))
    wait_until(lambda: eng.get(first)["steps"][0].get("task_id"), what="first task")
    wait_until(lambda: fired(emulator, api_key, "poll", "unknown_status"), what="the first task polled")
    time.sleep(0.3)
    assert not eng.get(second)["steps"][0].get("task_id")
    started = time.monotonic()
    eng.shutdown(timeout=2.0)
    assert time.monotonic() - started < 5
    emulator.clear_faults()
    again = engines(lambda: make_client())
    again.resume()
    for job_id in (first, second):
        assert again.wait(job_id, WAIT)["state"] == "succeeded"
    assert task_posts(emulator, api_key) == 2


def test_pause_stops_a_poll_wait_at_once_and_resume_polls_again(emulator, api_key, make_client, engines):
    """Online access turned off while a job waits ~30 s for its next poll (on v3 in the batch poll hub): the worker
    stops within seconds, the task keeps its id; resume() follows the same task to success (no second POST)."""
    eng = engines(lambda: make_client(), poll_min=30.0, poll_max=60.0)
    job_id = eng.submit(pipelines.text_to_model("a chair paused mid-wait"))
    task_id = wait_until(lambda: eng.get(job_id)["steps"][0].get("task_id"), what="task id")
    time.sleep(0.3)  # the worker now waits ~30 s for its next poll
    started = time.monotonic()
    assert job_id in eng.pause()
    wait_until(lambda: not eng.is_running(job_id), timeout=10, what="worker stop")
    assert time.monotonic() - started < 5
    assert eng.get(job_id)["steps"][0]["task_id"] == task_id
    eng.poll_min, eng.poll_max = 0.05, 0.5
    wait_until(lambda: emulator.task(task_id).status == "success", what="task finished on the emulator")
    assert job_id in eng.resume()
    snap = eng.wait(job_id, WAIT)
    assert snap["state"] == "succeeded", snap.get("error")
    assert snap["steps"][0]["task_id"] == task_id and task_posts(emulator, api_key) == 1
