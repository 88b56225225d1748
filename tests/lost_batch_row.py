"""A headless batch of one row whose create's answer is lost (the emulator answers 503 after creating the task): the
engine, the runner and a client factory, shared by the batch's and the recovery tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from tripo_addon.api.client import TripoClient
from tripo_addon.jobs import batch
from tripo_addon.jobs.engine import Engine


def run_batch(runner, timeout: float = 60.0) -> None:
    """Tick the runner until every row is finished (fails the test after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not runner.finished():
        runner.tick()
        assert time.monotonic() < deadline, [vars(r) for r in runner.records()]
        time.sleep(0.05)


@contextlib.contextmanager
def lost_batch_row(tmp_path, emulator, api_key: str, prompt: str = "a stone lantern") -> Iterator[tuple]:
    """(engine, runner, client factory) after the row ran: its job needs attention, its task exists on Tripo."""
    def client() -> TripoClient:
        return TripoClient(api_key=api_key, base_url=emulator.v3_base_url, poll_min=0.05, poll_max=0.5)

    eng = Engine(client, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5,
                 journal_interval=0.0, keep_finished=None)
    try:
        (tmp_path / "r.txt").write_text(prompt + "\n", "utf-8")
        emulator.inject(route="create", kind="status", status=503, after=True, count=1, match={"key": api_key})
        runner = batch.BatchRunner(eng, batch.parse_rows(tmp_path / "r.txt"), tmp_path / "out")
        run_batch(runner)
        yield eng, runner, client
    finally:
        eng.shutdown(timeout=5)
