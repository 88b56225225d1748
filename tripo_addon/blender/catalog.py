"""The Blender layer's view of ``api.tasks``: parameter specs, enum items, chain checks, credit estimates, errors.

No bpy here either; it only adapts the api's data to what properties and panels need.
"""

from __future__ import annotations

import zlib
from typing import Any

from ..api import tasks as api_tasks

AUTO = "AUTO"
#: Task types that start from nothing (the Generate panel); the others act on a model.
GENERATION = ("text_to_image", "generate_image", "text_to_model", "image_to_model", "multiview_to_model",
              "image_to_splat", "image_to_depth")
#: Task types whose result is an image, not a model.
IMAGE_RESULT = ("text_to_image", "generate_image", "generate_multiview_image", "edit_multiview_image")

_enum_cache: dict[tuple, list] = {}  # Blender needs the strings of dynamic enum items to stay alive
_api = [api_tasks.DEFAULT_API]  # the API version the preferences' address speaks (set by runtime)


def set_api(api: str) -> None:
    """Follow the API version of the current address ("v3" or "v2"); the first call also asks the glTF importer
    whether compressed results can be opened (api.tasks then refuses ``compress`` where they cannot)."""
    _api[0] = api if api in api_tasks.API_VERSIONS else api_tasks.DEFAULT_API
    from . import gltf_caps  # the importer is asked once (cached)

    gltf_caps.apply()


def compress_problem() -> str | None:
    """Why ``compress`` is not offered here (the importer cannot open the result), or None."""
    from . import gltf_caps

    ok, reason = gltf_caps.apply()
    return None if ok else reason


def price_prefix(task_type_name: str, params: dict | None = None) -> str:
    """"≈" before an approximate price (tripo-api-v3.md §18 R3), "" before one from the published table (R2)."""
    return "" if api_tasks.price_kind(task_type_name, params or {}, api=api()) == "published" else "\u2248"


def notes(task_type_name: str, params: dict, source_type: str | None = None) -> list[str]:
    """What Tripo will do with these values (a face limit it clamps, an option it ignores): for the dialog. Local
    files are replaced by a stand-in (the notes never depend on a file's content)."""
    tt = task_type(task_type_name)
    if tt is None:
        return []
    probe = dict(params or {})
    for p in tt.params:
        if p.name in probe and p.kind == "file":
            ext = "glb" if task_type_name == "import_model" else "png"
            probe[p.name] = f"https://placeholder.invalid/input.{ext}"
        elif p.name in probe and p.kind == "files":
            probe[p.name] = ["https://placeholder.invalid/input.png" if v else None for v in probe[p.name] or []]
        elif p.name in probe and p.kind == "texture_prompt" and isinstance(probe[p.name], dict):
            probe[p.name] = {k: ("https://placeholder.invalid/input.png" if k != "text" else v)
                             for k, v in probe[p.name].items() if k != "images"}
        elif p.kind == "task_id" and p.required and p.name not in probe:
            probe[p.name] = "00000000-0000-4000-8000-000000000000"
    return api_tasks.notes(task_type_name, probe, api=api(), source_type=source_type)


def api() -> str:
    return _api[0]


def task_types() -> dict:
    """Every task type the add-on knows (operators exist for all; retired ones are greyed out with the reason)."""
    return api_tasks.TASK_TYPES


def task_type(name: str):
    """The spec of a task type in the current API version (its own catalogue), else any version's."""
    return api_tasks.catalog(api()).types.get(name) or api_tasks.TASK_TYPES.get(name)


def retired_reason(name: str) -> str | None:
    """Why this task type cannot run on the current API (retired by Tripo, or v3 only), or None."""
    return api_tasks.retired_reason(name, api())


def param(task_type_name: str, name: str):
    tt = task_type(task_type_name)
    if tt is None:
        return None
    return next((p for p in tt.params if p.name == name), None)


def label(task_type_name: str) -> str:
    tt = task_type(task_type_name)
    return tt.label if tt is not None and tt.label else task_type_name.replace("_", " ").title()


def pretty(value: Any) -> str:
    text = str(value)
    return text.replace("_", " ") if text.islower() else text


