"""Words that fit (no bpy): wrapping at word boundaries for a region's width, friendly model names, credits with the
decimals Tripo reports, what a failure calls for, and an ETA learnt from the durations of finished tasks.

Everything here is plain Python so that it can be tested without Blender; the panels pass the numbers in.
"""

from __future__ import annotations

import re
import statistics
import textwrap
import time
from collections.abc import Iterable

#: average width of one character of Blender's UI font at ui_scale 1.0 (pixels; a little generous)
CHAR_PX = 7.2
#: what a label row loses to margins, the icon and the panel's indent (pixels at ui_scale 1.0)
ROW_MARGIN_PX = 46


def chars_for(region_width: float | None, ui_scale: float = 1.0, *, icon: bool = True, inset: int = 0) -> int:
    """How many characters fit on one label line of a region ``region_width`` pixels wide (None: a dialog);
    ``inset``: pixels the layout takes besides (a box's border, a button beside the text), at ui_scale 1.0."""
    if not region_width or region_width <= 0:
        return 60
    scale = ui_scale if ui_scale and ui_scale > 0 else 1.0
    usable = region_width - ((ROW_MARGIN_PX if icon else ROW_MARGIN_PX - 20) + inset) * scale
    return max(12, int(usable / (CHAR_PX * scale)))


def wrap(text: str, width: int, max_lines: int = 12) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken at word boundaries (a very long word is split);
    an ellipsis ends the last line when more than ``max_lines`` would be needed."""
    lines: list[str] = []
    for para in str(text).splitlines() or [""]:
        lines.extend(textwrap.wrap(para, max(8, width), break_on_hyphens=False) or [""])
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        lines[-1] = (last[: max(1, width - 1)].rstrip() if len(last) >= width else last) + "\u2026"
    return lines


_VERSION = re.compile(r"^(?P<name>(?:Turbo-|P-)?v?\d+(?:\.\d+)*|P\d+(?:\.\d+)*)(?:-(?P<date>\d{8}))?$")


def friendly_version(version: str) -> str:
    """"v3.1-20260211" -> "v3.1", "P1-20260311" -> "P1", "Turbo-v1.0-20250506" -> "Turbo v1.0"; other names (image
    models such as seedream_v5) are shown with spaces for underscores."""
    text = str(version)
    m = _VERSION.match(text)
    if m:
        return m.group("name").replace("Turbo-", "Turbo ").replace("P-", "P ")
    return text.replace("_", " ") if text.islower() else text


def friendly_items(items: Iterable[tuple]) -> list[tuple]:
    """Enum items with friendly version names as labels and the dated id in the tooltip (identifiers, numbers and
    icons unchanged). "Auto (v2.5-20250123)" becomes "Auto (v2.5)"."""
    out = []
    for item in items:
        ident, name, desc = item[0], item[1], item[2]
        if ident == "AUTO":
            m = re.match(r"^Auto \((.+)\)$", name)
            label = f"Auto ({friendly_version(m.group(1))})" if m else name
            tip = f"Not sent: Tripo applies its default ({m.group(1)})" if m else desc
        else:
            label = friendly_version(ident)
            tip = f"{ident}" if label == ident else f"{label}: {ident}"
        out.append((ident, label, tip, *item[3:]))
    return out


def credits_text(value: float | None) -> str:
    """Credits with the decimals Tripo reports: 12 -> "12", 12.25 -> "12.25", 0.04 -> "0.04", 1234.5 -> "1,234.5"."""
    if value is None:
        return "?"
    v = round(float(value), 4)
    if v.is_integer():
        return f"{v:,.0f}"
    return f"{v:,.4f}".rstrip("0").rstrip(".")


# ==================================================================================================== failures
#: what a failure calls for (the Tasks panel offers the matching button, never Retry where it cannot help)
POLICY, CREDITS, KEY, INPUT, RETRY = "POLICY", "CREDITS", "KEY", "INPUT", "RETRY"
_RULES = (
    (POLICY, ("content policy", "characters tripo does not accept", "emoji")),
    (CREDITS, ("enough credits", "top up", "insufficient credit")),
    (KEY, ("api key", "tsk_")),
    (INPUT, ("does not support this file type", "cannot be applied to that kind of source", "deprecated",
             "does not recognise this model version", "too complex", "not riggable", "only be applied to a rigged",
             "no model to check")),
)


def failure_kind(text: str) -> str:
    """POLICY (edit the prompt), CREDITS (top up), KEY (set the key), INPUT (change the input) or RETRY."""
    low = str(text).lower()
    for kind, needles in _RULES:
        if any(n in low for n in needles):
            return kind
    return RETRY


# ==================================================================================================== ETA
def durations(snapshots: Iterable[dict]) -> dict[str, list[float]]:
    """Seconds each finished step took (submitted to finished), by task type, from job snapshots."""
    out: dict[str, list[float]] = {}
    for snap in snapshots:
        for step in snap.get("steps") or []:
            start, end = step.get("submitted_at"), step.get("finished_at")
            if step.get("state") != "succeeded" or not isinstance(start, int | float) \
                    or not isinstance(end, int | float) or end <= start:
                continue
            out.setdefault(str(step.get("task_type") or ""), []).append(float(end - start))
    return out


def eta_seconds(step: dict, learnt: dict[str, list[float]], now: float | None = None) -> int | None:
    """Seconds left for a running step: Tripo's own estimate when it gives one (v2), else the median duration of
    finished tasks of the same type minus the time this one has run (at least a few seconds while it runs), else an
    extrapolation from its progress. None when nothing is known."""
    eta = step.get("eta")
    if isinstance(eta, int | float) and eta >= 0:
        return int(eta)
    start = step.get("submitted_at")
    if not isinstance(start, int | float):
        return None
    elapsed = max(0.0, (now if now is not None else time.time()) - float(start))
    progress = step.get("progress") or 0
    by_progress = None
    if isinstance(progress, int | float) and 5 <= progress < 100 and elapsed > 3:
        by_progress = elapsed * (100 - progress) / progress
    known = learnt.get(str(step.get("task_type") or ""))
    if known:
        left = statistics.median(known[-20:]) - elapsed
        if left >= 3 or by_progress is None:  # (slower than usual: its own progress says more)
            return int(max(left, 2.0))
    return int(by_progress) if by_progress is not None else None


def eta_text(seconds: int | None) -> str:
    """"about 40 s left", "about 2 min left" ("" when unknown)."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 60:
        return f"about {max(1, int(round(seconds / 5.0) * 5) if seconds > 10 else int(seconds))} s left"
    minutes = int(round(seconds / 60.0))
    return f"about {minutes} min left"


