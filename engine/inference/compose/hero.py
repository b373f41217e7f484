"""The shape of a generated hero: stray fragments, clipped edges, and a score to choose candidates by.

A GAN cut-out (RGBA at 64x64) often has a faint speckle or a small separate blob beside the object,
and sometimes runs into the image border, which shows as a hard straight edge once it is set on a
disc. :func:`clean_alpha` keeps the object and drops the fragments, :func:`feather_border` fades
whatever still touches the border, and :func:`shape_score` rates a candidate (one solid object,
clear of the border, a sensible size) so the studio can keep the best of several draws.

numpy and Pillow only: the compositor and the worker both use it. The compositor's side is here too:
:func:`_prepare_hero` tidies, crops and upscales (at most :data:`MAX_HERO_UPSCALE`) the art and
:func:`_place_hero` sets it on its stage disc with a drop shadow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from engine.inference.compose.background import _soft_shadow
from engine.inference.compose.colour import _BLACK, _WHITE, Box, _mix, relative_luminance
from engine.inference.compose.palettes import Palette

SOLID = 96  # alpha at or above this is part of the object when finding pieces
FAINT = 20  # alpha below this is speckle and is dropped outright
KEEP_SHARE = 0.12  # a piece is kept when it has at least this share of the largest piece's area


def label_components(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels of a boolean mask (0 = background, labels 1..n in no set order).

    Min-label propagation with numpy shifts and pointer jumping: a few passes on a 64x64 mask, no scipy.
    """
    h, w = mask.shape
    big = h * w + 1
    labels = np.where(mask, np.arange(1, h * w + 1).reshape(h, w), big)
    while True:
        padded = np.pad(labels, 1, constant_values=big)
        best = labels.copy()
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.minimum(best, padded[dy : dy + h, dx : dx + w], out=best)
        best = np.where(mask, best, big)
        # pointer jumping: a label is a pixel index in the same piece, whose own label is as small
        flat = np.append(best.ravel(), big)
        best = np.where(mask, flat[np.minimum(best, big) - 1], big)
        if np.array_equal(best, labels):
            break
        labels = best
    out = np.where(mask, labels, 0)
    # renumber 1..n
    uniq, inv = np.unique(out, return_inverse=True)
    inv = inv.reshape(h, w)
    return inv if uniq[0] == 0 else inv + 1


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    h, w = mask.shape
    out = mask.copy()
    padded = np.pad(mask, r)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= padded[dy : dy + h, dx : dx + w]
    return out


@dataclass(frozen=True)
class Shape:
    """What :func:`measure` finds in an alpha channel (all shares are 0..1)."""

    coverage: float  # share of the image the solid object covers
    main_share: float  # share of the alpha mass in the largest piece (1.0: one piece)
    pieces: int  # solid pieces large enough to keep
    border: float  # share of the border pixels the solid object touches

    @property
    def clean(self) -> bool:
        """One piece (small satellites aside) that does not run into the border."""
        return self.border <= 0.02 and self.main_share >= 0.97

    @property
    def score(self) -> float:
        """Higher is better: one solid object, clear of the border, neither a speck nor a slab.

        A clean shape gets a bonus of 1.0, larger than the discriminator's say in
        :meth:`~engine.inference.visual.VisualModel.score`, so clean candidates always win.
        """
        size = 1.0 - min(1.0, abs(self.coverage - 0.42) / 0.42)  # 1 at 42%, 0 at 0% and at 84%
        base = self.main_share + 0.5 * size - 2.0 * self.border - 0.1 * max(0, self.pieces - 1)
        return base + (1.0 if self.clean else 0.0)


def measure(alpha: np.ndarray) -> Shape:
    """Measure the solid object in an alpha channel (uint8 HxW)."""
    solid = alpha >= SOLID
    total = float(alpha[alpha >= FAINT].sum()) or 1.0
    if not solid.any():
        return Shape(coverage=0.0, main_share=0.0, pieces=0, border=0.0)
    labels = label_components(solid)
    areas = np.bincount(labels.ravel())[1:]
    main = int(np.argmax(areas)) + 1
    near_main = _dilate(labels == main, 2)
    main_mass = float(alpha[near_main & (alpha >= FAINT)].sum())
    edge = np.concatenate([solid[0], solid[-1], solid[1:-1, 0], solid[1:-1, -1]])
    return Shape(
        coverage=float(solid.mean()),
        main_share=min(1.0, main_mass / total),
        pieces=int((areas >= KEEP_SHARE * areas.max()).sum()),
        border=float(edge.mean()),
    )


def clean_alpha(alpha: np.ndarray) -> np.ndarray:
    """The alpha with speckle and small separate fragments removed (uint8 HxW in, same out).

    Pieces of at least :data:`KEEP_SHARE` of the largest piece's area stay (a cup and its saucer);
    semi-transparent pixels stay where they border a kept piece (its soft edge, its shadow).
    """
    out = np.where(alpha < FAINT, 0, alpha).astype(np.uint8)
    solid = out >= SOLID
    if not solid.any():
        return out
    labels = label_components(solid)
    areas = np.bincount(labels.ravel())
    areas[0] = 0
    keep = np.isin(labels, np.flatnonzero(areas >= KEEP_SHARE * areas.max()))
    return np.where(_dilate(keep, 2), out, 0).astype(np.uint8)


def feather_border(alpha: np.ndarray, width: int) -> np.ndarray:
    """Fade alpha to 0 over ``width`` pixels at the image border, so a clipped side shows no hard edge."""
    if width <= 0:
        return alpha
    h, w = alpha.shape
    ramp_y = np.clip((np.minimum(np.arange(h), np.arange(h)[::-1]) + 0.5) / width, 0, 1)
    ramp_x = np.clip((np.minimum(np.arange(w), np.arange(w)[::-1]) + 0.5) / width, 0, 1)
    fade = np.minimum(ramp_y[:, None], ramp_x[None, :])
    return (alpha.astype(np.float32) * fade + 0.5).astype(np.uint8)


def tidy(img: Image.Image) -> Image.Image:
    """An RGBA hero with fragments and speckle dropped and its border feathered (same size)."""
    rgba = img.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"))
    cleaned = feather_border(clean_alpha(alpha), max(1, round(0.04 * max(rgba.size))))
    out = rgba.copy()
    out.putalpha(Image.fromarray(cleaned, "L"))
    return out


def shape_score(img: Image.Image) -> float:
    """:attr:`Shape.score` of an RGBA image's alpha."""
    return measure(np.asarray(img.convert("RGBA").getchannel("A"))).score


# --------------------------------------------------------------------------------------------- compositor

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
