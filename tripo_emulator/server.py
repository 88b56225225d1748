"""The HTTP server: Tripo v2 routes under /v2/openapi, v3 routes under /v3 (and presigned PUTs under /uploads),
signed file downloads under /files, and the test-only control routes under /_emulator. Faults are applied here,
around the route handlers."""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import body_faults
from .errors import ApiError
from .faults import Rule
from .v3 import routes as v3
from .web import BodyTooLarge, Request, Response, json_response, read_body

if TYPE_CHECKING:
    from .host import Host

API_PREFIX = "/v2/openapi"
ANSWER_FAULTS = ("status", "drop", "reset")  # fault kinds that replace the answer (after=True: once it took effect)
GATEWAY_PAGE = b"<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center></body></html>"


def route_of(method: str, path: str) -> str | None:
    """Fault/request-log route name for an API path."""
    if path.startswith("/files/"):
        return "download"
    if path.startswith(v3.PREFIX):
        return v3.route_of(method, path)
    if path.startswith(v3.PUT_PREFIX):
        return "upload"
    if not path.startswith(API_PREFIX):
        return None
    rest = path[len(API_PREFIX):].rstrip("/")
    if rest == "/task" and method == "POST":
        return "create"
    if rest.startswith("/task/") and method == "GET":
        return "poll"
    if rest in ("/upload", "/upload/sts") and method == "POST":
        return "upload"
    if rest == "/upload/sts/token" and method == "POST":
        return "sts_token"
    if rest == "/user/balance" and method == "GET":
        return "balance"
    return "other"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr: tuple[str, int], emu: Host) -> None:
        self.emu = emu
        self.connections: set[socket.socket] = set()
        super().__init__(addr, Handler)

    def close_connections(self) -> None:
        for conn in list(self.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass
        self.connections.clear()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "TripoEmulator/1.0"
    sys_version = ""
    timeout = 300          # idle keep-alive connections are closed after this
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.connections.discard(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the request log has everything
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    # ------------------------------------------------------------------------------------------ main
    def _handle(self) -> None:
        emu = self.server.emu
        started = time.time()
        split = urlsplit(self.path)
        trace = str(uuid.uuid4())
        try:
            body = read_body(self.rfile, self.headers)
        except (BodyTooLarge, ValueError):
            self._send(json_response({"code": 1004, "message": "Request body too large or unreadable.",
                                      "suggestion": ""}, 413, 1004), trace, close=True)
            return
        req = Request(self.command, split.path, parse_qs(split.query), self.headers, body, self.client_address[0])
        if split.path.startswith("/_emulator"):
            self._send(emu.control(req), trace)
            return
        route = route_of(req.method, req.path)
        info = emu.request_info(req, route)
        record = emu.log_request(req, route, info, started)
        rule = emu.faults.take(route, info) if route not in (None, "other") else None
        if rule is not None:
            record["fault"] = rule.kind
        if rule is not None and rule.kind == "delay":
            time.sleep(rule.seconds if rule.seconds is not None else 1.0)
        if rule is not None and not rule.after and rule.kind in ANSWER_FAULTS:
            self._fault_answer(rule, trace, record, info)
            return
        try:
            resp = emu.dispatch(req, route, info, rule)
        except ApiError as e:
            headers = {"Retry-After": str(e.retry_after)} if e.retry_after is not None else {}
            headers.update(e.headers)
            resp = json_response(_envelope(e.body(), info, trace), e.status, e.code, headers)
        except Exception as e:  # a bug in the emulator: answer like the service's 1000, keep serving
            resp = json_response(_envelope({"code": 1000, "message": f"Emulator error: {e!r}", "suggestion": ""},
                                           info, trace), 500, 1000)
        record.update(status=resp.status, code=resp.code, duration=round(time.time() - started, 4))
        if route == "create" and resp.status == 200:
            record["task_id"] = _created_id(resp)
        if rule is not None and rule.kind in ANSWER_FAULTS:
            self._fault_answer(rule, trace, record, info)
            return
        if rule is not None and rule.kind == "malformed_json":
            broken = resp.body[: max(1, len(resp.body) // 2)] if resp.body else b'{"code":0,"data":{'
            resp = Response(200, broken, {"Content-Type": "application/json"}, None)
            record.update(status=200, code=None)
        self._send(resp, trace, rule=rule)

    def _fault_answer(self, rule: Rule, trace: str, record: dict, info: dict) -> None:
        if rule.kind == "drop":
            record.update(status=None, code=None)
            self.close_connection = True
            return
        if rule.kind == "reset":
            record.update(status=None, code=None)
            self.close_connection = True
            self._reset()
            return
        status = rule.status or 500
        headers = {}
        if rule.retry_after is not None:
            headers["Retry-After"] = str(int(rule.retry_after) if float(rule.retry_after).is_integer()
                                         else rule.retry_after)
        if rule.code is not None:
            from .errors import ERRORS

            msg = rule.message or ERRORS.get(rule.code, (0, "Error.", ""))[1]
            resp = json_response(_envelope({"code": rule.code, "message": msg, "suggestion": "Injected fault."},
                                           info, trace), status, rule.code, headers)
        else:
            page = GATEWAY_PAGE.replace(b"{status}", f"{status} {self.responses.get(status, ('Error',))[0]}".encode())
            resp = Response(status, page, {"Content-Type": "text/html", **headers}, None)
        record.update(status=status, code=rule.code)
        self._send(resp, trace)

    def _reset(self) -> None:
        """Abort the connection now: with SO_LINGER (on, 0 s) the close sends a TCP RST instead of a FIN.

        The socket is really closed only once its reading file object is too, so that is closed first; the flushes
        of an empty wfile, finish() and socketserver's shutdown(SHUT_WR) afterwards find nothing to do."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.rfile.close()  # the file object that holds a reference to the socket (wfile writes through it)
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    # ------------------------------------------------------------------------------------------ output
    def _send(self, resp: Response, trace: str, *, rule: Rule | None = None, close: bool = False) -> None:
        if rule is not None and rule.kind in body_faults.BODY_KINDS and resp.status == 200:
            return body_faults.send(self, resp, rule, trace, _chunks)  # trickle / endless download bodies
        body = resp.body
        total = len(body)
        if resp.file is not None:
            start, end = resp.file_range or (0, resp.file.stat().st_size - 1)
            total = max(0, end - start + 1)
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("X-Tripo-Trace-ID", trace)
        self.send_header("Content-Length", str(total))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        limit = total
        if rule is not None and rule.kind == "truncate":
            limit = int(total * min(max(rule.fraction, 0.0), 0.99))
            self.close_connection = True
        pause = 0.0
        if rule is not None and rule.kind == "slow_body":
            pause = (rule.seconds if rule.seconds is not None else 2.0) / 10
        try:
            for chunk in _chunks(resp, limit, 10 if pause else None):
                self.wfile.write(chunk)
                if pause:
                    self.wfile.flush()
                    time.sleep(pause)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _created_id(resp: Response) -> str | None:
    """The task id a successful create answered with (logged with the request, v2 and v3 alike)."""
    try:
        return json.loads(resp.body)["data"]["task_id"]
    except (ValueError, KeyError, TypeError):
        return None


def _envelope(body: dict, info: dict, trace: str) -> dict:
    """v3 error bodies also carry "status": "error" and the request id."""
    if info.get("api") == "v3":
        return {**body, "status": "error", "request_id": trace}
    return body


def _chunks(resp: Response, limit: int, pieces: int | None):
    """The response body (bytes or a file range) up to `limit` bytes, in `pieces` parts or 1 MB chunks."""
    size = max(1, -(-limit // pieces)) if pieces else 1 << 20
    if resp.file is None:
        for i in range(0, limit, size):
            yield resp.body[i:min(i + size, limit)]
        return
    start = (resp.file_range or (0, 0))[0]
    with open(resp.file, "rb") as f:
        f.seek(start)
        left = limit
        while left > 0:
            data = f.read(min(size, left))
            if not data:
                break
            left -= len(data)
            yield data


