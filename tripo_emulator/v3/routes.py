"""The v3 routes (tripo-api-v3.md §4, §9-§10) at the emulator's root, over the same accounts, tasks, files, faults
and request log as /v2/openapi. Envelope {"code": 0, "status": "success", "data": ...}; errors carry
"status": "error" and "request_id" (server.py adds them)."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..errors import ApiError, invalid
from ..inputs import MAX_MODEL_BYTES, check_image
from ..web import Request, Response, json_response, parse_multipart
from . import catalog as V
from .validation import plan_for
from .view import iso, task_view

if TYPE_CHECKING:
    from ..accounts import Account
    from ..faults import Rule
    from ..host import Host

PREFIX = "/v3/"
PUT_PREFIX = "/uploads/"   # presigned PUT URLs (no API key)
PRESIGN_TTL = 1800


# (method, path after /v3/) -> route name, besides the create routes and GET tasks/{id} ("poll")
FIXED_ROUTES = {("POST", "tasks/list"): "list", ("POST", "files"): "upload", ("POST", "files/presign"): "presign",
                ("GET", "account/balance"): "balance", ("GET", "account/usage"): "usage"}


def route_of(method: str, path: str) -> str:
    """Fault / request-log route name of a /v3 path (dialect-neutral names, as in v2)."""
    rest = path[len(PREFIX):].rstrip("/")
    if rest in V.CREATE_ROUTES and method == "POST":
        return "create"
    if rest in V.RETIRED_ROUTES:
        return "retired"
    if (method, rest) in FIXED_ROUTES:
        return FIXED_ROUTES[(method, rest)]
    if rest.startswith("tasks/") and rest.count("/") == 1 and method == "GET":
        return "poll"
    return "other"


def task_type(path: str) -> str | None:
    return V.CREATE_ROUTES.get(path[len(PREFIX):].rstrip("/"))


def ok(data: Any) -> Response:
    return json_response({"code": 0, "status": "success", "data": data})


class V3Routes:
    """Handlers of the v3 routes; `emu` owns the shared state."""

    def __init__(self, emu: Host) -> None:
        self.emu = emu
        self._presigned: dict[str, tuple[Account, str]] = {}

    def dispatch(self, req: Request, route: str, rule: Rule | None) -> Response:
        if route == "other":
            return self._unknown(req)
        if route == "retired":
            name = V.RETIRED_ROUTES[req.path[len(PREFIX):].rstrip("/")]
            raise ApiError(4001, f"{name} has been retired by Tripo and has no v3 route.", status=404,
                           suggestion="Remove it from your workflow.")
        acc = self.emu.accounts.authenticate(req.headers.get("Authorization"))
        return getattr(self, "_" + route)(req, acc, rule)

    def _unknown(self, req: Request) -> Response:
        rest = req.path[len(PREFIX):].rstrip("/")
        known = set(V.CREATE_ROUTES) | {path for _, path in FIXED_ROUTES}
        if rest in known or rest.startswith("tasks/"):
            raise ApiError(1003, f"{req.method} is not allowed on {req.path}.", status=405)
        raise ApiError(4001, f"No route {req.method} {req.path}.", status=404, suggestion="Check the path.")

    # -------------------------------------------------------------------------------------------- tasks
    def _create(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        body = _json(req)
        limits = self.emu.rate_check(acc)
        plan = plan_for(task_type(req.path), body, self.emu.context(acc))
        forced = None
        if rule is not None and rule.kind == "fail_task":
            forced = {"error_code": rule.error_code, "error_msg": rule.error_msg,
                      "task_status": rule.task_status or "failed"}
        task = self.emu.store.create(acc, plan, forced)   # (the signature bench/emu_proc.py wraps)
        task.api = "v3"
        resp = ok({"task_id": task.id, "type": task.type, "status": "queued"})
        resp.headers.update(limits)
        return resp

    def _view(self, task: Any, rule: Rule | None) -> dict:
        expired = rule is not None and rule.kind == "expire_urls"
        override = "unknown" if rule is not None and rule.kind == "unknown_status" else None
        return task_view(self.emu.store, task, lambda t, name: self.emu.sign(t.id, name, expired=expired),
                         status_override=override)

    def _poll(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        task = self.emu.store.get(acc, req.path.rstrip("/").split("/")[-1])
        d = self._view(task, rule)
        if req.q("step") == "1":
            d["pipeline_step"] = {"step": d["status"], "progress": d["progress"]}
        return ok(d)

    def _list(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        body = _json(req)
        ids = body.get("task_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise invalid("`task_ids` must be a non-empty list of task ids.")
        if len(ids) > V.MAX_TASK_IDS:
            raise invalid(f"At most {V.MAX_TASK_IDS} task ids per request, got {len(ids)}.")
        tasks, missed = {}, []
        for tid in dict.fromkeys(ids):
            try:
                tasks[tid] = self._view(self.emu.store.get(acc, tid), rule)
            except ApiError:
                missed.append(tid)
        if self.emu.tasks_list_shape == "array":   # the JS / Go / Rust SDKs' reading (§18 C1)
            return ok({"tasks": list(tasks.values()), "missed": missed})
        return ok({"tasks": tasks, "missed": missed})

    # -------------------------------------------------------------------------------------------- account
    def _balance(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        snap = self.emu.balance(acc.key)
        return ok({"balance": float(snap["balance"]), "frozen": float(snap["frozen"])})

    def _usage(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        limit = _query_int(req, "limit", 50, 1, 200)
        offset = _query_int(req, "offset", 0, 0, None)
        store = self.emu.store
        store.refresh_all()
        with store.lock:
            mine = sorted((t for t in store.tasks.values() if t.account is acc and not t.hidden),
                          key=lambda t: t.t0, reverse=True)
            rows = [{"task_id": t.id, "type": t.type, "status": t.status if t.final else "running"
                     if time.monotonic() - t.t0 >= t.queue_s else "queued", "created_at": iso(t.create_time),
                     "credits_consumed": float(t.consumed)} for t in mine[offset:offset + limit]]
        return ok({"items": rows, "total": len(mine), "limit": limit, "offset": offset})

    # -------------------------------------------------------------------------------------------- files
    def _upload(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        ctype = req.headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/form-data"):
            raise ApiError(1003, "Send multipart/form-data with a `file` field.")
        try:
            f = parse_multipart(ctype, req.body).get("file")
        except Exception:
            raise ApiError(1003, "Unreadable multipart body.") from None
        if f is None or not f["data"]:
            raise ApiError(2003)
        if len(f["data"]) > V.MAX_UPLOAD:
            raise invalid(f"Files over {V.MAX_UPLOAD >> 20} MB go through POST /v3/files/presign.")
        return ok({"file_token": self._store_upload(acc, f["data"])})

    def _store_upload(self, acc: Account, data: bytes, token: str | None = None) -> str:
        from ..assets import formats

        kind = formats.sniff_mesh_format(data)
        if kind is None:
            kind = check_image(data).kind   # 2004 when neither an image nor a mesh
        token = token or f"file_{uuid.uuid4()}"
        path = self.emu.data_dir / "uploads" / f"{token}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.emu.add_upload(token, acc, path)
        return token

    def _presign(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        body = _json(req)
        fmt = body.get("format") if isinstance(body, dict) else None
        if not isinstance(fmt, str) or fmt.lower() not in V.UPLOAD_FORMATS:
            raise invalid(f"`format` must be one of {', '.join(V.UPLOAD_FORMATS)}.")
        token = f"file_{uuid.uuid4()}"
        exp = math.ceil(time.time() + PRESIGN_TTL)
        self._presigned[token] = (acc, fmt.lower())
        url = f"{self.emu.root_url}{PUT_PREFIX}{token}?expires={exp}&sig={self._sig(token, exp)}"
        return ok({"presigned_url": url, "file_token": token, "expires_in": PRESIGN_TTL})

    def _sig(self, token: str, exp: int) -> str:
        return hmac.new(self.emu.secret, f"put/{token}:{exp}".encode(), hashlib.sha256).hexdigest()[:40]

    def put(self, req: Request) -> Response:
        """PUT <presigned_url>: S3-like; refuses an Authorization header (clients must never send the key)."""
        token = req.path[len(PUT_PREFIX):]
        if req.method != "PUT":
            return _s3_error(405, "MethodNotAllowed", "Only PUT is allowed on a presigned upload URL.")
        if req.headers.get("Authorization"):
            return _s3_error(400, "InvalidArgument", "Only one auth mechanism allowed: the URL is presigned; "
                                                     "do not send an Authorization header.")
        try:
            exp = int(req.q("expires", "0") or 0)
        except ValueError:
            exp = 0
        entry = self._presigned.get(token)
        if entry is None or not hmac.compare_digest(req.q("sig", "") or "", self._sig(token, exp)):
            return _s3_error(403, "SignatureDoesNotMatch", "Bad signature.")
        if exp < time.time():
            return _s3_error(403, "AccessDenied", "Request has expired.")
        if not req.body:
            return _s3_error(400, "EntityTooSmall", "Empty body.")
        if len(req.body) > MAX_MODEL_BYTES:
            return _s3_error(400, "EntityTooLarge", "Over 150 MB.")
        try:
            self._store_upload(entry[0], req.body, token)
        except ApiError as e:
            return _s3_error(400, "InvalidArgument", e.message)
        del self._presigned[token]
        return Response(200, b"", {"ETag": f'"{hashlib.md5(req.body).hexdigest()}"'}, 0)


def _json(req: Request) -> Any:
    try:
        return req.json()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(1003, "The body is not valid JSON.") from None


def _query_int(req: Request, name: str, default: int, lo: int, hi: int | None) -> int:
    raw = req.q(name)
    try:
        v = default if raw in (None, "") else int(raw)
    except ValueError:
        raise invalid(f"`{name}` must be an integer.") from None
    if v < lo or (hi is not None and v > hi):
        raise invalid(f"`{name}` must be between {lo} and {hi}." if hi is not None else f"`{name}` must be >= {lo}.")
    return v


def _s3_error(status: int, code: str, message: str) -> Response:
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(status, xml.encode(), {"Content-Type": "application/xml"}, None)
