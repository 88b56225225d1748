"""Count socket-layer calls and HTTP requests per thread (to prove the main thread never touches the network).

``install()`` wraps, process-wide: ``socket.socket`` methods connect, connect_ex, send, sendall, sendto, recv,
recv_into, recvfrom, recvfrom_into, makefile; ``socket.create_connection``; ``socket.getaddrinfo``; and
``http.client.HTTPConnection.putrequest`` (one per HTTP request, whatever library sends it). Counts are kept per
thread name, with the wall time spent inside the calls. ``snapshot()`` copies them; ``diff(a, b)`` subtracts.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import defaultdict

_lock = threading.Lock()
# thread name -> op -> [calls, seconds]
_counts: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0]))
_installed = False
MAIN = "MainThread"

SOCKET_METHODS = ("connect", "connect_ex", "send", "sendall", "sendto", "recv", "recv_into", "recvfrom",
                  "recvfrom_into", "makefile")
#: Calls that mean "this thread talks to the network" (makefile alone does not block).
BLOCKING = ("connect", "connect_ex", "send", "sendall", "sendto", "recv", "recv_into", "recvfrom", "recvfrom_into",
            "create_connection", "getaddrinfo")


def _record(op: str, dt: float) -> None:
    name = threading.current_thread().name
    with _lock:
        c = _counts[name][op]
        c[0] += 1
        c[1] += dt


def _wrap(fn, op):
    def wrapper(*a, **kw):
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            _record(op, time.perf_counter() - t)

    wrapper.__name__ = getattr(fn, "__name__", op)
    wrapper.__wrapped__ = fn
    return wrapper


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    for name in SOCKET_METHODS:
        orig = getattr(socket.socket, name)
        setattr(socket.socket, name, _wrap(orig, name))
    socket.create_connection = _wrap(socket.create_connection, "create_connection")
    socket.getaddrinfo = _wrap(socket.getaddrinfo, "getaddrinfo")
    http.client.HTTPConnection.putrequest = _wrap(http.client.HTTPConnection.putrequest, "http_request")


def snapshot() -> dict[str, dict[str, list[float]]]:
    with _lock:
        return {t: {op: list(v) for op, v in ops.items()} for t, ops in _counts.items()}


def diff(after: dict, before: dict) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    for t, ops in after.items():
        for op, (n, s) in ops.items():
            n0, s0 = before.get(t, {}).get(op, [0, 0.0])
            if n - n0:
                out.setdefault(t, {})[op] = [n - n0, s - s0]
    return out


def blocking_calls(counts: dict, thread: str = MAIN) -> tuple[int, float]:
    """(number of blocking socket calls, seconds inside them) made by ``thread``."""
    ops = counts.get(thread, {})
    n = sum(int(ops[o][0]) for o in BLOCKING if o in ops)
    s = sum(float(ops[o][1]) for o in BLOCKING if o in ops)
    return n, s


def per_thread_total(counts: dict, op: str, prefix: str) -> dict[str, int]:
    """{thread name: calls of ``op``} for threads whose name starts with ``prefix``."""
    return {t: int(ops[op][0]) for t, ops in counts.items() if t.startswith(prefix) and op in ops}
