"""Task parameters, generically: the Param / TaskType specs, value checks, and :class:`Catalog`, which turns a
caller's parameters into the validated values a dialect sends.

Each API dialect has a catalogue of task types (``api/v2/catalog.py``, ``api/v3/catalog.py``) built from these
pieces; :mod:`tripo_addon.api.tasks` picks the catalogue of the dialect in use. Values that name a file are
:class:`~tripo_addon.api.inputs.Input` objects here, never a wire shape.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import inputs as _inputs
from .errors import TripoValidationError
from .inputs import Input

VIEWS = ("front", "left", "back", "right")
MAX_PROMPT, MAX_NEGATIVE = 1024, 255
#: Whole-number parameters are 32-bit (seeds take any int in this range, negatives included: tripo-api.md §5.2).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class Param:
    """One request parameter.

    ``kind``: "str" "int" "float" "bool" "enum" "file" "files" "task_id" "str_list" "enum_list" "texture_prompt".
    ``default`` is the documented server default (None: the server decides); a value equal to it is not sent.
    ``disputed``: the sources disagree on the server default (tripo-api.md §12), so for omission it counts as "the
    server decides": any value the caller sets is sent. ``default`` then holds the likely default (for display).
    ``always``: sent even when unset (as ``default``), for parameters OD lists as required.
    ``min_exclusive``: the value must be greater than ``min`` (not equal).
    ``families``: the model-version families (H3, H2, Turbo, P1, v1) the option applies to; empty = all.
    ``max_items``: longest list for list kinds.
    """

    name: str
    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_len: int | None = None
    doc: str = ""
    families: tuple[str, ...] = ()
    max_items: int | None = None
    disputed: bool = False
    always: bool = False
    min_exclusive: bool = False
    retired: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskType:
    """A task type: its parameters, where its source task goes, what it accepts as a source and what it returns."""

    name: str
    label: str
    description: str
    params: tuple[Param, ...]
    source_field: str | None           # "original_model_task_id" | "draft_model_task_id" | None
    sources: frozenset[str]            # accepted source task types (empty: no source)
    outputs: tuple[str, ...]           # output keys on success
    model_output: bool                 # has a model URL (False for images and prerigcheck)

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params if p.required)


def fail(message: str, param: str | None = None) -> TripoValidationError:
    return TripoValidationError(message, param=param)


_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x1F1E6, 0x1F1FF), (0xE0000, 0xE007F))


#: Bidirectional embedding, override and isolate controls: they make a prompt display differently from what is sent.
_BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))


def prompt_problem(text: str) -> str | None:
    """Why this text must not be sent (a NUL, emoji, control or bidi characters, only invisible characters), or None.

    The answer reads after the field name, e.g. "`prompt` contains a NUL character (...); remove it"."""
    for i, ch in enumerate(text):
        o = ord(ch)
        if o == 0:
            return (f"contains a NUL character (U+0000 at position {i + 1}); Blender would cut the text there and "
                    "send only the part before it. Remove it")
        if o in _BIDI_CONTROLS:
            return (f"contains a bidirectional control character (U+{o:04X} at position {i + 1}), which makes the "
                    "text display differently from what would be sent. Remove it")
        bad = any(lo <= o <= hi for lo, hi in _EMOJI_RANGES) or o in (0xFE0F, 0x200D, 0x20E3)
        bad = bad or 0xD800 <= o <= 0xDFFF or (unicodedata.category(ch) == "Cc" and ch not in "\n\r\t")
        if bad:
            what = "an emoji" if unicodedata.category(ch) not in ("Cc", "Cs") else "a control character"
            return (f"contains {what} (U+{o:04X} at position {i + 1}); remove it: Tripo does not accept emoji or "
                    "control characters")
    if text and not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text):
        return ("holds only invisible characters (spaces or zero-width characters such as U+200B); enter visible "
                "text")
    return None


def _check_text(p: Param, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise fail(f"`{where}` must be text, got {type(value).__name__}.", p.name)
    if p.required and not value.strip():
        raise fail(f"`{where}` is empty; enter some text.", p.name)
    if p.max_len is not None and len(value) > p.max_len:
        raise fail(f"`{where}` is {len(value)} characters long; Tripo accepts at most {p.max_len}. Shorten it.",
                    p.name)
    problem = prompt_problem(value)
    if problem:
        raise fail(f"`{where}` {problem}.", p.name)
    return value


def _check_number(p: Param, value: Any, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"`{where}` must be a number, got {value!r}.", p.name)
    if p.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise fail(f"`{where}` must be a whole number, got {value!r}.", p.name)
            value = int(value)
        if not INT32_MIN <= value <= INT32_MAX:
            raise fail(f"`{where}` is {value}; it must be a 32-bit whole number ({INT32_MIN:,} to {INT32_MAX:,}).",
                        p.name)
    elif not math.isfinite(float(value)):
        raise fail(f"`{where}` must be a finite number.", p.name)
    if p.name == "face_limit" and value <= 0:
        raise fail(f"`{where}` must be a positive face count; leave it unset for an adaptive face count.", p.name)
    if p.min is not None and p.min_exclusive and value <= p.min:
        raise fail(f"`{where}` is {value}; it must be greater than {_fmt(p.min)}.", p.name)
    if p.min is not None and value < p.min:
        raise fail(f"`{where}` is {value}; it must be at least {_fmt(p.min)}.", p.name)
    if p.max is not None and value > p.max:
        raise fail(f"`{where}` is {value}; it must be at most {_fmt(p.max)}.", p.name)
    return value


def _fmt(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else str(x)


def _check_enum(p: Param, value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise fail(f"`{where}` must be one of {', '.join(p.choices)}; got {value!r}.", p.name)
    if value in p.choices:
        return value
    folded = {c.lower(): c for c in p.choices}
    if value.lower() in folded:
        return folded[value.lower()]
    if p.name == "model_version" and value in p.retired:
        raise fail(f"`{where}` {value} is retired by Tripo; choose a newer model version ({', '.join(p.choices)}).",
                    p.name)
    hint = difflib.get_close_matches(value, p.choices, n=1)
    extra = f" Did you mean {hint[0]!r}?" if hint else ""
    raise fail(f"`{where}` {value!r} is not valid.{extra} Choose one of: {', '.join(p.choices)}.", p.name)


_UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_TASK_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def check_task_id(value: Any, param: str = "task_id") -> str:
    """A task id as Tripo writes them (UUIDs; letters, digits, '-' and '_'); raises TripoValidationError."""
    if not isinstance(value, str) or not value.strip():
        raise fail(f"`{param}` needs a task id (the id of an earlier successful task).", param)
    v = value.strip()
    if not _TASK_ID_RE.match(v):
        raise fail(f"`{param}` {v[:80]!r} is not a valid task id; copy the id of the task exactly.", param)
    return v


def file_input(value: Any, where: str = "file", *, mesh: bool = False) -> Input:
    """The :class:`Input` for a file parameter value (see :func:`inputs.coerce`)."""
    return _inputs.coerce(value, where, mesh=mesh)


def image_slots(p: Param, value: Any, where: str) -> list[Input | None]:
    """Exactly 4 slots [front, left, back, right]; {} (or None) skips a view; front required; >= 2 images."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        n = len(value) if isinstance(value, list | tuple) else "not a list"
        raise fail(f"`{where}` needs exactly 4 entries [front, left, back, right] (use {{}} or None for a missing "
                    f"view); got {n}.", p.name)
    slots = [None if v in (None, {}, "") else file_input(v, f"{where}[{VIEWS[i]}]") for i, v in enumerate(value)]
    if slots[0] is None:
        raise fail(f"Multiview needs the front view: `{where}` has no first entry. Set the front image (Front Image "
                    "in Blender); left, back and right are optional.", p.name)
    if sum(1 for s in slots if s is not None) < 2:
        raise fail(f"Multiview needs at least 2 images: `{where}` has only the front view. Add a left, back or right "
                    "view (Left, Back or Right Image in Blender).", p.name)
    return slots


