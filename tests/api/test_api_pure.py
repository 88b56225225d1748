"""Pure logic of tripo_addon.api: no network (polling, retries, errors, keys, images, zips, URLs, S3 options)."""

from __future__ import annotations

import errno
import pickle
import re
import time
import tomllib
import traceback
from email.utils import formatdate
from pathlib import Path

import pytest
from api_helpers import image_bytes, make_glb, make_image, make_zip

from tripo_addon.api import __version__, errors, images, polling
from tripo_addon.api import downloads as dl
from tripo_addon.api.client import TripoClient
from tripo_addon.api.errors import (
    ERROR_TEXT,
    TripoError,
    TripoValidationError,
    error_for_code,
    redact,
)
from tripo_addon.api.inputs import Input
from tripo_addon.api.localfiles import check_mesh_file, file_format
from tripo_addon.api.session import normalize_api_key, normalize_base_url
from tripo_addon.api.transport import is_loopback, request_not_sent
from tripo_addon.api.v2.dialect import DIALECT as WIRE
from tripo_addon.api.v2.uploads import s3_client_options
from tripo_addon.api.v2.wire import StsToken

ROOT = Path(__file__).resolve().parents[2]
KEY = "tsk_" + "Secret_Value-1234567890abcdef"  # a fake key, built so secret scanners do not flag it


