"""What the emulator's parts (HTTP server, control routes, v3 routes, account contexts) need of the
:class:`~tripo_emulator.emulator.Emulator` that owns them, declared as a Protocol so none imports emulator.py."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .accounts import Account, Accounts
    from .faults import Faults, Rule
    from .tasks import TaskStore
    from .web import Request, Response


class Host(Protocol):
    """The emulator as its parts see it."""

    host: str
    port: int
    data_dir: Path
    banned_words: tuple[str, ...]
    tasks_list_shape: str
    accounts: Accounts
    store: TaskStore
    faults: Faults
    _uploads: dict[str, tuple[Account, Path]]

    @property
    def root_url(self) -> str: ...

    @property
    def secret(self) -> bytes: ...

    # control routes
    def config(self) -> dict: ...

    def configure(self, **cfg: Any) -> dict: ...

    def add_account(self, key: str, balance: float = 10_000, *, priority: bool | None = None) -> None: ...

    def balance(self, key: str) -> dict: ...

    def set_strict_keys(self, strict: bool) -> None: ...

    def clear_faults(self) -> None: ...

    def requests(self, method: str | None = None, path: str | None = None, key: str | None = None, *,
                 route: str | None = None, api: str | None = None) -> list[dict]: ...

    def clear_requests(self) -> None: ...

    def forget(self, task_id: str) -> bool: ...

    # the HTTP server
    def control(self, req: Request) -> Response: ...

    def request_info(self, req: Request, route: str | None) -> dict[str, Any]: ...

    def log_request(self, req: Request, route: str | None, info: dict, started: float) -> dict: ...

    def dispatch(self, req: Request, route: str | None, info: dict, rule: Rule | None) -> Response: ...

    # the v3 routes and account contexts
    def rate_check(self, acc: Account) -> dict[str, str]: ...

    def context(self, acc: Account) -> Any: ...  # an AccountContext (validation.Context)

    def add_upload(self, token: str, acc: Account, path: Path) -> None: ...

    def sign(self, task_id: str, name: str, *, expired: bool = False) -> str: ...

    def resolve_url(self, path: str, query: dict[str, list[str]]) -> Path: ...
