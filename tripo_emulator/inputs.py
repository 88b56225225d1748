"""Input checks shared by the routes: prompt text (2008/2009), file objects (file_token | url | object),
images (PNG/JPEG/WEBP, 20-6000 px, <= 20 MB) and meshes (GLB/OBJ/FBX/STL sniffed from the bytes)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol

from . import catalog as C
from .errors import ApiError, invalid

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_MODEL_BYTES = 150 * 1024 * 1024
# An imported mesh with more triangles than this is "too complex" for highpoly_to_lowpoly / quad remeshing (2018).
TOO_COMPLEX_FACES = 200_000
TOO_COMPLEX_PHRASE = "too complex"
VIEWS = ("front", "left", "back", "right")


class SourceTask(Protocol):
    """What validation needs to know about an earlier task."""

    id: str
    type: str
    status: str
    meta: dict


class Context(Protocol):
    """Lookups validation needs from the emulator (all scoped to the calling account)."""

    banned_words: tuple[str, ...]
    priority_entitled: bool                                       # may send `priority` (else 403/2013)

    def source(self, task_id: Any) -> SourceTask: ...            # 2001 when missing or another key's

    def image_token(self, token: str) -> bytes: ...               # 2019 when missing or another key's

    def s3_object(self, bucket: str, key: str) -> bytes: ...      # 2019 when missing

    def fetch_url(self, url: str) -> bytes: ...                   # 2003 when it cannot be downloaded


@dataclass
class InputFile:
    """A resolved file input: its bytes and what it turned out to be."""

    data: bytes
    kind: str              # png | jpeg | webp | glb | obj | fbx | stl
    width: int = 0
    height: int = 0
    faces: int = 0


def check_text(text: str, banned: tuple[str, ...]) -> None:
    """2009 for emoji / control characters, 2008 for a banned word (case-insensitive)."""
    for ch in text:
        o = ord(ch)
        if (o >= 0x1F000 or 0x2600 <= o <= 0x27BF or 0x2B00 <= o <= 0x2BFF or o in (0xFE0F, 0x200D)
                or 0xD800 <= o <= 0xDFFF or (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")):
            raise ApiError(2009, f"Character U+{o:04X} is not allowed.")
    low = text.lower()
    for w in banned:
        if w and re.search(r"(?<![a-z0-9])" + re.escape(w.lower()) + r"(?![a-z0-9])", low):
            raise ApiError(2008)


def resolve_file(obj: Any, ctx: Context, field_name: str, *, mesh: bool = False) -> InputFile:
    """Resolve a file object {type, file_token | url | object}."""
    if not isinstance(obj, dict):
        raise invalid(f"`{field_name}` must be a file object.")
    given = [k for k in ("file_token", "url", "object") if obj.get(k) not in (None, "")]
    if len(given) != 1:
        raise invalid(f"`{field_name}` needs exactly one of file_token, url, object.")
    how = given[0]
    if how == "file_token":
        if not isinstance(obj["file_token"], str):
            raise invalid(f"`{field_name}.file_token` must be a string.")
        data = ctx.image_token(obj["file_token"])
    elif how == "url":
        url = obj["url"]
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            raise invalid(f"`{field_name}.url` must be an http(s) URL.")
        data = ctx.fetch_url(url)
    else:
        o = obj["object"]
        if not isinstance(o, dict) or not isinstance(o.get("bucket"), str) or not isinstance(o.get("key"), str):
            raise invalid(f"`{field_name}.object` must be {{bucket, key}}.")
        data = ctx.s3_object(o["bucket"], o["key"])
    if not data:
        raise ApiError(2003)
    if mesh:
        declared = str(obj.get("type") or "").lower().lstrip(".")
        if declared not in C.MESH_FORMATS and how == "object":
            declared = obj["object"]["key"].rsplit(".", 1)[-1].lower()
        if len(data) > MAX_MODEL_BYTES:
            raise invalid("The model file is larger than 150 MB.")
        return sniff_mesh(data, declared)
    return check_image(data)


def check_image(data: bytes) -> InputFile:
    """An image input: png/jpeg/webp, <= 20 MB, 20..6000 px per side."""
    from .assets.png import sniff_image

    if not data:
        raise ApiError(2003)
    info = sniff_image(data)
    if info is None:
        raise ApiError(2004, "Use a PNG, JPEG or WEBP image.")
    kind, w, h = info
    if len(data) > MAX_IMAGE_BYTES:
        raise invalid("The image is larger than 20 MB.")
    if not (20 <= w <= 6000 and 20 <= h <= 6000):
        raise invalid(f"Image sides must be 20..6000 px, got {w}x{h}.")
    return InputFile(data, kind, w, h)


def sniff_mesh(data: bytes, declared: str) -> InputFile:
    """Check the bytes are a mesh of the declared format (glb/obj/fbx/stl) and count its faces; else 2004."""
    from .assets import formats

    found = formats.sniff_mesh_format(data)
    if found == "gltf" or declared == "gltf":   # §18 R11: Tripo refuses .gltf (its buffers/textures are other files)
        raise ApiError(2004, "glTF (.gltf) files are not accepted: they keep their buffers and textures in "
                             "separate files. Export a single-file GLB (.glb) and send that.")
    if found is None or (declared in C.MESH_FORMATS and found != declared):
        what = found or "not a supported mesh"
        raise ApiError(2004, f"Expected a {declared or 'GLB/OBJ/FBX/STL'} model, the file is {what}.")
    return InputFile(data, found, faces=formats.count_faces(data, found))


def image_slots(v: Any, ctx: Context, field_name: str) -> list[InputFile | None]:
    """Exactly 4 slots [front, left, back, right]; {} for a skipped view; front required; >= 2 images."""
    if not isinstance(v, list) or len(v) != 4:
        raise invalid(f"`{field_name}` must have exactly 4 entries [front, left, back, right] ({{}} to skip).")
    out: list[InputFile | None] = []
    for i, item in enumerate(v):
        out.append(None if item in ({}, None) else resolve_file(item, ctx, f"{field_name}[{i}]"))
    if out[0] is None:
        raise invalid(f"`{field_name}[0]` (front view) is required.")
    if sum(x is not None for x in out) < 2:
        raise invalid(f"`{field_name}` needs at least 2 images.")
    return out