# ============================================================================================== layering
def test_api_never_imports_bpy():
    offenders = []
    for path in (ROOT / "tripo_addon" / "api").rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(r"\s*(import\s+bpy\b|from\s+bpy(\.|\s))", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_version_matches_manifest():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    assert manifest["version"] == __version__


# ============================================================================================== polling
@pytest.mark.parametrize(
    "status, kw, expected",
    [
        ("running", {"running_left_time": 10}, 5.0),            # half the ETA
        ("running", {"running_left_time": 100}, 30.0),          # capped at poll_max
        ("running", {"running_left_time": 0.5}, 1.0),           # at least poll_min
        ("running", {"running_left_time": None, "idle_polls": 0}, 1.0),
        ("running", {"running_left_time": None, "idle_polls": 3}, 8.0),   # back-off without an ETA
        ("running", {"running_left_time": None, "idle_polls": 3, "progress": 95}, 1.0),  # nearly done: fast
        ("queued", {"queuing_num": 4}, 10.0),                    # far down the queue: slower
        ("queued", {"queuing_num": 0}, 1.0),
        ("queued", {"queuing_num": 100}, 30.0),
        ("unknown", {"idle_polls": 2}, 4.0),
        ("running", {"running_left_time": 2}, 2.0 + polling.ETA_MARGIN),   # near the end: aim at the finish
        ("queued", {"running_left_time": 8, "queuing_num": 9}, 4.0),      # an ETA beats the queue position
        ("running", {"running_left_time": 2, "finish_left": 1.4}, 1.5),  # the window sharpens the aim (>= poll_min)
        ("running", {"running_left_time": 12, "finish_left": 11.3}, 6.0),  # ... but never the halving
    ],
)
def test_next_poll_delay(status, kw, expected):
    assert polling.next_poll_delay(status, poll_min=1.0, poll_max=30.0, **kw) == pytest.approx(expected)


def test_finish_window_narrows_and_restarts():
    w = polling.FinishWindow()
    assert w.left(0.0) is None
    w.update(7, 7.0)          # ends in (13, 14]
    w.update(4, 10.5)         # ends in (13.5, 14.5]: together (13.5, 14]
    assert (w.lo, w.hi) == (13.5, 14.0) and w.left(10.5) == pytest.approx(3.5)
    w.update(None, 11.0)      # no reading: unchanged
    assert (w.lo, w.hi) == (13.5, 14.0)
    w.update(1, 14.2)         # later than the window allows (the estimate moved): start again from this reading
    assert (w.lo, w.hi) == pytest.approx((14.2, 15.2))


def test_poll_delay_always_within_bounds():
    for status in ("queued", "running", "unknown", "weird"):
        for eta in (None, -1, 0, 0.01, 3, 10_000):
            for q in (None, -1, 0, 3, 999):
                for idle in (0, 5, 100):
                    d = polling.next_poll_delay(status, running_left_time=eta, queuing_num=q, idle_polls=idle,
                                                poll_min=0.05, poll_max=0.5)
                    assert 0.05 <= d <= 0.5


def test_retry_delay_full_jitter_and_retry_after():
    assert polling.retry_delay(1, base=1, cap=10, rand=lambda: 1.0) == 1.0
    assert polling.retry_delay(4, base=1, cap=10, rand=lambda: 1.0) == 8.0
    assert polling.retry_delay(9, base=1, cap=10, rand=lambda: 1.0) == 10.0
    assert polling.retry_delay(3, base=1, cap=10, rand=lambda: 0.25) == 1.0
    assert polling.retry_delay(3, base=1, cap=10, rand=lambda: 0.0) == 0.0
    assert polling.retry_delay(1, retry_after=7, rand=lambda: 0.0) == 7  # Retry-After is the floor ...
    assert polling.retry_delay(1, retry_after=500, retry_after_cap=30, rand=lambda: 0.0) == 30
    assert 7 < polling.retry_delay(1, retry_after=7, rand=lambda: 0.99) <= 7 + 3.5  # ... and jitter comes on top
    samples = {polling.retry_delay(5, base=1, cap=100) for _ in range(50)}
    assert len(samples) > 40 and all(0 <= s <= 16 for s in samples)


def test_parse_retry_after():
    assert polling.parse_retry_after("3") == 3
    assert polling.parse_retry_after(" 1.5 ") == 1.5
    assert polling.parse_retry_after(None) is None
    assert polling.parse_retry_after("soon") is None
    now = time.time()
    assert polling.parse_retry_after(formatdate(now + 20, usegmt=True), now=now) == pytest.approx(20, abs=1)
    assert polling.parse_retry_after(formatdate(now - 20, usegmt=True), now=now) == 0


# ============================================================================================== errors
DOCUMENTED = {
    1000: (500, errors.TripoServerError), 1001: (500, errors.TripoServerError), 1002: (401, errors.TripoAuthError),
    1003: (400, errors.TripoBadRequest), 1004: (400, errors.TripoBadRequest),
    1005: (403, errors.TripoPermissionError), 1007: (429, errors.TripoRateLimited),
    2000: (429, errors.TripoRateLimited), 2001: (404, errors.TripoNotFound), 2002: (400, errors.TripoBadRequest),
    2003: (400, errors.TripoFileError), 2004: (400, errors.TripoFileError), 2005: (400, errors.TripoChainError),
    2006: (400, errors.TripoChainError), 2007: (400, errors.TripoChainError),
    2008: (400, errors.TripoContentRejected), 2009: (400, errors.TripoBadRequest),
    2010: (403, errors.TripoInsufficientCredit), 2011: (400, errors.TripoChainError),
    2012: (400, errors.TripoChainError), 2013: (403, errors.TripoPermissionError),
    2014: (500, errors.TripoServerError), 2015: (400, errors.TripoBadRequest), 2016: (400, errors.TripoBadRequest),
    2017: (400, errors.TripoBadRequest), 2018: (400, errors.TripoBadRequest), 2019: (404, errors.TripoFileError),
}


def test_every_documented_code_has_a_plain_sentence():
    assert set(ERROR_TEXT) == set(DOCUMENTED)
    for code, text in ERROR_TEXT.items():
        assert text[0].isupper() and text.endswith("."), code
        assert ";" in text or "," in text, f"{code}: should say what is wrong and what to do"


@pytest.mark.parametrize("code", sorted(DOCUMENTED))
def test_error_for_code_class_and_message(code):
    status, cls = DOCUMENTED[code]
    err = error_for_code(code, status, "Server says no.", "Try later.", "trace-123", 4 if status == 429 else None)
    assert type(err) is cls and isinstance(err, errors.TripoAPIError) and isinstance(err, TripoError)
    assert err.code == code and err.status == status and err.trace_id == "trace-123"
    assert err.user_message.startswith(ERROR_TEXT[code])
    assert err.suggestion == "Try later."
    assert f"code {code}" in str(err) and f"HTTP {status}" in str(err)


def test_error_without_code():
    assert isinstance(error_for_code(None, 502), errors.TripoServerError)
    assert "HTTP 502" in error_for_code(None, 502).user_message
    assert isinstance(error_for_code(None, 404, "Not found."), errors.TripoNotFound)
    assert isinstance(error_for_code(9404, 404, "Not found."), errors.TripoNotFound)
    assert "9404" in error_for_code(9404, 404, "Not found.").user_message
    e = error_for_code(1004, 400, "`face_limit` must be between 48 and 20000, got 5.")
    assert "face_limit" in e.user_message  # server detail kept for invalid-parameter errors
    assert "wait" in error_for_code(2000, 429, retry_after=12).user_message.lower()


def test_redact():
    text = f"key={KEY} header='Authorization: Bearer {KEY}' other Bearer abc.def and \"sts_sk\": \"S3CRET\""
    out = redact(text)
    assert KEY not in out and "abc.def" not in out and "S3CRET" not in out
    assert "tsk_***" in out and "Bearer ***" in out
    assert redact("keys start with tsk_, see tsk_...") .count("tsk_") == 2


def test_key_never_in_error_text_repr_or_traceback():
    err = errors.TripoAPIError(f"bad key {KEY}", code=1002, status=401, suggestion=f"Bearer {KEY}",
                               user_message=f"your key {KEY} failed")
    try:
        raise err
    except TripoError as caught:
        tb = "".join(traceback.format_exception(caught))
    for text in (str(err), repr(err), err.message, err.suggestion, err.user_message, tb, str(err.args)):
        assert KEY not in text
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and again.code == 1002 and KEY not in str(again)


def test_validation_error_constructors_used_by_other_layers():
    e = TripoValidationError("Select a mesh first")
    assert e.user_message == e.message == "Select a mesh first" and e.code is None
    assert str(TripoError("plain")) == "plain"
    assert isinstance(e, ValueError)


# ============================================================================================== keys, URLs
def test_api_key_normalization(monkeypatch):
    assert normalize_api_key(f"  {KEY}\n") == KEY
    monkeypatch.setenv("TRIPO_API_KEY", f"{KEY}\r\n")
    assert normalize_api_key(None) == KEY
    monkeypatch.delenv("TRIPO_API_KEY")
    bad = {
        None: "No Tripo API key",
        "   ": "No Tripo API key",
        "tcli_0123456789abcdef0123456789abcdef": "start with tsk_",
        "sk-abcdef": "start with tsk_",
        "tsk_abc def": "spaces or line breaks",
        "tsk_abc\ndef": "spaces or line breaks",
        "tsk_abc\u00e9": "characters",
    }
    for key, phrase in bad.items():
        with pytest.raises(TripoValidationError) as ei:
            normalize_api_key(key)
        assert phrase in str(ei.value)
        if key and key.strip():
            assert key.strip() not in str(ei.value) and key.strip() not in ei.value.user_message


def test_client_refuses_bad_key_and_url_without_network():
    with pytest.raises(TripoValidationError):
        TripoClient("not-a-key", "http://127.0.0.1:1/v2/openapi")
    with pytest.raises(TripoValidationError, match="plain http"):
        TripoClient(KEY, "http://api.tripo3d.ai/v2/openapi")
    with pytest.raises(TripoValidationError):
        TripoClient(KEY, "ftp://example.com")
    with pytest.raises(TripoValidationError, match="CA bundle"):
        TripoClient(KEY, ca_bundle="/nonexistent/ca.pem")
    c = TripoClient(KEY)
    try:
        assert c.base_url == "https://openapi.tripo3d.ai" and c.api == "v3"  # the default is the live v3 API
        assert KEY not in repr(c) and KEY not in str(vars(c))
        assert c.transport_options("https://openapi.tripo3d.ai/v3/tasks/x")["verify"] is True
        assert c._session.headers["User-Agent"] == f"tripo-addon/{__version__}"
        assert "Authorization" not in c._session.headers  # never sent to download hosts
    finally:
        c.close()
    with TripoClient(KEY, "https://api.tripo3d.ai/v2/openapi") as v2:  # the retired v2 API by its URL
        assert v2.api == "v2" and v2.dialect.name == "v2"
        assert v2.transport_options("https://api.tripo3d.ai/v2/openapi/task")["verify"] is True
        assert KEY not in repr(v2)


def test_base_url_rules():
    assert normalize_base_url("https://api.tripo3d.com/v2/openapi/") == "https://api.tripo3d.com/v2/openapi"
    assert normalize_base_url("http://127.0.0.1:8000/v2/openapi") == "http://127.0.0.1:8000/v2/openapi"
    assert normalize_base_url("http://localhost:8000/v2/openapi").startswith("http://localhost")
    assert normalize_base_url("http://[::1]:8000/v2/openapi").startswith("http://[::1]")
    assert is_loopback("127.3.4.5") and is_loopback("::1") and not is_loopback("10.0.0.1")
    assert not is_loopback("api.tripo3d.ai") and not is_loopback("")


def test_proxies_and_ca_bundle_options(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    c = TripoClient(KEY, proxies="http://proxy.example:3128", ca_bundle=ca)
    try:
        opts = c.transport_options("https://cdn.example.com/file.glb")
        assert opts == {"verify": str(ca), "proxies": {"http": "http://proxy.example:3128",
                                                      "https": "http://proxy.example:3128"}}
        local = c.transport_options("http://127.0.0.1:9/x")
        assert local["proxies"]["http"] is None and local["proxies"]["https"] is None  # loopback bypasses proxies
    finally:
        c.close()
    c = TripoClient(KEY, "http://127.0.0.1:9/v2/openapi")
    try:
        assert c.transport_options("https://127.0.0.1:9/s3")["verify"] is False
        assert c.transport_options("https://example.com/s3")["verify"] is True
    finally:
        c.close()


def test_request_not_sent_classification():
    import requests
    import urllib3

    refused = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/task", urllib3.exceptions.NewConnectionError(None, "refused")))
    dns = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(None, "/task", urllib3.exceptions.NameResolutionError("h", None, "x")))
    dropped = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError()))
    assert request_not_sent(refused) and request_not_sent(dns)
    assert request_not_sent(requests.exceptions.ConnectTimeout())
    assert not request_not_sent(dropped)
    assert not request_not_sent(requests.exceptions.ReadTimeout())
    assert not request_not_sent(requests.exceptions.ChunkedEncodingError())


