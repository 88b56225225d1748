"""The Emulator: owns accounts, tasks, uploads, S3, faults and the request log, and answers the routes."""

from __future__ import annotations

import collections
import hashlib
import hmac
import math
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from . import catalog as C
from . import control
from .account_context import AccountContext as _Ctx
from .accounts import Account, Accounts
from .errors import ApiError, invalid
from .faults import Faults, Rule
from .inputs import MAX_IMAGE_BYTES, check_image
from .s3 import BUCKET, S3Server, sts_credentials
from .server import API_PREFIX, Server
from .tasks import Task, TaskStore
from .v3 import routes as v3
from .validation import validate
from .web import Request, Response, json_response, ok, parse_multipart

CONTENT_TYPES = {"glb": "model/gltf-binary", "webp": "image/webp", "png": "image/png", "jpg": "image/jpeg",
                 "zip": "application/zip", "fbx": "application/octet-stream", "usdz": "model/vnd.usdz+zip",
                 "stl": "model/stl", "3mf": "model/3mf", "schem": "application/octet-stream"}
LOOPBACK = ("127.0.0.1", "::1", "localhost")
#: The two shapes of v3 ``tasks/list`` answers (tripo-api-v3.md §10, §18 C1): "object" = {tasks: {id: task}, missed}
#: (Python SDK, migration guide, OpenAPI), "array" = {tasks: [task, ...], missed} (JS, Go and Rust SDKs).
TASKS_LIST_SHAPES = ("object", "array")


