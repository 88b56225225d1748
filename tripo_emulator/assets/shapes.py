"""Procedural stand-ins for generated models: the prompt's words pick a shape, the seed varies it."""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np

from .mesh import Mesh, box, capsule, lathe, merge, normalize, rotation, sphere, surface, transformed

KINDS: dict[str, tuple[str, ...]] = {
    "quadruped": ("dog", "cat", "horse", "cow", "fox", "wolf", "lion", "tiger", "bear", "deer", "pig", "sheep",
                  "goat", "elephant", "puppy", "kitten", "dinosaur", "rabbit", "bunny", "mouse", "rat", "giraffe",
                  "zebra", "camel", "donkey", "pony", "unicorn", "leopard", "cheetah", "panda", "raccoon",
                  "quadruped", "dachshund", "corgi", "husky", "turtle", "lizard", "crocodile", "frog"),
    "avian": ("bird", "eagle", "owl", "parrot", "chicken", "duck", "hen", "penguin", "pigeon", "crow", "hawk",
              "falcon", "swan", "goose", "flamingo", "phoenix", "bat", "avian"),
    "serpentine": ("snake", "serpent", "worm", "eel", "cobra", "python", "centipede", "serpentine"),
    "aquatic": ("fish", "shark", "whale", "dolphin", "goldfish", "salmon", "tuna", "koi", "seal", "aquatic"),
    "hexapod": ("insect", "ant", "beetle", "bee", "wasp", "cockroach", "mantis", "ladybug", "hexapod"),
    "octopod": ("spider", "octopus", "tarantula", "crab", "scorpion", "squid", "octopod"),
    "humanoid": ("person", "man", "woman", "girl", "boy", "knight", "robot", "character", "warrior", "soldier",
                 "wizard", "human", "astronaut", "zombie", "elf", "doll", "figure", "ninja", "princess", "king",
                 "queen", "hero", "samurai", "pirate", "child", "kid", "humanoid", "biped", "goblin", "orc",
                 "monkey", "ape", "gorilla", "mage", "witch", "cowboy", "chef", "student", "superhero", "alien"),
    "furniture": ("chair", "table", "desk", "bench", "stool", "sofa", "couch", "bed", "cabinet", "shelf"),
    "vessel": ("mug", "cup", "barrel", "vase", "bottle", "can", "pot", "jar", "bucket", "lamp", "candle", "bowl",
               "teapot", "kettle", "glass", "tower", "pillar", "column", "tree"),
    "crate": ("box", "crate", "cube", "chest", "house", "building", "block", "brick", "car", "truck", "container"),
}
RIG_TYPE_OF_KIND = {"humanoid": "biped", "quadruped": "quadruped", "avian": "avian", "serpentine": "serpentine",
                    "aquatic": "aquatic", "hexapod": "hexapod", "octopod": "octopod"}


def classify(text: str | None) -> str:
    """Shape kind for a prompt (first matching word wins); 'blob' when nothing matches."""
    words = re.findall(r"[a-z]+", (text or "").lower())
    for w in words:
        for kind, vocab in KINDS.items():
            if w in vocab or (w.endswith("s") and w[:-1] in vocab):
                return kind
    return "blob"


def rig_guess(text: str | None) -> tuple[bool, str]:
    """(riggable, rig_type) for animate_prerigcheck. No words (image input): a biped, as most uploads are."""
    kind = classify(text)
    if kind in RIG_TYPE_OF_KIND:
        return True, RIG_TYPE_OF_KIND[kind]
    if not text:
        return True, "biped"
    return False, "others"