# ============================================================================================== wire
def test_wire_task_parsing_is_tolerant():
    t = WIRE.task_from({"task_id": "t1", "type": "text_to_model", "status": "running", "progress": 42,
                        "running_left_time": 12, "queuing_num": -1, "output": {}, "input": {"model_version": "v3"},
                        "create_time": 1709048933, "consumed_credit": 0})
    assert t.status == "running" and t.progress == 42 and t.eta == 12 and t.queuing_num is None
    assert t.created == 1709048933 and t.credits == 0
    assert t.model_version == "v3" and not t.is_final
    final = WIRE.task_from({"task_id": "t0", "status": "success", "running_left_time": -1, "queuing_num": -1})
    assert final.eta is None and final.queuing_num is None  # the wire's -1: unknown
    odd = WIRE.task_from({"task_id": "t2", "status": "weird", "progress": "x", "output": None, "error_code": 1001})
    assert odd.status == "unknown" and odd.progress == 0 and odd.output == {} and odd.error_code == 1001
    done = WIRE.task_from({"task_id": "t3", "status": "success", "output": {"model": "https://a/m.glb",
                                                                            "pbr_model": "https://a/p.glb"}})
    assert done.is_final and done.model_key == "model" and done.model_url == "https://a/p.glb"  # pbr_model wins
    assert done.output == {"model": "https://a/p.glb"} and done.raw["output"]["model"] == "https://a/m.glb"
    with pytest.raises(ValueError):
        WIRE.task_from({"status": "success"})
    assert WIRE.balance_from({"balance": 12, "frozen": 3}).to_dict() == {"balance": 12.0, "frozen": 3.0}
    with pytest.raises(errors.TripoRateLimited):
        WIRE.unwrap(429, {"code": 2000, "message": "limit", "suggestion": ""})
    assert WIRE.unwrap(200, {"code": 0, "data": {"x": 1}}) == {"x": 1}


