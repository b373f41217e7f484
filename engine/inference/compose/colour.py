"""Colour helpers for the compositor: hex/RGB, WCAG luminance and contrast, mixing, hue shifts and
readable text colours. Pure Python.
"""

from __future__ import annotations

import colorsys

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]

MIN_CONTRAST = 4.5  # WCAG AA for normal text
_TARGET_CONTRAST = 4.8  # aim a little higher: resampling and the final pass nudge colours


def hex_to_rgb(value: str) -> RGB:
    v = value.lstrip("#")
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


def rgb_to_hex(c: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


def relative_luminance(c: tuple[int, ...]) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""

    def lin(v: int) -> float:
        s = v / 255.0
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])


def contrast_ratio(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """WCAG contrast ratio between two colours, 1.0 .. 21.0."""
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _hls(c: RGB) -> tuple[float, float, float]:
    return colorsys.rgb_to_hls(c[0] / 255, c[1] / 255, c[2] / 255)


def _from_hls(h: float, lum: float, s: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(h % 1.0, min(1.0, max(0.0, lum)), min(1.0, max(0.0, s)))
    return round(r * 255), round(g * 255), round(b * 255)


_WHITE: RGB = (255, 255, 255)
_BLACK: RGB = (0, 0, 0)


def _readable(fg: RGB, bgs: list[RGB], target: float = _TARGET_CONTRAST) -> RGB:
    """``fg`` moved towards white or black just enough to reach ``target`` against every colour in ``bgs``."""

    def worst(c: RGB) -> float:
        return min(contrast_ratio(c, b) for b in bgs)

    if worst(fg) >= target:
        return fg
    ends = sorted((_WHITE, _BLACK), key=worst, reverse=True)
    for end in ends:
        for i in range(1, 21):
            c = _mix(fg, end, i / 20)
            if worst(c) >= target:
                return c
    return ends[0]


def _shift_hue(c: RGB, target_deg: float | None = None, by_deg: float = 0.0, min_sat: float = 0.0) -> RGB:
    h, lum, s = _hls(c)
    if target_deg is not None:
        h = target_deg / 360.0
    h += by_deg / 360.0
    return _from_hls(h, lum, max(s, min_sat))


def _toward_hue(c: RGB, target_deg: float, amount: float) -> RGB:
    h, lum, s = _hls(c)
    cur = h * 360.0
    delta = ((target_deg - cur + 180.0) % 360.0) - 180.0
    return _from_hls((cur + delta * amount) / 360.0, lum, s)


def _adjust(c: RGB, *, dl: float = 0.0, ds: float = 1.0) -> RGB:
    h, lum, s = _hls(c)
    return _from_hls(h, lum + dl, s * ds)
