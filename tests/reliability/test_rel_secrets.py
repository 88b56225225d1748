"""The API key never leaks: not into logs (every logger at DEBUG, tracebacks included), error messages, reprs,
pickles, formatted tracebacks, events or the job log files, across successes and forced failures.

(The saved .blend check is in tests/reliability/blender/test_rel_secrets_blender.py.)
"""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest
from rel_helpers import WAIT, assert_fired, make_glb, make_png

from tripo_addon.api.errors import TripoError
from tripo_addon.jobs import pipelines


class Capture(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))
        for value in (record.args if isinstance(record.args, tuple) else (record.args,)):
            self.lines.append(repr(value))


@pytest.fixture
def debug_logs():
    root = logging.getLogger()
    cap = Capture()
    old = root.level
    root.addHandler(cap)
    root.setLevel(logging.DEBUG)
    yield cap
    root.removeHandler(cap)
    root.setLevel(old)


def _no_key(key: str, *texts: str) -> None:
    secret = key[len("tsk_"):]
    for text in texts:
        assert key not in text and secret not in text, text[:2000]


def _every_text_of(exc: BaseException) -> list[str]:
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for name in ("message", "user_message", "suggestion", "reason", "body"):
        if hasattr(exc, name):
            out.append(repr(getattr(exc, name)))
    out.append(repr(pickle.loads(pickle.dumps(exc)).__dict__))
    return out


def test_key_absent_from_debug_logs_messages_and_job_log(emulator, api_key, fault, make_client, engines,
                                                         tmp_path, debug_logs):
    """Successes, retries, refusals, lost answers, failed tasks and a worker crash, all logged at DEBUG."""
    fault("poll", "status", status=503, count=2)
    fault("upload", "drop", count=1)
    fault("download", "truncate", count=1)
    eng = engines(lambda: make_client(retry_base=0.05))
    jobs = [
        eng.submit(pipelines.text_to_model("a logged chair")),
        eng.submit(pipelines.image_to_model(str(make_png(tmp_path / "p.png", 64, 64)))),
        eng.submit(pipelines.import_model(str(make_glb(tmp_path / "m.glb")))),
    ]
    snaps = [eng.wait(j, WAIT) for j in jobs]
    assert [s["state"] for s in snaps] == ["succeeded"] * 3, [s.get("error") for s in snaps]

    fault("create", "drop", after=True)  # outcome unknown
    lost = eng.wait(eng.submit(pipelines.text_to_model("a lost chair")), WAIT)
    assert lost["state"] == "needs_attention"
    fault("create", "fail_task", error_code=1001)  # the task itself fails
    failed = eng.wait(eng.submit(pipelines.text_to_model("a failing chair")), WAIT)
    assert failed["state"] == "failed"

    class Exploding:
        def __init__(self):
            self.inner = make_client()

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def create_task(self, task_type, values, **kw):
            raise RuntimeError("unexpected crash inside the client")

    eng2 = engines(Exploding, state="state2")
    crashed = eng2.wait(eng2.submit(pipelines.text_to_model("a crashing chair")), WAIT)
    assert crashed["state"] in ("failed", "needs_attention")

    assert_fired(emulator, api_key, ("poll", "status"), ("upload", "drop"), ("download", "truncate"),
                 ("create", "drop"), ("create", "fail_task"))  # every failure path above really ran
    events = [repr(e) for e in eng.drain() + eng2.drain()]
    journals = [p.read_text("utf-8", "replace") for d in (tmp_path / "state", tmp_path / "state2")
                for p in d.rglob("*") if p.is_file()]
    assert any("unexpected crash" in line for line in debug_logs.lines)  # the crash was logged with a traceback
    assert len(debug_logs.lines) > 20
    _no_key(api_key, *debug_logs.lines, *events, *journals, *(repr(s) for s in snaps + [lost, failed, crashed]))


def test_key_absent_from_errors_and_tracebacks(emulator, strict_emulator, api_key, fault, make_client):
    errors: list[BaseException] = []
    wrong_key = "tsk_wrongkey_" + "Z" * 24

    from tripo_addon.api.client import TripoClient

    def collect(fn):
        try:
            fn()
        except TripoError as exc:
            errors.append(exc)
        else:
            raise AssertionError("no error")

    with TripoClient(api_key=wrong_key, base_url=strict_emulator.base_url, max_retries=0) as bad:
        collect(bad.balance)                                                      # 401
        collect(lambda: bad.create_task("text_to_model", {"prompt": "x"}))
    client = make_client(retry_base=0.01, max_retries=1)
    fault("create", "drop", after=True)
    collect(lambda: client.create_task("text_to_model", {"prompt": "x"}))  # outcome unknown
    fault("poll", "status", status=500, count=-1)
    collect(lambda: client.get_task("11111111-2222-4333-8444-555555555555"))      # server error
    emulator.clear_faults()
    collect(lambda: client.get_task("11111111-2222-4333-8444-555555555555"))      # not found
    with TripoClient(api_key=api_key, base_url="http://127.0.0.1:9", max_retries=0) as dead:
        collect(dead.balance)                                                     # connection refused
    collect(lambda: TripoClient(api_key=api_key + " extra", base_url=emulator.base_url))  # malformed key

    assert len(errors) == 7
    assert_fired(emulator, api_key, ("create", "drop"), ("poll", "status"))
    assert [r["status"] for r in strict_emulator.requests(key=wrong_key)] == [401, 401]  # refused by Tripo
    for exc in errors:
        texts = _every_text_of(exc)
        _no_key(api_key, *texts)
        _no_key(wrong_key, *texts)


def test_client_repr_and_vars_hide_the_key(make_client, api_key):
    client = make_client()
    assert api_key not in repr(client) and api_key not in str(client)
    assert api_key not in repr({k: v for k, v in vars(client).items() if not k.startswith("_TripoClient__")})


def test_redact_masks_keys_bearer_and_sts_secrets():
    from tripo_addon.api.errors import redact

    text = ('Authorization: Bearer tsk_abcDEF123_-xyz key=tsk_abcDEF123_-xyz {"sts_sk": "s3cr3t", '
            '"session_token": "IQoJtoken", "sts_ak": "ASIAXYZ"}')
    out = redact(text)
    for secret in ("tsk_abcDEF123_-xyz", "s3cr3t", "IQoJtoken", "ASIAXYZ"):
        assert secret not in out, out
