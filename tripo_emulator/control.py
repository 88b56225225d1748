"""Test-only control routes under /_emulator (loopback clients only): accounts, faults, request log, config."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .web import Request, Response, json_response, ok

if TYPE_CHECKING:
    from .host import Host


def handle(emu: Host, req: Request) -> Response:
    """Test-only routes under /_emulator (loopback clients only)."""
    if req.client not in ("127.0.0.1", "::1") and not req.client.startswith("127."):
        return json_response({"code": 1005, "message": "Control routes are loopback-only."}, 403, 1005)
    path = req.path.rstrip("/")
    m = req.method
    try:
        body = req.json() if req.body else {}
    except (ValueError, UnicodeDecodeError):
        return json_response({"code": 1003, "message": "Bad JSON."}, 400, 1003)
    try:
        if path == "/_emulator/health":
            return ok(emu.config())
        if path == "/_emulator/config" and m == "POST":
            return ok(emu.configure(**body))
        if path == "/_emulator/config":
            return ok(emu.config())
        if path == "/_emulator/accounts" and m == "POST":
            if "strict" in body:
                emu.set_strict_keys(bool(body["strict"]))
            if "key" in body:
                emu.add_account(body["key"], body.get("balance", 10_000),
                                priority=bool(body["priority"]) if body.get("priority") is not None else None)
                out = {"key": body["key"], **emu.balance(body["key"])}
                if body.get("priority") is not None:
                    out["priority"] = emu.accounts.get(body["key"]).priority
                return ok(out)
            return ok({"strict": emu.accounts.strict})
        if path.startswith("/_emulator/accounts/") and m == "GET":
            return ok(emu.balance(path.split("/")[-1]))
        if path == "/_emulator/faults":
            if m == "POST":
                rules = body.get("rules", [body]) if isinstance(body, dict) else body
                return ok({"rules": [emu.faults.add(r).to_dict() for r in rules]})
            if m == "DELETE":
                emu.clear_faults()
                return ok({"rules": []})
            return ok({"rules": emu.faults.list()})
        if path == "/_emulator/requests":
            if m == "DELETE":
                emu.clear_requests()
                return ok({"requests": []})
            return ok({"requests": emu.requests(req.q("method"), req.q("path"), req.q("key"), route=req.q("route"),
                                                api=req.q("api"))})
        if path.startswith("/_emulator/tasks/") and m == "DELETE":
            tid = path.split("/")[-1]
            if not emu.forget(tid):
                return json_response({"code": 2001, "message": "No such task."}, 404, 2001)
            return ok({"task_id": tid, "forgotten": True})
        if path.startswith("/_emulator/tasks/"):
            task = emu.store.find(path.split("/")[-1])
            if task is None:
                return json_response({"code": 2001, "message": "No such task."}, 404, 2001)
            return ok({"task_id": task.id, "type": task.type, "status": task.status, "key": task.account.key,
                       "price": task.price, "group": task.group, "meta": task.meta, "outputs": task.outputs,
                       "dir": str(task.dir)})
    except (ValueError, KeyError, TypeError) as e:
        return json_response({"code": 1004, "message": f"Bad control request: {e}"}, 400, 1004)
    return json_response({"code": 9404, "message": "No such control route."}, 404, 9404)