def test_wire_refuses_json_constants():
    """NaN / Infinity are not JSON: a v2 answer carrying them is unreadable, like on v3."""
    for raw in (b'{"code": 0, "data": {"balance": NaN}}', b'{"code": 0, "data": {"progress": Infinity}}',
                b'{"x": -Infinity}'):
        with pytest.raises(ValueError):
            WIRE.parse_json(raw)
    assert WIRE.parse_json(b'{"code": 0, "data": {"balance": 1e400}}')["code"] == 0  # a number: dropped later
    with pytest.raises(ValueError):
        WIRE.balance_from({"balance": float("inf")})


def test_sts_token_repr_hides_secrets():
    tok = StsToken("s3.us-west-2.amazonaws.com", "tripo-data", "k/input.glb", "SESSION", "ASIAKEY", "SECRETKEY")
    assert "SESSION" not in repr(tok) and "SECRETKEY" not in repr(tok) and "ASIAKEY" not in repr(tok)
    assert tok.input("glb") == Input("object", "tripo-data/k/input.glb", "glb")
    assert (tok.input("glb").bucket, tok.input("glb").key) == ("tripo-data", "k/input.glb")
    path, body = WIRE.create_request("import_model", {"file": tok.input("glb")})
    assert path == "/task" and body == {"type": "import_model",
                                        "file": {"type": "glb", "object": {"bucket": "tripo-data",
                                                                           "key": "k/input.glb"}}}


