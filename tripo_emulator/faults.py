"""Fault injection rules, matched in order against each API request (test-only).

A rule: {"route": create|poll|upload|sts_token|balance|download|list|usage|presign|any (v2 and v3 alike: the
v3 "upload" is POST /v3/files and the PUT to a presigned URL; list, usage and presign exist only in v3; "poll"
also matches "list", the batch poll),
"kind": ..., "count": 1 (-1 = forever),
"match": {"type": <task type>, "path": <substring>, "key": <api key>, "owner": <api key of the task's account
(polls, downloads: signed URLs carry no key)>, "task_id": <id>, "method": "GET"}, ...}.
Kinds and their extra fields:
  status          status (HTTP, default 500), code (Tripo code; without it the body is a non-JSON gateway page),
                  message, retry_after (seconds, sets Retry-After), after (bool: process the request first)
  delay           seconds (default 1): sleep, then answer normally
  drop            after (bool): close the connection without any answer (after=True: the request took effect);
                  a clean close (FIN): the client sees the connection end
  reset           after (bool): abort the connection with a TCP RST (SO_LINGER 0, then close) without any answer;
                  the client sees "connection reset by peer"
  truncate        fraction (default 0.5): full Content-Length header, only part of the body, then close
  malformed_json  200 with a broken JSON body (the request took effect)
  slow_body       seconds (default 2): the body trickles out over that time
  fail_task       error_code, error_msg, task_status (failed|banned|expired|cancelled|unknown): the next matching
                  created task ends that way (credits refunded); error_code defaults by status as the live API's:
                  failed 1001, banned 2008, expired 2018, cancelled / unknown none (tasks.FINAL_ERRORS)
  unknown_status  the next matching GET /task answers (v3: also POST /v3/tasks/list) show status "unknown" (the task
                  itself is unaffected)
  expire_urls     URLs handed out by the matching GET /task (v3: also tasks/list) answers are already expired
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

ROUTES = ("create", "poll", "upload", "sts_token", "balance", "download", "list", "usage", "presign", "any")
KINDS = ("status", "delay", "drop", "reset", "truncate", "malformed_json", "slow_body", "fail_task", "unknown_status",
         "expire_urls")
ONLY_ON = {"fail_task": ("create",), "unknown_status": ("poll", "list"), "expire_urls": ("poll", "list")}
_ids = itertools.count(1)


@dataclass
class Rule:
    kind: str
    route: str = "any"
    count: int = 1
    match: dict[str, Any] = field(default_factory=dict)
    status: int | None = None
    code: int | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float | None = None
    after: bool = False
    fraction: float = 0.5
    error_code: int | None = None
    error_msg: str | None = None
    task_status: str | None = None
    id: int = 0
    hits: int = 0

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse_rule(data: dict) -> Rule:
    """A Rule from JSON (ValueError on anything unknown)."""
    if not isinstance(data, dict):
        raise ValueError("a fault rule must be an object")
    known = set(Rule.__dataclass_fields__) - {"id", "hits"}
    extra = set(data) - known
    if extra:
        raise ValueError(f"unknown fault fields: {sorted(extra)}")
    rule = Rule(**data)
    if rule.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if rule.route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}")
    if isinstance(rule.match, str):
        rule.match = {"type": rule.match}
    if not isinstance(rule.match, dict):
        raise ValueError("match must be an object")
    if rule.kind in ONLY_ON and rule.route not in ONLY_ON[rule.kind] + ("any",):
        raise ValueError(f"{rule.kind} applies to route {ONLY_ON[rule.kind][0]}")
    if rule.task_status not in (None, "failed", "banned", "expired", "cancelled", "unknown"):
        raise ValueError("task_status must be failed, banned, expired, cancelled or unknown")
    if not isinstance(rule.count, int) or rule.count == 0 or rule.count < -1:
        raise ValueError("count must be a positive integer or -1")
    rule.id = next(_ids)
    return rule


class Faults:
    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._lock = threading.Lock()

    def add(self, data: dict | Rule) -> Rule:
        rule = data if isinstance(data, Rule) else parse_rule(data)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        """Remove one rule by its id (e.g. to end a fault that was injected "forever"); False if it is gone."""
        with self._lock:
            for rule in self._rules:
                if rule.id == rule_id:
                    self._rules.remove(rule)
                    return True
        return False

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict]:
        with self._lock:
            return [r.to_dict() for r in self._rules]

    def take(self, route: str, info: dict[str, Any]) -> Rule | None:
        """The first rule matching this request (its count is used up), or None."""
        with self._lock:
            for rule in self._rules:
                if rule.route not in (route, "any") and not (rule.route == "poll" and route == "list"):
                    continue  # ("poll" covers v3's batch poll, POST /v3/tasks/list, too)
                if rule.kind in ONLY_ON and route not in ONLY_ON[rule.kind]:
                    continue
                if not _matches(rule.match, info):
                    continue
                rule.hits += 1
                if rule.count > 0:
                    rule.count -= 1
                    if rule.count == 0:
                        self._rules.remove(rule)
                return rule
        return None


def _matches(match: dict[str, Any], info: dict[str, Any]) -> bool:
    for k, want in match.items():
        have = info.get(k)
        if k == "path":
            if not isinstance(have, str) or str(want) not in have:
                return False
        elif k == "method":
            if str(have).upper() != str(want).upper():
                return False
        elif isinstance(want, list):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


# Download body faults (trickle, endless): tripo_emulator/body_faults.py, applied by Server._send.
from .body_faults import BODY_KINDS as _BODY_KINDS  # noqa: E402

KINDS = KINDS + _BODY_KINDS
