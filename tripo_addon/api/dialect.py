"""What every API dialect provides, and what it (and the modules below the client) needs of a client: the
registry of dialects is :mod:`.dialects`.

A dialect (``api/v2``: Tripo's retired v2 API; ``api/v3``: the live one) owns everything that differs on the wire:
routes, request bodies, the answer envelope, error mapping, task statuses and output keys, and the upload flow.
The client talks only to a :class:`Dialect`; everything above the client sees task types, parameters,
:class:`~tripo_addon.api.inputs.Input` values and semantic outputs (:mod:`~tripo_addon.api.outputs`).

The API URL alone decides the dialect: a URL ending in ``/v2/openapi`` speaks v2, anything else v3.
"""

from __future__ import annotations

import json
import math
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import TripoAPIError
from .inputs import Input
from .models import Balance, Task
from .params import Catalog

if TYPE_CHECKING:  # pragma: no cover
    import requests

GLOBAL_URL = "https://openapi.tripo3d.ai"
CHINA_URL = "https://openapi.tripo3d.com"
V2_SUFFIX = "/v2/openapi"
#: Where a user gets an API key today (tripo-api-v3.md §1).
KEY_CONSOLE = "https://developers.tripo3d.ai"


def api_of(base_url: str) -> str:
    """"v2" for a URL ending in /v2/openapi, else "v3"."""
    return "v2" if base_url.rstrip("/").endswith(V2_SUFFIX) else "v3"


@dataclass(frozen=True)
class UsageRow:
    """One task of the account's history (v3 ``account/usage``)."""

    task_id: str
    type: str
    status: str
    created: float | None
    credits: float | None


@dataclass(frozen=True)
class Pool:
    """A per-account concurrency pool: tasks of a pool beyond ``limit`` wait (Tripo answers 429/2000)."""

    name: str
    limit: int


class Client(Protocol):
    """One account's session (auth, retries, transport options) and its task calls."""

    api: str
    base_url: str
    dialect: Dialect
    dialect_state: dict[str, Any]
    timeout: tuple[float, float]
    max_retries: int
    user_agent: str
    proxies: dict[str, str] | None
    ca_bundle: str | None
    _session: requests.Session
    _closed: bool

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[Any, str | None]: ...

    def transport_options(self, url: str) -> dict[str, Any]: ...

    def _sleep(self, seconds: float, cancel: threading.Event | None) -> None: ...

    def _check_cancel(self, cancel: threading.Event | None) -> None: ...

    def _retry_delay(self, attempt: int, retry_after: float | None = None) -> float: ...

    def get_task(self, task_id: str, *, cancel: threading.Event | None = None) -> Task: ...

    def create_task(self, task_type: str, values: Mapping[str, Any], *,
                    cancel: threading.Event | None = None) -> Task: ...

    def upload(self, path: str | os.PathLike, *, mesh: bool | None = None, method: str = "auto",
               cancel: threading.Event | None = None, progress: Any = None) -> Input: ...


class Dialect(ABC):
    """Routes, bodies, envelope, errors, statuses, outputs and uploads of one Tripo API version."""

    name: str = ""
    default_base_url: str = ""
    trace_header = "X-Tripo-Trace-ID"
    catalog: Catalog
    #: Most task ids one batch poll may carry (0: no batch route).
    batch_limit = 0
    #: Codes with which Tripo refuses a create that did not happen and may succeed later.
    create_retry_codes: frozenset[int] = frozenset({2000, 1007})

    # -------------------------------------------------------------------------------------- requests
    @abstractmethod
    def create_request(self, task_type: str, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Route and JSON body that create a task from validated values (:meth:`Catalog.build`)."""

    @abstractmethod
    def task_path(self, task_id: str) -> str: ...

    balance_path: str = ""

    def list_request(self, task_ids: list[str]) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError(f"API {self.name} has no batch task query")

    def tasks_from_list(self, data: Any, *, trace_id: str | None = None) -> tuple[dict[str, Task], list[str]]:
        raise NotImplementedError(f"API {self.name} has no batch task query")

    def usage_path(self, limit: int, offset: int) -> str:
        raise NotImplementedError(f"API {self.name} has no account usage")

    def usage_from(self, data: Any) -> list[UsageRow]:
        raise NotImplementedError(f"API {self.name} has no account usage")

    def request_headers(self) -> dict[str, str]:
        """Extra headers for every API request (not uploads or downloads)."""
        return {}

    # -------------------------------------------------------------------------------------- answers
    @staticmethod
    def parse_json(body: bytes) -> Any:
        """The JSON document of a body; ValueError when it is not JSON (NaN/Infinity refused)."""
        if not body:
            raise ValueError("empty body")
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)

    @abstractmethod
    def is_success(self, status: int, doc: Any) -> bool: ...

    @abstractmethod
    def is_error_envelope(self, doc: Any) -> bool: ...

    @abstractmethod
    def error_from(self, status: int, doc: Any, *, trace_id: str | None = None,
                   retry_after: float | None = None) -> TripoAPIError: ...

    def request_id(self, doc: Any, trace_id: str | None) -> str | None:
        """The id Tripo's support asks for (a header or a field of the answer)."""
        return trace_id

    @abstractmethod
    def task_id_from(self, data: Any) -> str: ...

    @abstractmethod
    def task_from(self, data: Any, *, trace_id: str | None = None) -> Task: ...

    def balance_from(self, data: Any) -> Balance:
        """``{balance, frozen}`` (both versions; decimals on v3)."""
        bal = number(data.get("balance")) if isinstance(data, Mapping) else None
        if bal is None:
            raise ValueError("no balance in the answer")
        return Balance(balance=bal, frozen=number(data.get("frozen"), lo=0) or 0.0)

    # -------------------------------------------------------------------------------------- uploads, pools
    @abstractmethod
    def upload(self, client: Client, path: str | os.PathLike, *, mesh: bool, method: str = "auto",
               cancel: threading.Event | None = None,
               progress: Callable[[int, int | None], None] | None = None) -> Input:
        """Upload a checked local file; the Input that refers to it."""

    def pools(self, task_type: str, values: Mapping[str, Any] | None = None) -> tuple[Pool, ...]:
        """The account concurrency pools a task of this type counts against, in a fixed acquisition order."""
        return (Pool("tasks", 10),)

    def output_input(self, task_id: str, url: str | None, ext: str | None) -> Input:
        """How a later task of the same job refers to an earlier task's file output."""
        from .inputs import task_output

        return task_output(task_id, url, ext)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def number(value: Any, *, lo: float | None = None, hi: float | None = None) -> float | None:
    """A finite number from an answer (bools, NaN, infinities and out-of-range values give None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        f = float(value)
    except (OverflowError, ValueError):
        return None
    if not math.isfinite(f) or (lo is not None and f < lo) or (hi is not None and f > hi):
        return None
    return f


def text(value: Any, limit: int = 2000) -> str | None:
    """A string from an answer, cut to ``limit`` characters with a marker; None for non-strings."""
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[:limit] + " [... cut]"
