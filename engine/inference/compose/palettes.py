"""Tone palettes for ad creatives and refining them by colour words (``hint``: "bluer", "darker", ...).

Every palette leaves its text colours readable on its backgrounds (WCAG >= 4.5 with margin).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from engine.brief import TONES, suggest
from engine.errors import UserError
from engine.inference.compose.colour import (
    _BLACK,
    _TARGET_CONTRAST,
    _WHITE,
    RGB,
    _adjust,
    _from_hls,
    _hls,
    _mix,
    _readable,
    _shift_hue,
    _toward_hue,
    contrast_ratio,
    hex_to_rgb,
    relative_luminance,
    rgb_to_hex,
)


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


_HINT_KEYS = ("bg_top", "bg_bottom", "accent", "stage", "cta_fill")  # the colours hints may change
_BACKDROP = ("bg_top", "bg_bottom", "stage")  # the backgrounds and the stage behind the hero

_Colours = dict[str, RGB]


def _adjust_each(colours: _Colours, keys: tuple[str, ...], **how: float) -> None:
    for k in keys:
        colours[k] = _adjust(colours[k], **how)


def _hue_hint(colours: _Colours, word: str) -> None:
    """A named hue: the backgrounds (the bottom a little further round) and the stage take it."""
    hue = _HUES[word]
    for k in ("bg_top", "bg_bottom"):
        colours[k] = _shift_hue(colours[k], hue, min_sat=0.45)
    colours["bg_bottom"] = _shift_hue(colours["bg_bottom"], by_deg=12)
    colours["stage"] = _shift_hue(colours["stage"], hue, min_sat=0.35)


def _temperature_hint(colours: _Colours, word: str) -> None:
    """Warmer or cooler: every colour turned 35% of the way towards orange (30°) or blue (210°)."""
    target = 30.0 if word == "warmer" else 210.0
    for k in _HINT_KEYS:
        colours[k] = _toward_hue(colours[k], target, 0.35)


def _tonality_hint(colours: _Colours, word: str) -> None:
    """A :data:`_TONALITY` word: set the backdrop's lightness and saturation (mono greys the CTA too)."""
    lum, sat, stage = _TONALITY[word]
    for k in _BACKDROP:
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


def _neon_hint(colours: _Colours, word: str) -> None:
    """Dark backgrounds, an electric accent and CTA."""
    for k in _BACKDROP:
        h, _, s_ = _hls(colours[k])
        colours[k] = _from_hls(h, 0.1 if k != "stage" else 0.16, min(1.0, s_ * 1.2))
    for k in ("accent", "cta_fill"):
        h, _, _ = _hls(colours[k])
        colours[k] = _from_hls(h, 0.55, 1.0)


def _brown_hint(colours: _Colours, word: str) -> None:
    """The backdrop turned a muted brown, no lighter than it was (at most 0.42, the stage 0.5)."""
    for k in _BACKDROP:
        h, cur, _ = _hls(colours[k])
        colours[k] = _from_hls(28 / 360.0, min(cur, 0.42) if k != "stage" else min(cur, 0.5), 0.45)


# Hint words (after _HINT_ALIASES) other than hues and tonalities -> how they change the colours.
_HINT_STEPS: dict[str, Callable[[_Colours, str], None]] = {
    "warmer": _temperature_hint,
    "cooler": _temperature_hint,
    "darker": lambda c, _w: _adjust_each(c, _BACKDROP, dl=-0.16),
    "lighter": lambda c, _w: _adjust_each(c, _BACKDROP, dl=+0.14),
    "softer": lambda c, _w: _adjust_each(c, _HINT_KEYS, ds=0.55),
    "vivider": lambda c, _w: _adjust_each(c, _HINT_KEYS, ds=1.5),
    "brighter": lambda c, _w: _adjust_each(c, _BACKDROP, dl=+0.1, ds=1.35),  # lighter and more saturated
    "neon": _neon_hint,
    "brown": _brown_hint,
}


def _hint_step(word: str) -> Callable[[_Colours, str], None] | None:
    if word in _HUES:
        return _hue_hint
    if word in _TONALITY:
        return _tonality_hint
    return _HINT_STEPS.get(word)


def _apply_hint(p: Palette, hint: str) -> Palette:
    """``p`` refined by each colour word of ``hint`` in turn (unknown words ignored), text kept readable."""
    colours: _Colours = {k: getattr(p, k) for k in _HINT_KEYS}
    applied: list[str] = []
    for raw in re.findall(r"[a-z]+", hint.lower()):
        word = _HINT_ALIASES.get(raw, raw)
        step = _hint_step(word)
        if step is None:
            continue
        step(colours, word)
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
