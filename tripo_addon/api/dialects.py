"""Which :class:`~tripo_addon.api.dialect.Dialect` an API version or a URL speaks (the registry of ``v2/``, ``v3/``).

The API URL alone decides: a URL ending in ``/v2/openapi`` speaks v2, anything else v3.
"""

from __future__ import annotations

from .dialect import Dialect, api_of

__all__ = ["api_of", "by_name", "dialect_for"]


def dialect_for(base_url: str) -> Dialect:
    """The dialect a base URL speaks."""
    return by_name(api_of(base_url))


def by_name(api: str) -> Dialect:
    """The dialect of an API version ("v2" or "v3"); v2 (and boto3 with it) is loaded only when asked for."""
    if api == "v2":
        from .v2.dialect import DIALECT as V2

        return V2
    from .v3.dialect import DIALECT as V3

    return V3
