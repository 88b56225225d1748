"""Image header sniffing (PNG, JPEG, WEBP: type, width, height) in pure Python, and the local checks Tripo's image
inputs need: a supported type, 20-6000 px per side, at most 20 MB."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import TripoValidationError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MIN_SIDE, MAX_SIDE = 20, 6000
SUGGESTED_MIN_SIDE = 256
IMAGE_KINDS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class ImageInfo:
    kind: str          # "png" | "jpeg" | "webp"
    width: int
    height: int

    @property
    def file_type(self) -> str:
        """The ``type`` value for a Tripo file object ("jpg" for JPEG, like the official SDK)."""
        return "jpg" if self.kind == "jpeg" else self.kind


def sniff(data: bytes) -> ImageInfo | None:
    """Type and size from the first bytes of an image, or None when it is not a PNG, JPEG or WEBP we can read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _png(data: bytes) -> ImageInfo | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return ImageInfo("png", w, h)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageInfo | None:
    i, n = 2, len(data)
    while i < n:
        while i < n and data[i] != 0xFF:  # tolerate garbage between segments
            i += 1
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # stand-alone markers
            continue
        if marker == 0xD9 or i + 2 > n:  # end of image
            return None
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2:
            return None
        if marker in _SOF:
            if i + 7 > n:
                return None
            h, w = struct.unpack(">HH", data[i + 3 : i + 7])
            return ImageInfo("jpeg", w, h)
        i += length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", data[26:30])
        return ImageInfo("webp", w & 0x3FFF, h & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        b = data[21:25]
        w = 1 + (((b[1] & 0x3F) << 8) | b[0])
        h = 1 + (((b[3] & 0x0F) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
        return ImageInfo("webp", w, h)
    if chunk == b"VP8X" and len(data) >= 30:
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
        return ImageInfo("webp", w, h)
    return None


def check_image_bytes(data: bytes, *, name: str = "image", param: str | None = None) -> ImageInfo:
    """Check image bytes against Tripo's limits; raises TripoValidationError naming ``name`` and what to do."""
    if not data:
        raise TripoValidationError(f"The {name} is empty; choose another file.", param=param)
    if len(data) > MAX_IMAGE_BYTES:
        raise TripoValidationError(
            f"The {name} is {len(data) / 1048576:.1f} MB; Tripo accepts images up to 20 MB. Resize or compress it.",
            param=param,
        )
    info = sniff(data)
    if info is None:
        raise TripoValidationError(
            f"The {name} is not a PNG, JPEG or WEBP image; convert it to one of those formats.", param=param
        )
    _check_sides(info, name, param)
    return info


def _check_sides(info: ImageInfo, name: str, param: str | None) -> None:
    if not (MIN_SIDE <= info.width <= MAX_SIDE and MIN_SIDE <= info.height <= MAX_SIDE):
        raise TripoValidationError(
            f"The {name} is {info.width}x{info.height} px; Tripo needs {MIN_SIDE}-{MAX_SIDE} px per side "
            f"(more than {SUGGESTED_MIN_SIDE} px works best). Resize it.",
            param=param,
        )


def check_image_file(path: str | os.PathLike, *, param: str | None = None) -> ImageInfo:
    """Check a local image file (readable, <= 20 MB, PNG/JPEG/WEBP sniffed from its bytes, 20-6000 px per side)."""
    p = Path(path)
    name = f"image {p.name!r}"
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise TripoValidationError(f"The {name} is not a file; choose an image file.", param=param)
    except FileNotFoundError:
        raise TripoValidationError(f"The {name} does not exist ({p}); choose an existing file.", param=param)
    except OSError as exc:
        raise TripoValidationError(f"The {name} cannot be read ({exc.strerror or exc}).", param=param)
    if size == 0:
        raise TripoValidationError(f"The {name} is empty; choose another file.", param=param)
    if size > MAX_IMAGE_BYTES:
        raise TripoValidationError(
            f"The {name} is {size / 1048576:.1f} MB; Tripo accepts images up to 20 MB. Resize or compress it.",
            param=param,
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TripoValidationError(f"The {name} cannot be read ({exc.strerror or exc}).", param=param)
    return check_image_bytes(data, name=name, param=param)
