"""v2 uploads: direct image upload (``POST /upload/sts``, falling back to ``/upload``) and the STS path (temporary
S3 credentials from ``POST /upload/sts/token``, then boto3 with multipart for large files and optional transfer
acceleration). Files are checked locally first (:mod:`~tripo_addon.api.localfiles`)."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..errors import TripoAPIError, TripoCancelled, TripoNetworkError, TripoUploadError, TripoValidationError
from ..images import check_image_file
from ..inputs import Input
from ..inputs import token as token_input
from ..localfiles import MESH_FORMATS, MIME, check_mesh_file, file_format
from ..transport import is_loopback, quiet_loopback_tls_warnings
from .wire import StsToken

if TYPE_CHECKING:  # pragma: no cover
    from ..dialect import Client

MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNK = 8 * 1024 * 1024
DEFAULT_S3_REGION = "us-west-2"


# ============================================================================================== direct upload
def upload_image(client: Client, path: str | os.PathLike, *, cancel: threading.Event | None = None
                 ) -> Input:
    """Check the image locally, then ``POST /upload/sts`` (multipart field ``file``; ``/upload`` if that route is
    missing). Returns the Input of the uploaded image."""
    info = check_image_file(path, param="file")
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:  # pragma: no cover - raced with a delete
        raise TripoValidationError(f"The image {p.name!r} cannot be read ({exc.strerror or exc}).", param="file")
    name = p.stem + "." + ("jpg" if info.kind == "jpeg" else info.kind)
    files = {"file": (name, data, MIME[info.kind])}
    wire = client.dialect
    first = client.dialect_state.get("upload_path", wire.upload_path)
    paths = [first] + [x for x in (wire.upload_path, wire.upload_fallback_path) if x != first]
    last: TripoAPIError | None = None
    for route in paths:
        try:
            result, _trace = client.request("POST", route, files=files, cancel=cancel, what=f"upload {p.name}")
        except TripoAPIError as exc:
            if exc.status == 404 and (exc.code is None or exc.code >= 9000):  # route missing, not a Tripo error
                last = exc
                continue
            raise
        client.dialect_state["upload_path"] = route
        try:
            token = wire.image_token_from(result)
        except ValueError:
            raise TripoUploadError(f"upload {p.name}: no image token in the answer.",
                                   user_message="Tripo accepted the image but sent no token; upload it again.")
        return token_input(token, info.file_type)
    assert last is not None
    raise last


# ============================================================================================== STS upload
def sts_token(client: Client, fmt: str, *, cancel: threading.Event | None = None) -> StsToken:
    """``POST /upload/sts/token`` for a file format (webp, jpeg, png, glb, obj, fbx, stl)."""
    from ..errors import TripoServerError

    wire = client.dialect
    data, trace = client.request("POST", wire.sts_token_path, json=wire.sts_token_body(fmt), cancel=cancel,
                                 what="get upload credentials")
    try:
        return wire.sts_token_from(data)
    except ValueError as exc:
        raise TripoServerError(f"STS token: {exc}.", trace_id=trace,
                               user_message="Tripo sent upload credentials the add-on could not read.") from None


def _region_of(host: str) -> str:
    m = re.match(r"^s3[.-]([a-z0-9-]+)\.amazonaws\.com(?::\d+)?$", host)
    return m.group(1) if m and m.group(1) not in ("accelerate", "external-1") else DEFAULT_S3_REGION


def s3_client_options(
    token: StsToken,
    *,
    accelerate: bool = False,
    ca_bundle: str | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
    proxies: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``boto3.client("s3", **...)`` (plus ``"config"`` kwargs under ``"_config"``).

    Endpoint ``https://<s3_host>``; transfer acceleration only for the real AWS host (a custom endpoint cannot be
    combined with it); TLS verified except for a loopback host (an emulator), where a given CA bundle still turns
    verification on.
    """
    host = token.s3_host.strip().rstrip("/")
    host = re.sub(r"^https?://", "", host)
    hostname = urlparse("https://" + host).hostname or host
    local = is_loopback(hostname)
    aws = hostname.endswith(".amazonaws.com")
    opts: dict[str, Any] = {
        "region_name": _region_of(host) if aws else DEFAULT_S3_REGION,
        "aws_access_key_id": token.sts_ak,
        "aws_secret_access_key": token.sts_sk,
        "aws_session_token": token.session_token,
        "verify": ca_bundle if ca_bundle else (not local),
    }
    s3cfg: dict[str, Any] = {}
    if accelerate and aws and not local:
        s3cfg["use_accelerate_endpoint"] = True
    else:
        opts["endpoint_url"] = f"https://{host}"
        if local or not aws:
            s3cfg["addressing_style"] = "path"
    config: dict[str, Any] = {
        "connect_timeout": timeout[0],
        "read_timeout": timeout[1],
        "retries": {"max_attempts": 4, "mode": "standard"},
        "signature_version": "s3v4",
        "s3": s3cfg,
    }
    if proxies and not local:
        config["proxies"] = dict(proxies)
    opts["_config"] = config
    return opts


