"""Zip results, extracted once by the worker that downloaded them (with the api's checked extractor), never on
Blender's main thread at import nor again on every Import Again. No bpy here."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..api import downloads

MARKER = ".tripo-extracted.json"


def extract_dir(zip_path: str | os.PathLike) -> Path:
    """Where a result zip's members go: ``<name>_files`` next to it."""
    p = Path(zip_path)
    return p.with_name(p.stem + "_files")


def extracted(zip_path: str | os.PathLike) -> list[Path] | None:
    """The members of a zip already extracted (all still there), else None."""
    root = extract_dir(zip_path)
    try:
        names = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(names, list):
        return None
    files = [root / str(n) for n in names]
    return files if all(f.is_file() for f in files) else None


def record(zip_path: str | os.PathLike, files: list[Path]) -> None:
    """Write the marker that says the zip's members are in place (written last, atomically)."""
    root = extract_dir(zip_path).resolve()
    names = sorted(str(Path(f).resolve().relative_to(root)).replace(os.sep, "/") for f in files)
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(json.dumps(names), encoding="utf-8")
    os.replace(tmp, root / MARKER)


def extract(zip_path: str | os.PathLike) -> list[Path]:
    """Extract a downloaded zip once (checked: no absolute paths, ``..``, links or bombs). Returns its files."""
    done = extracted(zip_path)
    if done is not None:
        return done
    files = downloads.safe_extract(zip_path, extract_dir(zip_path))
    record(zip_path, files)
    return files
