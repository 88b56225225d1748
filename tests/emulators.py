"""Start and stop a local Tripo emulator for a fixture (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def running(data_dir: Path, **options: Any) -> Iterator[Any]:
    """An emulator on a free port with its files under ``data_dir``, stopped on exit (options: Emulator's)."""
    from tripo_emulator import Emulator

    emu = Emulator(port=0, data_dir=data_dir, **options)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()