def upload_sts(
    client: Client,
    path: str | os.PathLike,
    *,
    accelerate: bool = False,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Input:
    """Check the file, get STS credentials, upload it with boto3 (multipart above 8 MB). Returns the Input of the
    stored object."""
    p = Path(path)
    fmt = file_format(p)
    if fmt in MESH_FORMATS:
        check_mesh_file(p)
        file_type = fmt
    else:
        info = check_image_file(p, param="file")
        fmt, file_type = info.kind, info.file_type
    size = p.stat().st_size
    if client._closed:
        raise TripoUploadError("client closed")
    token = sts_token(client, fmt, cancel=cancel)
    client._check_cancel(cancel)

    import boto3
    from boto3.exceptions import S3UploadFailedError
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    opts = s3_client_options(token, accelerate=accelerate, ca_bundle=client.ca_bundle, timeout=client.timeout,
                             proxies=client.proxies)
    if opts["verify"] is False:
        quiet_loopback_tls_warnings()
    config = Config(user_agent_extra=client.user_agent, **opts.pop("_config"))
    s3 = boto3.session.Session().client("s3", config=config, **opts)
    done = [0]
    lock = threading.Lock()

    def callback(n: int) -> None:
        if cancel is not None and cancel.is_set():
            raise TripoCancelled("Upload cancelled.")
        with lock:
            done[0] += n
            current = done[0]
        if progress is not None:
            progress(current, size)

    transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK,
                              max_concurrency=4, use_threads=True)
    try:
        s3.upload_file(str(p), token.resource_bucket, token.resource_uri, Config=transfer, Callback=callback)
    except TripoCancelled:
        raise
    except (ClientError, S3UploadFailedError) as exc:
        err = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
        found = re.search(r"\(([A-Za-z]+)\)", str(exc))
        code = str(err.get("Code", "") or (found.group(1) if found else ""))
        raise TripoUploadError(
            f"S3 upload of {p.name} refused: {code} {err.get('Message', '')}".strip(),
            user_message=f"The upload of {p.name} to Tripo's storage was refused ({code or 'error'}); try again. If "
            "it keeps failing, the upload credentials may have expired: check your clock and connection.",
        ) from None
    except (BotoCoreError, OSError) as exc:
        if cancel is not None and cancel.is_set():
            raise TripoCancelled("Upload cancelled.") from None
        reason = type(exc).__name__
        raise TripoNetworkError(
            f"S3 upload of {p.name} failed: {reason}: {exc}",
            user_message=f"The upload of {p.name} to Tripo's storage failed ({reason}); check your connection (and "
            "proxy / CA bundle settings) and try again.",
        ) from None
    except Exception as exc:  # s3transfer wraps callback errors and odd failures
        if cancel is not None and cancel.is_set():
            raise TripoCancelled("Upload cancelled.") from None
        if isinstance(exc.__cause__ or exc.__context__, TripoCancelled):
            raise TripoCancelled("Upload cancelled.") from None
        raise TripoUploadError(f"S3 upload of {p.name} failed: {type(exc).__name__}: {exc}",
                               user_message=f"The upload of {p.name} failed; try again.") from None
    finally:
        try:
            s3.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
    return token.input(file_type)
