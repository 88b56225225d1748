"""Tripo's API v2 (``/v2/openapi``, retired by Tripo on 2026-10-31; kept for the emulator, older private deployments
and the seed's contract): :mod:`.wire` (routes, bodies, envelope, statuses, outputs), :mod:`.uploads` (direct and
STS uploads), :mod:`.dialect` (the two composed), :mod:`.catalog` and :mod:`.rules` (its 16 task types)."""
