"""API v2 as one :class:`~tripo_addon.api.dialect.Dialect`: its wire format (:mod:`.wire`) and its uploads
(:mod:`.uploads`: direct and STS), composed here so the wire never imports the uploads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import uploads
from .wire import WireV2

if TYPE_CHECKING:  # pragma: no cover
    from ..dialect import Client
    from ..inputs import Input


class DialectV2(WireV2):
    """v2's routes and bodies, and its upload flow."""

    def upload(self, client: Client, path: str | os.PathLike, *, mesh: bool, method: str = "auto",
               cancel: threading.Event | None = None,
               progress: Callable[[int, int | None], None] | None = None) -> Input:
        """Images go directly (``POST /upload/sts``); models, or ``method="sts"``, through STS + S3."""
        if mesh or method == "sts":
            return uploads.upload_sts(client, path, cancel=cancel, progress=progress)
        return uploads.upload_image(client, path, cancel=cancel)


DIALECT = DialectV2()
