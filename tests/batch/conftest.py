"""Fixtures for the batch tests: an engine on the session's emulator (bpy-free), rows files."""

from __future__ import annotations

import pytest


@pytest.fixture
def engine_factory(emulator, api_key, tmp_path):
    """new(state="state") -> an Engine on this test's account (shut down at teardown)."""
    from tripo_addon.api.client import TripoClient
    from tripo_addon.jobs.engine import Engine

    made = []

    def client():
        return TripoClient(api_key=api_key, base_url=emulator.base_url, poll_min=0.05, poll_max=0.5,
                           ca_bundle=emulator.s3_ca_file)

    def new(state: str = "state", **kw):
        kw.setdefault("poll_min", 0.05)
        kw.setdefault("poll_max", 0.5)
        kw.setdefault("journal_interval", 0.0)
        eng = Engine(client, tmp_path / state, tmp_path / "downloads", keep_finished=None, **kw)
        made.append(eng)
        return eng

    new.client = client
    yield new
    for eng in made:
        eng.shutdown(timeout=5)
