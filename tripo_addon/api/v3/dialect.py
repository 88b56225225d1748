"""API v3 as one :class:`~tripo_addon.api.dialect.Dialect`: its wire format (:mod:`.wire`) and its uploads
(:mod:`.uploads`), composed here so neither imports the other."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import uploads
from .wire import WireV3

if TYPE_CHECKING:  # pragma: no cover
    from ..dialect import Client
    from ..inputs import Input


class DialectV3(WireV3):
    """v3's routes and bodies, and its upload flow."""

    def upload(self, client: Client, path: str | os.PathLike, *, mesh: bool, method: str = "auto",
               cancel: threading.Event | None = None,
               progress: Callable[[int, int | None], None] | None = None) -> Input:
        """``POST /v3/files`` up to 50 MB, a presigned PUT above (or with ``method="presign"``)."""
        return uploads.upload(client, path, mesh=mesh, method=method, cancel=cancel, progress=progress)


DIALECT = DialectV3()
