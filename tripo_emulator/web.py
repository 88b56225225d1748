"""HTTP plumbing: request/response records, body reading (Content-Length or chunked), multipart parsing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

MAX_BODY = 220 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any
    body: bytes
    client: str
    _json: Any = field(default=None, repr=False)
    _json_done: bool = field(default=False, repr=False)

    def json(self) -> Any:
        """Parsed JSON body; raises ValueError when it is not JSON."""
        if not self._json_done:
            self._json = json.loads(self.body.decode("utf-8")) if self.body.strip() else None
            self._json_done = True
        return self._json

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except (ValueError, UnicodeDecodeError):
            return None

    def q(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[0] if v else default


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    code: int | None = None            # Tripo code in the JSON body, for the request log
    file: Any = None                   # a Path streamed instead of body (downloads)
    file_range: tuple[int, int] | None = None


def json_response(data: Any, status: int = 200, code: int | None = 0, headers: dict | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return Response(status, body, h, code)


def ok(data: Any) -> Response:
    return json_response({"code": 0, "data": data})


def read_body(rfile, headers) -> bytes:
    """The request body by Content-Length or chunked transfer coding."""
    te = (headers.get("Transfer-Encoding") or "").lower()
    if "chunked" in te:
        out = bytearray()
        while True:
            line = rfile.readline(65537)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY:
                raise BodyTooLarge()
            out += rfile.read(size)
            rfile.readline(3)
    length = int(headers.get("Content-Length") or 0)
    if length > MAX_BODY:
        raise BodyTooLarge()
    return rfile.read(length) if length else b""


def parse_multipart(content_type: str, body: bytes) -> dict[str, dict[str, Any]]:
    """name -> {"filename", "content_type", "data"} for a multipart/form-data body."""
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ValueError("not a multipart body")
    out = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        out[name] = {"filename": part.get_filename(), "content_type": part.get_content_type(),
                     "data": part.get_payload(decode=True) or b""}
    return out
