#!/usr/bin/env python3
"""Run the local Tripo v2 API emulator until killed.

    .venv/bin/python scripts/tripo_emulator.py --port 8765 [--time-scale 0.1] [--data-dir D] [--url-ttl 300]
        [--banned-word W ...] [--key tsk_... --balance N] [--strict-keys] [--rate-limit N]

Prints the base URL (http://127.0.0.1:PORT/v2/openapi), the S3 endpoint and its CA certificate file."""

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


def main(argv: list[str] | None = None) -> int:
    from tripo_emulator import Emulator

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8765, help="HTTP port on 127.0.0.1 (0: any free port)")
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
    ap.add_argument("--no-s3", action="store_true", help="do not start the S3 (moto) server")
    args = ap.parse_args(argv)

    emu = Emulator(port=args.port, host=args.host, time_scale=args.time_scale, data_dir=args.data_dir,
                   url_ttl=args.url_ttl, banned_words=tuple(args.banned_word or ("forbiddenword",)),
                   strict_keys=args.strict_keys, rate_limit_per_minute=args.rate_limit, s3=not args.no_s3)
    emu.start()
    for key in args.key:
        emu.add_account(key, args.balance)
    print(f"Tripo emulator: {emu.base_url}", flush=True)
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