def _check_texture_prompt(p: Param, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise fail("`texture_prompt` must be an object with one of text, image or images (plus style_image).",
                    p.name)
    unknown = set(value) - {"text", "image", "images", "style_image"}
    if unknown:
        raise fail(f"`texture_prompt` has unknown fields {sorted(unknown)}; use text, image, images or style_image.",
                    p.name)
    kinds = [k for k in ("text", "image", "images") if value.get(k) not in (None, "", [], {})]
    if len(kinds) > 1:
        raise fail(f"`texture_prompt` takes only one of text, image or images (got {', '.join(kinds)}).", p.name)
    out: dict[str, Any] = {}
    if "text" in kinds:
        out["text"] = _check_text(Param("texture_prompt", "str", required=True, max_len=MAX_PROMPT),
                                  value["text"], "texture_prompt.text")
    if "image" in kinds:
        out["image"] = file_input(value["image"], "texture_prompt.image")
    if "images" in kinds:
        out["images"] = image_slots(p, value["images"], "texture_prompt.images")
    if value.get("style_image") not in (None, "", {}):
        out["style_image"] = file_input(value["style_image"], "texture_prompt.style_image")
    if not out:
        raise fail("`texture_prompt` is empty; give text, an image or 4 views, or leave it unset.", p.name)
    return out


def _check_view_prompts(p: Param, value: Any) -> dict[str, str]:
    """``{view: prompt}`` for 1-4 of front/left/back/right (a list of ``{view, prompt}`` is accepted too)."""
    if isinstance(value, list | tuple):
        pairs = {}
        for item in value:
            if not isinstance(item, Mapping) or set(item) != {"view", "prompt"}:
                raise fail(f"`{p.name}` items must be {{view, prompt}}; got {item!r}.", p.name)
            if item["view"] in pairs:
                raise fail(f"`{p.name}` names the {item['view']} view twice; give one prompt per view.", p.name)
            pairs[item["view"]] = item["prompt"]
        value = pairs
    if not isinstance(value, Mapping) or not value:
        raise fail(f"`{p.name}` needs a prompt for at least one view (front, left, back or right).", p.name)
    out: dict[str, str] = {}
    for view, text in value.items():
        if view not in VIEWS:
            raise fail(f"`{p.name}` has an unknown view {view!r}; use front, left, back or right.", p.name)
        out[view] = _check_text(Param(p.name, "str", required=True, max_len=MAX_PROMPT), text, f"{p.name}.{view}")
    return out


def _check_value(p: Param, value: Any, *, mesh: bool = False) -> Any:
    k = p.kind
    if k == "str":
        return _check_text(p, value, p.name)
    if k in ("int", "float"):
        return _check_number(p, value, p.name)
    if k == "bool":
        if not isinstance(value, bool):
            raise fail(f"`{p.name}` must be true or false, got {value!r}.", p.name)
        return value
    if k == "enum":
        return _check_enum(p, value, p.name)
    if k == "task_id":
        return check_task_id(value, p.name)
    if k == "file":
        return file_input(value, p.name, mesh=mesh)
    if k == "files":
        if not isinstance(value, list | tuple) or not value:
            raise fail(f"`{p.name}` must be a non-empty list of file objects.", p.name)
        if p.max_items is not None and len(value) > p.max_items:
            raise fail(f"`{p.name}` has {len(value)} entries; at most {p.max_items} are allowed.", p.name)
        return [None if v in (None, {}, "") else file_input(v, f"{p.name}[{i}]") for i, v in enumerate(value)]
    if k in ("str_list", "enum_list"):
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise fail(f"`{p.name}` must be a list.", p.name)
        items = []
        for i, v in enumerate(value):
            if k == "enum_list":
                v = _check_enum(p, v, f"{p.name}[{i}]")
            elif not isinstance(v, str) or not v.strip():
                raise fail(f"`{p.name}[{i}]` must be a non-empty name.", p.name)
            if v not in items:
                items.append(v)
        if p.max_items is not None and len(items) > p.max_items:
            raise fail(f"`{p.name}` has {len(items)} entries; at most {p.max_items} are allowed. Remove some.",
                        p.name)
        return items
    if k == "floats":
        n = p.max_items or 16
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple) or len(value) != n:
            raise fail(f"`{p.name}` must be a list of {n} numbers (a 4x4 matrix, column-major).", p.name)
        out_f = []
        for i, x in enumerate(value):
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(float(x)):
                raise fail(f"`{p.name}[{i}]` must be a finite number, got {x!r}.", p.name)
            out_f.append(float(x))
        return out_f
    if k == "texture_prompt":
        return _check_texture_prompt(p, value)
    if k == "view_prompts":
        return _check_view_prompts(p, value)
    raise fail(f"`{p.name}` has an unsupported kind {k!r}.", p.name)  # pragma: no cover - spec error


