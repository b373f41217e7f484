"""Typesetting for the compositor: break opportunities (words for Latin, characters for CJK), greedy
wrapping, fitting a block to its box by font size, drawing it, and choosing the CJK font.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageDraw, ImageFont

from engine.brief import is_cjk
from engine.inference.compose.colour import RGB, Box
from engine.inference.compose.fonts import has_glyphs, load_font

ELLIPSIS = "\u2026"


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
    left, _, right, _ = _bbox(font, text)
    return int(right - left)


# Fitting a card measures the same words and lines again at each size and layout it tries (in one profile
# of a round, over a quarter of composition went to FreeType's layout); fonts are cached objects
# (fonts.py), so they key these caches.
@lru_cache(maxsize=16384)
def _bbox(font: ImageFont.FreeTypeFont, text: str) -> tuple[float, float, float, float]:
    return font.getbbox(text, anchor="ls")


@lru_cache(maxsize=16384)
def _advance(font: ImageFont.FreeTypeFont, text: str) -> float:
    return float(font.getlength(text))


def _wrap(tokens: list[_Token], font: ImageFont.FreeTypeFont, width: int) -> tuple[list[str], bool]:
    """Greedy wrap on advance widths (measured once per token). Returns (lines, truncated); a token
    wider than ``width`` is ellipsized. The caller re-measures the ink of the lines it keeps."""
    lines: list[str] = []
    cur, cur_w = "", 0.0
    space_w = _advance(font, " ")
    truncated = False
    for tok in tokens:
        piece = tok.text
        piece_w = _advance(font, piece)
        if piece_w > width and _ink_width(font, piece) > width:
            piece = _ellipsize(piece, font, width)
            piece_w = _advance(font, piece)
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
        left, t, right, b = _bbox(font, line)
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
        return _cut_to_fit(attempt(lo), width=width, height=height, max_lines=max_lines, spacing=spacing)
    if balance and len(best.lines) > 1:
        best = _balanced(best, attempt, ok, width)
    return best


def _cut_to_fit(b: _Block, *, width: int, height: int, max_lines: int | None, spacing: float) -> _Block:
    """``b`` (set at the minimum size) with the lines past ``height`` or ``max_lines`` dropped and the
    last kept line ending in an ellipsis; always marked truncated."""
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


def _balanced(
    best: _Block, attempt: Callable[[int, int], _Block], ok: Callable[[_Block], bool], width: int
) -> _Block:
    """Balanced lines: ``best`` rewrapped at the narrowest width that still gives as many lines (to
    within 4 px), if that still fits; otherwise ``best``."""
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
        return cand
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