def seed_of(*parts: object) -> int:
    """A stable 32-bit seed from any values."""
    h = hashlib.sha256("\x1f".join(repr(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:4], "little")


def generate(kind: str, seed: int, face_limit: int | None = None, detail: float = 1.0) -> Mesh:
    """A normalized (largest side 1, centred) mesh of the given kind within face_limit triangles."""
    rng_seed = seed & 0xFFFFFFFF
    d = detail
    for _ in range(12):
        mesh = merge(_BUILDERS.get(kind, _blob)(np.random.default_rng(rng_seed), d), name="mesh")
        if face_limit is None or mesh.face_count <= face_limit:
            break
        d *= 0.7
    else:
        mesh = merge([sphere(4, 3)] if face_limit and face_limit >= 24 else [box(1)], name="mesh")
        if face_limit and mesh.face_count > face_limit:
            mesh = _tetra()
    return normalize([mesh])[0]


def _n(base: int, d: float, lo: int = 3) -> int:
    return max(lo, int(round(base * d)))


def _limb(a, b, r: float, d: float) -> Mesh:
    """A capsule from point a to point b with radius r."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    v = b - a
    length = float(np.linalg.norm(v))
    y = np.array([0.0, 1.0, 0.0])
    axis = np.cross(y, v)
    rot = np.eye(3)
    if np.linalg.norm(axis) > 1e-9:
        rot = rotation(axis, math.acos(np.clip(np.dot(y, v) / length, -1, 1)))
    elif v[1] < 0:
        rot = rotation("x", math.pi)
    return transformed(capsule(_n(12, d), _n(8, d)), (2 * r, length + 2 * r, 2 * r), rot, (a + b) / 2)


def _ball(c, size, d: float, seg: int = 20) -> Mesh:
    return transformed(sphere(_n(seg, d), _n(seg // 2, d)), size, None, c)


def _humanoid(rng: np.random.Generator, d: float) -> list[Mesh]:
    s = 1 + rng.uniform(-0.15, 0.15, 6)
    hip_y, sh_y = 0.9 * s[0], 1.42 * s[0]
    out = [
        _limb((0, hip_y, 0), (0, sh_y, 0), 0.17 * s[1], d * 1.5),  # torso
        _ball((0, sh_y + 0.2 * s[2], 0), (0.26 * s[2], 0.3 * s[2], 0.27 * s[2]), d * 1.4),  # head
    ]
    for side in (-1, 1):
        out.append(_limb((side * 0.2, sh_y - 0.05, 0), (side * 0.75 * s[3], sh_y - 0.05, 0), 0.055, d))  # arm
        out.append(_limb((side * 0.1, hip_y, 0), (side * 0.12, 0.08, 0.0), 0.075 * s[4], d))  # leg
        out.append(_ball((side * 0.12, 0.05, 0.06), (0.12, 0.08, 0.22), d, 12))  # foot
    return out


def _quadruped(rng: np.random.Generator, d: float) -> list[Mesh]:
    s = 1 + rng.uniform(-0.2, 0.2, 6)
    body_y, half = 0.55 * s[0], 0.45 * s[1]
    out = [_limb((0, body_y, -half), (0, body_y, half), 0.2 * s[2], d * 1.5),
           _limb((0, body_y + 0.1, half), (0, body_y + 0.35 * s[3], half + 0.2), 0.09, d),  # neck
           _ball((0, body_y + 0.42 * s[3], half + 0.3), (0.22, 0.2, 0.32 * s[4]), d * 1.2),  # head
           _limb((0, body_y + 0.05, -half - 0.1), (0, body_y + 0.25, -half - 0.45 * s[5]), 0.04, d)]  # tail
    for x in (-0.13, 0.13):
        for z in (-half + 0.05, half - 0.05):
            out.append(_limb((x, body_y - 0.05, z), (x, 0.03, z), 0.055, d))
    return out


def _avian(rng: np.random.Generator, d: float) -> list[Mesh]:
    s = 1 + rng.uniform(-0.2, 0.2, 4)
    out = [_ball((0, 0.5, 0), (0.4, 0.45 * s[0], 0.55), d * 1.5),
           _ball((0, 0.85, 0.22), (0.25, 0.25, 0.27), d * 1.2),
           transformed(lathe(lambda v: 0.05 * (1 - v), 0.18, _n(10, d), 3), (1, 1, 1), rotation("x", math.pi / 2),
                       (0, 0.84, 0.42))]
    for side in (-1, 1):
        wing = _ball((side * (0.2 + 0.3 * s[1]), 0.55, -0.05), (0.65 * s[1], 0.06, 0.32), d)
        out.append(wing)
        out.append(_limb((side * 0.1, 0.3, 0), (side * 0.1, 0.02, 0.03), 0.025, d * 0.7))
    return out


def _serpentine(rng: np.random.Generator, d: float) -> list[Mesh]:
    amp, waves, length = rng.uniform(0.15, 0.3), rng.uniform(1.2, 2.2), 2.4

    def fn(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        r = 0.09 * np.sin(np.clip(v, 0.02, 1) * math.pi) ** 0.4 * (0.6 + 0.4 * v)
        cx = amp * np.sin(v * waves * 2 * math.pi)
        a = u * 2 * math.pi
        return np.stack([cx + r * np.sin(a), 0.1 + r * np.cos(a), (v - 0.5) * length], axis=-1)

    return [surface(fn, _n(16, d), _n(96, d, 8), wrap_u=True, name="body"),
            _ball((amp * math.sin(waves * 2 * math.pi), 0.12, length / 2 + 0.05), (0.2, 0.15, 0.28), d)]


def _aquatic(rng: np.random.Generator, d: float) -> list[Mesh]:
    s = 1 + rng.uniform(-0.2, 0.2, 3)
    body = lathe(lambda v: 0.25 * s[0] * np.sin(v * math.pi) ** 0.7, 1.2, _n(28, d), _n(20, d))
    out = [transformed(body, (1, 1, 0.8), rotation("x", math.pi / 2), (0, 0.4, 0)),
           transformed(box(2), (0.04, 0.45 * s[1], 0.3), rotation("x", 0.2), (0, 0.45, -0.7)),  # tail fin
           transformed(box(2), (0.03, 0.2, 0.25), None, (0, 0.68, 0.0))]  # dorsal fin
    for side in (-1, 1):
        out.append(transformed(box(2), (0.25, 0.02, 0.12), rotation("z", side * 0.4), (side * 0.28, 0.3, 0.15)))
    return out


def _legged(count: int):
    def build(rng: np.random.Generator, d: float) -> list[Mesh]:
        s = 1 + rng.uniform(-0.2, 0.2, 2)
        out = [_ball((0, 0.35, 0), (0.5 * s[0], 0.3, 0.6 * s[1]), d * 1.4), _ball((0, 0.35, 0.4), (0.3, 0.22, 0.3), d)]
        pairs = count // 2
        for i in range(pairs):
            z = 0.25 - 0.5 * i / max(pairs - 1, 1)
            for side in (-1, 1):
                knee = (side * 0.55, 0.5, z * 1.4)
                out.append(_limb((side * 0.2, 0.35, z), knee, 0.03, d * 0.7))
                out.append(_limb(knee, (side * 0.75, 0.02, z * 1.6), 0.025, d * 0.7))
        return out

    return build


def _furniture(rng: np.random.Generator, d: float) -> list[Mesh]:
    w, depth, seat = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.1), rng.uniform(0.8, 1.1)
    n = _n(4, d, 1)
    out = [transformed(box(n), (w, 0.08, depth), None, (0, seat, 0))]
    for x in (-w / 2 + 0.06, w / 2 - 0.06):
        for z in (-depth / 2 + 0.06, depth / 2 - 0.06):
            out.append(transformed(box(n), (0.08, seat, 0.08), None, (x, seat / 2, z)))
    if rng.random() < 0.6:  # a backrest: a chair rather than a table
        out.append(transformed(box(n), (w, 0.9 * seat, 0.06), None, (0, seat * 1.45, -depth / 2 + 0.03)))
    return out


def _vessel(rng: np.random.Generator, d: float) -> list[Mesh]:
    k = rng.uniform(0.0, 1.0, 4)

    def r(v: np.ndarray) -> np.ndarray:
        prof = 0.3 + 0.12 * np.sin(v * math.pi * (1 + 2 * k[0]) + k[1] * 6) + 0.08 * k[2] * np.cos(v * 7 * math.pi)
        cap = np.clip(np.minimum(v, 1 - v) * 25, 0, 1) ** 0.5
        return prof * cap

    return [lathe(r, 1.0 + k[3], _n(40, d), _n(40, d))]


def _crate(rng: np.random.Generator, d: float) -> list[Mesh]:
    sx, sy, sz = rng.uniform(0.6, 1.0, 3)
    out = [transformed(box(_n(8, d, 1)), (sx, sy, sz), None, (0, sy / 2, 0))]
    out.append(transformed(box(_n(3, d, 1)), (sx * 0.6, 0.15, sz * 0.6), None, (0, sy + 0.075, 0)))
    return out


def _blob(rng: np.random.Generator, d: float) -> list[Mesh]:
    freqs = rng.normal(0, 2.5, (5, 3))
    amps = rng.uniform(0.03, 0.12, 5)
    phases = rng.uniform(0, 2 * math.pi, 5)
    stretch = rng.uniform(0.7, 1.3, 3)

    def fn(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        a, b = u * 2 * math.pi, v * math.pi
        dirs = np.stack([np.sin(b) * np.sin(a), -np.cos(b), np.sin(b) * np.cos(a)], axis=-1)
        r = 0.5 + sum(amps[i] * np.sin(dirs @ freqs[i] + phases[i]) for i in range(5))
        return dirs * r[..., None] * stretch

    return [surface(fn, _n(64, d), _n(32, d), wrap_u=True, name="blob")]


def _tetra() -> Mesh:
    p = np.array([(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)], float) * 0.3
    return Mesh(p, np.array([(0, 1, 2), (0, 3, 1), (0, 2, 3), (1, 3, 2)]), np.zeros((4, 2)), name="mesh")


_BUILDERS = {
    "humanoid": _humanoid, "quadruped": _quadruped, "avian": _avian, "serpentine": _serpentine,
    "aquatic": _aquatic, "hexapod": _legged(6), "octopod": _legged(8), "furniture": _furniture, "vessel": _vessel,
    "crate": _crate, "blob": _blob,
}
KIND_NAMES = tuple(_BUILDERS)   # every shape kind generate() knows
