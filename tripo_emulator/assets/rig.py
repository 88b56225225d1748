"""Skeletons per rig_type fitted to a mesh's bounds, smooth skin weights, and preset animation clips."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .glb import Clip, Skin
from .mesh import Mesh, bounds


@dataclass(frozen=True)
class Bone:
    name: str
    parent: int
    at: tuple[float, float, float]   # position as fractions of the bounding box (x, y, z)
    role: str                         # root spine neck head tail arm forearm hand thigh shin foot wing chain fin
    side: int = 0                     # -1 right, +1 left, 0 centre
    index: int = 0                    # leg pair / chain position


def _biped() -> list[Bone]:
    b = [Bone("Hips", -1, (.5, .5, .5), "root"), Bone("Spine", 0, (.5, .62, .5), "spine"),
         Bone("Chest", 1, (.5, .74, .5), "spine", index=1), Bone("Neck", 2, (.5, .84, .5), "neck"),
         Bone("Head", 3, (.5, .91, .5), "head")]
    for side, s, label in ((1, 1, "L"), (-1, -1, "R")):
        base = len(b)
        b += [Bone(f"{label}_UpperArm", 2, (.5 + s * .14, .82, .5), "arm", side),
              Bone(f"{label}_Forearm", base, (.5 + s * .3, .82, .5), "forearm", side),
              Bone(f"{label}_Hand", base + 1, (.5 + s * .45, .82, .5), "hand", side)]
        base = len(b)
        b += [Bone(f"{label}_Thigh", 0, (.5 + s * .07, .47, .5), "thigh", side),
              Bone(f"{label}_Shin", base, (.5 + s * .07, .26, .5), "shin", side),
              Bone(f"{label}_Foot", base + 1, (.5 + s * .07, .05, .55), "foot", side)]
    return b


def _quadruped() -> list[Bone]:
    b = [Bone("Hips", -1, (.5, .62, .25), "root"), Bone("Spine", 0, (.5, .64, .5), "spine"),
         Bone("Chest", 1, (.5, .64, .72), "spine", index=1), Bone("Neck", 2, (.5, .76, .86), "neck"),
         Bone("Head", 3, (.5, .88, .95), "head"), Bone("Tail", 0, (.5, .68, .05), "tail")]
    for parent, z, front in ((0, .22, 0), (2, .78, 1)):
        for side, label in ((1, "L"), (-1, "R")):
            base = len(b)
            tag = ("Front" if front else "Back") + label
            b += [Bone(f"{tag}_Thigh", parent, (.5 + side * .3, .55, z), "thigh", side, front),
                  Bone(f"{tag}_Shin", base, (.5 + side * .3, .3, z), "shin", side, front),
                  Bone(f"{tag}_Foot", base + 1, (.5 + side * .3, .04, z), "foot", side, front)]
    return b


def _multileg(n: int) -> list[Bone]:
    b = [Bone("Body", -1, (.5, .6, .5), "root"), Bone("Head", 0, (.5, .6, .9), "head")]
    for i in range(n // 2):
        z = .75 - .5 * i / max(n // 2 - 1, 1)
        for side, label in ((1, "L"), (-1, "R")):
            base = len(b)
            b += [Bone(f"Leg{i + 1}{label}_Upper", 0, (.5 + side * .18, .6, z), "thigh", side, i),
                  Bone(f"Leg{i + 1}{label}_Lower", base, (.5 + side * .38, .75, z), "shin", side, i),
                  Bone(f"Leg{i + 1}{label}_Tip", base + 1, (.5 + side * .5, .03, z), "foot", side, i)]
    return b


def _avian() -> list[Bone]:
    b = [Bone("Hips", -1, (.5, .45, .45), "root"), Bone("Spine", 0, (.5, .6, .5), "spine"),
         Bone("Neck", 1, (.5, .78, .65), "neck"), Bone("Head", 2, (.5, .9, .75), "head"),
         Bone("Tail", 0, (.5, .45, .1), "tail")]
    for side, label in ((1, "L"), (-1, "R")):
        base = len(b)
        b += [Bone(f"{label}_Wing", 1, (.5 + side * .15, .62, .5), "wing", side),
              Bone(f"{label}_WingMid", base, (.5 + side * .32, .62, .5), "wing", side, 1),
              Bone(f"{label}_WingTip", base + 1, (.5 + side * .48, .62, .5), "wing", side, 2)]
        base = len(b)
        b += [Bone(f"{label}_Thigh", 0, (.5 + side * .08, .35, .5), "thigh", side),
              Bone(f"{label}_Shin", base, (.5 + side * .08, .15, .5), "shin", side),
              Bone(f"{label}_Foot", base + 1, (.5 + side * .08, .02, .55), "foot", side)]
    return b


def _chain(n: int, fins: bool) -> list[Bone]:
    b = [Bone("Root", -1, (.5, .5, .0), "root")]
    for i in range(1, n):
        b.append(Bone(f"Segment{i}", i - 1, (.5, .5, i / (n - 1)), "chain", 0, i))
    if fins:
        b += [Bone("L_Fin", n // 2, (.8, .4, .6), "fin", 1), Bone("R_Fin", n // 2, (.2, .4, .6), "fin", -1)]
    return b


def _others() -> list[Bone]:
    return [Bone("Root", -1, (.5, .05, .5), "root")] + [
        Bone(f"Bone{i}", i - 1, (.5, .05 + .3 * i, .5), "chain", 0, i) for i in range(1, 4)]


TEMPLATES = {"biped": _biped, "quadruped": _quadruped, "hexapod": lambda: _multileg(6),
             "octopod": lambda: _multileg(8), "avian": _avian, "serpentine": lambda: _chain(10, False),
             "aquatic": lambda: _chain(6, True), "others": _others}
MIXAMO = {"Hips": "Hips", "Spine": "Spine", "Chest": "Spine2", "Neck": "Neck", "Head": "Head",
          "L_UpperArm": "LeftArm", "L_Forearm": "LeftForeArm", "L_Hand": "LeftHand", "R_UpperArm": "RightArm",
          "R_Forearm": "RightForeArm", "R_Hand": "RightHand", "L_Thigh": "LeftUpLeg", "L_Shin": "LeftLeg",
          "L_Foot": "LeftFoot", "R_Thigh": "RightUpLeg", "R_Shin": "RightLeg", "R_Foot": "RightFoot"}


@dataclass
class Skeleton:
    bones: list[Bone]
    heads: np.ndarray   # (J, 3) model-space rest positions
    names: list[str]

    @property
    def parents(self) -> list[int]:
        return [b.parent for b in self.bones]


def skeleton(rig_type: str, meshes: list[Mesh], spec: str = "tripo") -> Skeleton:
    bones = TEMPLATES.get(rig_type, _others)()
    lo, hi = bounds(meshes)
    heads = lo + np.asarray([b.at for b in bones], float) * (hi - lo)
    if rig_type in ("serpentine", "aquatic") and meshes:  # follow the body's centre line
        pts = np.concatenate([m.positions for m in meshes]).astype(float)
        for j, b in enumerate(bones):
            if b.role in ("root", "chain"):
                near = pts[np.abs(pts[:, 2] - heads[j, 2]) < (hi - lo)[2] / 12 + 1e-9]
                if len(near):
                    heads[j, :2] = near[:, :2].mean(axis=0)
    names = [("mixamorig:" + MIXAMO[b.name]) if spec == "mixamo" and b.name in MIXAMO else b.name for b in bones]
    return Skeleton(bones, heads, names)


def skin_weights(mesh: Mesh, sk: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(joints (n,4) uint16, weights (n,4) float32): the 4 closest bone segments, inverse-distance weighted."""
    p = mesh.positions.astype(float)
    heads = sk.heads
    tails = heads.copy()
    for j, b in enumerate(sk.bones):
        kids = [k for k, c in enumerate(sk.bones) if c.parent == j]
        if kids:
            tails[j] = heads[kids].mean(axis=0)
        elif b.parent >= 0:
            tails[j] = heads[j] + (heads[j] - heads[b.parent]) * 0.3
    seg = tails - heads
    seg_len2 = np.maximum((seg ** 2).sum(axis=1), 1e-12)
    t = np.clip(((p[:, None, :] - heads[None]) * seg[None]).sum(-1) / seg_len2[None], 0, 1)
    closest = heads[None] + t[..., None] * seg[None]
    d = np.linalg.norm(p[:, None, :] - closest, axis=-1)
    k = min(4, len(heads))
    order = np.argsort(d, axis=1)[:, :k]
    dk = np.take_along_axis(d, order, axis=1)
    w = 1.0 / (dk + 1e-3) ** 4
    w /= w.sum(axis=1, keepdims=True)
    joints = np.zeros((len(p), 4), np.uint16)
    weights = np.zeros((len(p), 4), np.float32)
    joints[:, :k], weights[:, :k] = order, w
    return joints, weights


