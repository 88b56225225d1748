"""The pieces every request-body check is made of (reference §5-§6): the :class:`Plan` a valid body becomes, and
the field readers (booleans, integers, numbers, enums, texts, source tasks, part names) that raise ApiError with the
code the real service uses. Split from validation.py, which holds the per-task-type rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, invalid
from .inputs import Context, InputFile, SourceTask, check_text

MAX_PROMPT, MAX_NEGATIVE = 1024, 255


@dataclass
class Plan:
    type: str
    params: dict[str, Any]
    echo: dict[str, Any]
    price: int = 0
    group: str = "other"
    family: str | None = None
    source: SourceTask | None = None
    files: dict[str, InputFile] = field(default_factory=dict)
    dialect: str = "v2"          # "v3" when v3's routes validate through here (rules that differ per dialect)


# ------------------------------------------------------------------------------------------------------ helpers
def _bool(b: dict, name: str, default: bool | None = None) -> bool | None:
    if name not in b or b[name] is None:
        return default
    if not isinstance(b[name], bool):
        raise invalid(f"`{name}` must be a boolean.")
    return b[name]


def _int(b: dict, name: str, lo: int | None = None, hi: int | None = None, default: int | None = None) -> int | None:
    if name not in b or b[name] is None:
        return default
    v = b[name]
    if isinstance(v, bool) or not isinstance(v, int | float) or (isinstance(v, float) and not v.is_integer()):
        raise invalid(f"`{name}` must be an integer.")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise invalid(f"`{name}` must be between {lo} and {hi}, got {v}.")
    return v


def _num(b: dict, name: str, lo: float | None = None, default: float | None = None,
         strict_lo: bool = False) -> float | None:
    if name not in b or b[name] is None:
        return default
    v = b[name]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise invalid(f"`{name}` must be a number.")
    if lo is not None and (v < lo or (strict_lo and v == lo)):
        raise invalid(f"`{name}` is out of range.")
    return v


def _enum(b: dict, name: str, choices: tuple[str, ...], default: str | None = None, upper: bool = False,
          code: int = 1004) -> str | None:
    if name not in b or b[name] is None:
        return default
    v = b[name]
    if not isinstance(v, str):
        raise invalid(f"`{name}` must be a string.")
    if upper:
        v = v.upper()
    if v not in choices:
        if code == 1004:
            raise invalid(f"`{name}` must be one of {', '.join(choices)}; got {v!r}.")
        raise ApiError(code, f"`{name}` {v!r} is not valid here.")
    return v


def _str_list(b: dict, name: str) -> list[str] | None:
    if name not in b or b[name] is None:
        return None
    v = b[name]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise invalid(f"`{name}` must be a list of strings.")
    return v


def _text(b: dict, name: str, ctx: Context, *, required: bool = False, max_len: int = MAX_PROMPT) -> str | None:
    if name not in b or b[name] is None:
        if required:
            raise invalid(f"`{name}` is required.")
        return None
    v = b[name]
    if not isinstance(v, str):
        raise invalid(f"`{name}` must be a string.")
    if required and not v.strip():
        raise invalid(f"`{name}` must not be empty.")
    if len(v) > max_len:
        raise invalid(f"`{name}` is longer than {max_len} characters.")
    check_text(v, ctx.banned_words)
    return v


def _source(b: dict, name: str, ctx: Context, allowed: set[str] | None, *, wrong_type_code: int = 2006,
            not_success_code: int = 2007) -> SourceTask:
    if name not in b or b[name] in (None, ""):
        raise invalid(f"`{name}` is required.")
    if not isinstance(b[name], str):
        raise invalid(f"`{name}` must be a task ID string.")
    src = ctx.source(b[name])
    if allowed is not None and src.type not in allowed:
        raise ApiError(wrong_type_code, f"A {src.type} task cannot be used here.")
    if src.status != "success":
        raise ApiError(not_success_code, f"The original task is {src.status}.")
    return src


def _parts(b: dict, src: SourceTask) -> list[str] | None:
    names = _str_list(b, "part_names")
    if names:
        known = src.meta.get("parts") or []
        unknown = [n for n in names if n not in known]
        if unknown:
            raise invalid(f"Unknown part_names {unknown}; the model's parts are {known}.")
    return names
