"""The Tripo emulator in a child process, as scripts/tripo_emulator.py runs it, plus three bench-only hooks.

    python bench/emu_proc.py --port 0 --time-scale X --data-dir D [--api v3|v2] [--key K ...] [--enterprise-limit N]

The emulator speaks both APIs on one port (v3 at its root, v2 under /v2/openapi, same accounts and tasks); ``--api``
picks which one ``base_url`` names (v3 by default, as the add-on's default).

Hooks (nothing in tripo_emulator is changed; they wrap it from the outside):
- every task's creation (with its deadline) and the moment it turns final are appended, with this machine's
  CLOCK_MONOTONIC (``time.monotonic()``, shared by all processes on Linux), to ``D/bench_events.jsonl``;
- a text_to_model task whose prompt contains ``BIGFILE<n>MB`` gets its GLB padded to n MB (a valid GLB: the binary
  buffer grows, nothing references the padding), so a large download is real and importable;
- accounts whose key starts with ``tsk_ent_`` get a concurrency limit of ``--enterprise-limit`` per group (Tripo
  raises limits for enterprise accounts; the bench needs 50 tasks really in flight at once);
- ``--jitter J`` stretches each task's run time by a random factor in [1 - J, 1 + J] (seeded): real tasks do not
  all last the same, and with identical durations every task would meet the client's polls at the same phase of
  the whole-second ``running_left_time``, turning a distribution into one repeated number.

Prints one JSON line ``{"base_url": ..., "v3_base_url": ..., "v2_base_url": ..., "root_url": ..., "data_dir": ...}``
when ready; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import re
import signal
import struct
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BIG_RE = re.compile(r"BIGFILE(\d+)MB")
ENT_PREFIX = "tsk_ent_"


def pad_glb(path: Path, target_bytes: int) -> int:
    """Grow a GLB's BIN chunk (and buffers[0].byteLength) so the file is about ``target_bytes``. Returns the size."""
    data = path.read_bytes()
    magic, version, _length = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67:
        return len(data)
    off, chunks = 12, []
    while off + 8 <= len(data):
        clen, ctype = struct.unpack_from("<II", data, off)
        chunks.append((ctype, data[off + 8: off + 8 + clen]))
        off += 8 + clen
    doc = json.loads(chunks[0][1])
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == 0x004E4942 else b""
    extra = max(0, target_bytes - len(data))
    extra -= extra % 4
    binary = binary + bytes(extra)
    if doc.get("buffers"):
        doc["buffers"][0]["byteLength"] = len(binary)
    else:
        doc["buffers"] = [{"byteLength": len(binary)}]
    js = json.dumps(doc, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(binary), 0x004E4942) + binary
    out = struct.pack("<III", magic, version, 12 + len(body)) + body
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(out)
    tmp.replace(path)
    return len(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--key", action="append", default=[])
    ap.add_argument("--balance", type=float, default=10_000_000)
    ap.add_argument("--enterprise-limit", type=int, default=60)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--jitter", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--api", choices=("v3", "v2"), default="v3")
    args = ap.parse_args(argv)

    from tripo_emulator import Emulator
    from tripo_emulator import catalog as C
    from tripo_emulator import tasks as T

    tls = threading.local()
    limit = args.enterprise_limit

    class Limits(dict):
        def get(self, k, d=None):  # noqa: D401 - dict API
            return limit if getattr(tls, "ent", False) else dict.get(self, k, d)

    C.GROUP_LIMITS = Limits(C.GROUP_LIMITS)

    args.data_dir.mkdir(parents=True, exist_ok=True)
    events = open(args.data_dir / "bench_events.jsonl", "a", buffering=1, encoding="utf-8")
    elock = threading.Lock()

    def note(**rec) -> None:
        with elock:
            events.write(json.dumps(rec) + "\n")

    orig_produce = T.produce

    def produce(job):
        res = orig_produce(job)
        m = BIG_RE.search(str(job.params.get("prompt") or ""))
        if m:
            for name in res.outputs.values():
                if isinstance(name, str) and name.endswith(".glb"):
                    size = pad_glb(job.out_dir / name, int(m.group(1)) * 1024 * 1024)
                    note(ev="padded", id=job.task_id, file=name, size=size)
        note(ev="produced", id=job.task_id, t=time.monotonic())
        return res

    T.produce = produce

    emu = Emulator(port=args.port, time_scale=args.time_scale, data_dir=args.data_dir, s3=False,
                   workers=args.workers, api=args.api)
    store = emu.store
    rng = random.Random(args.seed)
    orig_create = store.create

    def create(acc, plan, forced=None):
        tls.ent = acc.key.startswith(ENT_PREFIX)
        try:
            task = orig_create(acc, plan, forced)
        finally:
            tls.ent = False
        if args.jitter > 0:
            with store.lock:
                task.run_s *= rng.uniform(1 - args.jitter, 1 + args.jitter)
                heapq.heappush(store._heap, (task.deadline, task.id))  # the scheduler finalizes at the new time
                store._wake.notify_all()
        note(ev="created", id=task.id, key=acc.key, type=task.type, t0=task.t0, deadline=task.deadline)
        return task

    store.create = create

    orig_finalize = store._maybe_finalize

    def maybe_finalize(task) -> bool:
        with store.lock:
            was = task.final
            final = orig_finalize(task)
            if final and not was:
                note(ev="final", id=task.id, status=task.status, t=time.monotonic(), deadline=task.deadline)
            return final

    store._maybe_finalize = maybe_finalize
    emu.start()
    for key in args.key:
        emu.add_account(key, args.balance)
    print(json.dumps({"base_url": emu.base_url, "v3_base_url": emu.v3_base_url, "v2_base_url": emu.v2_base_url,
                      "root_url": emu.root_url, "data_dir": str(emu.data_dir),
                      "pid": os.getpid()}), flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    parent = os.getppid()

    def orphan_watch() -> None:  # the bench was killed without stopping us: stop too
        while not done.wait(1.0):
            if os.getppid() != parent:
                done.set()

    threading.Thread(target=orphan_watch, name="orphan-watch", daemon=True).start()
    try:
        done.wait()
    finally:
        emu.stop()
        events.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