def make_skin(mesh: Mesh | None, sk: Skeleton) -> Skin:
    if mesh is None:
        return Skin(sk.names, sk.parents, sk.heads)
    joints, weights = skin_weights(mesh, sk)
    return Skin(sk.names, sk.parents, sk.heads, joints, weights)


# ------------------------------------------------------------------------------------------------------ animation
def _quat(ax: np.ndarray, ay: np.ndarray, az: np.ndarray) -> np.ndarray:
    """xyzw quaternions of Y * X * Z Euler rotations (radians, per key)."""
    def q(axis: int, a: np.ndarray) -> np.ndarray:
        out = np.zeros((len(a), 4))
        out[:, axis] = np.sin(a / 2)
        out[:, 3] = np.cos(a / 2)
        return out

    def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        x1, y1, z1, w1 = a.T
        x2, y2, z2, w2 = b.T
        return np.stack([w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2, w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                         w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2, w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2], axis=1)

    r = mul(mul(q(1, ay), q(0, ax)), q(2, az))
    return (r / np.linalg.norm(r, axis=1, keepdims=True)).astype(np.float32)


def clip(preset: str, sk: Skeleton, *, in_place: bool = False, size: float = 1.0, keys: int = 31) -> Clip:
    """A ~1 s loop for an animation preset, keyed on every joint's rotation (and the root's translation)."""
    name = preset.removeprefix("preset:")
    motion = name.split(":")[-1]
    t = np.linspace(0.0, 1.0, keys)
    w = 2 * math.pi * t
    fast = motion in ("run", "march") or name.startswith(("hexapod", "octopod"))
    speed = 2.0 if fast else 1.0
    amp = {"walk": 0.5, "run": 0.85, "march": 0.5}.get(motion, 0.3)
    rot: dict[int, np.ndarray] = {}
    zero = np.zeros(keys)
    for j, b in enumerate(sk.bones):
        ax, ay, az = zero.copy(), zero.copy(), zero.copy()
        phase = (0 if b.side >= 0 else math.pi) + (math.pi if b.index % 2 else 0)
        if motion in ("walk", "run", "march") and b.role in ("thigh", "shin", "foot"):
            if name.startswith(("hexapod", "octopod")):
                ay = 0.35 * np.sin(speed * w + phase)
                az = b.side * 0.2 * np.clip(np.sin(speed * w + phase), 0, None)
            else:
                swing = amp * np.sin(speed * w + phase)
                ax = swing if b.role == "thigh" else (np.clip(-swing, 0, None) if b.role == "shin" else swing * 0.3)
        elif motion in ("walk", "run") and b.role in ("arm", "forearm"):
            ax = -0.6 * amp * np.sin(speed * w + phase) * (1 if b.role == "arm" else 0.5)
            az = -b.side * 1.1 * np.ones(keys) if b.role == "arm" else zero
        elif b.role in ("chain", "tail") and motion in ("march", "walk", "run", "idle"):
            ay = 0.35 * np.sin(speed * w - b.index * 0.8)
        elif b.role == "fin":
            az = b.side * 0.4 * np.sin(2 * w)
        elif b.role == "wing":
            az = b.side * 0.6 * np.sin(2 * w)
        if motion == "idle" and b.role in ("spine", "neck", "head"):
            ax = 0.04 * np.sin(w)
            ay = ay + (0.15 * np.sin(w) if b.role == "head" else 0)
        elif motion == "turn" and b.role == "root":
            ay = t * math.pi / 2
        elif motion in ("dive", "fall") and b.role == "root":
            ax = t * (1.2 if motion == "dive" else -1.4)
        elif motion == "hurt" and b.role in ("spine", "head"):
            ax = -0.35 * np.sin(math.pi * t)
        elif motion == "jump" and b.role in ("thigh", "shin"):
            ax = 0.6 * np.cos(w) * (1 if b.role == "thigh" else -1)
        elif motion == "climb" and b.role in ("arm", "thigh"):
            az = -b.side * (1.3 if b.role == "arm" else 0.4) * (0.5 + 0.5 * np.sin(w + phase))
        elif motion == "slash" and b.role == "arm" and b.side < 0:
            ay = -1.4 * np.sin(math.pi * t)
            az = 1.0 * np.sin(math.pi * t)
        elif motion == "shoot" and b.role == "arm":
            ay = b.side * -1.2 * np.minimum(t * 4, 1)
        if np.any(ax) or np.any(ay) or np.any(az) or b.role == "root":
            rot[j] = _quat(ax, ay, az)
    root = 0
    base = sk.heads[root] - (0 if sk.bones[root].parent < 0 else sk.heads[sk.bones[root].parent])
    tr = np.tile(base, (keys, 1)).astype(np.float64)
    if motion in ("walk", "run", "march") and not in_place:
        tr[:, 2] += t * size * (0.8 if motion == "run" else 0.4)
    if motion in ("walk", "run"):
        tr[:, 1] += 0.02 * size * np.abs(np.sin(speed * w))
    if motion == "jump":
        tr[:, 1] += 0.4 * size * np.sin(math.pi * t)
    if motion == "fall":
        tr[:, 1] -= 0.3 * size * t ** 2
    return Clip(name, t.astype(np.float32), rot, {root: tr.astype(np.float32)})
