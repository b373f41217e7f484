"""The compositor: ad copy + hero art -> a finished ad creative (Pillow only, no torch).

One template per size (square 1080x1080, landscape 1200x628, story 1080x1920) places a hero region
and a text column. The background is a tone palette's gradient with a few tasteful shapes kept out of
the text column; the hero art is upscaled in stages and set on a soft disc with a drop shadow; the
headline, body and call to action are wrapped (per character for CJK) and shrunk until they fit, so
text never overflows or is cut. Every drawn text box is measured with ``ImageDraw.textbbox`` and
reported in :class:`Layout`, which is what the tests check.
"""

from __future__ import annotations

import colorsys
import logging
import math
import random
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from engine.brief import SIZES, TONES, is_cjk, suggest
from engine.errors import UserError
from engine.fonts import has_glyphs, load_font
from engine.inference.creative.types import CopyVariant
from engine.inference.hero import tidy

logger = logging.getLogger(__name__)

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]

MIN_CONTRAST = 4.5  # WCAG AA for normal text
_TARGET_CONTRAST = 4.8  # aim a little higher: resampling and the final pass nudge colours
ELLIPSIS = "\u2026"

# --------------------------------------------------------------------------------------------- colour


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


# --------------------------------------------------------------------------------------------- palettes


@dataclass(frozen=True)
class Palette:
    """Colours of one creative. ``decor`` names the background shapes; ``hint`` the refinements applied."""

    name: str
    tone: str
    bg_top: RGB
    bg_bottom: RGB
    accent: RGB
    stage: RGB  # the disc behind the hero art
    headline: RGB
    body: RGB
    cta_fill: RGB
    cta_text: RGB
    decor: str
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = rgb_to_hex(v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Palette:
        def c(key: str) -> RGB:
            return hex_to_rgb(d[key])

        return cls(
            name=d["name"],
            tone=d["tone"],
            bg_top=c("bg_top"),
            bg_bottom=c("bg_bottom"),
            accent=c("accent"),
            stage=c("stage"),
            headline=c("headline"),
            body=c("body"),
            cta_fill=c("cta_fill"),
            cta_text=c("cta_text"),
            decor=d["decor"],
            hint=d.get("hint", ""),
        )

    @property
    def background_samples(self) -> list[RGB]:
        return [self.bg_top, _mix(self.bg_top, self.bg_bottom, 0.5), self.bg_bottom]


# (name, bg_top, bg_bottom, accent, headline, body, cta_fill, cta_text, decor)
# fmt: off
_BASE: dict[str, list[tuple[str, ...]]] = {
    "playful": [
        ("sunny-pop", "#ffe066", "#ff9fb2", "#7b5cff", "#2b1544", "#3d2456", "#2b1544", "#ffe066", "confetti"),
        ("mint-fizz", "#b8f2e6", "#aed9e0", "#ff6f91", "#14213d", "#1f3050", "#ff6f91", "#14213d", "confetti"),
        ("lavender-jam", "#d8c4ff", "#ffc2e2", "#ffd23f", "#241138", "#35204a", "#241138", "#ffd23f", "confetti"),
    ],
    "bold": [
        ("night-red", "#121212", "#2d0a14", "#ff2e4c", "#ffffff", "#e9e9ee", "#ffe600", "#111111", "slab"),
        ("electric", "#2a0cff", "#7000ff", "#ffea00", "#ffffff", "#f1ecff", "#ffea00", "#16063d", "slab"),
        ("heat", "#c62828", "#8e0b1f", "#ffc400", "#ffffff", "#fff1f1", "#ffffff", "#8e0b1f", "slab"),
    ],
    "premium": [
        ("onyx-gold", "#141418", "#24242c", "#c9a45c", "#f5e6c8", "#d9d2c4", "#c9a45c", "#141418", "frame"),
        ("midnight", "#0e1a2b", "#1c3050", "#d4af37", "#f6f1e7", "#d7dbe3", "#d4af37", "#0e1a2b", "frame"),
        ("ivory", "#f6f1e7", "#e6dbc8", "#8c6a3f", "#1c1a17", "#3b342c", "#1c1a17", "#f6f1e7", "frame"),
    ],
    "friendly": [
        ("peach", "#fff3e4", "#ffd9b8", "#ff8a5b", "#3d2620", "#5a3b32", "#2e7d6b", "#ffffff", "blobs"),
        ("sky", "#eaf6ff", "#c8e6ff", "#4da3ff", "#12355b", "#2a4a70", "#12355b", "#ffffff", "blobs"),
        ("meadow", "#f1fff4", "#cdf2d7", "#5cc27a", "#1b4a36", "#2d5c47", "#1b4a36", "#ffffff", "blobs"),
    ],
    "urgent": [
        ("alarm", "#e3161e", "#960010", "#ffd400", "#ffffff", "#fff4f4", "#ffd400", "#1a1a1a", "burst"),
        ("blackout", "#111111", "#2a2a2a", "#ff5a1f", "#ffffff", "#eeeeee", "#ff5a1f", "#111111", "burst"),
        ("caution", "#ffd400", "#ffb300", "#e10600", "#111111", "#222222", "#111111", "#ffd400", "burst"),
    ],
    "calm": [
        ("sage", "#e8f1ef", "#cfe3de", "#8fb9a8", "#21403b", "#35544e", "#21403b", "#f2f7f6", "rings"),
        ("mist", "#eef1f8", "#d9e0ef", "#9fb2de", "#263352", "#3a4766", "#263352", "#ffffff", "rings"),
        ("sand", "#f7f2ec", "#e9ddcf", "#c7ae96", "#463628", "#5b4a3c", "#463628", "#f7f2ec", "rings"),
    ],
    "professional": [
        ("clean", "#ffffff", "#e9eef5", "#1f6feb", "#0b2545", "#2a3f5c", "#1f5fd1", "#ffffff", "dots"),
        ("navy", "#0b2545", "#163a66", "#8da9c4", "#ffffff", "#e3ebf4", "#ffffff", "#0b2545", "dots"),
        ("slate-teal", "#f4f6f9", "#e1e7ee", "#17a589", "#1c2833", "#34495e", "#1c2833", "#ffffff", "dots"),
    ],
}

# Named hues (degrees) for refinement hints such as "blue", "bluer", "more green".
_HUES: dict[str, float] = {
    "red": 0, "orange": 28, "amber": 40, "gold": 45, "yellow": 52, "lime": 90, "green": 135, "mint": 155,
    "teal": 175, "cyan": 188, "turquoise": 178, "blue": 215, "navy": 222, "indigo": 245, "purple": 275,
    "violet": 270, "lavender": 265, "magenta": 305, "pink": 335, "coral": 12, "rose": 345,
}
_HINT_ALIASES = {
    "bluer": "blue", "redder": "red", "greener": "green", "pinker": "pink", "yellower": "yellow",
    "purpler": "purple", "oranger": "orange", "bluish": "blue", "reddish": "red", "greenish": "green",
    "brighter": "lighter", "paler": "lighter", "light": "lighter", "dark": "darker", "deeper": "darker",
    "moodier": "darker", "warm": "warmer", "cool": "cooler", "colder": "cooler", "muted": "softer",
    "soft": "softer", "subtle": "softer", "calmer": "softer", "vivid": "vivider", "punchier": "vivider",
    "bolder": "vivider", "saturated": "vivider", "louder": "vivider", "grey": "softer", "gray": "softer",
    "vibrant": "vivider", "colourful": "vivider", "colorful": "vivider", "bright": "brighter",
    "pastels": "pastel", "monochrome": "mono", "grayscale": "mono", "greyscale": "mono",
}
# Colour words that set the lightness and saturation of the backgrounds rather than a hue:
# (background lightness, saturation factor, lightness of the stage behind the hero); None keeps it.
_TONALITY: dict[str, tuple[float | None, float, float | None]] = {
    "black": (0.09, 0.25, 0.17),
    "white": (0.96, 0.2, 0.9),
    "silver": (0.8, 0.08, 0.7),
    "mono": (None, 0.0, None),
    "pastel": (0.86, 1.0, 0.8),
}
# fmt: on


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


def _apply_hint(p: Palette, hint: str) -> Palette:
    bg_keys = ("bg_top", "bg_bottom", "accent", "stage", "cta_fill")
    colours: dict[str, RGB] = {k: getattr(p, k) for k in bg_keys}
    applied: list[str] = []
    for raw in re.findall(r"[a-z]+", hint.lower()):
        word = _HINT_ALIASES.get(raw, raw)
        if word in _HUES:
            hue = _HUES[word]
            for k in ("bg_top", "bg_bottom"):
                colours[k] = _shift_hue(colours[k], hue, min_sat=0.45)
            colours["bg_bottom"] = _shift_hue(colours["bg_bottom"], by_deg=12)
            colours["stage"] = _shift_hue(colours["stage"], hue, min_sat=0.35)
        elif word in ("warmer", "cooler"):
            target = 30.0 if word == "warmer" else 210.0
            for k in bg_keys:
                colours[k] = _toward_hue(colours[k], target, 0.35)
        elif word == "darker":
            for k in ("bg_top", "bg_bottom", "stage"):
                colours[k] = _adjust(colours[k], dl=-0.16)
        elif word == "lighter":
            for k in ("bg_top", "bg_bottom", "stage"):
                colours[k] = _adjust(colours[k], dl=+0.14)
        elif word == "softer":
            for k in bg_keys:
                colours[k] = _adjust(colours[k], ds=0.55)
        elif word == "vivider":
            for k in bg_keys:
                colours[k] = _adjust(colours[k], ds=1.5)
        elif word == "brighter":  # lighter and more saturated
            for k in ("bg_top", "bg_bottom", "stage"):
                colours[k] = _adjust(colours[k], dl=+0.1, ds=1.35)
        elif word in _TONALITY:
            lum, sat, stage = _TONALITY[word]
            for k in ("bg_top", "bg_bottom", "stage"):
                want = stage if k == "stage" else lum
                h, cur, s_ = _hls(colours[k])
                if want is not None and k == "bg_bottom":
                    want = want - 0.05 if want > 0.5 else want + 0.05
                if word == "pastel":  # light but tinted; a grey or white takes the accent's hue
                    h = _hls(colours["accent"])[0] if s_ < 0.05 else h
                    s_ = min(max(s_, 0.5), 0.75)
                else:
                    s_ *= sat
                colours[k] = _from_hls(h, cur if want is None else want, s_)
            if word == "mono":
                colours["accent"] = _adjust(colours["accent"], ds=0.0)
                colours["cta_fill"] = _adjust(colours["cta_fill"], ds=0.0)
        elif word == "neon":  # dark backgrounds, an electric accent
            for k in ("bg_top", "bg_bottom", "stage"):
                h, _, s_ = _hls(colours[k])
                colours[k] = _from_hls(h, 0.1 if k != "stage" else 0.16, min(1.0, s_ * 1.2))
            for k in ("accent", "cta_fill"):
                h, _, _ = _hls(colours[k])
                colours[k] = _from_hls(h, 0.55, 1.0)
        elif word == "brown":
            for k in ("bg_top", "bg_bottom", "stage"):
                h, cur, _ = _hls(colours[k])
                colours[k] = _from_hls(28 / 360.0, min(cur, 0.42) if k != "stage" else min(cur, 0.5), 0.45)
        else:
            continue
        applied.append(word)
    if not applied:
        return p
    joined = " ".join(x for x in (p.hint, *applied) if x)
    return _finish(
        replace(
            p,
            bg_top=colours["bg_top"],
            bg_bottom=colours["bg_bottom"],
            accent=colours["accent"],
            stage=colours["stage"],
            cta_fill=colours["cta_fill"],
            hint=joined,
        )
    )


def _finish(p: Palette) -> Palette:
    """Make every text colour readable on the palette's backgrounds (WCAG >= 4.5 with margin)."""
    bgs = p.background_samples
    headline = _readable(p.headline, bgs)
    if min(contrast_ratio(headline, b) for b in bgs) < _TARGET_CONTRAST:
        # Even black/white fails on a mid-tone background: push the background away from the text.
        away = _BLACK if relative_luminance(headline) > 0.5 else _WHITE
        top, bottom = p.bg_top, p.bg_bottom
        for i in range(1, 11):
            top, bottom = _mix(p.bg_top, away, i / 12), _mix(p.bg_bottom, away, i / 12)
            if (
                min(contrast_ratio(headline, b) for b in (top, bottom, _mix(top, bottom, 0.5)))
                >= _TARGET_CONTRAST
            ):
                break
        p = replace(p, bg_top=top, bg_bottom=bottom)
        bgs = p.background_samples
    body = _readable(p.body, bgs)
    cta_text = _readable(p.cta_text, [p.cta_fill])
    return replace(p, headline=headline, body=body, cta_text=cta_text)


def palette_for(tone: str, index: int = 0, hint: str | None = None) -> Palette:
    """The ``index``-th palette of ``tone`` (cycling), optionally refined by colour words in ``hint``.

    ``hint`` understands hues ("blue", "bluer", "more green"), "warmer"/"cooler", "darker"/"lighter",
    "brighter", "softer"/"vivid"/"vibrant", "pastel", "mono", "neon", "black", "white", "silver" and
    "brown"; unknown words are ignored. Text colours always stay readable (WCAG >= 4.5).
    """
    tone = (tone or "friendly").strip().lower()
    if tone not in _BASE:
        raise UserError(f"Unknown tone '{tone}'.{suggest(tone, TONES)} Tones: {', '.join(TONES)}.")
    options = _BASE[tone]
    name, top, bottom, accent, headline, body, cta_fill, cta_text, decor = options[index % len(options)]
    top_c, bottom_c, accent_c = hex_to_rgb(top), hex_to_rgb(bottom), hex_to_rgb(accent)
    base_l = _hls(_mix(top_c, bottom_c, 0.5))[1]
    # The stage disc: the accent, pulled towards the background so the hero art stands out on it.
    mid = _mix(top_c, bottom_c, 0.5)
    stage = _mix(accent_c, mid, 0.45) if base_l > 0.5 else _mix(_mix(mid, accent_c, 0.22), _WHITE, 0.08)
    p = Palette(
        name=name,
        tone=tone,
        bg_top=top_c,
        bg_bottom=bottom_c,
        accent=accent_c,
        stage=stage,
        headline=hex_to_rgb(headline),
        body=hex_to_rgb(body),
        cta_fill=hex_to_rgb(cta_fill),
        cta_text=hex_to_rgb(cta_text),
        decor=decor,
    )
    p = _finish(p)
    return _apply_hint(p, hint) if hint else p


# --------------------------------------------------------------------------------------------- layout


@dataclass
class Layout:
    """Where everything went, in canvas pixels (left, top, right, bottom).

    ``hero``/``headline``/``body``/``cta`` are the regions allotted; ``text_boxes`` the measured ink
    boxes of the text actually drawn (``ImageDraw.textbbox``); ``lines`` the wrapped lines per field;
    ``truncated`` the fields that needed an ellipsis (a word longer than the box at the minimum size).
    """

    canvas: tuple[int, int]
    hero: Box
    headline: Box
    body: Box
    cta: Box
    text_boxes: dict[str, Box] = field(default_factory=dict)
    font_sizes: dict[str, int] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)
    cta_button: Box = (0, 0, 0, 0)
    hero_art: Box = (0, 0, 0, 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Creative:
    image: Image.Image  # RGB, the size's canvas
    layout: Layout
    palette: Palette


@dataclass(frozen=True)
class _Template:
    hero: tuple[float, float, float, float]  # fractions of the canvas
    column: tuple[float, float, float, float]
    align: str  # "center" | "left"
    headline_px: tuple[int, int]  # (max, min)
    body_px: tuple[int, int]
    cta_px: tuple[int, int]
    headline_share: float  # the most of the column's free height the headline may take


# fmt: off
_TEMPLATES: dict[str, _Template] = {
    "square": _Template((0.22, 0.05, 0.78, 0.515), (0.08, 0.55, 0.92, 0.955), "center", (92, 34), (40, 22), (36, 22), 0.56),
    # Story: keep the top ~13% and bottom ~13% clear of text (the apps' own overlays live there).
    "story": _Template((0.1, 0.12, 0.9, 0.52), (0.08, 0.555, 0.92, 0.87), "center", (112, 40), (48, 26), (44, 26), 0.56),
    "landscape": _Template((0.03, 0.06, 0.47, 0.94), (0.515, 0.1, 0.95, 0.9), "left", (84, 28), (34, 18), (30, 18), 0.58),
}
# fmt: on


def _px(frac: tuple[float, float, float, float], w: int, h: int) -> Box:
    return round(frac[0] * w), round(frac[1] * h), round(frac[2] * w), round(frac[3] * h)


# --------------------------------------------------------------------------------------------- text

_CLOSING = set("，。、！？；：）」』》〉】〕”’…,.!?;:)]}%")
_OPENING = set("（「『《〈【〔“‘([{")
_TOKEN = re.compile(r"[A-Za-z0-9\u00c0-\u024f][A-Za-z0-9\u00c0-\u024f'’.,%&+/]*-?|\s+|.", re.DOTALL)


@dataclass
class _Token:
    text: str
    space_before: bool


def _tokens(text: str, per_char: bool) -> list[_Token]:
    """Break opportunities: words (split after hyphens) for Latin; every character for CJK, with
    closing punctuation glued to the character before it and opening punctuation to the one after."""
    text = " ".join(text.split())
    out: list[_Token] = []
    if not per_char:
        for word in text.split(" "):
            parts = re.findall(r"[^-]+-+|[^-]+|-+", word) or [word]
            for i, part in enumerate(parts):
                out.append(_Token(part, space_before=(i == 0)))
        return out
    space = False
    for piece in _TOKEN.findall(text):
        if piece.isspace():
            space = True
            continue
        if out and not space and (piece in _CLOSING or out[-1].text[-1] in _OPENING):
            out[-1].text += piece
        else:
            out.append(_Token(piece, space))
        space = False
    return out


def _ellipsize(word: str, font: ImageFont.FreeTypeFont, width: int) -> str:
    for cut in range(len(word) - 1, 0, -1):
        cand = word[:cut].rstrip(" -") + ELLIPSIS
        if _ink_width(font, cand) <= width:
            return cand
    return ELLIPSIS


def _ink_width(font: ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text, anchor="ls")
    return int(right - left)


def _wrap(tokens: list[_Token], font: ImageFont.FreeTypeFont, width: int) -> tuple[list[str], bool]:
    """Greedy wrap on advance widths (measured once per token). Returns (lines, truncated); a token
    wider than ``width`` is ellipsized. The caller re-measures the ink of the lines it keeps."""
    lines: list[str] = []
    cur, cur_w = "", 0.0
    space_w = font.getlength(" ")
    truncated = False
    for tok in tokens:
        piece = tok.text
        piece_w = font.getlength(piece)
        if piece_w > width and _ink_width(font, piece) > width:
            piece = _ellipsize(piece, font, width)
            piece_w = font.getlength(piece)
            truncated = True
        gap = space_w if tok.space_before and cur else 0.0
        if not cur or cur_w + gap + piece_w <= width:
            cur = cur + (" " if gap else "") + piece
            cur_w += gap + piece_w
        else:
            lines.append(cur)
            cur, cur_w = piece, piece_w
    if cur:
        lines.append(cur)
    return lines, truncated


@dataclass
class _Block:
    lines: list[str]
    font: ImageFont.FreeTypeFont
    size: int
    line_height: int
    width: int  # ink width
    height: int  # ink height
    top: int  # ink top relative to the block origin
    truncated: bool


def _measure(
    lines: list[str], font: ImageFont.FreeTypeFont, size: int, spacing: float, truncated: bool
) -> _Block:
    ascent, descent = font.getmetrics()
    lh = max(1, round((ascent + descent) * spacing))
    top, bottom, width = 10**9, -(10**9), 0
    for i, line in enumerate(lines):
        left, t, right, b = font.getbbox(line, anchor="ls")
        base = ascent + i * lh
        top, bottom = min(top, base + int(t)), max(bottom, base + int(b))
        width = max(width, int(right - left))
    if not lines:
        top, bottom = 0, 0
    return _Block(lines, font, size, lh, width, bottom - top, top, truncated)


def _fit(
    text: str,
    *,
    weight: str,
    cjk: bool,
    width: int,
    height: int,
    sizes: tuple[int, int],
    spacing: float,
    max_lines: int | None = None,
    balance: bool = True,
) -> _Block:
    """The largest font size in ``sizes`` (max, min) at which ``text`` wraps into the box without
    truncation; at the minimum size, overflowing words get an ellipsis and excess lines are dropped."""
    per_char = cjk or is_cjk(text)
    tokens = _tokens(text, per_char)
    hi, lo = sizes

    def attempt(size: int, w: int = width) -> _Block:
        font = load_font(size, weight, cjk=cjk)
        lines, truncated = _wrap(tokens, font, w)
        return _measure(lines, font, size, spacing, truncated)

    def ok(b: _Block) -> bool:
        return (
            not b.truncated
            and b.height <= height
            and b.width <= width
            and (max_lines is None or len(b.lines) <= max_lines)
        )

    best: _Block | None = None
    low, high = lo, hi
    while low <= high:  # binary search: fitting is monotone in the font size
        mid = (low + high) // 2
        b = attempt(mid)
        if ok(b):
            best, low = b, mid + 1
        else:
            high = mid - 1
    if best is None:
        b = attempt(lo)
        limit = max_lines or 10**6
        while b.lines and (b.height > height or len(b.lines) > limit):
            kept = b.lines[:-1]
            if not kept:
                break
            last = kept[-1]
            while last and _ink_width(b.font, last + ELLIPSIS) > width:
                last = last[:-1]
            kept[-1] = last.rstrip() + ELLIPSIS
            b = _measure(kept, b.font, b.size, spacing, True)
        b.truncated = True
        return b
    if balance and len(best.lines) > 1:
        # Balanced lines: the narrowest width that still gives the same number of lines.
        n = len(best.lines)
        low_w, high_w = width // 2, width
        while high_w - low_w > 4:
            mid_w = (low_w + high_w) // 2
            cand = attempt(best.size, mid_w)
            if len(cand.lines) <= n and not cand.truncated:
                high_w = mid_w
            else:
                low_w = mid_w
        cand = attempt(best.size, high_w)
        if ok(cand) and len(cand.lines) == n:
            best = cand
    return best


def _choose_cjk(text: str, language: str, weight: str) -> bool:
    if language == "zh" or is_cjk(text):
        return True
    if not has_glyphs(text, weight, cjk=False):
        try:
            return has_glyphs(text, weight, cjk=True)
        except Exception:  # no CJK font installed: draw with the Latin font anyway
            return False
    return False


def _draw_block(draw: ImageDraw.ImageDraw, block: _Block, region: Box, align: str, fill: RGB) -> Box:
    """Draw ``block`` with its ink top at ``region[1]``; return the measured union of textbbox."""
    left, top, right, _ = region
    ascent, _ = block.font.getmetrics()
    origin_y = top - block.top
    boxes: list[tuple[float, float, float, float]] = []
    cx = (left + right) // 2
    for i, line in enumerate(block.lines):
        bl, _, br, _ = block.font.getbbox(line, anchor="ls")
        x = left - int(bl) if align == "left" else cx - int(bl + br) // 2
        y = origin_y + ascent + i * block.line_height
        draw.text((x, y), line, font=block.font, fill=fill, anchor="ls")
        boxes.append(draw.textbbox((x, y), line, font=block.font, anchor="ls"))
    if not boxes:
        return (left, top, left, top)
    return (
        int(min(b[0] for b in boxes)),
        int(min(b[1] for b in boxes)),
        int(math.ceil(max(b[2] for b in boxes))),
        int(math.ceil(max(b[3] for b in boxes))),
    )


# --------------------------------------------------------------------------------------------- background


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


# --------------------------------------------------------------------------------------------- hero

MAX_HERO_UPSCALE = 4.0  # a generated cut-out is shown at most 4x its drawn size (64 px -> 256 px)


def _bleed(img: Image.Image) -> Image.Image:
    """Fill the colour of transparent pixels from their opaque neighbours (no dark fringes on upscaling)."""
    arr = np.asarray(img, np.float32)
    rgb, a = arr[..., :3], arr[..., 3:4] / 255.0
    acc_rgb, acc_a = rgb * a, a.copy()
    out_rgb, out_a = acc_rgb.copy(), acc_a.copy()
    for _ in range(6):
        # 3x3 box blur via padding and shifts, weighted by alpha (normalised convolution).
        pr = np.pad(out_rgb, ((1, 1), (1, 1), (0, 0)), mode="edge")
        pa = np.pad(out_a, ((1, 1), (1, 1), (0, 0)), mode="edge")
        hh, ww = out_rgb.shape[:2]
        sr = np.zeros_like(out_rgb)
        sa = np.zeros_like(out_a)
        for dy in range(3):
            for dx in range(3):
                sr += pr[dy : dy + hh, dx : dx + ww]
                sa += pa[dy : dy + hh, dx : dx + ww]
        out_rgb, out_a = sr / 9.0, sa / 9.0
    filled = out_rgb / np.maximum(out_a, 1e-6)
    mixed = rgb * a + filled * (1 - a)
    mixed = np.where(out_a > 1e-6, mixed, rgb)
    res = np.concatenate([np.clip(mixed, 0, 255), arr[..., 3:4]], axis=-1)
    return Image.fromarray((res + 0.5).astype(np.uint8), "RGBA")


def _upscale(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Staged LANCZOS upscaling of an RGBA image with a light unsharp mask at each doubling."""
    rgb, alpha = img.convert("RGB"), img.getchannel("A")
    tw, th = size
    while rgb.width * 2 <= tw and rgb.height * 2 <= th:
        new = (rgb.width * 2, rgb.height * 2)
        rgb = rgb.resize(new, Image.Resampling.LANCZOS).filter(ImageFilter.UnsharpMask(1.2, 45, 2))
        alpha = alpha.resize(new, Image.Resampling.LANCZOS)
    rgb = rgb.resize(size, Image.Resampling.LANCZOS).filter(ImageFilter.UnsharpMask(2.0, 60, 2))
    alpha = alpha.resize(size, Image.Resampling.LANCZOS).filter(ImageFilter.GaussianBlur(0.6))
    # Firm up the soft edge that 8x upscaling leaves on the alpha channel (smoothstep 32..224).
    lut = []
    for v in range(256):
        t = min(1.0, max(0.0, (v - 32) / 192))
        lut.append(round(255 * t * t * (3 - 2 * t)))
    alpha = alpha.point(lut)
    out = rgb.convert("RGBA")
    out.putalpha(alpha)
    return out


def _is_cutout(hero: Image.Image) -> bool:
    """True for art with a real transparent background (a GAN RGBA output), False for a photo/card."""
    if "A" not in hero.getbands() and hero.mode != "P":
        return False
    alpha = np.asarray(hero.convert("RGBA").getchannel("A"))
    return bool((alpha < 200).mean() > 0.03)


def _prepare_hero(hero: Image.Image, box_size: int, cutout: bool) -> Image.Image:
    """RGBA art sized to fit a ``box_size`` square keeping its aspect ratio."""
    img = hero.convert("RGBA")
    if cutout:
        # Drop the speckle and stray fragments a GAN leaves in the alpha, fade a side that runs into
        # the image border, then crop to the content.
        img = tidy(img)
        bbox = img.getchannel("A").getbbox()
        if bbox:
            pad = max(1, round(0.03 * max(img.size)))
            bbox = (
                max(0, bbox[0] - pad),
                max(0, bbox[1] - pad),
                min(img.width, bbox[2] + pad),
                min(img.height, bbox[3] + pad),
            )
            img = img.crop(bbox)
        img = _bleed(img)
    scale = box_size / max(img.width, img.height)
    if cutout:
        scale = min(scale, MAX_HERO_UPSCALE)  # past this a 64 px drawing turns to mush
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    if size[0] > img.width:
        art = _upscale(img, size)
    else:
        art = img.resize(size, Image.Resampling.LANCZOS)
    rgb = art.convert("RGB")
    rgb = ImageEnhance.Color(rgb).enhance(1.12)
    rgb = ImageEnhance.Contrast(rgb).enhance(1.06)
    out = rgb.convert("RGBA")
    out.putalpha(art.getchannel("A"))
    if not cutout:
        radius = max(8, round(0.06 * min(size)))
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, size[0] - 1, size[1] - 1), radius=radius, fill=255)
        out.putalpha(mask)
    return out


def _place_hero(canvas: Image.Image, hero: Image.Image, region: Box, p: Palette) -> Box:
    rw, rh = region[2] - region[0], region[3] - region[1]
    side = min(rw, rh)
    cx, cy = (region[0] + region[2]) // 2, (region[1] + region[3]) // 2
    cutout = _is_cutout(hero)
    prepared = _prepare_hero(hero, round(side * (0.72 if cutout else 0.9)), cutout)
    backdrop = p.stage if cutout else _mix(p.bg_top, p.bg_bottom, 0.5)
    if relative_luminance(backdrop) < 0.12:
        # On a dark backdrop a shadow vanishes: give the art a soft rim light instead.
        shadow_colour, shadow_alpha = _mix(backdrop, _WHITE, 0.6), 0.3
    else:
        shadow_colour, shadow_alpha = _mix(p.bg_bottom, _BLACK, 0.65), 0.42
    if cutout:
        # A soft stage disc behind the art.
        r = round(side * 0.47)
        disc_box = (cx - r, cy - r, cx + r, cy + r)
        _soft_shadow(
            canvas, disc_box, r, _mix(p.bg_bottom, _BLACK, 0.5), 0.22, side * 0.025, round(side * 0.015)
        )
        ImageDraw.Draw(canvas).ellipse(disc_box, fill=p.stage)
    x = cx - prepared.width // 2
    y = cy - prepared.height // 2
    # Drop shadow from the art's own alpha.
    blur = max(4, round(side * 0.025))
    pad = blur * 3
    sh = Image.new("RGBA", (prepared.width + 2 * pad, prepared.height + 2 * pad), (0, 0, 0, 0))
    sa = Image.new("L", sh.size, 0)
    sa.paste(prepared.getchannel("A"), (pad, pad))
    sa = sa.filter(ImageFilter.GaussianBlur(blur)).point(lambda v: round(v * shadow_alpha))
    sh.paste(Image.new("RGBA", sh.size, (*shadow_colour, 255)), (0, 0), sa)
    off = round(side * 0.022) if shadow_alpha > 0.35 else 0
    canvas.alpha_composite(sh, (x - pad, y - pad + off))
    canvas.alpha_composite(prepared, (x, y))
    return (x, y, x + prepared.width, y + prepared.height)


# --------------------------------------------------------------------------------------------- compose


@dataclass
class _Typeset:
    headline: _Block
    body: _Block
    headline_region: Box
    body_region: Box
    cta_region: Box
    button: Box
    rule: Box

    @property
    def truncated(self) -> bool:
        return self.headline.truncated or self.body.truncated


def _typeset(
    headline: tuple[str, bool],
    body: tuple[str, bool],
    cta: _Block,
    *,
    tpl: _Template,
    column: Box,
    headline_share: float,
    canvas_h: int,
) -> _Typeset:
    """Fit headline and body above the CTA button inside ``column`` and stack them, centred vertically."""
    col_w, col_h = column[2] - column[0], column[3] - column[1]
    pad_x, pad_y = round(cta.size * 1.15), round(cta.size * 0.62)
    button_h = cta.height + 2 * pad_y
    button_w = min(col_w, max(cta.width + 2 * pad_x, round(col_w * 0.34)))
    shadow_margin = max(6, round(button_h * 0.18))
    cta_h = button_h + shadow_margin
    gap_unit = round(tpl.body_px[0] * 0.9)
    rule_h = max(4, round(canvas_h * (0.005 if tpl.align == "center" else 0.008)))

    free = col_h - cta_h - rule_h - 4 * gap_unit
    hl = _fit(
        headline[0],
        weight="display",
        cjk=headline[1],
        width=col_w,
        height=max(1, round(free * headline_share)),
        sizes=tpl.headline_px,
        spacing=0.98 if headline[1] else 0.96,
    )
    g1 = round(max(gap_unit, hl.size * 0.42))
    body_max = min(tpl.body_px[0], max(tpl.body_px[1], round(hl.size * 0.58)))
    room = col_h - cta_h - hl.height - rule_h - 2 * g1 - round(gap_unit * 1.4)
    bd = _fit(
        body[0],
        weight="regular",
        cjk=body[1],
        width=col_w,
        height=max(1, room),
        sizes=(body_max, min(tpl.body_px[1], body_max)),
        spacing=1.32 if body[1] else 1.3,
    )
    g2 = round(max(gap_unit * 1.6, bd.size * 1.3))
    total = hl.height + 2 * g1 + rule_h + bd.height + g2 + cta_h
    if total > col_h:  # squeeze the gaps before anything else
        spare = max(0, col_h - (hl.height + rule_h + bd.height + cta_h))
        g1 = spare // 4
        g2 = spare - 2 * g1
        total = hl.height + 2 * g1 + rule_h + bd.height + g2 + cta_h
    y = column[1] + max(0, (col_h - total) // 2)
    headline_region = (column[0], y, column[2], y + hl.height)
    y = headline_region[3] + g1
    rule_w = round(col_w * 0.09)
    rx0 = column[0] if tpl.align == "left" else (column[0] + column[2]) // 2 - rule_w // 2
    rule = (rx0, y, rx0 + rule_w, y + rule_h)
    y += rule_h + g1
    body_region = (column[0], y, column[2], y + bd.height)
    y = body_region[3] + g2
    cta_region = (column[0], y, column[2], y + cta_h)
    bx0 = column[0] if tpl.align == "left" else (column[0] + column[2]) // 2 - button_w // 2
    button = (bx0, y, bx0 + button_w, y + button_h)
    return _Typeset(hl, bd, headline_region, body_region, cta_region, button, rule)


def compose_creative(
    copy: CopyVariant,
    hero: Image.Image,
    *,
    size: str = "square",
    tone: str = "friendly",
    palette: Palette | None = None,
    language: str = "en",
) -> Creative:
    """Compose one finished ad creative (RGB) from ``copy`` and ``hero`` art.

    Text is never cut: when the copy is long the headline gets less room, then (square and story) the
    hero gives up height to the text column. Only a word longer than its box at the minimum font size
    is ellipsized, and such fields are listed in ``layout.truncated``.
    """
    if size not in SIZES or size not in _TEMPLATES:
        raise UserError(f"Unknown size '{size}'.{suggest(size, list(SIZES))} Sizes: {', '.join(SIZES)}.")
    pal = palette or palette_for(tone)
    tpl = _TEMPLATES[size]
    w, h = SIZES[size]

    headline_text = " ".join(copy.headline.split())
    body_text = " ".join(copy.body.split())
    cta_text = " ".join(copy.cta.split())
    headline = (headline_text, _choose_cjk(headline_text, language, "display"))
    body = (body_text, _choose_cjk(body_text, language, "regular"))
    cta_cjk = _choose_cjk(cta_text, language, "bold")

    # --- typeset: retry with a smaller headline share, then a shorter hero, until nothing is cut
    base_hero, base_column = _px(tpl.hero, w, h), _px(tpl.column, w, h)
    col_w = base_column[2] - base_column[0]
    cta_block = _fit(
        cta_text,
        weight="bold",
        cjk=cta_cjk,
        width=round(col_w * 0.8),
        height=tpl.cta_px[0] * 2,
        sizes=tpl.cta_px,
        spacing=1.0,
        max_lines=1,
        balance=False,
    )
    share = tpl.headline_share
    if tpl.align == "center":
        attempts = [
            (0.0, share),
            (0.0, share * 0.8),
            (0.06, share * 0.8),
            (0.12, share * 0.8),
            (0.12, share * 0.62),
        ]
    else:
        attempts = [(0.0, share), (0.0, share * 0.8), (0.0, share * 0.65), (0.0, share * 0.5)]
    # Take the first attempt with nothing cut and a comfortable body size; failing that, the least cut.
    comfortable = tpl.body_px[1] + 0.45 * (tpl.body_px[0] - tpl.body_px[1])
    tried: list[tuple[tuple[int, int, int], int, Box, Box, _Typeset]] = []
    for i, (cut, hl_share) in enumerate(attempts):
        dy = round(cut * h)
        hero_try = (base_hero[0], base_hero[1], base_hero[2], base_hero[3] - dy)
        column_try = (base_column[0], base_column[1] - dy, base_column[2], base_column[3])
        t = _typeset(
            headline, body, cta_block, tpl=tpl, column=column_try, headline_share=hl_share, canvas_h=h
        )
        cut_fields = int(t.headline.truncated) + int(t.body.truncated)
        rank = (cut_fields, int(t.body.size < comfortable), -t.body.size if t.body.size < comfortable else 0)
        tried.append((rank, i, hero_try, column_try, t))
        if rank == (0, 0, 0):
            break
    _, _, hero_box, column, ts = min(tried, key=lambda x: (x[0], x[1]))
    button = ts.button
    button_h = button[3] - button[1]
    shadow_margin = ts.cta_region[3] - button[3]

    # --- background and hero
    canvas = _gradient((w, h), pal.bg_top, pal.bg_bottom).convert("RGBA")
    rng = random.Random(f"{pal.name}:{size}")
    decor = _decor_layer((w, h), pal, hero_box, column, rng)
    keep = _column_keepout((w, h), column, pad=round(min(w, h) * 0.045))
    decor.putalpha(Image.fromarray(np.minimum(np.asarray(decor.getchannel("A")), np.asarray(keep)), "L"))
    canvas.alpha_composite(decor)
    _chrome(canvas, pal)
    hero_art = _place_hero(canvas, hero, hero_box, pal)

    # --- text and button
    draw = ImageDraw.Draw(canvas)
    text_boxes: dict[str, Box] = {}
    text_boxes["headline"] = _draw_block(draw, ts.headline, ts.headline_region, tpl.align, pal.headline)
    rule = ts.rule
    draw.rounded_rectangle(rule, radius=(rule[3] - rule[1]) // 2, fill=_readable_accent(pal))
    text_boxes["body"] = _draw_block(draw, ts.body, ts.body_region, tpl.align, pal.body)

    _soft_shadow(
        canvas,
        button,
        button_h // 2,
        _mix(pal.bg_bottom, _BLACK, 0.6),
        0.3,
        shadow_margin / 3,
        shadow_margin // 2,
    )
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle(button, radius=button_h // 2, fill=pal.cta_fill)
    cta_ink_top = button[1] + (button_h - cta_block.height) // 2
    cta_area = (button[0], cta_ink_top, button[2], cta_ink_top + cta_block.height)
    text_boxes["cta"] = _draw_block(draw, cta_block, cta_area, "center", pal.cta_text)

    # --- final colour pass: mild contrast and sharpening
    out = canvas.convert("RGB")
    out = ImageEnhance.Contrast(out).enhance(1.03)
    out = out.filter(ImageFilter.UnsharpMask(radius=1.0, percent=30, threshold=3))

    truncated = [
        name for name, b in (("headline", ts.headline), ("body", ts.body), ("cta", cta_block)) if b.truncated
    ]
    if truncated:
        logger.info("compose: ellipsis in %s (size=%s)", ",".join(truncated), size)
    layout = Layout(
        canvas=(w, h),
        hero=hero_box,
        headline=ts.headline_region,
        body=ts.body_region,
        cta=ts.cta_region,
        text_boxes=text_boxes,
        font_sizes={"headline": ts.headline.size, "body": ts.body.size, "cta": cta_block.size},
        lines={"headline": ts.headline.lines, "body": ts.body.lines, "cta": cta_block.lines},
        truncated=truncated,
        cta_button=button,
        hero_art=hero_art,
    )
    return Creative(image=out, layout=layout, palette=pal)


def _readable_accent(p: Palette) -> RGB:
    """The accent, nudged until it is at least visible (3:1, WCAG non-text) on the background."""
    return _readable(p.accent, p.background_samples, target=3.0)


# --------------------------------------------------------------------------------------------- contact sheet

SHEET_PAD = 28
SHEET_GAP = 24
SHEET_BG: RGB = (236, 237, 241)
BADGE_FILL: RGB = (20, 22, 28)
BADGE_TEXT: RGB = (255, 255, 255)


def sheet_columns(n: int) -> int:
    """Default grid width for ``n`` creatives: 1, 2, 3, 2x2, 3+2, 3x2, 4+3, 4x2, then square-ish."""
    if n <= 3:
        return max(1, n)
    if n == 4:
        return 2
    if n <= 6:
        return 3
    if n <= 8:
        return 4
    return math.ceil(math.sqrt(n))


def badge_geometry(thumb_width: int) -> tuple[int, int]:
    """(inset from the thumbnail's top-left corner to the badge centre, badge radius)."""
    r = max(18, round(thumb_width * 0.075))
    return round(r * 0.45) + r, r


def contact_sheet(
    images: list[Image.Image], *, columns: int | None = None, thumb_width: int = 360
) -> Image.Image:
    """Thumbnails on a grid, numbered 1..N left-to-right, top-to-bottom with round badges."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    n = len(images)
    cols = max(1, min(columns or sheet_columns(n), n))
    rows = math.ceil(n / cols)
    thumbs = []
    for im in images:
        th = max(1, round(im.height * thumb_width / im.width))
        thumbs.append(im.convert("RGB").resize((thumb_width, th), Image.Resampling.LANCZOS))
    row_h = [max(t.height for t in thumbs[r * cols : (r + 1) * cols]) for r in range(rows)]
    row_y = [SHEET_PAD + sum(row_h[:r]) + r * SHEET_GAP for r in range(rows)]
    width = 2 * SHEET_PAD + cols * thumb_width + (cols - 1) * SHEET_GAP
    height = 2 * SHEET_PAD + sum(row_h) + (rows - 1) * SHEET_GAP
    sheet = Image.new("RGBA", (width, height), (*SHEET_BG, 255))
    inset, r = badge_geometry(thumb_width)
    font = load_font(round(r * 1.05), "bold")
    for i, t in enumerate(thumbs):
        row, col = divmod(i, cols)
        x = SHEET_PAD + col * (thumb_width + SHEET_GAP)
        y = row_y[row] + (row_h[row] - t.height) // 2
        shadow = Image.new("RGBA", (thumb_width + 24, t.height + 24), (0, 0, 0, 0))
        ImageDraw.Draw(shadow).rectangle((12, 14, thumb_width + 12, t.height + 14), fill=(0, 0, 0, 60))
        sheet.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(5)), (x - 12, y - 12))
        sheet.paste(t, (x, y))
        draw = ImageDraw.Draw(sheet)
        cx, cy = x + inset, y + inset
        draw.ellipse((cx - r - 3, cy - r - 3, cx + r + 3, cy + r + 3), fill=(255, 255, 255, 255))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*BADGE_FILL, 255))
        label = str(i + 1)
        lf = font if len(label) < 3 else load_font(round(r * 0.8), "bold")
        draw.text((cx, cy), label, font=lf, fill=(*BADGE_TEXT, 255), anchor="mm")
    return sheet.convert("RGB")
