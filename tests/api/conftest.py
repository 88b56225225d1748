"""Fixtures for the api tests (the v2 tier of the API layer: every client here speaks v2 to the emulator's v2 URL):
faults scoped to the test's own key, a client factory, sample inputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_helpers import make_glb, make_image, v2_url_of  # noqa: E402


@pytest.fixture
def v2_url(emulator) -> str:
    """The emulator's v2 URL: ``emulator.base_url`` if it ends with /v2/openapi, else ``root_url + /v2/openapi``."""
    return v2_url_of(emulator)


@pytest.fixture
def client(v2_url, api_key):
    """A v2 client (fast polling) on this test's account."""
    from tripo_addon.api.client import TripoClient

    c = TripoClient(api_key=api_key, base_url=v2_url, poll_min=0.05, poll_max=0.5)
    assert c.api == "v2"
    yield c
    c.close()


@pytest.fixture
def make_client(v2_url, api_key):
    """v2 TripoClient factory (fast polling, fast retries); every client is closed at teardown."""
    from tripo_addon.api.client import TripoClient

    made = []

    def make(**kw):
        kw.setdefault("api_key", api_key)
        kw.setdefault("base_url", v2_url)
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
