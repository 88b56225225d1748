"""API keys and credit accounts: balance, frozen credits, freeze / charge / refund."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from .errors import ApiError

KEY_RE = re.compile(r"^tsk_[A-Za-z0-9_\-]{1,200}$")
DEFAULT_BALANCE = 10_000


@dataclass
class Account:
    key: str
    balance: float
    frozen: float = 0
    priority: bool = False  # entitled to the optional task `priority` (else 403/2013)


class Accounts:
    """Thread-safe key -> Account registry. Unknown well-formed keys are auto-created unless strict."""

    def __init__(self, *, strict: bool = False, default_balance: float = DEFAULT_BALANCE) -> None:
        self.strict = strict
        self.default_balance = default_balance
        self._accounts: dict[str, Account] = {}
        self._lock = threading.RLock()

    def add(self, key: str, balance: float = DEFAULT_BALANCE, *, priority: bool | None = None) -> Account:
        """Create the account, or reset its balance if it exists (frozen credits kept).

        ``priority``: whether it may send a task ``priority`` (None: unchanged; new accounts are not entitled)."""
        if not KEY_RE.match(key or ""):
            raise ValueError(f"not a Tripo API key (tsk_...): {key!r}")
        with self._lock:
            acc = self._accounts.get(key)
            if acc is None:
                acc = self._accounts[key] = Account(key, _num(balance))
            else:
                acc.balance = _num(balance)
            if priority is not None:
                acc.priority = bool(priority)
            return acc

    def get(self, key: str) -> Account | None:
        with self._lock:
            return self._accounts.get(key)

    def authenticate(self, header: str | None) -> Account:
        """Account for an `Authorization: Bearer tsk_...` header, or 401/1002."""
        if not header:
            raise ApiError(1002, "Missing Authorization header.")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not KEY_RE.match(token):
            raise ApiError(1002, "Malformed Authorization header or API key.")
        with self._lock:
            acc = self._accounts.get(token)
            if acc is None:
                if self.strict:
                    raise ApiError(1002, "Unknown API key.")
                acc = self._accounts[token] = Account(token, self.default_balance)
            return acc

    def freeze(self, acc: Account, amount: float) -> None:
        """Move `amount` from balance to frozen, or 403/2010 when short."""
        with self._lock:
            if acc.balance < amount:
                raise ApiError(2010, f"Needs {_fmt(amount)} credits, balance is {_fmt(acc.balance)}.")
            acc.balance = _num(acc.balance - amount)
            acc.frozen = _num(acc.frozen + amount)

    def charge(self, acc: Account, amount: float) -> None:
        """A frozen amount is spent (task succeeded)."""
        with self._lock:
            acc.frozen = _num(max(0.0, acc.frozen - amount))

    def refund(self, acc: Account, amount: float) -> None:
        """A frozen amount goes back to the balance (task failed)."""
        with self._lock:
            acc.frozen = _num(max(0.0, acc.frozen - amount))
            acc.balance = _num(acc.balance + amount)

    def snapshot(self, acc: Account) -> dict:
        with self._lock:
            return {"balance": acc.balance, "frozen": acc.frozen}


def _num(x: float) -> float | int:
    """Keep whole numbers as ints so balances look like the real service's integers."""
    x = round(float(x), 4)
    return int(x) if x.is_integer() else x


def _fmt(x: float) -> str:
    return str(_num(x))
