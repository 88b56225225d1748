"""Local input files, dialect-neutrally: checks before anything is sent (format, size, content matches the
extension) and finding / replacing local paths in a task's file parameters. The upload itself is the dialect's."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .errors import TripoValidationError
from .images import check_image_file
from .inputs import is_local_path

MAX_MODEL_BYTES = 150 * 1024 * 1024
MESH_FORMATS = ("glb", "obj", "fbx", "stl")
IMAGE_FORMATS = ("png", "jpeg", "webp")
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "glb": "model/gltf-binary",
        "obj": "model/obj", "fbx": "application/octet-stream", "stl": "model/stl"}

GLTF_REFUSED = ("{name}: Tripo's import refuses .gltf files (their buffers and textures are separate files it cannot "
                "fetch). Export the model as a single-file GLB (File > Export > glTF 2.0, format glTF Binary) and "
                "import that; nothing was sent.")


# ============================================================================================== local checks
def file_format(path: str | os.PathLike) -> str:
    """The format of a local file by its extension (jpg -> jpeg); TripoValidationError when unsupported."""
    ext = Path(path).suffix.lower().lstrip(".")
    ext = "jpeg" if ext == "jpg" else ext
    if ext == "gltf":  # tripo-api-v3.md §18 R11: Tripo's import refuses .gltf
        raise TripoValidationError(GLTF_REFUSED.format(name=Path(path).name), param="file")
    if ext not in MESH_FORMATS + IMAGE_FORMATS:
        raise TripoValidationError(
            f"{Path(path).name}: Tripo accepts GLB, OBJ, FBX or STL models and PNG, JPEG or WEBP images; convert the "
            "file to one of those.", param="file",
        )
    return ext


def check_mesh_file(path: str | os.PathLike, *, param: str | None = "file") -> str:
    """Check a local model file (exists, not empty, < 150 MB, content matches its extension); returns its format."""
    p = Path(path)
    fmt = file_format(p)
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
    Returns its format."""
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
_is_local = is_local_path


def _map_slots(params: Mapping[str, Any], fn: Callable[[Any, str], Any]) -> dict[str, Any]:
    """A copy of params with every file-slot value ``v`` replaced by ``fn(v, slot)`` (file, files[], texture_prompt
    image / images[] / style_image)."""
    out = dict(params)
    if isinstance(out.get("prompts"), Mapping):  # view prompts hold no files
        pass
    if out.get("file") is not None:
        out["file"] = fn(out["file"], "file")
    if isinstance(out.get("files"), list | tuple):
        out["files"] = [v if _empty(v) else fn(v, "files") for v in out["files"]]
    tp = out.get("texture_prompt")
    if isinstance(tp, Mapping):
        tp = dict(tp)
        for key in ("image", "style_image"):
            if not _empty(tp.get(key)):
                tp[key] = fn(tp[key], f"texture_prompt.{key}")
        if isinstance(tp.get("images"), list | tuple):
            tp["images"] = [v if _empty(v) else fn(v, "texture_prompt.images") for v in tp["images"]]
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
    """A copy of params with local paths replaced by ``mapping[path]`` (Inputs)."""
    def swap(v: Any, slot: str) -> Any:
        if _is_local(v):
            return mapping.get(os.fspath(v).strip(), v)
        return v

    return _map_slots(params, swap)




def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str | dict) and not v)
