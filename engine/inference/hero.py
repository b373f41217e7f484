"""The shape of a generated hero: stray fragments, clipped edges, and a score to choose candidates by.

A GAN cut-out (RGBA at 64x64) often has a faint speckle or a small separate blob beside the object,
and sometimes runs into the image border, which shows as a hard straight edge once it is set on a
disc. :func:`clean_alpha` keeps the object and drops the fragments, :func:`feather_border` fades
whatever still touches the border, and :func:`shape_score` rates a candidate (one solid object,
clear of the border, a sensible size) so the studio can keep the best of several draws.

numpy and Pillow only: the compositor and the worker both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

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
