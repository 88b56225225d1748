"""The validation Context of one account: its source tasks, uploaded files, S3 objects and input URLs, as the
emulator resolves them for a request body. Split from emulator.py."""

from __future__ import annotations

import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .accounts import Account
from .errors import ApiError, invalid
from .inputs import MAX_IMAGE_BYTES

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host
    from .tasks import Task


class AccountContext:
    """validation.Context for one account."""

    def __init__(self, emu: Host, acc: Account) -> None:
        self.emu, self.acc = emu, acc
        self.banned_words = emu.banned_words
        self.priority_entitled = acc.priority

    def source(self, task_id: Any) -> Task:
        return self.emu.store.get(self.acc, task_id)

    def image_token(self, token: str) -> bytes:
        entry = self.emu._uploads.get(token)
        if entry is None or entry[0] is not self.acc:
            raise ApiError(2019, "Unknown file_token.")
        return entry[1].read_bytes()

    def s3_object(self, bucket: str, key: str) -> bytes:
        data = self.emu.s3_get(bucket, key)
        if data is None:
            raise ApiError(2019, f"s3://{bucket}/{key} does not exist.")
        return data

    def fetch_url(self, url: str) -> bytes:
        parts = urlsplit(url)
        if parts.netloc == f"{self.emu.host}:{self.emu.port}" and parts.path.startswith("/files/"):
            try:
                return self.emu.resolve_url(parts.path, parse_qs(parts.query)).read_bytes()
            except ApiError:
                raise ApiError(2003, "The URL could not be downloaded (expired or invalid).") from None
        try:
            with urllib.request.urlopen(url, timeout=15) as r:
                data = r.read(MAX_IMAGE_BYTES + 1)
        except Exception as e:
            raise ApiError(2003, f"The URL could not be downloaded: {e}") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise invalid("The file at the URL is larger than 20 MB.")
        return data
