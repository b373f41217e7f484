"""The background of a creative: the palette's gradient, the decor shapes kept clear of the text column,
the edge chrome and soft shadows.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.inference.compose.colour import _WHITE, RGB, Box, _mix, _shift_hue, relative_luminance
from engine.inference.compose.palettes import Palette


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    w, h = size
    sw, sh = max(2, w // 8), max(2, h // 8)
    ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
    t = 0.78 * ys / (sh - 1) + 0.22 * xs / (sw - 1)  # mostly vertical, slightly diagonal
    t = t * t * (3 - 2 * t)  # smoothstep
    a, b = np.array(top, np.float32), np.array(bottom, np.float32)
    arr = a[None, None, :] + (b - a)[None, None, :] * t[..., None]
    small = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
    img = small.resize(size, Image.Resampling.BICUBIC)
    # A whisper of noise hides 8-bit banding in large smooth gradients.
    out = np.asarray(img, np.float32) + _noise(h, w)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


@functools.lru_cache(maxsize=4)
def _noise(h: int, w: int) -> np.ndarray:
    """The gradient's fixed noise for one canvas size, drawn once instead of for every card; read-only,
    4-8 MB a size."""
    noise = np.random.default_rng(7).normal(0.0, 1.1, (h, w, 1)).astype(np.float32)
    noise.flags.writeable = False
    return noise


def _rgba(c: RGB, alpha: float) -> tuple[int, int, int, int]:
    return c[0], c[1], c[2], round(255 * alpha)


def _dist_to_box(x: float, y: float, box: Box) -> float:
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return math.hypot(dx, dy)


@dataclass(frozen=True)
class _DecorArea:
    """Where decor may go: the canvas, the hero disc (centre and radius) and the free area beside the
    text column (above it in stacked layouts, left of it in landscape)."""

    size: tuple[int, int]
    column: Box
    unit: int
    keep: float  # how far shapes stay from the column
    hx: float
    hy: float
    hr: float
    stacked: bool
    free: Box

    def at(self, u: float, v: float) -> tuple[float, float]:
        """The point at fractions (u, v) of the free area."""
        fx0, fy0, fx1, fy1 = self.free
        return fx0 + u * (fx1 - fx0), fy0 + v * (fy1 - fy0)

    def clear_of_column(self, x: float, y: float, r: float) -> float:
        """``r`` shrunk so a circle at (x, y) keeps clear of the column (0 when the centre is too close)."""
        return max(0.0, min(r, _dist_to_box(x, y, self.column) - self.keep))


def _decor_area(size: tuple[int, int], hero: Box, column: Box) -> _DecorArea:
    w, h = size
    unit = min(w, h)
    stacked = column[1] > h * 0.3
    return _DecorArea(
        size=size,
        column=column,
        unit=unit,
        keep=unit * 0.05,
        hx=(hero[0] + hero[2]) / 2,
        hy=(hero[1] + hero[3]) / 2,
        hr=min(hero[2] - hero[0], hero[3] - hero[1]) / 2,
        stacked=stacked,
        free=(0, 0, w, column[1]) if stacked else (0, 0, column[0], h),
    )


def _confetti(layer: Image.Image, a: _DecorArea, p: Palette, rng: random.Random) -> None:
    """Up to 24 dots and rotated strips scattered outside the hero disc and before the column."""
    d = ImageDraw.Draw(layer)
    w, h = a.size
    colours = [p.accent, p.cta_fill, _shift_hue(p.accent, by_deg=150)]
    placed = 0
    for _ in range(400):
        if placed >= 24:
            break
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        s = rng.uniform(0.012, 0.028) * a.unit
        beyond = cy > a.free[3] - a.keep if a.stacked else cx > a.free[2] - a.keep
        if beyond or math.hypot(cx - a.hx, cy - a.hy) < a.hr * 1.02:
            continue
        placed += 1
        col = _rgba(rng.choice(colours), rng.uniform(0.6, 0.9))
        if rng.random() < 0.45:
            d.ellipse((cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2), fill=col)
        else:
            piece = Image.new("RGBA", (int(s * 2.4) + 2, int(s * 0.75) + 2), (0, 0, 0, 0))
            ImageDraw.Draw(piece).rounded_rectangle(
                (1, 1, piece.width - 2, piece.height - 2), radius=int(s * 0.37), fill=col
            )
            piece = piece.rotate(rng.uniform(0, 180), expand=True, resample=Image.Resampling.BICUBIC)
            layer.alpha_composite(piece, (int(cx - piece.width / 2), int(cy - piece.height / 2)))


def _blobs(layer: Image.Image, a: _DecorArea, p: Palette, rng: random.Random) -> None:
    """Three soft accent-tinted discs in the corners of the free area."""
    d = ImageDraw.Draw(layer)
    for k, (u, v, fr) in enumerate(((0.02, 0.06, 0.36), (0.98, 0.62, 0.3), (0.9, 0.02, 0.14))):
        x, y = a.at(u, v)
        r = a.clear_of_column(x, y, fr * a.unit)
        blob = _mix(p.accent, p.bg_top, 0.3 + 0.12 * k)
        d.ellipse((x - r, y - r, x + r, y + r), fill=_rgba(blob, 0.35))


def _rings(layer: Image.Image, a: _DecorArea, p: Palette, rng: random.Random) -> None:
    """Fading rings around the hero disc and two soft discs in the free area."""
    d = ImageDraw.Draw(layer)
    width = max(2, a.unit // 360)
    hx, hy, hr = a.hx, a.hy, a.hr
    for k in range(1, 5):
        r = a.clear_of_column(hx, hy, hr * (1.0 + 0.13 * k))
        if r > hr * 0.96:
            d.ellipse((hx - r, hy - r, hx + r, hy + r), outline=_rgba(p.accent, 0.6 - 0.1 * k), width=width)
    for u, v, fr in ((0.06, 0.1, 0.2), (0.94, 0.88, 0.12)):
        x, y = a.at(u, v)
        r = a.clear_of_column(x, y, fr * a.unit)
        d.ellipse((x - r, y - r, x + r, y + r), fill=_rgba(_mix(p.accent, p.bg_top, 0.45), 0.35))


def _frame(layer: Image.Image, a: _DecorArea, p: Palette, rng: random.Random) -> None:
    """A thin accent ring just inside the hero disc (the edge frame itself is chrome)."""
    r = a.hr * 0.97
    ImageDraw.Draw(layer).ellipse(
        (a.hx - r, a.hy - r, a.hx + r, a.hy + r), outline=_rgba(p.accent, 0.9), width=max(2, a.unit // 300)
    )


def _burst(layer: Image.Image, a: _DecorArea, p: Palette, rng: random.Random) -> None:
    """16 faint rays from the hero's centre to past the canvas edge."""
    d = ImageDraw.Draw(layer)
    light = relative_luminance(_mix(p.bg_top, p.bg_bottom, 0.5)) > 0.35
    rays = 16
    r = math.hypot(*a.size)
    hx, hy = a.hx, a.hy
    colour = _WHITE if not light else _mix(p.accent, p.bg_top, 0.15)
    for k in range(0, rays * 2, 2):
        a0, a1 = 2 * math.pi * k / (rays * 2), 2 * math.pi * (k + 1) / (rays * 2)
        d.polygon(
            [
                (hx, hy),
                (hx + r * math.cos(a0), hy + r * math.sin(a0)),
                (hx + r * math.cos(a1), hy + r * math.sin(a1)),
            ],
            fill=_rgba(colour, 0.08 if not light else 0.16),
        )


