"""Fixtures for the emulator's own tests (the session `emulator` and `api_key` come from tests/conftest.py)."""

from __future__ import annotations

import uuid

import pytest

from .helpers import run


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory):
    """Real-time durations (time_scale 1) and no S3: tasks stay queued/running for the whole test."""
    from tripo_emulator import Emulator

    emu = Emulator(port=0, time_scale=1.0, data_dir=tmp_path_factory.mktemp("slow"), s3=False)
    emu.start()
    yield emu
    emu.stop()


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

