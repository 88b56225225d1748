"""Fixtures for the api tests: faults scoped to the test's own key, a client factory, sample inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_helpers import make_glb, make_image  # noqa: E402


@pytest.fixture
def fault(emulator, api_key):
    """inject(route, kind, **fields) matched on this test's key only (cleared at teardown)."""

    def inject(route: str, kind: str, **fields):
        match = {"key": api_key, **fields.pop("match", {})}
        return emulator.inject(route=route, kind=kind, match=match, **fields)

    yield inject
    emulator.clear_faults()


@pytest.fixture
def make_client(emulator, api_key):
    """TripoClient factory (fast polling, fast retries); every client is closed at teardown."""
    from tripo_addon.api.client import TripoClient

    made = []

    def make(**kw):
        kw.setdefault("api_key", api_key)
        kw.setdefault("base_url", emulator.base_url)
        kw.setdefault("poll_min", 0.05)
        kw.setdefault("poll_max", 0.5)
        kw.setdefault("retry_base", 0.02)
        kw.setdefault("retry_cap", 0.2)
        c = TripoClient(**kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory):
    """Real-time task durations and no S3: tasks stay queued/running for the whole test (deterministic limits)."""
    from tripo_emulator import Emulator

    emu = Emulator(port=0, time_scale=1.0, data_dir=tmp_path_factory.mktemp("slow-emulator"), s3=False)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def fast(make_client):
    """A client with fast retries (back-off base 20 ms)."""
    return make_client()


@pytest.fixture
def png(tmp_path) -> Path:
    return make_image(tmp_path / "input.png", "PNG", (64, 64))


@pytest.fixture
def glb(tmp_path) -> Path:
    return make_glb(tmp_path / "mesh.glb")
