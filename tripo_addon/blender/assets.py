"""What happens to every imported result besides the import (issue 19): its lineage, then its copy in the Tripo
asset library (when one is registered). :func:`after_import` is called by job_import after each import."""

from __future__ import annotations

import logging

from . import assets_library, assets_lineage

log = logging.getLogger(__name__)


def after_import(snap: dict, result) -> None:
    """Main thread, right after ``result`` landed. Never raises: the import itself has succeeded."""
    assets_lineage.after_import(snap, result)
    try:
        assets_library.save_result(snap, result)
    except Exception:  # noqa: BLE001 - a library that cannot be written never undoes an import
        log.exception("Tripo: job %s could not be saved to the asset library", snap.get("id"))
