"""Tripo's live API v3 (``https://openapi.tripo3d.ai``, one route per capability): :mod:`.wire` (routes, bodies,
envelope, statuses, outputs, errors keyed on the HTTP status), :mod:`.uploads` (``POST /v3/files`` and presigned
PUTs), :mod:`.dialect` (the two composed), :mod:`.catalog` and :mod:`.rules` (its task types and model versions)."""
