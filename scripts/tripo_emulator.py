#!/usr/bin/env python3
"""Run the local Tripo API emulator (v3 at the root, v2 under /v2/openapi) until killed (Ctrl-C / SIGTERM).

    .venv/bin/python scripts/tripo_emulator.py --port 8765 [--api v3|v2] [--time-scale 0.1] [--data-dir D]
        [--url-ttl 300] [--banned-word W ...] [--key tsk_... --balance N] [--strict-keys] [--rate-limit N]
        [--fault ROUTE:KIND[:VALUE][@COUNT] ...] [--no-s3] [--tasks-list-shape object|array]
        [--retention-days 7]

Prints the base URL of --api, both dialects' base URLs (v3: http://127.0.0.1:PORT, whose paths start with /v3/,
the value tripo3d 1.x takes as v3_base_url; v2: http://127.0.0.1:PORT/v2/openapi), the S3 endpoint and its CA
certificate file."""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1] / "tripo_emulator"

if __name__ != "__main__":
    # Imported as `tripo_emulator` because scripts/ is on sys.path before the repository root (tests/conftest.py,
    # scripts/demo.py): stand in for the real package so `from tripo_emulator import Emulator` works either way.
    _spec = importlib.util.spec_from_file_location(__name__, _PACKAGE / "__init__.py",
                                                   submodule_search_locations=[str(_PACKAGE)])
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[__name__] = _module
    _spec.loader.exec_module(_module)
else:
    sys.path.insert(0, str(_PACKAGE.parent))
    sys.modules.pop("tripo_emulator", None)


EPILOG = """fault injection (test-only):
  --fault ROUTE:KIND[:VALUE][@COUNT]   repeatable; COUNT = how many requests it hits (default 1, -1 = forever)
      ROUTE  create | poll | list | upload | presign | download | balance | usage | sts_token | any
             (the same names for v2 and v3: v3's upload is POST /v3/files and the presigned PUT)
      KIND   status (VALUE = HTTP status, default 500) | delay (VALUE = seconds) | drop | reset |
             truncate (VALUE = fraction of the body) | malformed_json | slow_body (VALUE = seconds) |
             fail_task (VALUE = failed|banned|expired|cancelled|unknown) | unknown_status | expire_urls
      e.g. --fault create:status:503  --fault poll:delay:2@-1  --fault create:fail_task:banned
  At run time, the loopback-only control routes do the same (see tripo_emulator/README.md):
      curl -X POST http://127.0.0.1:PORT/_emulator/faults -d '{"route": "create", "kind": "status", "status": 503,
           "code": 2000, "retry_after": 3}'
      curl http://127.0.0.1:PORT/_emulator/faults           # the rules in force (DELETE clears them)
      curl http://127.0.0.1:PORT/_emulator/requests          # the request log (route, api, status, fault, ...)
      curl -X DELETE http://127.0.0.1:PORT/_emulator/tasks/ID # forget one task now (as after the retention)
"""
FAULT_VALUE = {"status": ("status", int), "delay": ("seconds", float), "slow_body": ("seconds", float),
               "truncate": ("fraction", float), "fail_task": ("task_status", str)}


def parse_fault(spec: str) -> dict:
    """ROUTE:KIND[:VALUE][@COUNT] -> a fault rule (tripo_emulator.faults)."""
    spec, _, count = spec.partition("@")
    route, _, rest = spec.partition(":")
    kind, _, value = rest.partition(":")
    if not route or not kind:
        raise argparse.ArgumentTypeError(f"--fault {spec!r}: expected ROUTE:KIND[:VALUE][@COUNT]")
    rule: dict = {"route": route, "kind": kind, "count": int(count) if count else 1}
    if value:
        if kind not in FAULT_VALUE:
            raise argparse.ArgumentTypeError(f"--fault {spec!r}: {kind} takes no value")
        field, cast = FAULT_VALUE[kind]
        try:
            rule[field] = cast(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--fault {spec!r}: bad value {value!r}") from None
    return rule


def main(argv: list[str] | None = None) -> int:
    from tripo_emulator import Emulator

    ap = argparse.ArgumentParser(description=__doc__, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8765, help="HTTP port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--api", choices=("v3", "v2"), default="v3",
                    help="the dialect whose base URL is printed first (both are always served; default v3)")
    ap.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    ap.add_argument("--time-scale", type=float, default=1.0, help="multiply task durations (default 1.0)")
    ap.add_argument("--data-dir", type=Path, default=None, help="where files go (default: a temporary folder)")
    ap.add_argument("--url-ttl", type=float, default=300.0, help="lifetime of download URLs in seconds")
    ap.add_argument("--banned-word", action="extend", nargs="+", default=None, metavar="W",
                    help="prompt word(s) refused with 2008 (default: forbiddenword)")
    ap.add_argument("--key", action="extend", nargs="+", default=[], metavar="KEY",
                    help="create these accounts (tsk_...)")
    ap.add_argument("--balance", type=float, default=10_000, help="balance of the --key accounts")
    ap.add_argument("--strict-keys", action="store_true", help="unknown keys get 401/1002")
    ap.add_argument("--rate-limit", type=int, default=None, help="task creations per key per minute (1007)")
    ap.add_argument("--no-s3", action="store_true", help="do not start the S3 (moto) server (v2 STS uploads)")
    ap.add_argument("--tasks-list-shape", choices=("object", "array"), default="object",
                    help="answer of POST /v3/tasks/list: object = {tasks: {id: task}, missed} (Python SDK; default), "
                         "array = {tasks: [task, ...], missed} (Tripo's JS, Go and Rust SDKs)")
    ap.add_argument("--retention-days", type=float, default=7.0,
                    help="days a task record lives, scaled by --time-scale like every duration (default 7, as "
                         "Tripo); then GET answers 404/2001 and chaining from it is refused. 0: keep for ever")
    ap.add_argument("--fault", action="append", default=[], type=parse_fault, metavar="ROUTE:KIND[:VALUE][@COUNT]",
                    help="inject a fault (repeatable; see below)")
    args = ap.parse_args(argv)

    emu = Emulator(port=args.port, host=args.host, time_scale=args.time_scale, data_dir=args.data_dir,
                   url_ttl=args.url_ttl, banned_words=tuple(args.banned_word or ("forbiddenword",)),
                   strict_keys=args.strict_keys, rate_limit_per_minute=args.rate_limit, s3=not args.no_s3,
                   api=args.api, tasks_list_shape=args.tasks_list_shape,
                   retention_days=args.retention_days if args.retention_days > 0 else None)
    try:
        for rule in args.fault:
            emu.inject(**rule)
    except ValueError as e:
        emu.stop()
        ap.error(f"--fault: {e}")
    emu.start()
    for key in args.key:
        emu.add_account(key, args.balance)
    print(f"Tripo emulator: {emu.base_url}", flush=True)
    print(f"v3 base URL:    {emu.v3_base_url}   (paths /v3/...; tripo3d 1.x: v3_base_url=)", flush=True)
    print(f"v2 base URL:    {emu.v2_base_url}", flush=True)
    for rule in emu.faults.list():
        print(f"fault:          {rule}", flush=True)
    print(f"S3 endpoint:    {emu.s3_endpoint or '(disabled)'}", flush=True)
    if emu.s3_ca_file:
        print(f"S3 CA file:     {emu.s3_ca_file}   (e.g. AWS_CA_BUNDLE={emu.s3_ca_file})", flush=True)
    print(f"data dir:       {emu.data_dir}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        done.wait()
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