def enum_items(task_type_name: str, name: str, *, auto: bool = True) -> list[tuple[str, str, str]]:
    """Items for an EnumProperty over a parameter's choices; with ``auto`` an "Auto" item comes first."""
    p = param(task_type_name, name)
    if p is None:
        return [(AUTO, "Auto", "Let Tripo decide", 0)]
    return enum_items_for(p) if auto or not p.choices else enum_items_required(p)


def stable_number(identifier: str) -> int:
    """The value an enum item is stored under in .blend files: derived from its identifier, so it never changes
    when the catalogue gains, loses or reorders choices (Blender stores an enum's number, by default its position:
    adding a model version at the front used to turn every saved choice into another). "Auto" is 0, as before."""
    if identifier == AUTO:
        return 0
    return zlib.crc32(identifier.encode("utf-8")) & 0x7FFFFFFF or 1


def enum_items_for(p) -> list[tuple[str, str, str, int]]:
    """"Auto" (unset: Tripo's default applies) followed by the parameter's choices (stable numbers). ``compress``
    where the result cannot be imported: its choices say why (the api refuses them with the same reason)."""
    if p.name == "compress":
        problem = compress_problem()
        if problem:
            key = ("compress-off", problem)
            items = _enum_cache.get(key)
            if items is None:
                items = [(AUTO, "Off", f"Not offered: {problem}", 0)]
                items.extend((str(c), f"{pretty(c)} (unavailable)", f"Refused: {problem}", stable_number(str(c)))
                             for c in p.choices)
                _enum_cache[key] = items
            return items
    key = ("auto", p.name, tuple(p.choices), p.default)
    items = _enum_cache.get(key)
    if items is None:
        default = f" ({pretty(p.default)})" if p.default not in (None, "") else ""
        items = [(AUTO, f"Auto{default}", "Not sent: Tripo applies its default", 0)]
        items.extend((str(c), pretty(c), f"{p.name} = {c}", stable_number(str(c))) for c in p.choices)
        _enum_cache[key] = items
    return items


def enum_items_required(p) -> list[tuple[str, str, str, int]]:
    key = ("required", p.name, tuple(p.choices))
    items = _enum_cache.get(key)
    if items is None:
        items = [(str(c), pretty(c), f"{p.name} = {c}", stable_number(str(c))) for c in p.choices]
        _enum_cache[key] = items
    return items


def chain_problem(target: str, source_type: str, source_version: str | None = None) -> str | None:
    """Why ``target`` cannot follow a ``source_type`` result (a plain sentence), or None when it can."""
    try:
        api_tasks.check_chain(target, source_type, source_version or None, api=api())
    except Exception as exc:  # TripoValidationError (matched loosely, see is_tripo_error)
        if not is_tripo_error(exc):
            raise
        return user_message(exc)
    return None


def sources_accepted(target: str) -> frozenset:
    tt = task_type(target)
    return frozenset(tt.sources) if tt is not None else frozenset()


def estimate_credits(task_type_name: str, params: dict) -> float | None:
    try:
        return float(api_tasks.estimate_credits(task_type_name, params, api=api()))
    except Exception:  # an estimate must never break drawing
        return None


def default_model_version(task_type_name: str) -> str | None:
    p = param(task_type_name, "model_version")
    return str(p.default) if p is not None and p.default else None


def is_tripo_error(exc: BaseException) -> bool:
    """True for the api's TripoError family.

    Matched by class name so a second copy of the api package (e.g. imported by absolute name) still counts.
    """
    return any(cls.__name__ == "TripoError" for cls in type(exc).__mro__)


def is_validation_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "TripoValidationError" for cls in type(exc).__mro__)


def user_message(exc: BaseException) -> str:
    """One plain sentence for the user; never contains a key."""
    from ..api.errors import redact

    text = getattr(exc, "user_message", "") or getattr(exc, "message", "") or str(exc) or type(exc).__name__
    return redact(str(text))


def validation_error(message: str) -> Exception:
    from ..api.errors import TripoValidationError

    try:
        return TripoValidationError(message)
    except TypeError:  # a constructor with keyword-only fields
        err = TripoValidationError.__new__(TripoValidationError)
        Exception.__init__(err, message)
        err.message = err.user_message = message
        return err