# ============================================================================================== images
@pytest.mark.parametrize("fmt, kind", [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp"),
                                       ("WEBP_LOSSLESS", "webp")])
def test_sniff_image_types_and_sizes(fmt, kind):
    for size in ((20, 20), (321, 123), (1000, 7)):
        info = images.sniff(image_bytes(fmt, size))
        assert info == images.ImageInfo(kind, *size)


def test_sniff_progressive_jpeg_with_exif(tmp_path):
    from PIL import Image

    img = Image.new("RGB", (300, 200), (5, 6, 7))
    path = tmp_path / "p.jpg"
    exif = Image.Exif()
    exif[0x010E] = "x" * 5000  # a big APP1 segment before the frame header
    img.save(path, "JPEG", progressive=True, exif=exif)
    assert images.sniff(path.read_bytes()) == images.ImageInfo("jpeg", 300, 200)


def test_sniff_rejects_other_data():
    for data in (b"", b"GIF89a......", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"\xff\xd8\xff\xd9",
                 b"hello world"):
        assert images.sniff(data) is None


def test_check_image_file(tmp_path):
    ok = make_image(tmp_path / "ok.webp", "WEBP", (300, 300))
    assert images.check_image_file(ok).file_type == "webp"
    assert images.check_image_file(make_image(tmp_path / "a.jpeg", "JPEG", (40, 40))).file_type == "jpg"
    cases = {
        make_image(tmp_path / "tiny.png", "PNG", (19, 100)): "20-6000 px",
        make_image(tmp_path / "wide.png", "PNG", (6001, 20)): "20-6000 px",
        make_image(tmp_path / "fake.png", "GIF", (50, 50)): "not a PNG, JPEG or WEBP",
        tmp_path / "missing.png": "does not exist",
        tmp_path: "not a file",
    }
    (tmp_path / "empty.png").write_bytes(b"")
    cases[tmp_path / "empty.png"] = "empty"
    big = tmp_path / "big.png"
    big.write_bytes(image_bytes("PNG", (50, 50)) + b"\x00" * (20 * 1024 * 1024))
    cases[big] = "20 MB"
    for path, phrase in cases.items():
        with pytest.raises(TripoValidationError, match=phrase):
            images.check_image_file(path, param="file")


