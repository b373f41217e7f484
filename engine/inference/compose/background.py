"""The background of a creative: the palette's gradient, the decor shapes kept clear of the text column,
the edge chrome and soft shadows.
"""

from __future__ import annotations

import math
import random

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
    noise = np.random.default_rng(7).normal(0.0, 1.1, (h, w, 1)).astype(np.float32)
    out = np.asarray(img, np.float32) + noise
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def _rgba(c: RGB, alpha: float) -> tuple[int, int, int, int]:
    return c[0], c[1], c[2], round(255 * alpha)


def _dist_to_box(x: float, y: float, box: Box) -> float:
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return math.hypot(dx, dy)


def _decor_layer(
    size: tuple[int, int], p: Palette, hero: Box, column: Box, rng: random.Random
) -> Image.Image:
    """Background shapes for the palette's ``decor`` style, placed in the free area beside the text column."""
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    unit = min(w, h)
    keep = unit * 0.05
    hx, hy = (hero[0] + hero[2]) / 2, (hero[1] + hero[3]) / 2
    hr = min(hero[2] - hero[0], hero[3] - hero[1]) / 2
    # The free area: above the column (stacked layouts) or left of it (landscape).
    stacked = column[1] > h * 0.3
    fx0, fy0, fx1, fy1 = (0, 0, w, column[1]) if stacked else (0, 0, column[0], h)
    fw, fh = fx1 - fx0, fy1 - fy0

    def at(u: float, v: float) -> tuple[float, float]:
        return fx0 + u * fw, fy0 + v * fh

    def clear_of_column(x: float, y: float, r: float) -> float:
        return max(0.0, min(r, _dist_to_box(x, y, column) - keep))

    light = relative_luminance(_mix(p.bg_top, p.bg_bottom, 0.5)) > 0.35
    if p.decor == "confetti":
        colours = [p.accent, p.cta_fill, _shift_hue(p.accent, by_deg=150)]
        placed = 0
        for _ in range(400):
            if placed >= 24:
                break
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            s = rng.uniform(0.012, 0.028) * unit
            if (cy > fy1 - keep if stacked else cx > fx1 - keep) or math.hypot(cx - hx, cy - hy) < hr * 1.02:
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
    elif p.decor == "blobs":
        for k, (u, v, fr) in enumerate(((0.02, 0.06, 0.36), (0.98, 0.62, 0.3), (0.9, 0.02, 0.14))):
            x, y = at(u, v)
            r = clear_of_column(x, y, fr * unit)
            blob = _mix(p.accent, p.bg_top, 0.3 + 0.12 * k)
            d.ellipse((x - r, y - r, x + r, y + r), fill=_rgba(blob, 0.35))
    elif p.decor == "rings":
        width = max(2, unit // 360)
        for k in range(1, 5):
            r = clear_of_column(hx, hy, hr * (1.0 + 0.13 * k))
            if r > hr * 0.96:
                d.ellipse(
                    (hx - r, hy - r, hx + r, hy + r), outline=_rgba(p.accent, 0.6 - 0.1 * k), width=width
                )
        for u, v, fr in ((0.06, 0.1, 0.2), (0.94, 0.88, 0.12)):
            x, y = at(u, v)
            r = clear_of_column(x, y, fr * unit)
            d.ellipse((x - r, y - r, x + r, y + r), fill=_rgba(_mix(p.accent, p.bg_top, 0.45), 0.35))
    elif p.decor == "frame":
        r = hr * 0.97
        d.ellipse((hx - r, hy - r, hx + r, hy + r), outline=_rgba(p.accent, 0.9), width=max(2, unit // 300))
    elif p.decor == "burst":
        rays = 16
        r = math.hypot(w, h)
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
    elif p.decor == "slab":
        x0, y0 = at(0.0, 0.0)
        d.polygon([at(0, 0), at(0.62, 0), at(0.12, 0.86), at(0, 1.0)], fill=_rgba(p.accent, 0.16))
        tri = (
            [at(1.0, 0.1), at(1.0, 0.62), at(0.82, 0.38)]
            if stacked
            else [at(0.3, 1.0), at(0.75, 1.0), at(0.55, 0.86)]
        )
        d.polygon(tri, fill=_rgba(p.accent, 0.6))
    elif p.decor == "dots":
        step = max(14, unit // 40)
        rad = max(2, unit // 260)
        for ox, oy in (at(0.9, 0.1), at(0.1, 0.72)):
            for gx in range(6):
                for gy in range(5):
                    x = ox - 2.5 * step + gx * step
                    y = oy - 2 * step + gy * step
                    d.ellipse((x - rad, y - rad, x + rad, y + rad), fill=_rgba(p.accent, 0.5))
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
