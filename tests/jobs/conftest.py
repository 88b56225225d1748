"""Fixtures for the job-engine tests: a client factory and an Engine on the session's emulator."""

from __future__ import annotations

import pytest
from jobs_helpers import make_client

from tripo_addon.jobs.engine import Engine


@pytest.fixture
def client_options() -> dict:
    """Extra TripoClient options for :func:`factory` (a module overrides this fixture to change them)."""
    return {}


@pytest.fixture
def factory(emulator, api_key, client_options):
    """Makes a test-paced TripoClient for this test's key (what the Engine calls per worker)."""
    return lambda: make_client(emulator, api_key, **client_options)


@pytest.fixture
def engine(factory, tmp_path):
    """An Engine with its journal and downloads under tmp_path, shut down after the test."""
    eng = Engine(factory, tmp_path / "state", tmp_path / "downloads", poll_min=0.05, poll_max=0.5)
    yield eng
    eng.shutdown(timeout=5)
