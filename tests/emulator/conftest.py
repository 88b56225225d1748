"""Fixtures for the emulator's own tests (`api_key` comes from tests/conftest.py). Their `emulator` keeps v2 as its
`base_url`: the v2 tests speak `/v2/openapi` through it, the v3 tests use `emulator.v3_base_url` explicitly."""

from __future__ import annotations

import os
import uuid

import pytest
from emulators import running

from .helpers import run


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """The emulator for these tests, whatever TRIPO_TEST_API says (they choose their dialect by URL)."""
    scale = float(os.environ.get("TRIPO_TEST_TIME_SCALE", "0.01"))
    with running(tmp_path_factory.mktemp("emulator-own"), time_scale=scale, api="v2") as emu:
        yield emu


@pytest.fixture
def slow_key(slow_emulator) -> str:
    key = "tsk_slow_" + uuid.uuid4().hex
    slow_emulator.add_account(key, balance=100_000)
    return key


@pytest.fixture(scope="session")
def mkey(emulator) -> str:
    """An account shared by the emulator tests (for source tasks made once)."""
    key = "tsk_module_" + uuid.uuid4().hex
    emulator.add_account(key, balance=1_000_000)
    return key


@pytest.fixture(scope="session")
def model_task(emulator, mkey) -> dict:
    """A finished textured text_to_model task of a biped, owned by `mkey`."""
    return run(emulator, mkey, {"type": "text_to_model", "prompt": "a knight in armour", "model_seed": 11})


@pytest.fixture(scope="session")
def rig_task(emulator, mkey, model_task) -> dict:
    return run(emulator, mkey, {"type": "animate_rig", "original_model_task_id": model_task["task_id"]})


@pytest.fixture(scope="session")
def image_task(emulator, mkey) -> dict:
    return run(emulator, mkey, {"type": "text_to_image", "prompt": "a tin robot"})

