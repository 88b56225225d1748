"""The contact sheet of a batch: a PNG grid of each row's preview, labelled with its prompt and credits.

Previews (Tripo renders WebP) are read with Blender's image loader (:func:`load_rgba`); composing and PNG writing are
pure Python (zlib), with a built-in 5x7 pixel font, so nothing outside the standard library is needed.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

CELL = 256
LABEL_LINES = 3
SCALE = 2  # font pixels per glyph pixel
CHAR_W, CHAR_H = 6 * SCALE, 9 * SCALE
PAD = 8
BG = (38, 40, 44)
CELL_BG = (236, 238, 242)
TEXT = (235, 235, 235)
FAILED = (200, 70, 60)

# 5x7 glyphs, one string of 7 rows of 5 bits each ("." off, "#" on) per character; lower case is drawn as upper.
_G = {
    "A": ".###.#...##...#######...##...##...#", "B": "####.#...##...#####.#...##...#####.",
    "C": ".###.#...##....#....#....#...#.###.", "D": "####.#...##...##...##...##...#####.",
    "E": "######....#....####.#....#....#####", "F": "######....#....####.#....#....#....",
    "G": ".###.#...##....#.####...##...#.####", "H": "#...##...##...#######...##...##...#",
    "I": ".###...#....#....#....#....#...###.", "J": "..###...#....#....#....##..#..##...",
    "K": "#...##..#.#.#..##...#.#..#..#.#...#", "L": "#....#....#....#....#....#....#####",
    "M": "#...###.###.#.##...##...##...##...#", "N": "#...##...###..##.#.##..###...##...#",
    "O": ".###.#...##...##...##...##...#.###.", "P": "####.#...##...#####.#....#....#....",
    "Q": ".###.#...##...##...##.#.##..#..##.#", "R": "####.#...##...#####.#.#..#..#.#...#",
    "S": ".####.....#.....###.....#....#####.", "T": "#####..#....#....#....#....#....#..",
    "U": "#...##...##...##...##...##...#.###.", "V": "#...##...##...##...##...#.#.#...#..",
    "W": "#...##...##...##.#.##.#.##.#..#.#..", "X": "#...##...#.#.#...#...#.#.#...##...#",
    "Y": "#...##...#.#.#...#....#....#....#..", "Z": "#####....#...#...#...#...#....#####",
    "0": ".###.#...##..###.#.###..##...#.###.", "1": "..#...##....#....#....#....#...###.",
    "2": ".###.#...#....#...#...#...#...#####", "3": "#####...#...#.....#.....##...#.###.",
    "4": "...#...##..#.#.#..#.#####...#....#.", "5": "######....####.....#....##...#.###.",
    "6": "..##..#...#....####.#...##...#.###.", "7": "#####....#...#...#...#....#....#...",
    "8": ".###.#...##...#.###.#...##...#.###.", "9": ".###.#...##...#.####....#...#..##..",
    " ": "." * 35, ".": "." * 25 + "..##...##.", ",": "." * 20 + ".##...##.....#.",
    ":": "......##...##........##...##.......", ";": "......##...##........##...##....#..",
    "-": "..........." + "....####" + "." * 16, "+": ".......#....#..#####..#....#.......",
    "!": "..#....#....#....#....#.........#..", "?": ".###.#...#....#...#...#.........#..",
    "'": "..#....#...#.......................", '"': ".#.#..#.#..#.#.....................",
    "(": "...#...#...#....#....#.....#.....#.", ")": ".#.....#.....#....#....#...#...#...",
    "/": ".........#...#...#...#...#.........", "#": ".#.#..#.#.#####.#.#.#####.#.#..#.#.",
    "%": "##...##..#...#...#...#...#..##...##", "&": ".##..#..#.#.#...#...#.#.##..#..##.#",
    "_": "." * 30 + "#####", "=": "..........#####.....#####..........", "*": ".......#..#.#.#.###.#.#.#..#.......",
    "\u2026": "." * 30 + "#.#.#",
}
_GLYPHS = {k: [[v.ljust(35, ".")[r * 5 + c] == "#" for c in range(5)] for r in range(7)] for k, v in _G.items()}


def _glyph(ch: str) -> list[list[bool]]:
    return _GLYPHS.get(ch) or _GLYPHS.get(ch.upper()) or _GLYPHS["?"]


class Canvas:
    """An RGB picture in a bytearray (top row first)."""

    def __init__(self, w: int, h: int, color: tuple[int, int, int] = BG) -> None:
        self.w, self.h = w, h
        self.px = bytearray(bytes(color) * (w * h))

    def fill(self, x: int, y: int, w: int, h: int, color: tuple[int, int, int]) -> None:
        x0, y0, x1, y1 = max(0, x), max(0, y), min(self.w, x + w), min(self.h, y + h)
        if x1 <= x0:
            return
        line = bytes(color) * (x1 - x0)
        for yy in range(y0, y1):
            o = (yy * self.w + x0) * 3
            self.px[o:o + len(line)] = line

    def paste(self, x: int, y: int, w: int, h: int, rgb: bytes) -> None:
        """``rgb``: w*h*3 bytes, top row first."""
        for row in range(h):
            yy = y + row
            if 0 <= yy < self.h:
                o = (yy * self.w + x) * 3
                self.px[o:o + w * 3] = rgb[row * w * 3:(row + 1) * w * 3]

    def text(self, x: int, y: int, s: str, color: tuple[int, int, int] = TEXT, max_w: int | None = None) -> None:
        limit = (max_w // CHAR_W) if max_w else len(s)
        if len(s) > limit:
            s = s[: max(0, limit - 1)] + "\u2026"
        for i, ch in enumerate(s):
            g = _glyph(ch)
            for r in range(7):
                for c in range(5):
                    if g[r][c]:
                        self.fill(x + i * CHAR_W + c * SCALE, y + r * SCALE, SCALE, SCALE, color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.px[y * self.w * 3:(y + 1) * self.w * 3]) for y in range(self.h))
        return png_bytes(self.w, self.h, raw)


def png_bytes(w: int, h: int, filtered_rgb: bytes) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(filtered_rgb, 6)) + chunk(b"IEND", b""))


def wrap(text: str, width: int, lines: int) -> list[str]:
    """``text`` in at most ``lines`` lines of ``width`` characters (the last one cut with an ellipsis)."""
    words, out, cur = " ".join(text.split()).split(" "), [], ""
    for w in words:
        if not cur:
            cur = w
        elif len(cur) + 1 + len(w) <= width:
            cur += " " + w
        else:
            out.append(cur)
            cur = w
    if cur:
        out.append(cur)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: max(0, width - 1)] + "\u2026"
    return [s if len(s) <= width else s[: width - 1] + "\u2026" for s in out]


def load_rgba(path: str, size: int) -> bytes | None:
    """A picture read with Blender's loader (WebP, PNG, JPEG...), fitted in ``size`` x ``size``: RGB bytes top row
    first on the cell's background, or None when it cannot be read."""
    import bpy

    try:
        img = bpy.data.images.load(os.path.abspath(path), check_existing=False)
    except (RuntimeError, OSError):
        return None
    try:
        w, h = img.size
        if not w or not h:
            return None
        k = size / max(w, h)
        nw, nh = max(1, int(w * k)), max(1, int(h * k))
        img.scale(nw, nh)
        buf = [0.0] * (nw * nh * 4)
        img.pixels.foreach_get(buf)
    finally:
        bpy.data.images.remove(img)
    out = bytearray(bytes(CELL_BG) * (size * size))
    ox, oy = (size - nw) // 2, (size - nh) // 2
    for row in range(nh):  # Blender's rows go bottom-up
        src = (nh - 1 - row) * nw * 4
        line = bytearray(nw * 3)
        for x in range(nw):
            a = buf[src + x * 4 + 3]
            for c in range(3):
                v = buf[src + x * 4 + c] * a + CELL_BG[c] / 255.0 * (1.0 - a)
                line[x * 3 + c] = max(0, min(255, int(v * 255 + 0.5)))
        o = ((oy + row) * size + ox) * 3
        out[o:o + nw * 3] = line
    return bytes(out)


