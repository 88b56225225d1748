"""Uploads: direct image upload (``POST /upload/sts``, falling back to ``/upload``) and the STS path (temporary S3
credentials from ``POST /upload/sts/token``, then boto3 with multipart for large files and optional transfer
acceleration). Every local file is checked before the first request."""

from __future__ import annotations

import os
import re
import struct
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .errors import (
    TripoAPIError,
    TripoCancelled,
    TripoNetworkError,
    TripoUploadError,
    TripoValidationError,
)
from .images import check_image_file
from .models import StsToken

if TYPE_CHECKING:  # pragma: no cover
    from .client import TripoClient

MAX_MODEL_BYTES = 150 * 1024 * 1024
MESH_FORMATS = ("glb", "obj", "fbx", "stl")
IMAGE_FORMATS = ("png", "jpeg", "webp")
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNK = 8 * 1024 * 1024
DEFAULT_S3_REGION = "us-west-2"
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")


# ============================================================================================== local checks
def sts_format(path: str | os.PathLike) -> str:
    """The STS ``format`` for a file by its extension (jpg -> jpeg); TripoValidationError when unsupported."""
    ext = Path(path).suffix.lower().lstrip(".")
    ext = "jpeg" if ext == "jpg" else ext
    if ext not in MESH_FORMATS + IMAGE_FORMATS:
        raise TripoValidationError(
            f"{Path(path).name}: Tripo accepts GLB, OBJ, FBX or STL models and PNG, JPEG or WEBP images; convert the "
            "file to one of those.", param="file",
        )
    return ext


def check_mesh_file(path: str | os.PathLike, *, param: str | None = "file") -> str:
    """Check a local model file (exists, not empty, < 150 MB, content matches its extension); returns its format."""
    p = Path(path)
    fmt = sts_format(p)
    if fmt not in MESH_FORMATS:
        raise TripoValidationError(f"{p.name} is not a 3D model; use GLB, OBJ, FBX or STL.", param=param)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise TripoValidationError(f"{p} is not a file; choose a model file.", param=param)
        with p.open("rb") as f:
            head = f.read(4096)
    except FileNotFoundError:
        raise TripoValidationError(f"The model {p.name!r} does not exist ({p}); choose an existing file.", param=param)
    except OSError as exc:
        raise TripoValidationError(f"The model {p.name!r} cannot be read ({exc.strerror or exc}).", param=param)
    if size == 0:
        raise TripoValidationError(f"The model {p.name!r} is empty; export it again.", param=param)
    if size > MAX_MODEL_BYTES:
        raise TripoValidationError(
            f"The model {p.name!r} is {size / 1048576:.0f} MB; Tripo imports models under 150 MB. Simplify it or "
            "compress its textures.", param=param,
        )
    problem = _mesh_problem(fmt, head, size)
    if problem:
        raise TripoValidationError(f"The model {p.name!r} {problem}; export it again.", param=param)
    return fmt


def _mesh_problem(fmt: str, head: bytes, size: int) -> str | None:
    if fmt == "glb":
        if len(head) < 12 or head[:4] != b"glTF":
            return "is not a binary glTF (.glb) file"
        version, length = struct.unpack("<II", head[4:12])
        if version != 2:
            return f"is glTF version {version}; Tripo needs glTF 2.0"
        if length != size:
            return f"is truncated or padded (header says {length} bytes, the file has {size})"
    elif fmt == "fbx":
        if not (head.startswith(b"Kaydara FBX Binary") or head.lstrip().startswith((b";", b"FBXHeaderExtension"))):
            return "is not an FBX file"
    elif fmt == "stl":
        binary_ok = len(head) >= 84 and 84 + 50 * struct.unpack("<I", head[80:84])[0] == size
        if not binary_ok and not head.lstrip().lower().startswith(b"solid"):
            return "is not an STL file"
    elif fmt == "obj":
        if b"\x00" in head:
            return "is not a text OBJ file"
    return None


