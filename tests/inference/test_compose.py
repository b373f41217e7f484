"""The compositor draws real images: these tests measure what was drawn, never a stub."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from engine.brief import SIZES, TONES
from engine.errors import ModelError, UserError
from engine.inference.compose import fonts
from engine.inference.compose.colour import MIN_CONTRAST, contrast_ratio
from engine.inference.compose.layout import Creative, compose_creative
from engine.inference.compose.palettes import palette_for
from engine.inference.compose.sheet import (
    BADGE_FILL,
    BADGE_TEXT,
    SHEET_GAP,
    SHEET_PAD,
    badge_geometry,
    contact_sheet,
    sheet_columns,
)
from engine.inference.compose.text import ELLIPSIS
from engine.inference.creative.types import CopyVariant

EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")

COPIES = {
    "short": CopyVariant("Run farther.", "A smart watch that keeps pace with you.", "Shop now"),
    "long": CopyVariant(
        "The smart watch built for runners who never stop chasing the next mile",
        "Track every stride, heartbeat and kilometre with a battery that lasts all week. Water-proof, "
        "feather-light and ready for race day, rain or shine, wherever the road takes you next.",
        "Get yours today",
    ),
    "word": CopyVariant(
        "Supercalifragilisticexpialidociouslyextraordinarywatchesforrunners",
        "Pneumonoultramicroscopicsilicovolcanoconiosisproofwatchbandsforeveryoneeverywhere",
        "Buy",
    ),
    "zh": CopyVariant(
        "为跑者打造的智能手表",
        "记录每一步、每一次心跳，续航一整周。轻盈防水，雨天晴天都能陪你冲过终点。",
        "立即购买",
    ),
}
TONE_FOR = {"short": "friendly", "long": "urgent", "word": "professional", "zh": "playful"}

Box = tuple[int, int, int, int]


def _emoji_hero(ch: str = "\u231a") -> Image.Image:
    """A 64x64 RGBA emoji, the kind of image the GAN is trained on and emits."""
    font = ImageFont.truetype(str(EMOJI_FONT), 109)
    im = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((80, 80), ch, font=font, embedded_color=True, anchor="mm")
    bbox = im.getbbox()
    assert bbox is not None
    im = im.crop(bbox)
    side = max(im.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
    return square.resize((64, 64), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def hero() -> Image.Image:
    return _emoji_hero()


@pytest.fixture(scope="module")
def creatives(hero: Image.Image) -> dict[tuple[str, str], Creative]:
    out = {}
    for size, kind in itertools.product(SIZES, COPIES):
        out[(size, kind)] = compose_creative(
            COPIES[kind], hero, size=size, tone=TONE_FOR[kind], language="zh" if kind == "zh" else "en"
        )
    return out


def _pixel(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(img)[xy[1], xy[0]])


def _near(a: tuple[int, ...], b: tuple[int, ...], tol: int) -> bool:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) < tol


def _inside(inner: Box, outer: Box) -> bool:
    return inner[0] >= outer[0] and inner[1] >= outer[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("kind", list(COPIES))
@pytest.mark.parametrize("size", list(SIZES))
def test_text_boxes_fit_their_regions_and_never_overlap(creatives, size, kind):
    c = creatives[(size, kind)]
    lay = c.layout
    w, h = SIZES[size]
    assert c.image.size == (w, h) and c.image.mode == "RGB"
    assert lay.canvas == (w, h)
    canvas: Box = (0, 0, w, h)
    regions = {"headline": lay.headline, "body": lay.body, "cta": lay.cta}
    assert set(lay.text_boxes) == set(regions)
    for name, box in lay.text_boxes.items():
        assert box[2] > box[0] and box[3] > box[1], f"{name}: nothing drawn"
        assert _inside(box, canvas), f"{name} {box} leaves the canvas"
        assert _inside(box, regions[name]), f"{name} {box} leaves its region {regions[name]}"
        assert _inside(regions[name], canvas)
        assert not _overlap(box, lay.hero), f"{name} {box} overlaps the hero {lay.hero}"
        assert not _overlap(regions[name], lay.hero)
    for a, b in itertools.combinations(regions, 2):
        assert not _overlap(lay.text_boxes[a], lay.text_boxes[b]), f"{a} overlaps {b}"
        assert not _overlap(regions[a], regions[b]), f"regions {a} and {b} overlap"
    assert _inside(lay.text_boxes["cta"], lay.cta_button), "CTA text leaves its button"
    assert _inside(lay.cta_button, lay.cta)
    assert _inside(lay.hero_art, lay.hero) and _inside(lay.hero, canvas)
    # The hero art is really upscaled from 64 px, not pasted small.
    assert min(lay.hero_art[2] - lay.hero_art[0], lay.hero_art[3] - lay.hero_art[1]) > 64 * 3


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kind", ["short", "long", "zh"])
def test_ordinary_copy_is_drawn_whole(creatives, size, kind):
    lay = creatives[(size, kind)].layout
    assert lay.truncated == []
    copy = COPIES[kind]
    for name, text in (("headline", copy.headline), ("body", copy.body), ("cta", copy.cta)):
        drawn = "".join("".join(lay.lines[name]).split())
        assert drawn == "".join(text.split()), f"{name} drawn as {lay.lines[name]}"
        assert ELLIPSIS not in "".join(lay.lines[name])
    if kind == "short":
        assert len(lay.lines["headline"]) == 1 and lay.font_sizes["headline"] >= 60


@pytest.mark.parametrize("size", list(SIZES))
def test_overlong_single_word_is_ellipsized_and_reported(creatives, size):
    lay = creatives[(size, "word")].layout
    assert set(lay.truncated) == {"headline", "body"}
    for name in ("headline", "body"):
        assert lay.lines[name][-1].endswith(ELLIPSIS)
    assert lay.lines["cta"] == ["Buy"]


def _ring(img: np.ndarray, box: Box, inner: int = 3, outer: int = 9) -> np.ndarray:
    h, w = img.shape[:2]
    x0, y0 = max(0, box[0] - outer), max(0, box[1] - outer)
    x1, y1 = min(w, box[2] + outer), min(h, box[3] + outer)
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = True
    mask[max(0, box[1] - inner) : box[3] + inner, max(0, box[0] - inner) : box[2] + inner] = False
    return img[mask]


def _text_colour(img: np.ndarray, box: Box, background: np.ndarray) -> np.ndarray:
    """The pixel in ``box`` least like the background: the core of a glyph stroke."""
    region = img[box[1] : box[3], box[0] : box[2]].reshape(-1, 3).astype(int)
    bg = np.median(background, axis=0)
    return region[np.argmax(np.abs(region - bg).sum(axis=1))]


@pytest.mark.parametrize("kind", ["short", "long", "zh"])
@pytest.mark.parametrize("size", list(SIZES))
def test_text_contrast_meets_wcag_against_sampled_background(creatives, size, kind):
    c = creatives[(size, kind)]
    img = np.asarray(c.image)
    for name in ("headline", "body"):
        box = c.layout.text_boxes[name]
        behind = _ring(img, box)
        text = _text_colour(img, box, behind)
        worst = min(
            contrast_ratio(tuple(text), tuple(int(v) for v in px)) for px in np.unique(behind, axis=0)
        )
        assert worst >= MIN_CONTRAST, f"{size}/{kind} {name}: contrast {worst:.2f}"
        assert np.abs(text - np.array(getattr(c.palette, name))).max() <= 40, (
            "text not drawn in the palette colour"
        )
    # The CTA label against its button.
    bx = c.layout.cta_button
    tb = c.layout.text_boxes["cta"]
    fill = img[(bx[1] + bx[3]) // 2, bx[0] + (bx[3] - bx[1]) // 2 + 2]
    label = _text_colour(img, tb, fill[None, :])
    assert contrast_ratio(tuple(label), tuple(fill)) >= MIN_CONTRAST


def test_every_palette_is_readable_and_tones_differ():
    seen = set()
    for tone in TONES:
        per_tone = [palette_for(tone, i) for i in range(3)]
        assert len({(p.bg_top, p.bg_bottom, p.accent) for p in per_tone}) == 3, f"{tone}: palettes repeat"
        for i in range(3):
            for hint in (None, "blue", "warmer", "darker", "lighter", "softer", "vivid", "more green please"):
                q = palette_for(tone, i, hint)
                for bg in q.background_samples:
                    assert contrast_ratio(q.headline, bg) >= MIN_CONTRAST, (tone, q.name, hint)
                    assert contrast_ratio(q.body, bg) >= MIN_CONTRAST, (tone, q.name, hint)
                assert contrast_ratio(q.cta_text, q.cta_fill) >= MIN_CONTRAST, (tone, q.name, hint)
        seen.add((per_tone[0].bg_top, per_tone[0].bg_bottom))
    assert len(seen) == len(TONES)
    with pytest.raises(UserError):
        palette_for("sparkly")


def _hue(c: tuple[int, int, int]) -> float:
    import colorsys

    return colorsys.rgb_to_hls(*(v / 255 for v in c))[0] * 360


def test_palette_hints_move_colours_the_way_they_say():
    base = palette_for("friendly", 0)  # peach
    blue = palette_for("friendly", 0, hint="bluer")
    assert abs(_hue(blue.bg_top) - 215) < 20 and abs(_hue(base.bg_top) - 215) > 60
    assert blue.hint == "blue"
    darker = palette_for("calm", 1, hint="darker")
    lum = sum(palette_for("calm", 1).bg_top)
    assert sum(darker.bg_top) < lum
    assert palette_for("calm", 1, hint="nonsense words") == palette_for("calm", 1)
    assert palette_for("premium", 0).to_dict()["bg_top"].startswith("#")


def test_cjk_font_renders_real_glyphs():
    font = fonts.load_font(64, "bold", cjk=True)
    assert "CJK" in str(font.getname()[0])

    def render(text: str) -> np.ndarray:
        im = Image.new("L", (200, 100), 0)
        ImageDraw.Draw(im).text((10, 10), text, font=font, fill=255)
        return np.asarray(im)

    ad, notdef = render("广告"), render("\ue000\ue000")
    assert not np.array_equal(ad, notdef)
    left, right = ad[:, :74], ad[:, 74:148]
    assert not np.array_equal(left[:, :64], right[:, :64]), "the two characters look the same"
    assert len(np.unique(ad)) > 20 and (ad > 128).sum() > 400
    assert fonts.has_glyphs("广告", "regular", cjk=True)
    assert not fonts.has_glyphs("广告", "regular", cjk=False)
    assert fonts.has_glyphs("Run farther.", "display")


def test_missing_font_names_the_debian_package(monkeypatch):
    fake = fonts._Want(("Nope Sans CJK",), "Bold", (("/nonexistent/font.ttc", 0),), "fonts-noto-cjk")
    monkeypatch.setitem(fonts._WANTS, ("bold", True), fake)
    monkeypatch.setattr(fonts, "_from_fc_list", lambda family, style: [])
    fonts.find_font.cache_clear()
    try:
        with pytest.raises(ModelError, match="fonts-noto-cjk"):
            fonts.find_font("bold", cjk=True)
    finally:
        fonts.find_font.cache_clear()


def test_opaque_photo_hero_and_unknown_size():
    photo = Image.new("RGB", (300, 200), (40, 120, 200))
    ImageDraw.Draw(photo).ellipse((100, 50, 200, 150), fill=(250, 200, 30))
    c = compose_creative(COPIES["short"], photo, size="landscape", tone="calm")
    art = c.layout.hero_art
    assert abs((art[2] - art[0]) / (art[3] - art[1]) - 1.5) < 0.02, "aspect ratio not kept"
    mid = _pixel(c.image, ((art[0] + art[2]) // 2, (art[1] + art[3]) // 2))
    assert _near(mid, (250, 200, 30), 60)
    with pytest.raises(UserError):
        compose_creative(COPIES["short"], photo, size="banner")


@pytest.mark.parametrize("n", [1, 4, 8])
def test_contact_sheet_grid_and_numbered_badges(n):
    colours = [(40 + 25 * i, 200 - 20 * i, 90 + 15 * i) for i in range(n)]
    images = [Image.new("RGB", (1080, 1080), c) for c in colours]
    tw = 240
    sheet = contact_sheet(images, thumb_width=tw)
    cols = sheet_columns(n)
    assert cols == {1: 1, 4: 2, 8: 4}[n]
    rows = -(-n // cols)
    assert sheet.size == (
        2 * SHEET_PAD + cols * tw + (cols - 1) * SHEET_GAP,
        2 * SHEET_PAD + rows * tw + (rows - 1) * SHEET_GAP,
    )
    inset, r = badge_geometry(tw)
    crops = []
    for i, colour in enumerate(colours):
        row, col = divmod(i, cols)
        x, y = SHEET_PAD + col * (tw + SHEET_GAP), SHEET_PAD + row * (tw + SHEET_GAP)
        centre = _pixel(sheet, (x + tw // 2, y + tw // 2 + tw // 4))
        assert _near(centre, colour, 12), f"thumbnail {i + 1} misplaced"
        cx, cy = x + inset, y + inset
        edge = _pixel(sheet, (cx - round(r * 0.85), cy))
        assert _near(edge, BADGE_FILL, 12), f"badge {i + 1} missing"
        badge = np.asarray(sheet.crop((cx - r // 2, cy - r // 2, cx + r // 2, cy + r // 2)))
        assert (np.abs(badge.astype(int) - np.array(BADGE_TEXT)).sum(axis=2) < 60).sum() > 15, (
            "no digit drawn"
        )
        crops.append(badge.tobytes())
    assert len(set(crops)) == n, "badges are not numbered distinctly"
    if n == 4:
        wide = contact_sheet(images, columns=4, thumb_width=tw)
        assert wide.size[0] > wide.size[1]


def test_every_colour_word_the_bot_accepts_changes_the_palette() -> None:
    """A reply's colour word (every key the reply parser maps, in context where it needs one) reaches the
    compositor as a canonical colour, and every canonical colour changes every tone's palette: the bot
    never says "Got it: colour pastel" and then ignores it."""
    from engine.replies import COLOURS, parse_reply
    from engine.vocabulary import _COLOUR_WORDS, _CONTEXT_COLOURS

    heard = set()
    for word in sorted({*_COLOUR_WORDS, *_CONTEXT_COLOURS}):
        reply = f"{word} colours" if word in _CONTEXT_COLOURS else word
        colour = parse_reply(reply).edits.colour
        assert colour in COLOURS, (word, colour)
        heard.add(colour)
    assert heard == set(COLOURS)
    for tone in ("friendly", "bold", "calm", "professional", "premium", "playful", "urgent"):
        for index in range(3):
            base = palette_for(tone, index)
            for colour in COLOURS:
                assert palette_for(tone, index, colour) != base, (tone, index, colour)
