"""Download body faults (test-only), registered at the end of faults.py and applied by Server._send:

  trickle   the real Content-Length, then the body one byte every ``seconds`` (default 0.5): a transfer that never
            really stalls and never ends in useful time
  endless   no Content-Length (chunked): the real body, then zeros for ever, as fast as the client reads
Both end when the client goes away (or the emulator stops).
"""

from __future__ import annotations

import time
from typing import Any

BODY_KINDS = ("trickle", "endless")
_ZEROS = b"\0" * 65536


def send(handler: Any, resp: Any, rule: Any, trace: str, chunks: Any) -> None:
    """Answer ``resp`` (a 200 file or body) through ``handler`` the way ``rule`` says."""
    handler.close_connection = True
    body = b"".join(chunks(resp, _total(resp), None))
    handler.send_response(resp.status)
    for k, v in resp.headers.items():
        handler.send_header(k, v)
    handler.send_header("X-Tripo-Trace-ID", trace)
    handler.send_header("Connection", "close")
    try:
        if rule.kind == "trickle":
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            pause = rule.seconds if rule.seconds is not None else 0.5
            for i in range(len(body)):
                handler.wfile.write(body[i:i + 1])
                handler.wfile.flush()
                time.sleep(pause)
            return
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        _chunk(handler, body)
        while True:
            _chunk(handler, _ZEROS)
    except (BrokenPipeError, ConnectionResetError, OSError):
        return


def _total(resp: Any) -> int:
    if resp.file is None:
        return len(resp.body)
    start, end = resp.file_range or (0, resp.file.stat().st_size - 1)
    return max(0, end - start + 1)


def _chunk(handler: Any, data: bytes) -> None:
    handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
