"""Fixtures for the reliability tests (faults, restarts, bad input, secrets, shutdown).

They reuse the session emulator and the per-test account from tests/conftest.py. Fault rules are always matched on
the test's own key, so a rule left behind can never hit another test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from emulators import running

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def make_client(emulator, api_key):
    """TripoClient factory with test-friendly polling; every client made is closed at teardown."""
    from tripo_addon.api.client import TripoClient

    made = []

    def make(**kw):
        kw.setdefault("api_key", api_key)
        kw.setdefault("base_url", emulator.base_url)
        kw.setdefault("poll_min", 0.05)
        kw.setdefault("poll_max", 0.5)
        kw.setdefault("ca_bundle", emulator.s3_ca_file)  # the emulator's S3 is TLS with its own CA: verified
        c = TripoClient(**kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def engines(tmp_path):
    """new(factory, name="a") -> an Engine with its own state dir under tmp_path (shut down at teardown)."""
    from tripo_addon.jobs.engine import Engine

    made = []

    def new(client_factory, state: str = "state", **kw):
        kw.setdefault("poll_min", 0.05)
        kw.setdefault("poll_max", 0.5)
        kw.setdefault("journal_interval", 0.0)
        eng = Engine(client_factory, tmp_path / state, tmp_path / "downloads", **kw)
        made.append(eng)
        return eng

    yield new
    for eng in made:
        eng.shutdown(timeout=5)


@pytest.fixture(scope="module")
def strict_emulator(tmp_path_factory):
    """A second emulator without S3 that refuses unknown keys (for wrong-key cases), speaking the suites' API."""
    import os

    with running(tmp_path_factory.mktemp("strict-emu"), time_scale=0.01, strict_keys=True, s3=False,
                 api=os.environ.get("TRIPO_TEST_API", "v3")) as emu:
        yield emu