def check_local_file(path: str | os.PathLike, slot: str = "file", task_type: str = "") -> str:
    """Check a local input before anything is sent: models for import_model (or by extension), images otherwise.
    Returns the STS format."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if task_type == "import_model" or suffix in MESH_FORMATS:
        if task_type and task_type != "import_model":
            raise TripoValidationError(
                f"`{slot}` of {task_type} takes an image, not the model {Path(path).name}; use import_model for "
                "models.", param=slot.split(".")[0])
        return check_mesh_file(path, param=slot.split(".")[0])
    info = check_image_file(path, param=slot.split(".")[0])
    return info.kind


# ============================================================================================== local paths in params
def _is_local(value: Any) -> bool:
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str) or not value.strip():
        return False
    v = value.strip()
    if v.startswith(("http://", "https://")):
        return False
    return os.path.exists(v) or not _UUIDISH.match(v)


def _map_slots(params: Mapping[str, Any], fn: Callable[[Any, str], Any]) -> dict[str, Any]:
    """A copy of params with every file-slot value ``v`` replaced by ``fn(v, slot)`` (file, files[], texture_prompt
    image / images[] / style_image)."""
    out = dict(params)
    if out.get("file") is not None:
        out["file"] = fn(out["file"], "file")
    if isinstance(out.get("files"), list | tuple):
        out["files"] = [v if v in (None, {}, "") else fn(v, "files") for v in out["files"]]
    tp = out.get("texture_prompt")
    if isinstance(tp, Mapping):
        tp = dict(tp)
        for key in ("image", "style_image"):
            if tp.get(key) not in (None, {}, ""):
                tp[key] = fn(tp[key], f"texture_prompt.{key}")
        if isinstance(tp.get("images"), list | tuple):
            tp["images"] = [v if v in (None, {}, "") else fn(v, "texture_prompt.images") for v in tp["images"]]
        out["texture_prompt"] = tp
    return out


def find_local_files(task_type: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(path, slot)`` for every local file in the parameters' file slots."""
    found: list[tuple[str, str]] = []

    def visit(v: Any, slot: str) -> Any:
        if _is_local(v):
            found.append((os.fspath(v).strip(), slot))
        return v

    _map_slots(params, visit)
    return found


def replace_local_files(task_type: str, params: Mapping[str, Any], mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of params with local paths replaced by ``mapping[path]`` (file objects)."""
    def swap(v: Any, slot: str) -> Any:
        if _is_local(v):
            return mapping.get(os.fspath(v).strip(), v)
        return v

    return _map_slots(params, swap)


# ============================================================================================== direct upload
def upload_image(client: TripoClient, path: str | os.PathLike, *, cancel: threading.Event | None = None
                 ) -> dict[str, Any]:
    """Check the image locally, then ``POST /upload/sts`` (multipart field ``file``; ``/upload`` if that route is
    missing). Returns ``{"type": "png"|"jpg"|"webp", "file_token": <image_token>}``."""
    info = check_image_file(path, param="file")
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:  # pragma: no cover - raced with a delete
        raise TripoValidationError(f"The image {p.name!r} cannot be read ({exc.strerror or exc}).", param="file")
    name = p.stem + "." + ("jpg" if info.kind == "jpeg" else info.kind)
    files = {"file": (name, data, _MIME[info.kind])}
    wire = client.wire
    paths = [client._upload_path] + [x for x in (wire.upload_path, wire.upload_fallback_path)
                                     if x != client._upload_path]
    last: TripoAPIError | None = None
    for route in paths:
        try:
            result, _trace = client.request("POST", route, files=files, cancel=cancel, what=f"upload {p.name}")
        except TripoAPIError as exc:
            if exc.status == 404 and (exc.code is None or exc.code >= 9000):  # route missing, not a Tripo error
                last = exc
                continue
            raise
        client._upload_path = route
        try:
            token = wire.image_token_from(result)
        except ValueError:
            raise TripoUploadError(f"upload {p.name}: no image token in the answer.",
                                   user_message="Tripo accepted the image but sent no token; upload it again.")
        return wire.token_file(token, info.file_type)
    assert last is not None
    raise last


# ============================================================================================== STS upload
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
    from .client import is_loopback

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
    client: TripoClient,
    path: str | os.PathLike,
    *,
    accelerate: bool = False,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Check the file, get STS credentials, upload it with boto3 (multipart above 8 MB). Returns the file object
    ``{"type": <ext>, "object": {"bucket": ..., "key": ...}}``."""
    p = Path(path)
    fmt = sts_format(p)
    if fmt in MESH_FORMATS:
        check_mesh_file(p)
        file_type = fmt
    else:
        info = check_image_file(p, param="file")
        fmt, file_type = info.kind, info.file_type
    size = p.stat().st_size
    if client._closed:
        raise TripoUploadError("client closed")
    token = client.sts_token(fmt, cancel=cancel)
    client._check_cancel(cancel)

    import boto3
    from boto3.exceptions import S3UploadFailedError
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    opts = s3_client_options(token, accelerate=accelerate, ca_bundle=client.ca_bundle, timeout=client.timeout,
                             proxies=client.proxies)
    if opts["verify"] is False:
        from .client import quiet_loopback_tls_warnings

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
    return token.file_object(file_type)
