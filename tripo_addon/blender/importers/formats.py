"""Result formats as Tripo returns them (tripo-api-v3.md §18): OBJ conversions come back as a ZIP (R10), whatever the
downloaded file is called; ``auto_size`` results are already at real-world size (R6), so the import's Target Size
does not scale them again (nor results made from them: Tripo bakes the size in when it converts, rigs or retargets).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import bpy

from ...jobs import results as result_files
from .. import scene_io

AUTO_SIZE = "tripo_auto_size"
_ZIP_MAGIC = b"PK\x03\x04"


def auto_sized(snap: dict) -> bool:
    """True when a step of the job asked for auto_size, or its source objects came from such a result."""
    for step in snap.get("steps") or []:
        if (step.get("params") or {}).get("auto_size") is True:
            return True
    for name in (snap.get("meta") or {}).get("source_objects") or []:
        obj = bpy.data.objects.get(name)
        if obj is not None and obj.get(AUTO_SIZE):
            return True
    return False


def unzip_misnamed(files: list[str]) -> list[str]:
    """Files with any ZIP (an OBJ conversion: mesh, mtl, textures) replaced by its members, even when the download
    is not named ``.zip`` (extracted once, with the checked extractor)."""
    out: list[str] = []
    for f in files:
        p = Path(f)
        if p.suffix.lower() != ".zip" and p.is_file():
            try:
                with p.open("rb") as fh:
                    head = fh.read(4)
            except OSError:
                head = b""
            if head == _ZIP_MAGIC:
                try:
                    out.extend(str(m) for m in sorted(result_files.extract(p)))
                except Exception as exc:  # noqa: BLE001 - a bad archive is the user's to see
                    raise scene_io.ImportFailed(f"{p.name} is a ZIP that could not be unpacked ({exc}).") from exc
                continue
        out.append(f)
    return out


def prepare(context, snap: dict, files: list[str], options: scene_io.ImportOptions,
            provenance: dict | None = None) -> tuple[list[str], scene_io.ImportOptions]:
    """The files to import and the options to import them with; marks auto-sized results in ``provenance``."""
    files = unzip_misnamed(list(files))
    if auto_sized(snap):
        options = dataclasses.replace(options, target_size=0.0)
        if provenance is not None:
            provenance[AUTO_SIZE] = True
    return files, options
