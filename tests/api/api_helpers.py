"""Shared helpers for the api tests: small valid inputs and emulator request-log queries."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

from PIL import Image
from sample_files import make_glb  # noqa: F401  (re-exported)

WAIT = 60.0  # generous upper bound for wait(); the emulator finishes tasks in well under a second


def make_image(path: Path, fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> Path:
    """A real image file (Pillow): PNG, JPEG or WEBP (lossy or lossless)."""
    img = Image.new("RGB", size, (200, 120, 40))
    for x in range(min(size[0], 16)):
        img.putpixel((x, x % size[1]), (10, 20, 250))
    kw = {"lossless": True} if fmt == "WEBP_LOSSLESS" else {}
    img.save(path, "WEBP" if fmt.startswith("WEBP") else fmt, **kw)
    return path


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, (1, 2, 3))
    kw = {"lossless": True} if fmt == "WEBP_LOSSLESS" else {}
    img.save(buf, "WEBP" if fmt.startswith("WEBP") else fmt, **kw)
    return buf.getvalue()


def make_zip(path: Path, members: dict[str, bytes], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return path


def posts(emulator, key: str, path: str = "/task") -> list[dict]:
    """POST requests of this key whose path ends with ``path``."""
    return [r for r in emulator.requests(method="POST", key=key) if r["path"].rstrip("/").endswith(path)]


def gets(emulator, key: str, path: str = "/task/") -> list[dict]:
    return [r for r in emulator.requests(method="GET", key=key) if path in r["path"]]


def assert_model_file(path: Path) -> None:
    """A downloaded result is non-empty and plausible for its extension."""
    data = path.read_bytes()
    assert data, path
    ext = path.suffix.lower()
    if ext == ".glb":
        assert data[:4] == b"glTF" and struct.unpack("<I", data[8:12])[0] == len(data)
    elif ext in (".zip", ".usdz", ".3mf"):
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None and z.namelist()
    elif ext == ".fbx":
        assert data.startswith(b"Kaydara FBX Binary") or b"FBX" in data[:200]
    elif ext == ".stl":
        assert len(data) >= 84
    elif ext in (".png", ".webp", ".jpg"):
        from tripo_addon.api.images import sniff

        assert sniff(data) is not None


# ============================================================================================== the v2 tier
V2_SUFFIX = "/v2/openapi"


def v2_url_of(emu) -> str:
    """The emulator's v2 API URL (``base_url`` while it speaks only v2; ``root_url + /v2/openapi`` once v3 is at the
    root)."""
    base = emu.base_url.rstrip("/")
    return base if base.endswith(V2_SUFFIX) else emu.root_url + V2_SUFFIX


def v2_values(task_type: str, params: dict | None = None, **kw) -> dict:
    """``tasks.build_request(task_type, params, api="v2", **kw)``: the validated values a v2 client sends."""
    from tripo_addon.api import tasks

    return tasks.build_request(task_type, dict(params or {}), api="v2", **kw)


class _V2Builders:
    """The typed builders of ``tripo_addon.api.tasks`` (same signatures), validating for API v2.

    ``V2.text_to_model("a lamp", texture=False)`` == ``build_request("text_to_model", {...}, api="v2")``.
    """

    def __getattr__(self, task_type: str):
        import inspect

        from tripo_addon.api import tasks

        fn = tasks.BUILDERS[task_type]
        sig = inspect.signature(fn)

        def build(*args, **kwargs) -> dict:
            params = dict(sig.bind(*args, **kwargs).arguments)
            source_type = params.pop("source_type", None)
            version = params.pop("source_model_version", None)
            return v2_values(task_type, params, source_type=source_type, source_model_version=version)

        build.__name__ = task_type
        return build


V2 = _V2Builders()


def wire_body(task_type: str, values: dict) -> dict:
    """The JSON body a v2 client POSTs to /task for these values (``{"type": ..., ...}``, Inputs as file objects)."""
    from tripo_addon.api.v2.dialect import DIALECT as WIRE

    return WIRE.create_request(task_type, values)[1]
