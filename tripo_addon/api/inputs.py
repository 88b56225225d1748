"""Dialect-neutral task inputs: what a task reads a file from.

A parameter that takes a file (an image, the four views, a model to import) holds one of:

* a local path (``str`` / ``os.PathLike``): uploaded by :meth:`TripoClient.submit` or the job engine first;
* :class:`Input` of kind ``"token"`` (a file uploaded to Tripo), ``"object"`` (a file in Tripo's storage bucket,
  v2's STS upload), ``"url"`` (a public http(s) URL) or ``"task"`` (the result of an earlier task, by its id; ``url``
  keeps that result's signed URL for dialects that cannot refer to a task's output by id).

Each API dialect turns an :class:`Input` into its wire form; nothing else needs to know that form. ``Input`` is
journaled with :meth:`Input.to_json` / :func:`Input.from_json`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from .errors import TripoValidationError

KINDS = ("token", "object", "url", "task")
IMAGE_EXTS = ("png", "jpg", "webp")
MESH_EXTS = ("glb", "obj", "fbx", "stl")
_UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_FILE_TOKEN = re.compile(r"^file_[0-9A-Za-z-]{8,64}$")
_MARK = "$input"


@dataclass(frozen=True)
class Input:
    """A reference to a file Tripo can read. ``ext`` is the file's extension (png, jpg, webp, glb, ...)."""

    kind: str
    value: str                 # the token, the URL, the task id, or "bucket/key" for "object"
    ext: str = "png"
    url: str | None = None     # kind "task": the output's signed URL, when known

    @property
    def bucket(self) -> str:
        return self.value.split("/", 1)[0] if self.kind == "object" else ""

    @property
    def key(self) -> str:
        return self.value.split("/", 1)[1] if self.kind == "object" and "/" in self.value else ""

    @property
    def is_mesh(self) -> bool:
        return self.ext in MESH_EXTS

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "value": self.value, "ext": self.ext}
        if self.url:
            d["url"] = self.url
        return {_MARK: d}

    @staticmethod
    def is_json(value: Any) -> bool:
        return isinstance(value, Mapping) and set(value) == {_MARK} and isinstance(value[_MARK], Mapping)

    @staticmethod
    def from_json(value: Mapping[str, Any]) -> Input:
        d = value[_MARK]
        return Input(str(d["kind"]), str(d["value"]), str(d.get("ext") or "png"), d.get("url") or None)


def token(tok: str, ext: str) -> Input:
    """A file uploaded to Tripo (an upload's file token)."""
    return Input("token", tok, norm_ext(ext))


def stored_object(bucket: str, key: str, ext: str) -> Input:
    """A file in Tripo's storage bucket (v2 STS upload)."""
    return Input("object", f"{bucket}/{key}", norm_ext(ext))


def url(link: str, ext: str | None = None, *, mesh: bool = False) -> Input:
    """A file at a public http(s) URL."""
    e = norm_ext(ext or ext_of(link))
    if e not in IMAGE_EXTS + MESH_EXTS:
        e = "glb" if mesh else "png"
    return Input("url", link, e)


def task_output(task_id: str, link: str | None, ext: str | None = None) -> Input:
    """The result of an earlier task, by its id (``link``: its signed URL, for dialects that need one)."""
    e = norm_ext(ext or (ext_of(link) if link else "") or "png")
    return Input("task", task_id, e if e in IMAGE_EXTS + MESH_EXTS else "png", link)


def norm_ext(ext: str) -> str:
    e = (ext or "").lower().lstrip(".")
    return "jpg" if e == "jpeg" else e


def ext_of(text: str) -> str:
    path = urlparse(text).path if "://" in text else text
    return norm_ext(os.path.splitext(path)[1])


def is_local_path(value: Any) -> bool:
    """True for a value that names a local file (to be uploaded), not a URL, token, task id or Input."""
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str) or not value.strip():
        return False
    v = value.strip()
    if v.startswith(("http://", "https://")):
        return False
    return os.path.exists(v) or not (_UUIDISH.match(v) or _FILE_TOKEN.match(v))


def coerce(value: Any, where: str = "file", *, mesh: bool = False) -> Input:
    """An :class:`Input` from what a caller may pass: an Input (or its JSON), an http(s) URL, an upload token, or the
    legacy file object ``{type, file_token | url | object}`` scripts written for v2 use. A local path is refused:
    upload it first (``TripoClient.upload``) or let ``TripoClient.submit`` / the job engine do it."""
    pname = where.split(".")[0].split("[")[0]
    if isinstance(value, Input):
        if value.kind not in KINDS or not value.value:
            raise TripoValidationError(f"`{where}` is not a usable file reference.", param=pname)
        return value
    if Input.is_json(value):
        return Input.from_json(value)
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        v = value.strip()
        if v.startswith(("http://", "https://")):
            return url(v, mesh=mesh)
        if (_UUIDISH.match(v) or _FILE_TOKEN.match(v)) and not os.path.exists(v):
            return token(v, "glb" if mesh else "jpg")
        raise TripoValidationError(
            f"`{where}` is a local file ({os.path.basename(v) or v}); upload it first with TripoClient.upload, or "
            "send it with TripoClient.submit.", param=pname)
    if not isinstance(value, Mapping):
        raise TripoValidationError(
            f"`{where}` must be a file: a local path, an http(s) URL, an upload token or an Input; got {value!r}.",
            param=pname)
    return _legacy(value, where, pname, mesh)


def _legacy(value: Mapping[str, Any], where: str, pname: str, mesh: bool) -> Input:
    """The legacy file object ``{type, file_token | url | object}`` (v2 scripts) as an Input."""
    unknown = set(value) - {"type", "file_token", "url", "object"}
    if unknown:
        raise TripoValidationError(
            f"`{where}` has unknown fields {sorted(unknown)}; use type and one of file_token, url, object.",
            param=pname)
    given = [k for k in ("file_token", "url", "object") if value.get(k) not in (None, "", {})]
    if len(given) != 1:
        raise TripoValidationError(
            f"`{where}` needs exactly one of file_token, url or object (got {', '.join(given) if given else 'none'}).",
            param=pname)
    ftype = value.get("type")
    if ftype not in (None, "") and not isinstance(ftype, str):
        raise TripoValidationError(f"`{where}.type` must be a file extension such as png or glb.", param=pname)
    how = given[0]
    if how == "file_token":
        tok = value["file_token"]
        if not isinstance(tok, str) or not tok.strip():
            raise TripoValidationError(f"`{where}.file_token` must be the token string from an upload.", param=pname)
        return token(tok.strip(), ftype or ("glb" if mesh else "jpg"))
    if how == "url":
        link = value["url"]
        if not isinstance(link, str) or not link.strip().startswith(("http://", "https://")):
            raise TripoValidationError(f"`{where}.url` must be an http(s) URL.", param=pname)
        return url(link.strip(), ftype or None, mesh=mesh)
    obj = value["object"]
    if (not isinstance(obj, Mapping) or not isinstance(obj.get("bucket"), str) or not obj.get("bucket")
            or not isinstance(obj.get("key"), str) or not obj.get("key")):
        raise TripoValidationError(f"`{where}.object` must be {{bucket, key}} from an STS upload.", param=pname)
    return stored_object(obj["bucket"], obj["key"], ftype or ext_of(obj["key"]) or ("glb" if mesh else "png"))