def test_mesh_file_checks(tmp_path):
    assert check_mesh_file(make_glb(tmp_path / "m.glb")) == "glb"
    (tmp_path / "m.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    assert check_mesh_file(tmp_path / "m.obj") == "obj"
    (tmp_path / "bad.glb").write_bytes(b"not a glb at all")
    (tmp_path / "cut.glb").write_bytes(make_glb(tmp_path / "x.glb").read_bytes()[:-4])
    (tmp_path / "bad.fbx").write_bytes(b"\x00\x01binary junk")
    (tmp_path / "bad.stl").write_bytes(b"\x00" * 90)
    (tmp_path / "empty.obj").write_bytes(b"")
    for name, phrase in [("bad.glb", "not a binary glTF"), ("cut.glb", "truncated"), ("bad.fbx", "not an FBX"),
                         ("bad.stl", "not an STL"), ("empty.obj", "empty"), ("none.glb", "does not exist")]:
        with pytest.raises(TripoValidationError, match=phrase):
            check_mesh_file(tmp_path / name)
    with pytest.raises(TripoValidationError, match="GLB, OBJ, FBX or STL"):
        file_format("scene.blend")
    assert file_format("a.JPG") == "jpeg"


# ============================================================================================== zips, GLB, URLs
def test_check_zip_refuses_zip_slip_absolute_and_symlinks(tmp_path):
    good = make_zip(tmp_path / "good.zip", {"model.obj": b"v 0 0 0\n", "tex/texture.png": b"png"})
    assert [i.filename for i in dl.check_zip(good)] == ["model.obj", "tex/texture.png"]
    out = dl.safe_extract(good, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in out) == ["model.obj", "tex/texture.png"]
    for name, members, link in [
        ("slip.zip", {"../../evil.txt": b"x"}, None),
        ("slip2.zip", {"ok/../../evil.txt": b"x"}, None),
        ("abs.zip", {"/etc/evil": b"x"}, None),
        ("win.zip", {"C:\\evil.txt": b"x"}, None),
        ("back.zip", {"..\\evil.txt": b"x"}, None),
        ("link.zip", {"a.txt": b"x"}, "innocent.obj"),
    ]:
        bad = make_zip(tmp_path / name, members, symlink=link)
        with pytest.raises(errors.TripoUnsafeArchive):
            dl.check_zip(bad)
        with pytest.raises(errors.TripoUnsafeArchive):
            dl.safe_extract(bad, tmp_path / f"x_{name}")
        assert not (tmp_path / f"x_{name}").exists() or not any((tmp_path / f"x_{name}").iterdir())
    assert not (tmp_path.parent / "evil.txt").exists()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(good.read_bytes()[:40])
    with pytest.raises(errors.TripoDownloadError):
        dl.check_zip(broken)


def test_glb_problem(tmp_path):
    g = make_glb(tmp_path / "a.glb")
    assert dl.glb_problem(g) is None
    data = g.read_bytes()
    (tmp_path / "cut.glb").write_bytes(data[:-8])
    (tmp_path / "magic.glb").write_bytes(b"xxxx" + data[4:])
    (tmp_path / "json.glb").write_bytes(data[:20] + b"{" * (len(data) - 20))
    assert "bytes" in dl.glb_problem(tmp_path / "cut.glb")
    assert "not a GLB" in dl.glb_problem(tmp_path / "magic.glb")
    assert dl.glb_problem(tmp_path / "json.glb")


def test_url_expiry_forms():
    now = 1_750_000_000
    assert dl.url_expiry(f"http://h/f.glb?expires={now}&sig=x") == now
    assert dl.url_expired(f"http://h/f.glb?expires={now}", now=now + 1)
    assert not dl.url_expired(f"http://h/f.glb?expires={now + 600}", now=now)
    assert dl.url_expired(f"http://h/f.glb?expires={now + 3}", now=now)  # about to expire: refresh first
    amz = "https://b.s3.amazonaws.com/k?X-Amz-Date=20250101T000000Z&X-Amz-Expires=300&X-Amz-Signature=s"
    assert dl.url_expiry(amz) == 1735689600 + 300
    import base64
    import json

    policy = json.dumps({"Statement": [{"Resource": "x", "Condition": {
        "DateLessThan": {"AWS:EpochTime": now}}}]}).encode()
    enc = base64.b64encode(policy).decode().replace("+", "-").replace("=", "_").replace("/", "~")
    assert dl.url_expiry(f"https://cdn/x.glb?Policy={enc}&Signature=s&Key-Pair-Id=k") == now
    assert dl.url_expiry(f"https://bos/x.glb?auth_key={now}-0-0-abc") == now
    assert dl.url_expiry("https://cdn/x.glb") is None


def test_safe_file_names():
    # named by task and output key (never by the URL's last segment: two outputs may share it), extension kept
    assert dl.safe_file_name("https://h/a/tripo_pbr_model_1.glb?x=1", "t", "model") == "t_model.glb"
    assert dl.safe_file_name("https://h/a/tripo_pbr_model_1.glb?x=1", "t", "model", own_folder=True) == "model.glb"
    assert dl.safe_file_name("https://h/a/c.FBX", "t", "clips.1", own_folder=True) == "clips_1.fbx"
    assert "/" not in dl.safe_file_name("https://h/a/..%2F..%2Fetc%2Fpasswd", "../t", "model")
    assert dl.safe_file_name("https://h/", "tid", "model") == "tid_model"
    assert not dl.safe_file_name("https://h/.hidden.glb", "t", "m").startswith(".")


def test_storage_error_messages(tmp_path):
    full = dl._storage_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path, "m.glb")
    assert isinstance(full, errors.TripoStorageError) and "disk space" in full.user_message
    ro = dl._storage_error(OSError(errno.EROFS, "Read-only file system"), tmp_path, "m.glb")
    assert "cannot be written" in ro.user_message and str(tmp_path) in ro.user_message
    denied = dl._storage_error(PermissionError(errno.EACCES, "Permission denied"), tmp_path, "m.glb")
    assert "cannot be written" in denied.user_message