def _slab(layer: Image.Image, a: _DecorArea, p: Palette, rng: random.Random) -> None:
    """A translucent slab along the free area's left edge and a solid accent triangle opposite."""
    d = ImageDraw.Draw(layer)
    at = a.at
    d.polygon([at(0, 0), at(0.62, 0), at(0.12, 0.86), at(0, 1.0)], fill=_rgba(p.accent, 0.16))
    tri = (
        [at(1.0, 0.1), at(1.0, 0.62), at(0.82, 0.38)]
        if a.stacked
        else [at(0.3, 1.0), at(0.75, 1.0), at(0.55, 0.86)]
    )
    d.polygon(tri, fill=_rgba(p.accent, 0.6))


def _dots(layer: Image.Image, a: _DecorArea, p: Palette, rng: random.Random) -> None:
    """Two 6x5 grids of small accent dots in opposite corners of the free area."""
    d = ImageDraw.Draw(layer)
    step = max(14, a.unit // 40)
    rad = max(2, a.unit // 260)
    for ox, oy in (a.at(0.9, 0.1), a.at(0.1, 0.72)):
        for gx in range(6):
            for gy in range(5):
                x = ox - 2.5 * step + gx * step
                y = oy - 2 * step + gy * step
                d.ellipse((x - rad, y - rad, x + rad, y + rad), fill=_rgba(p.accent, 0.5))


# The palette's ``decor`` name -> what draws it (only confetti uses the random source).
_DECOR: dict[str, Callable[[Image.Image, _DecorArea, Palette, random.Random], None]] = {
    "confetti": _confetti,
    "blobs": _blobs,
    "rings": _rings,
    "frame": _frame,
    "burst": _burst,
    "slab": _slab,
    "dots": _dots,
}


def _decor_layer(
    size: tuple[int, int], p: Palette, hero: Box, column: Box, rng: random.Random
) -> Image.Image:
    """Background shapes for the palette's ``decor`` style, placed in the free area beside the text column."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = _DECOR.get(p.decor)
    if draw is not None:
        draw(layer, _decor_area(size, hero, column), p, rng)
    return layer


def _column_keepout(size: tuple[int, int], column: Box, pad: int) -> Image.Image:
    """A mask that fades background shapes out before the text column: a horizontal fade above it
    (stacked layouts) or a vertical fade left of it (landscape); the column itself stays clear."""
    w, h = size
    stacked = column[1] > h * 0.3
    edge = column[1] if stacked else column[0]
    length = h if stacked else w
    ramp = np.clip((edge - pad / 3 - np.arange(length, dtype=np.float32)) / (pad * 1.6), 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)
    line = (ramp * 255 + 0.5).astype(np.uint8)
    arr = np.repeat(line[:, None], w, axis=1) if stacked else np.repeat(line[None, :], h, axis=0)
    return Image.fromarray(arr, "L")


def _chrome(canvas: Image.Image, p: Palette) -> None:
    """Edge details that never meet the text column: the premium frame, the professional top bar."""
    w, h = canvas.size
    unit = min(w, h)
    d = ImageDraw.Draw(canvas)
    if p.decor == "frame":
        inset = round(unit * 0.028)
        d.rectangle((inset, inset, w - inset, h - inset), outline=p.accent, width=max(2, unit // 400))
        inset2 = inset + max(6, unit // 110)
        d.rectangle(
            (inset2, inset2, w - inset2, h - inset2), outline=_mix(p.accent, p.bg_bottom, 0.55), width=1
        )
    elif p.decor == "dots":
        d.rectangle((0, 0, w, max(6, unit // 120)), fill=p.accent)


def _soft_shadow(
    canvas: Image.Image, box: Box, radius: int, colour: RGB, alpha: float, blur: float, dy: int
) -> None:
    """A blurred rounded rectangle under ``box``, drawn on a local layer (fast on big canvases)."""
    pad = round(blur * 3) + 2
    bw, bh = box[2] - box[0], box[3] - box[1]
    layer = Image.new("RGBA", (bw + 2 * pad, bh + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(layer).rounded_rectangle(
        (pad, pad, pad + bw, pad + bh), radius=radius, fill=_rgba(colour, alpha)
    )
    canvas.alpha_composite(layer.filter(ImageFilter.GaussianBlur(blur)), (box[0] - pad, box[1] - pad + dy))
