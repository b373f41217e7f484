"""Templates and the composition of one creative: ad copy + hero art -> a finished ad (Pillow only).

One template per size (square 1080x1080, landscape 1200x628, story 1080x1920) places a hero region
and a text column; :func:`compose_creative` typesets the copy, retrying with less headline room and
a shorter hero until nothing is cut, draws background, hero, text and button, and reports every
measured text box in :class:`Layout`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from engine.brief import SIZES, suggest
from engine.errors import UserError
from engine.inference.compose.background import (
    _chrome,
    _column_keepout,
    _decor_layer,
    _gradient,
    _soft_shadow,
)
from engine.inference.compose.colour import _BLACK, RGB, Box, _mix, _readable
from engine.inference.compose.hero import _place_hero
from engine.inference.compose.palettes import Palette, palette_for
from engine.inference.compose.text import _Block, _choose_cjk, _draw_block, _fit
from engine.inference.creative.types import CopyVariant

logger = logging.getLogger(__name__)


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
    button_w, button_h, cta_h = _button_size(cta, col_w)
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
    return _stack(
        hl,
        bd,
        column=column,
        align=tpl.align,
        gaps=(g1, g2),
        rule_h=rule_h,
        button=(button_w, button_h),
        cta_h=cta_h,
    )


def _button_size(cta: _Block, col_w: int) -> tuple[int, int, int]:
    """(width, height) of the CTA button around its label, and the height it takes with its shadow."""
    pad_x, pad_y = round(cta.size * 1.15), round(cta.size * 0.62)
    button_h = cta.height + 2 * pad_y
    button_w = min(col_w, max(cta.width + 2 * pad_x, round(col_w * 0.34)))
    shadow_margin = max(6, round(button_h * 0.18))
    return button_w, button_h, button_h + shadow_margin


def _stack(
    hl: _Block,
    bd: _Block,
    *,
    column: Box,
    align: str,
    gaps: tuple[int, int],
    rule_h: int,
    button: tuple[int, int],
    cta_h: int,
) -> _Typeset:
    """Headline, accent rule, body and button top to bottom, centred vertically in ``column``. ``gaps``
    are the preferred gaps around the rule and above the button; when the stack is too tall they shrink
    to the spare height (a quarter on each side of the rule, the rest above the button)."""
    col_w, col_h = column[2] - column[0], column[3] - column[1]
    g1, g2 = gaps
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
    rx0 = column[0] if align == "left" else (column[0] + column[2]) // 2 - rule_w // 2
    rule = (rx0, y, rx0 + rule_w, y + rule_h)
    y += rule_h + g1
    body_region = (column[0], y, column[2], y + bd.height)
    y = body_region[3] + g2
    cta_region = (column[0], y, column[2], y + cta_h)
    button_w, button_h = button
    bx0 = column[0] if align == "left" else (column[0] + column[2]) // 2 - button_w // 2
    button_box = (bx0, y, bx0 + button_w, y + button_h)
    return _Typeset(hl, bd, headline_region, body_region, cta_region, button_box, rule)


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

    headline, body, cta = _clean_copy(copy, language)
    cta_block = _fit_cta(cta, tpl, (w, h))
    hero_box, column, ts = _best_typeset(headline, body, cta_block, tpl, (w, h))

    canvas = _background(pal, size, hero_box, column)
    hero_art = _place_hero(canvas, hero, hero_box, pal)
    text_boxes = _draw_copy(canvas, ts, tpl.align, pal)
    text_boxes["cta"] = _draw_button(canvas, ts, cta_block, pal)
    out = _final_pass(canvas)

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
        cta_button=ts.button,
        hero_art=hero_art,
    )
    return Creative(image=out, layout=layout, palette=pal)


def _clean_copy(
    copy: CopyVariant, language: str
) -> tuple[tuple[str, bool], tuple[str, bool], tuple[str, bool]]:
    """Headline, body and CTA with runs of whitespace collapsed, each with whether it takes the CJK font."""
    headline_text = " ".join(copy.headline.split())
    body_text = " ".join(copy.body.split())
    cta_text = " ".join(copy.cta.split())
    return (
        (headline_text, _choose_cjk(headline_text, language, "display")),
        (body_text, _choose_cjk(body_text, language, "regular")),
        (cta_text, _choose_cjk(cta_text, language, "bold")),
    )


def _fit_cta(cta: tuple[str, bool], tpl: _Template, canvas: tuple[int, int]) -> _Block:
    """The call to action on one line, at most 80% of the template's text column wide."""
    column = _px(tpl.column, *canvas)
    return _fit(
        cta[0],
        weight="bold",
        cjk=cta[1],
        width=round((column[2] - column[0]) * 0.8),
        height=tpl.cta_px[0] * 2,
        sizes=tpl.cta_px,
        spacing=1.0,
        max_lines=1,
        balance=False,
    )