# ============================================================================================== S3 options
def _token(host: str) -> StsToken:
    return StsToken(host, "tripo-data", "tcli_x/20250101/u/input.glb", "tok", "ASIA1", "sk")


def test_s3_options_real_aws_host_with_and_without_acceleration():
    opts = s3_client_options(_token("s3.us-west-2.amazonaws.com"), accelerate=True)
    assert "endpoint_url" not in opts and opts["_config"]["s3"] == {"use_accelerate_endpoint": True}
    assert opts["region_name"] == "us-west-2" and opts["verify"] is True
    assert opts["aws_session_token"] == "tok"
    plain = s3_client_options(_token("s3.us-west-2.amazonaws.com"))
    assert plain["endpoint_url"] == "https://s3.us-west-2.amazonaws.com" and plain["verify"] is True


def test_s3_options_loopback_host():
    opts = s3_client_options(_token("127.0.0.1:4567"), accelerate=True)  # acceleration ignored for a local S3
    assert opts["endpoint_url"] == "https://127.0.0.1:4567" and opts["verify"] is False
    assert opts["_config"]["s3"] == {"addressing_style": "path"}
    assert s3_client_options(_token("127.0.0.1:4567"), ca_bundle="/ca.pem")["verify"] == "/ca.pem"


def test_s3_accelerate_client_resolves_accelerate_endpoint():
    """The options build a real boto3 client whose endpoint is the accelerate host (nothing is sent)."""
    import boto3
    from botocore.config import Config

    opts = s3_client_options(_token("s3.us-west-2.amazonaws.com"), accelerate=True)
    cfg = Config(**opts.pop("_config"))
    s3 = boto3.session.Session().client("s3", config=cfg, **opts)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "tripo-data", "Key": "k"})
    assert url.startswith("https://tripo-data.s3-accelerate.amazonaws.com/")
    s3.close()
