"""Background: short network calls outside the job engine (balance, connection test, preview images) on a few
long-lived daemon threads; the main thread collects their results (``take()``, in ``drain()``)."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from . import catalog, settings


class Background:
    """Short network calls outside the job engine (balance, connection test, preview images).

    They run on at most :attr:`WORKERS` long-lived daemon threads, each keeping one TripoClient (so its kept-alive
    connection serves every later call: a preview per finished task costs one request, not a new connection). A
    thread started on the main thread costs milliseconds when the workers are busy (it waits for the GIL), so threads
    are started only when none is free, and leave after :attr:`IDLE_EXIT` seconds without work.

    ``start(kind, fn)`` queues ``fn(client)`` unless a call of that kind is already queued or running. Results come
    back through ``results`` as ``(kind, ok, value)``; ``drain()`` applies them.
    """

    WORKERS = 2
    IDLE_EXIT = 30.0

    def __init__(self) -> None:
        self.results: queue.Queue = queue.Queue()
        self._todo: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._kinds: set[str] = set()  # queued or running
        self._threads: set[threading.Thread] = set()
        self._free = 0  # threads waiting for work
        self._serial = 0

    def start(self, kind: str, fn) -> bool:
        with self._lock:
            if kind in self._kinds:
                return False
            self._kinds.add(kind)
            spawn = self._free == 0 and len(self._threads) < self.WORKERS
            if spawn:
                self._serial += 1
                t = threading.Thread(target=self._loop, name=f"tripo-background-{self._serial}", daemon=True)
                self._threads.add(t)
            else:
                self._free -= 1  # that thread is taken by this call
            self._todo.put((kind, fn))  # under the lock: an idle thread about to leave sees it and stays
        if spawn:
            t.start()
        return True

    def _loop(self) -> None:
        client = None
        version = None
        try:
            while True:
                try:
                    item = self._todo.get(timeout=self.IDLE_EXIT)
                except queue.Empty:
                    with self._lock:
                        if self._todo.empty():  # nothing was promised to this thread meanwhile
                            self._free -= 1
                            self._threads.discard(threading.current_thread())
                            return
                    continue
                if item is None:  # stop()
                    return
                kind, fn = item
                try:
                    if client is None or version != settings.config_version():
                        if client is not None:
                            client.close()
                            client = None
                        version = settings.config_version()
                        client = settings.make_client()
                    value = fn(client)
                except Exception as exc:
                    self.results.put((kind, False, _error_text(exc)))
                else:
                    self.results.put((kind, True, value))
                finally:
                    with self._lock:
                        self._kinds.discard(kind)
                        self._free += 1
                        self._idle.notify_all()
        finally:
            if client is not None:
                try:
                    client.close()
                except Exception:  # noqa: BLE001
                    pass
            with self._lock:
                self._threads.discard(threading.current_thread())
                self._idle.notify_all()

    def active(self) -> bool:
        with self._lock:
            return bool(self._kinds) or not self.results.empty()

    def join(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until every queued call has finished."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._kinds and time.monotonic() < deadline:
                self._idle.wait(min(0.1, max(0.0, deadline - time.monotonic())))

    def stop(self, timeout: float) -> None:
        """Let queued calls finish (``join``), then end the threads and close their clients."""
        self.join(timeout)
        with self._lock:
            threads = list(self._threads)
            self._free = 0
        for _ in threads:
            self._todo.put(None)
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def take(self) -> list[tuple[str, bool, Any]]:
        out = []
        while True:
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                return out


def _error_text(exc: Exception) -> str:
    msg = catalog.user_message(exc) if catalog.is_tripo_error(exc) else f"{type(exc).__name__}: {exc}"
    try:
        from ..api.errors import redact

        return redact(msg)
    except Exception:
        return type(exc).__name__
