"""Textures (PNG) and preview renders (WEBP / PNG via Pillow) of meshes."""

from __future__ import annotations

import io
import math

import numpy as np

from .mesh import Mesh, rotation
from .png import encode_png


def palette(seed: int, n: int = 3) -> np.ndarray:
    """n related RGB colours (0..255) for a seed."""
    rng = np.random.default_rng(seed)
    hue = rng.random()
    cols = []
    for i in range(n):
        h = (hue + i * rng.uniform(0.05, 0.3)) % 1.0
        s, v = rng.uniform(0.35, 0.8), rng.uniform(0.45, 0.95)
        cols.append(_hsv(h, s, v))
    return np.array(cols, np.float64) * 255


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]


def texture_pixels(seed: int, size: int = 512) -> np.ndarray:
    """A seeded colour texture: two colours blended by smooth noise, with fine stripes in a third."""
    rng = np.random.default_rng(seed ^ 0x5EED)
    cols = palette(seed)
    u = np.arange(size) / size
    field = np.zeros((size, size))
    for _ in range(4):  # separable waves: outer products are cheap
        fx, fy = rng.uniform(1, 6, 2)
        field += np.outer(np.cos(2 * math.pi * (fy * u + rng.random())), np.sin(2 * math.pi * (fx * u + rng.random())))
    t = ((np.tanh(field * 1.5) + 1) / 2)[..., None]
    img = cols[0] * t + cols[1] * (1 - t)
    diag = np.sin(2 * math.pi * np.arange(2 * size) / size * rng.integers(8, 24)) > 0.92
    stripes = diag[np.add.outer(np.arange(size), np.arange(size))][..., None]
    img = np.where(stripes, cols[2], img)
    return np.clip(img, 0, 255).astype(np.uint8)


def texture_png(seed: int, size: int = 512) -> bytes:
    return encode_png(texture_pixels(seed, size))


def metallic_roughness_png(seed: int, size: int = 128) -> bytes:
    """glTF metallicRoughness map: G = roughness, B = metallic."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    rough = 0.45 + 0.35 * np.sin(2 * math.pi * (x * rng.uniform(1, 4) + y))
    metal = np.full_like(x, rng.uniform(0.0, 0.3))
    img = np.stack([np.zeros_like(x), rough, metal], axis=-1) * 255
    return encode_png(np.clip(img, 0, 255).astype(np.uint8))


def decode_texture(data: bytes | None) -> np.ndarray | None:
    """RGB array of PNG/JPEG/WEBP bytes, or None."""
    if not data:
        return None
    try:
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except Exception:
        return None


def render(meshes: list[Mesh], texture: np.ndarray | None = None, *, size: int = 512, yaw: float = 0.6,
           pitch: float = 0.35, background: tuple[int, int, int] = (236, 238, 242), fmt: str = "WEBP") -> bytes:
    """A flat-shaded orthographic preview (painter's algorithm) as WEBP or PNG bytes."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(img)
    polys = []
    rot = rotation("x", pitch) @ rotation("y", yaw)
    allp = [m.positions for m in meshes if m.vertex_count]
    if allp:
        pts = np.concatenate(allp) @ rot.T
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        centre = (lo + hi) / 2
        scale = 0.8 * size / max(float((hi - lo)[:2].max()), 1e-9)
        light = np.array([0.4, 0.7, 0.6])
        light /= np.linalg.norm(light)
        for m in meshes:
            if not m.face_count:
                continue
            p = (m.positions @ rot.T - centre) * scale
            tri = p[m.indices]
            fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-12)
            shade = 0.35 + 0.65 * np.clip(np.abs(fn @ light), 0, 1)
            base = np.tile(np.asarray(m.color, float) * 255, (m.face_count, 1))
            if texture is not None and m.uvs is not None:
                uv = m.uvs[m.indices].mean(axis=1) % 1.0
                h, w = texture.shape[:2]
                base = texture[((1 - uv[:, 1]) * (h - 1)).astype(int), (uv[:, 0] * (w - 1)).astype(int)][:, :3]
            cols = np.clip(base * shade[:, None], 0, 255).astype(int)
            depth = tri[:, :, 2].mean(axis=1)
            xy = tri[:, :, :2] * [1, -1] + size / 2
            polys.extend(zip(depth, xy, cols, strict=True))
        polys.sort(key=lambda t: t[0])
        for _, xy, col in polys:
            draw.polygon([tuple(v) for v in xy], fill=tuple(int(c) for c in col))
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 80} if fmt == "WEBP" else {}))
    return out.getvalue()


def picture(seed: int, size: int = 512) -> bytes:
    """A generated 'image' (text_to_image) as PNG: a seeded texture with a soft vignette."""
    px = texture_pixels(seed, size).astype(np.float64)
    r = (np.arange(size) / size - 0.5) ** 2
    px *= (1 - 0.8 * np.add.outer(r, r))[..., None]
    return encode_png(np.clip(px, 0, 255).astype(np.uint8))