class Emulator:
    """A local Tripo API. start() serves v2 under http://<host>:<port>/v2/openapi and v3 at the root
    (http://<host>:<port>/v3/...), plus an HTTPS S3 (moto). ``api`` picks the dialect `base_url` points at."""

    def __init__(self, port: int = 0, *, time_scale: float = 1.0, data_dir: str | Path | None = None,
                 url_ttl: float = 300.0, banned_words: tuple[str, ...] | list[str] = ("forbiddenword",),
                 strict_keys: bool = False, host: str = "127.0.0.1", rate_limit_per_minute: int | None = None,
                 workers: int = 4, s3: bool = True, api: str = "v2", tasks_list_shape: str = "object",
                 retention_days: float | None = 7.0) -> None:
        if api not in ("v2", "v3"):
            raise ValueError(f"api must be 'v2' or 'v3', not {api!r}")
        self.api = api
        self.tasks_list_shape = _list_shape(tasks_list_shape)
        self.host, self.port = host, port
        self.time_scale = float(time_scale)
        self.url_ttl = float(url_ttl)
        self.banned_words = tuple(banned_words)
        self.rate_limit_per_minute = rate_limit_per_minute
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="tripo-emulator-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.accounts = Accounts(strict=strict_keys)
        self.store = TaskStore(self.accounts, self.data_dir, time_scale=self.time_scale, workers=workers,
                               retention_days=_retention(retention_days))
        self.faults = Faults()
        self._s3_enabled = s3
        self.s3: S3Server | None = None
        self._secret = secrets.token_bytes(32)
        self._uploads: dict[str, tuple[Account, Path]] = {}
        self._log: collections.deque[dict] = collections.deque(maxlen=50_000)
        self._log_lock = threading.Lock()
        self._creates: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.v3 = v3.V3Routes(self)

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> Emulator:
        if self._s3_enabled:
            self.s3 = S3Server(self.data_dir / "s3")
            self.s3.start()
        self._server = Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="tripo-emulator-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.store.close()
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def v2_base_url(self) -> str:
        """http://host:port/v2/openapi"""
        return self.root_url + API_PREFIX

    @property
    def v3_base_url(self) -> str:
        """http://host:port (v3 paths start with /v3/; this is what tripo3d 1.x takes as v3_base_url)."""
        return self.root_url

    @property
    def base_url(self) -> str:
        """The base URL of the dialect chosen with ``api=``."""
        return self.v3_base_url if self.api == "v3" else self.v2_base_url

    @property
    def secret(self) -> bytes:
        return self._secret

    @property
    def s3_endpoint(self) -> str | None:
        return self.s3.endpoint if self.s3 else None

    @property
    def s3_ca_file(self) -> str | None:
        return str(self.s3.ca_file) if self.s3 and self.s3.ca_file else None

    # ------------------------------------------------------------------------------------------ python API
    def add_account(self, key: str, balance: float = 10_000, *, priority: bool | None = None) -> None:
        """Create (or reset the balance of) an account; ``priority=True`` entitles it to task priorities."""
        self.accounts.add(key, balance, priority=priority)

    def set_priority(self, key: str, entitled: bool) -> None:
        """Entitle an account to the optional task ``priority`` (or take it away: requests get 403/2013)."""
        acc = self.accounts.get(key)
        if acc is None:
            raise KeyError(key)
        acc.priority = bool(entitled)

    def set_balance(self, key: str, n: float) -> None:
        self.accounts.add(key, n)

    def balance(self, key: str) -> dict:
        """{"balance", "frozen"} of an account (after finalizing due tasks)."""
        acc = self.accounts.get(key)
        if acc is None:
            raise KeyError(key)
        self.store.refresh_all()
        return self.accounts.snapshot(acc)

    def set_strict_keys(self, strict: bool) -> None:
        self.accounts.strict = bool(strict)

    def inject(self, route: str = "any", kind: str = "status", **fields: Any) -> dict:
        """Add a fault rule (see tripo_emulator.faults); returns it as a dict."""
        return self.faults.add({"route": route, "kind": kind, **fields}).to_dict()

    def clear_faults(self) -> None:
        self.faults.clear()

    def requests(self, method: str | None = None, path: str | None = None, key: str | None = None, *,
                 route: str | None = None, api: str | None = None) -> list[dict]:
        """Logged API requests (oldest first); path filters by substring, route by name (create, poll, list,
        upload, presign, download, balance, usage, ...), api by dialect ("v2" | "v3")."""
        with self._log_lock:
            out = list(self._log)
        return [dict(r) for r in out if (method is None or r["method"] == method.upper())
                and (path is None or path in r["path"]) and (key is None or r["key"] == key)
                and (route is None or r["route"] == route) and (api is None or r["api"] == api)]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def s3_get(self, bucket: str, key: str) -> bytes | None:
        return self.s3.get(bucket, key) if self.s3 else None

    def s3_put(self, bucket: str, key: str, data: bytes) -> None:
        if self.s3 is None:
            raise RuntimeError("S3 is disabled")
        self.s3.put(bucket, key, data)

    def task(self, task_id: str) -> Task | None:
        return self.store.find(task_id)

    def forget(self, task_id: str) -> bool:
        """Forget one task at once, as Tripo does after its retention (GET answers 404/2001 "task not found", a
        step chained from it is refused the same way); False when there was no such task."""
        return self.store.forget(task_id)

    @property
    def retention_days(self) -> float | None:
        """Days a task record lives (scaled by time_scale like every other duration); None = for ever."""
        return self.store.retention_days

    def configure(self, **cfg: Any) -> dict:
        """Change time_scale, url_ttl, banned_words, rate_limit_per_minute, strict_keys, tasks_list_shape,
        retention_days at runtime."""
        if "tasks_list_shape" in cfg:
            self.tasks_list_shape = _list_shape(cfg["tasks_list_shape"])
        if "retention_days" in cfg:
            self.store.retention_days = _retention(cfg["retention_days"])
        if "time_scale" in cfg:
            self.time_scale = self.store.time_scale = float(cfg["time_scale"])
        if "url_ttl" in cfg:
            self.url_ttl = float(cfg["url_ttl"])
        if "banned_words" in cfg:
            self.banned_words = tuple(cfg["banned_words"])
        if "rate_limit_per_minute" in cfg:
            self.rate_limit_per_minute = cfg["rate_limit_per_minute"]
        if "strict_keys" in cfg:
            self.set_strict_keys(cfg["strict_keys"])
        return self.config()

    def config(self) -> dict:
        return {"time_scale": self.time_scale, "url_ttl": self.url_ttl, "banned_words": list(self.banned_words),
                "rate_limit_per_minute": self.rate_limit_per_minute, "strict_keys": self.accounts.strict,
                "base_url": self.base_url, "api": self.api, "v2_base_url": self.v2_base_url,
                "v3_base_url": self.v3_base_url, "s3_endpoint": self.s3_endpoint, "s3_ca_file": self.s3_ca_file,
                "data_dir": str(self.data_dir), "tasks_list_shape": self.tasks_list_shape,
                "retention_days": self.store.retention_days}

    # ------------------------------------------------------------------------------------------ request log
    def request_info(self, req: Request, route: str | None) -> dict[str, Any]:
        """What fault rules can match on: method, path, key, type (task type), task_id."""
        auth = req.headers.get("Authorization") or ""
        key = auth.split(" ", 1)[1].strip() if auth.lower().startswith("bearer ") else None
        api = "v3" if req.path.startswith((v3.PREFIX, v3.PUT_PREFIX)) else "v2"
        info: dict[str, Any] = {"method": req.method, "path": req.path, "key": key, "route": route, "api": api}
        if route == "create" and api == "v3":
            info["type"] = v3.task_type(req.path)
        elif route == "create":
            body = req.json_or_none()
            if isinstance(body, dict):
                info["type"] = body.get("type")
        elif route in ("poll", "download"):
            tid = req.path.rstrip("/").split("/")[-1] if route == "poll" else req.path.split("/")[2]
            info["task_id"] = tid
            task = self.store.find(tid)
            info["type"] = task.type if task else None
            info["owner"] = task.account.key if task else None   # downloads carry no key: match on the owner
            if task is not None and route == "download":
                info["api"] = task.api
        return info

    def log_request(self, req: Request, route: str | None, info: dict, started: float) -> dict:
        ctype = req.headers.get("Content-Type") or ""
        if ctype.startswith("multipart/"):
            try:
                parts = parse_multipart(ctype, req.body)
                body: Any = {"multipart": {k: {"filename": v["filename"], "content_type": v["content_type"],
                                               "size": len(v["data"])} for k, v in parts.items()}}
            except Exception:
                body = {"multipart": None, "size": len(req.body)}
        elif req.body:
            body = req.json_or_none()
            if body is None:
                body = {"raw": req.body[:200].decode("utf-8", "replace"), "size": len(req.body)}
        else:
            body = None
        record = {"method": req.method, "path": req.path, "query": {k: v[0] for k, v in req.query.items()},
                  "route": route, "api": info.get("api"), "key": info.get("key"), "api_key": info.get("key"),
                  "authorization": req.headers.get("Authorization") is not None, "body": body,
                  "time": started, "status": None, "code": None, "fault": None}
        if route == "download":
            record["query"] = {k: v for k, v in record["query"].items() if k != "sig"}
        with self._log_lock:
            self._log.append(record)
        return record

    # ------------------------------------------------------------------------------------------ dispatch
    def dispatch(self, req: Request, route: str | None, info: dict, rule: Rule | None) -> Response:
        if route == "download":
            return self._download(req)
        if info.get("api") == "v3":
            return self.v3.put(req) if req.path.startswith(v3.PUT_PREFIX) else self.v3.dispatch(req, route, rule)
        if route is None or route == "other":
            if req.path.startswith(API_PREFIX + "/task") or req.path.startswith(API_PREFIX + "/upload") \
                    or req.path.startswith(API_PREFIX + "/user"):
                return json_response({"code": 9405, "message": "Method not allowed.", "suggestion": ""}, 405, 9405)
            return json_response({"code": 9404, "message": "Not found.", "suggestion": ""}, 404, 9404)
        acc = self.accounts.authenticate(req.headers.get("Authorization"))
        if route == "create":
            return self._create(req, acc, rule)
        if route == "poll":
            return self._poll(req, acc, rule)
        if route == "upload":
            return self._upload(req, acc)
        if route == "sts_token":
            return self._sts_token(req, acc)
        return ok(self.balance(acc.key))

    def _create(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(1003) from None
        self.rate_check(acc)
        plan = validate(body, _Ctx(self, acc))
        forced = None
        if rule is not None and rule.kind == "fail_task":
            forced = {"error_code": rule.error_code, "error_msg": rule.error_msg,
                      "task_status": rule.task_status or "failed"}
        task = self.store.create(acc, plan, forced)
        remain = C.GROUP_LIMITS.get(task.group, 10) - len(self.store.active(acc, task.group))
        resp = ok({"task_id": task.id})
        resp.headers["X-ParallelismLimit-Remain"] = str(max(0, remain))
        return resp

    def rate_check(self, acc: Account) -> dict[str, str]:
        """1007 (429 + Retry-After) when the account made rate_limit_per_minute creations in the last minute; else
        counts this one. Returns the X-RateLimit-* headers (v3 sends them; {} without a limit)."""
        if not self.rate_limit_per_minute:
            return {}
        limit, window = self.rate_limit_per_minute, self._creates[acc.key]
        now = time.monotonic()
        while window and now - window[0] > 60:
            window.popleft()
        full = len(window) >= limit
        if not full:
            window.append(now)
        headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(max(0, limit - len(window))),
                   "X-RateLimit-Reset": str(math.ceil(time.time() + 60 - (now - window[0])))}
        if full:
            raise ApiError(1007, retry_after=max(1, int(60 - (now - window[0])) + 1), headers=headers)
        return headers

    def context(self, acc: Account) -> _Ctx:
        """The validation context (lookups scoped to one account)."""
        return _Ctx(self, acc)

    def add_upload(self, token: str, acc: Account, path: Path) -> None:
        self._uploads[token] = (acc, path)

    def _poll(self, req: Request, acc: Account, rule: Rule | None) -> Response:
        task_id = req.path.rstrip("/").split("/")[-1]
        task = self.store.get(acc, task_id)
        expired = rule is not None and rule.kind == "expire_urls"
        override = "unknown" if rule is not None and rule.kind == "unknown_status" else None
        return ok(self.store.view(task, lambda t, name: self.sign(t.id, name, expired=expired),
                                  status_override=override))

    def _upload(self, req: Request, acc: Account) -> Response:
        ctype = req.headers.get("Content-Type") or ""
        if not ctype.startswith("multipart/form-data"):
            raise ApiError(1003, "Send multipart/form-data with a `file` field.")
        try:
            parts = parse_multipart(ctype, req.body)
        except Exception:
            raise ApiError(1003, "Unreadable multipart body.") from None
        f = parts.get("file")
        if f is None or not f["data"]:
            raise ApiError(2003)
        if len(f["data"]) > MAX_IMAGE_BYTES:
            raise invalid("The image is larger than 20 MB.")
        image = check_image(f["data"])
        token = str(uuid.uuid4())
        path = self.data_dir / "uploads" / f"{token}.{image.kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f["data"])
        self._uploads[token] = (acc, path)
        return ok({"image_token": token})

    def _sts_token(self, req: Request, acc: Account) -> Response:
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(1003) from None
        fmt = body.get("format") if isinstance(body, dict) else None
        if fmt not in C.STS_FORMATS:
            raise invalid(f"`format` must be one of {', '.join(C.STS_FORMATS)}.")
        if self.s3 is None:
            raise ApiError(1000, "S3 is disabled in this emulator.")
        self.s3.ensure_bucket()
        client = "tcli_" + hashlib.sha256(acc.key.encode()).hexdigest()[:32]
        uri = f"{client}/{time.strftime('%Y%m%d', time.gmtime())}/{uuid.uuid4()}/input.{fmt}"
        return ok({"s3_host": self.s3.host_port, "resource_bucket": BUCKET, "resource_uri": uri, **sts_credentials()})

    # ------------------------------------------------------------------------------------------ files
    def sign(self, task_id: str, name: str, *, expired: bool = False) -> str:
        """A signed download URL (a new one on every call: the nonce differs) valid for url_ttl seconds."""
        exp = int(time.time() - 60) if expired else math.ceil(time.time() + self.url_ttl)  # valid >= url_ttl
        nonce = secrets.token_hex(4)
        sig = self._sig(task_id, name, exp, nonce)
        return f"{self.root_url}/files/{task_id}/{name}?expires={exp}&n={nonce}&sig={sig}"

    def _sig(self, task_id: str, name: str, exp: int, nonce: str) -> str:
        msg = f"{task_id}/{name}:{exp}:{nonce}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:40]

    def resolve_url(self, path: str, query: dict[str, list[str]]) -> Path:
        """Path of a signed /files URL, or ApiError(403 AccessDenied-like / 404)."""
        parts = path.split("/")
        if len(parts) != 4:
            raise ApiError(2001, status=404)
        _, _, task_id, name = parts
        try:
            exp = int((query.get("expires") or ["0"])[0])
        except ValueError:
            exp = 0
        sig = (query.get("sig") or [""])[0]
        nonce = (query.get("n") or [""])[0]
        if not hmac.compare_digest(sig, self._sig(task_id, name, exp, nonce)):
            raise ApiError(1005, "Bad signature.", status=403)
        if exp < time.time():
            raise ApiError(1005, "The URL has expired; query the task again for a fresh one.", status=403)
        file = self.store.file_path(task_id, name)
        if file is None or not file.exists():
            raise ApiError(2019)
        return file

    def _download(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return json_response({"code": 9405, "message": "Method not allowed.", "suggestion": ""}, 405, 9405)
        try:
            file = self.resolve_url(req.path, req.query)
        except ApiError as e:
            if e.status == 403:
                xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                       f"<Message>{e.message}</Message></Error>").encode()
                return Response(403, xml, {"Content-Type": "text/xml"}, 1005)
            raise
        size = file.stat().st_size
        ext = file.suffix.lstrip(".").lower()
        headers = {"Content-Type": CONTENT_TYPES.get(ext, "application/octet-stream"), "Accept-Ranges": "bytes",
                   "ETag": f'"{hashlib.md5(file.name.encode() + str(size).encode()).hexdigest()}"',
                   "Content-Disposition": f'attachment; filename="{file.name}"'}
        rng = req.headers.get("Range")
        if rng and rng.startswith("bytes="):
            first = rng[6:].split(",")[0].strip()
            a, _, b = first.partition("-")
            try:
                if a:
                    start, end = int(a), (int(b) if b else size - 1)
                else:
                    start, end = max(0, size - int(b)), size - 1
            except ValueError:
                start, end = 0, -1
            end = min(end, size - 1)
            if start > end or start >= size:
                return Response(416, b"", {"Content-Range": f"bytes */{size}"}, None)
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            return Response(206, b"", headers, 0, file=file, file_range=(start, end))
        return Response(200, b"", headers, 0, file=file)

    # ------------------------------------------------------------------------------------------ control
    def control(self, req: Request) -> Response:
        """Test-only routes under /_emulator (see control.py)."""
        return control.handle(self, req)


def _list_shape(shape: Any) -> str:
    if shape not in TASKS_LIST_SHAPES:
        raise ValueError(f"tasks_list_shape must be one of {', '.join(TASKS_LIST_SHAPES)}, not {shape!r}")
    return shape


def _retention(days: Any) -> float | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int | float) or days <= 0:
        raise ValueError(f"retention_days must be a positive number (or None: for ever), not {days!r}")
    return float(days)
