"""What results are called in the scene: short names from prompts, "subject · step" names that fit Blender's 63
bytes, unique collection names, file-name slugs."""

from __future__ import annotations

import re

import bpy


def unique_collection_name(title: str) -> str:
    base = _fit(" ".join(str(title).split()), NAME_MAX) or "Tripo"
    name, n = base, 1
    while name in bpy.data.collections:
        n += 1
        name = f"{base} {n}"
    return name


SEP = " \u00b7 "  # "a wooden chest · Rig Model"
_SUBJECT_SPLIT = re.compile(r" \u2192 | \u00b7 ")
NAME_MAX = 56  # bytes: Blender names hold 63, and " 12" or ".001" may follow


def _fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes, with an ellipsis when something was cut."""
    if len(text.encode()) <= limit:
        return text
    while text and len(text.encode()) > limit - 3:
        text = text[:-1]
    return text.rstrip() + "\u2026"


SHORT_NAME = 28  # characters of a name made from a prompt ("Small wooden robot toy")
_ARTICLES = ("a ", "an ", "the ")


def short_name(text: str, limit: int = SHORT_NAME) -> str:
    """A short object name from a prompt: no leading article, whole words up to ``limit`` characters, a capital
    first letter: "a small wooden robot toy with big red eyes" -> "Small wooden robot toy"."""
    words = " ".join(str(text).replace("\u2026", "").split()).strip(" .,;:!")
    low = words.lower()
    for article in _ARTICLES:
        if low.startswith(article) and len(words) > len(article):
            words = words[len(article):]
            break
    for joint in (" with ", " holding ", " wearing ", " made of ", " in ", " on ", " for ", ", "):
        head = words.split(joint, 1)[0]  # "brass lantern with a glass window" -> "brass lantern"
        if head != words and len(head.split()) >= 2:
            words = head
    out = ""
    for word in words.split(" "):
        candidate = f"{out} {word}".strip()
        if len(candidate) > limit and out:
            break
        out = candidate
    out = out[:limit].rstrip(" ,;:-") or "Tripo"
    return out[0].upper() + out[1:]


def result_name(title: str, task_type: str = "") -> str:
    """What a result is called in the scene: the subject of its job (a short name from the prompt, the image or the
    source object's name, without earlier steps) and, for a step on something else, that step:
    "Wooden chest · Rig Model"."""
    subject = _SUBJECT_SPLIT.split(" ".join(str(title).split()))[0].strip() or "Tripo"
    if " " in subject and "." not in subject.split(" ")[-1]:  # a prompt (not a file or object name)
        subject = short_name(subject)
    from . import catalog  # (bpy-level module; imported here so that scene_io stays importable on its own)

    if not task_type or task_type in catalog.GENERATION or task_type in catalog.IMAGE_RESULT:
        return _fit(subject, NAME_MAX)
    step = catalog.label(task_type)
    return f"{_fit(subject, NAME_MAX - len((SEP + step).encode()))}{SEP}{step}"


def _base_name(name: str) -> str:
    return re.sub(r"\.\d{3,}$", "", name)


def name_objects(main, objects, name: str) -> None:
    """The main object gets the result's name; the others keep what they are after it ("... · Armature")."""
    if main is not None:
        main.name = name
    for obj in objects:
        if obj is not main:
            part = _fit(_base_name(obj.name), 16)
            obj.name = f"{_fit(name, NAME_MAX - len((SEP + part).encode()))}{SEP}{part}"


def slug(text: str) -> str:
    """A short file-name-safe form of a name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")[:40] or "mesh"