def _attempts(tpl: _Template) -> list[tuple[float, float]]:
    """(share of the canvas height the hero gives up, headline share) pairs, tried in order: stacked
    layouts first shrink the headline's room, then the hero; landscape only shrinks the headline's."""
    share = tpl.headline_share
    if tpl.align == "center":
        return [
            (0.0, share),
            (0.0, share * 0.8),
            (0.06, share * 0.8),
            (0.12, share * 0.8),
            (0.12, share * 0.62),
        ]
    return [(0.0, share), (0.0, share * 0.8), (0.0, share * 0.65), (0.0, share * 0.5)]


def _best_typeset(
    headline: tuple[str, bool],
    body: tuple[str, bool],
    cta_block: _Block,
    tpl: _Template,
    canvas: tuple[int, int],
) -> tuple[Box, Box, _Typeset]:
    """(hero region, text column, typeset copy) of the first attempt with nothing cut and a comfortable
    body size; failing that, of the attempt with the least cut (the earliest among equals)."""
    w, h = canvas
    base_hero, base_column = _px(tpl.hero, w, h), _px(tpl.column, w, h)
    comfortable = tpl.body_px[1] + 0.45 * (tpl.body_px[0] - tpl.body_px[1])
    tried: list[tuple[tuple[int, int, int], int, Box, Box, _Typeset]] = []
    for i, (cut, hl_share) in enumerate(_attempts(tpl)):
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
    return hero_box, column, ts


def _background(pal: Palette, size: str, hero_box: Box, column: Box) -> Image.Image:
    """The RGBA canvas: the palette's gradient, its decor faded out before the text column, the chrome."""
    w, h = SIZES[size]
    canvas = _gradient((w, h), pal.bg_top, pal.bg_bottom).convert("RGBA")
    rng = random.Random(f"{pal.name}:{size}")
    decor = _decor_layer((w, h), pal, hero_box, column, rng)
    keep = _column_keepout((w, h), column, pad=round(min(w, h) * 0.045))
    decor.putalpha(Image.fromarray(np.minimum(np.asarray(decor.getchannel("A")), np.asarray(keep)), "L"))
    canvas.alpha_composite(decor)
    _chrome(canvas, pal)
    return canvas


def _draw_copy(canvas: Image.Image, ts: _Typeset, align: str, pal: Palette) -> dict[str, Box]:
    """Draw the headline, the accent rule and the body; return the measured boxes of the two texts."""
    draw = ImageDraw.Draw(canvas)
    text_boxes: dict[str, Box] = {}
    text_boxes["headline"] = _draw_block(draw, ts.headline, ts.headline_region, align, pal.headline)
    rule = ts.rule
    draw.rounded_rectangle(rule, radius=(rule[3] - rule[1]) // 2, fill=_readable_accent(pal))
    text_boxes["body"] = _draw_block(draw, ts.body, ts.body_region, align, pal.body)
    return text_boxes


def _draw_button(canvas: Image.Image, ts: _Typeset, cta_block: _Block, pal: Palette) -> Box:
    """Draw the CTA button with its soft shadow and its label centred; return the label's measured box."""
    button = ts.button
    button_h = button[3] - button[1]
    shadow_margin = ts.cta_region[3] - button[3]
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
    return _draw_block(draw, cta_block, cta_area, "center", pal.cta_text)


def _final_pass(canvas: Image.Image) -> Image.Image:
    """The finished RGB image: mild contrast and sharpening."""
    out = canvas.convert("RGB")
    out = ImageEnhance.Contrast(out).enhance(1.03)
    return out.filter(ImageFilter.UnsharpMask(radius=1.0, percent=30, threshold=3))


def _readable_accent(p: Palette) -> RGB:
    """The accent, nudged until it is at least visible (3:1, WCAG non-text) on the background."""
    return _readable(p.accent, p.background_samples, target=3.0)