def contact_sheet(cells: Iterable[dict], dest: str | os.PathLike, *, title: str = "",
                  loader: Callable[[str, int], bytes | None] = load_rgba, cell: int = CELL) -> Path:
    """Write the grid. Each cell: ``preview`` (a file or ""), ``label`` (the prompt), ``credits`` (text),
    ``failed`` (bool: drawn with its reason in red). Returns the PNG's path (written atomically)."""
    cells = list(cells)
    cols = max(1, min(6, math.ceil(math.sqrt(len(cells) or 1))))
    rows = max(1, math.ceil(len(cells) / cols))
    label_h = LABEL_LINES * CHAR_H + PAD
    head = CHAR_H + 2 * PAD if title else PAD
    cw, ch = cell + PAD, cell + label_h + PAD
    canvas = Canvas(cols * cw + PAD, head + rows * ch)
    if title:
        canvas.text(PAD, PAD, title, TEXT, max_w=canvas.w - 2 * PAD)
    width = cell // CHAR_W
    for i, c in enumerate(cells):
        x, y = PAD + (i % cols) * cw, head + (i // cols) * ch
        canvas.fill(x, y, cell, cell, CELL_BG)
        rgb = loader(c["preview"], cell) if c.get("preview") else None
        if rgb is not None and len(rgb) == cell * cell * 3:
            canvas.paste(x, y, cell, cell, rgb)
        elif c.get("failed"):
            canvas.fill(x, y, cell, cell, (70, 40, 40))
            for n, line in enumerate(wrap(str(c.get("why") or "failed"), width, 6)):
                canvas.text(x + 4, y + 8 + n * CHAR_H, line, FAILED, max_w=cell - 8)
        lines = wrap(str(c.get("label") or ""), width, LABEL_LINES - 1)
        for n, line in enumerate(lines):
            canvas.text(x, y + cell + 4 + n * CHAR_H, line, TEXT, max_w=cell)
        canvas.text(x, y + cell + 4 + (LABEL_LINES - 1) * CHAR_H, str(c.get("credits") or ""),
                    FAILED if c.get("failed") else (150, 200, 150), max_w=cell)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(canvas.png())
    os.replace(tmp, dest)
    return dest


def batch_sheet(summary_rows: list[dict], out_dir: str | os.PathLike, name: str = "contact_sheet.png", *,
                title: str = "", loader: Callable[[str, int], bytes | None] = load_rgba) -> Path:
    """The contact sheet of a batch from its row records (``jobs.batch.RowRecord`` as dicts)."""
    from ..jobs.cost import text as credits_text

    out_dir = Path(out_dir)
    cells = []
    for r in summary_rows:
        failed = r.get("state") == "failed"
        previews = r.get("previews") or [""]
        per = r.get("variant_credits") or []
        for v, prev in enumerate(previews, 1):
            label = r.get("title") or r.get("key") or ""
            credits = r.get("credits")
            if len(previews) > 1:
                label = f"{label} #{v}"
                credits = per[v - 1] if len(per) == len(previews) else None
            cells.append({"preview": str(out_dir / prev) if prev else "", "label": label, "failed": failed,
                          "why": r.get("error") or "", "credits": "FAILED" if failed else
                          f"{credits_text(credits)} credits"})
    return contact_sheet(cells, out_dir / name, title=title, loader=loader)