# ==================================================================================================== operator names
#: F3-friendly labels of the task operators (no "Tripo:" prefix: F3 shows the menu path "Object > Tripo > ...")
TASK_LABELS = {
    "text_to_model": "Model from Text", "image_to_model": "Model from Image",
    "multiview_to_model": "Model from Views", "text_to_image": "Image from Text",
    "generate_image": "Image to Image", "generate_multiview_image": "Four Views from Image",
    "edit_multiview_image": "Edit Four Views", "image_to_depth": "Depth from Image",
    "image_to_splat": "Splat from Image", "texture_model": "Texture Model", "refine_model": "Refine Model",
    "stylize_model": "Stylize Model", "import_model": "Send Mesh to Tripo", "mesh_segmentation": "Segment Mesh",
    "mesh_completion": "Complete Mesh", "highpoly_to_lowpoly": "Smart Low Poly", "mesh_uv": "Smart UV",
    "animate_prerigcheck": "Check Riggable", "animate_rig": "Rig Model", "animate_retarget": "Animate",
    "convert_model": "Convert Model",
}
#: One operator per capability in menus and F3: these generated task operators stay callable from Python under
#: their task-type names, but are hidden from search (INTERNAL), because a friendlier operator does the same.
ALIASES = {
    "generate_multiview_image": "image_to_multiview",
    "edit_multiview_image": "edit_multiview",
    "generate_image": "image_to_image",
    "image_to_depth": "depth_from_image",
    "image_to_splat": "splat_from_image",
}
#: the same for hand-written operators that a task operator covers
HIDDEN = {"views_to_model": "multiview_to_model"}


def task_label(task_type: str, fallback: str) -> str:
    return TASK_LABELS.get(task_type, fallback)
