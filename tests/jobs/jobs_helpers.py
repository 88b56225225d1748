"""Helpers for the job-engine tests: a test-paced client, faults scoped to one key, the emulator's create log."""

from __future__ import annotations

from typing import Any

from tripo_addon.api.client import TripoClient

WAIT = 60.0  # generous: no timing assert tighter than a few seconds


def make_client(emulator, key: str, base_url: str | None = None, **kw: Any) -> TripoClient:
    """A real TripoClient on the emulator that polls and retries at test pace."""
    opts: dict[str, Any] = {"poll_min": 0.05, "poll_max": 0.5, "retry_base": 0.02, "retry_cap": 0.1, **kw}
    return TripoClient(api_key=key, base_url=base_url or emulator.base_url, **opts)


def inject(emulator, api_key: str, route: str, kind: str, **fields: Any) -> dict:
    """A fault on ``route`` that hits only this key's requests (``match`` adds conditions)."""
    return emulator.inject(route=route, kind=kind, match={"key": api_key, **fields.pop("match", {})}, **fields)


def posts(emulator, api_key: str) -> list[dict]:
    """Create requests of this key in the emulator's log (refused ones included)."""
    return [r for r in emulator.requests(method="POST", key=api_key) if r.get("route") == "create"]
