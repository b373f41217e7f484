"""The contact sheet: several creatives as numbered thumbnails on one grid image."""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFilter

from engine.inference.compose.colour import RGB
from engine.inference.compose.fonts import load_font

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