def normalize(tt: TaskType, params: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """Checked values of the given (non-None) parameters, aliases resolved; required ones present."""
    if not isinstance(params, Mapping):
        raise fail(f"Parameters for {tt.name} must be a mapping, got {type(params).__name__}.")
    raw = {k: v for k, v in params.items() if v is not None}
    for p in tt.params:  # an empty optional text (e.g. a blank UI field) means "not set"
        if p.kind == "str" and not p.required and isinstance(raw.get(p.name), str) and not raw[p.name].strip():
            del raw[p.name]
    if "type" in raw:
        if raw.pop("type") != tt.name:
            raise fail(f"`type` in the parameters does not match {tt.name!r}; leave it out.", "type")
    for old, new in aliases.items():
        if old in raw and tt.param(new) is not None:
            if new in raw:
                raise fail(f"`{old}` is the old name of `{new}`; give only `{new}`.", new)
            raw[new] = raw.pop(old)
    if "topology" in raw and tt.param("rig_type") is not None and "rig_type" not in raw:
        topo = raw.pop("topology")
        raw["rig_type"] = {"bip": "biped", "quad": "quadruped"}.get(topo, topo)
    names = {p.name for p in tt.params}
    unknown = [k for k in raw if k not in names]
    if unknown:
        k = unknown[0]
        hint = difflib.get_close_matches(str(k), list(names), n=1)
        extra = f" Did you mean `{hint[0]}`?" if hint else ""
        raise fail(f"{tt.name} has no parameter `{k}`.{extra} Its parameters: {', '.join(sorted(names))}.", str(k))
    out: dict[str, Any] = {}
    for p in tt.params:
        if p.name in raw:
            out[p.name] = _check_value(p, raw[p.name], mesh=tt.name == "import_model")
    for p in tt.params:
        if p.required and p.name not in out:
            raise fail(f"{tt.name} needs `{p.name}`: {p.doc}", p.name)
    return out


def eff(tt: TaskType, values: Mapping[str, Any], name: str) -> Any:
    """The effective value: given, else the documented default."""
    if name in values:
        return values[name]
    p = tt.param(name)
    return p.default if p is not None else None


def differs(p: Param, value: Any) -> bool:
    """True when an explicitly given value is sent (not equal to an undisputed documented default)."""
    if p.default is None or p.disputed:
        return True
    if isinstance(p.default, bool) or isinstance(value, bool):
        return value is not p.default
    return value != p.default


# ---------------------------------------------------------------------------------------------- per type rules


Rule = Callable[[TaskType, dict[str, Any]], None]
#: What Tripo will do with values it accepts but changes (e.g. a face limit it clamps): sentences for the user.
Note = Callable[[TaskType, dict[str, Any], "str | None"], list[str]]


@dataclass
class Capabilities:
    """What the client running the add-on can open (set by the Blender layer at start-up; plain Python: all).

    ``compress``: whether a GLB with EXT_meshopt_compression (Tripo's ``compress: geometry``) can be imported here;
    ``compress_reason``: why not, in words (shown in the tooltip and in the refusal)."""

    compress: bool = True
    compress_reason: str = ""


CAPS = Capabilities()


def check_compress(v: Mapping[str, Any]) -> None:
    """``compress: geometry`` only where the result can be opened (tripo-api-v3.md §18 R14, High)."""
    if v.get("compress") and not CAPS.compress:
        raise fail(f"`compress` {v['compress']} is refused before anything is sent: Tripo would return a GLB "
                   "compressed with EXT_meshopt_compression, and " + (CAPS.compress_reason or "this client cannot "
                   "open it") + ". Leave compress unset (the uncompressed model imports everywhere).", "compress")


@dataclass
class Catalog:
    """The task types one API dialect offers, with their rules.

    ``rules``: per task type, checks across parameters (may adjust values); ``source_rules(tt, values, source_type,
    source_version)``: checks that depend on the source task; ``chain(task_type, source_type, source_version)``: may
    this task take that source; ``credits(task_type, params)``: the expected price; ``retired``: task types the API
    no longer offers, with the sentence that says so.
    """

    api: str
    types: dict[str, TaskType]
    rules: dict[str, Rule] = field(default_factory=dict)
    source_rules: Callable[[TaskType, dict[str, Any], str, str | None], None] | None = None
    chain: Callable[[str, str, str | None], None] | None = None
    credits: Callable[[str, Mapping[str, Any]], float] | None = None
    retired: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    rewrites: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    notes: dict[str, Note] = field(default_factory=dict)
    price_kind: Callable[[str, Mapping[str, Any]], str] | None = None

    def notes_for(self, task_type: str, values: dict[str, Any], source_type: str | None = None) -> list[str]:
        """What Tripo will do with these validated values beyond the obvious (clamping, likely refusals)."""
        fn = self.notes.get(task_type)
        return list(fn(self.types[task_type], values, source_type)) if fn is not None else []

    def task_type(self, name: Any) -> TaskType:
        """The spec of ``name``; TripoValidationError naming the retired capability or the closest known name."""
        if isinstance(name, str) and name in self.retired:
            raise TripoValidationError(self.retired[name], param=None)
        tt = self.types.get(name) if isinstance(name, str) else None
        if tt is None:
            hint = difflib.get_close_matches(str(name), list(self.types), n=1)
            extra = f" Did you mean {hint[0]!r}?" if hint else ""
            raise fail(f"Unknown task type {name!r}.{extra} Known types: {', '.join(self.types)}.")
        return tt

    def build(self, task_type: str, params: Mapping[str, Any], *, source_type: str | None = None,
              source_model_version: str | None = None, notices: list[str] | None = None) -> dict[str, Any]:
        """The validated values to send for these parameters (values equal to an undisputed documented default are
        left out; ``always`` ones are added). Raises TripoValidationError naming the parameter and the remedy.
        Retired values the API's own SDK rewrites (e.g. rig v2.0 -> v2.5) are rewritten, with a sentence appended
        to ``notices``."""
        tt = self.task_type(task_type)
        if isinstance(params, Mapping):
            params = dict(params)
            for (tname, pname), table in self.rewrites.items():
                old = params.get(pname)
                if tname == tt.name and isinstance(old, str) and old in table:
                    params[pname] = table[old]
                    if notices is not None:
                        notices.append(f"{tt.label}: {pname} {old} is retired by Tripo; {table[old]} is used "
                                       "instead.")
        values = normalize(tt, params, self.aliases)
        rule = self.rules.get(tt.name)
        if rule is not None:
            rule(tt, values)
        if source_type is not None and self.source_rules is not None:
            self.source_rules(tt, values, source_type, source_model_version)
        if notices is not None:
            notices.extend(f"{tt.label}: {n}" for n in self.notes_for(tt.name, values, source_type))
        sent: dict[str, Any] = {}
        for p in tt.params:
            if p.name in values and differs(p, values[p.name]):
                sent[p.name] = values[p.name]
            elif p.always:
                sent[p.name] = values.get(p.name, p.default)
        return sent

    def check_chain(self, task_type: str, source_type: str, source_model_version: str | None = None) -> None:
        self.task_type(task_type)
        if self.chain is not None:
            self.chain(task_type, source_type, source_model_version)

    def estimate(self, task_type: str, params: Mapping[str, Any]) -> float:
        self.task_type(task_type)
        return float(self.credits(task_type, params or {})) if self.credits is not None else 0.0


def multiview_sources(tt: TaskType, v: dict[str, Any], views_task: str) -> None:
    """Multiview takes either ``files`` (4 view slots) or ``original_task_id`` (a ``views_task``), exactly one."""
    has_files, has_ref = "files" in v, "original_task_id" in v
    if has_files == has_ref:
        raise fail(f"multiview_to_model needs either `files` (4 views) or `original_task_id` ({views_task}), not both "
                   "and not neither.", "files")
    if has_files:
        v["files"] = image_slots(tt.param("files"), v["files"], "files")  # type: ignore[arg-type]
