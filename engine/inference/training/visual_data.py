"""The visual model's training data: every emoji image of every concept (:mod:`..emoji_sources`) as a
premultiplied RGBA tensor, cached per concept list and sources, and the augmentations the GAN trains
with (of the real images; and DiffAugment, shown to the discriminator for real and fake alike).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from engine.inference.emoji_sources import DEFAULT_SOURCES, LICENCES, renderings

# ----------------------------------------------------------------------------- data


def _premultiplied(img: Image.Image, size: int) -> np.ndarray:
    """RGBA image -> (4, size, size) float32 premultiplied in [-1, 1], emoji centred with a margin."""
    img = img.convert("RGBA")
    bbox = img.getchannel("A").getbbox()
    if bbox:
        img = img.crop(bbox)
    w, h = img.size
    inner = int(size * 0.92)
    scale = inner / max(w, h)
    img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    a = np.asarray(canvas, dtype=np.float32) / 255.0
    a[..., :3] *= a[..., 3:4]
    return (a.transpose(2, 0, 1) * 2 - 1).astype(np.float32)


def build_dataset(
    emoji_dir: Path, concepts: list[str], size: int = 64, sources: tuple[str, ...] = DEFAULT_SOURCES
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Load every image of every concept from ``sources`` (:mod:`emoji_sources`): (N, 4, size, size)
    images, (N,) labels, stats."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    per_concept = dict.fromkeys(concepts, 0)
    per_source = dict.fromkeys(sources, 0)
    emoji: set[str] = set()
    for r in renderings(emoji_dir, concepts, sources):
        images.append(_premultiplied(r.image, size))
        labels.append(r.label)
        per_concept[concepts[r.label]] += 1
        per_source[r.source] += 1
        emoji.add(r.group)
    for name, count in per_concept.items():
        if count == 0:
            raise ValueError(f"concept {name!r} has no images under {emoji_dir}")
    stats: dict[str, Any] = {
        "per_concept": per_concept,
        "emoji": len(emoji),
        "per_source": per_source,
        "licences": {s: LICENCES[s] for s in sources},
        "images": len(images),
    }
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.long), stats


def cached_dataset(
    emoji_dir: Path,
    concepts: list[str],
    cache: Path,
    size: int = 64,
    sources: tuple[str, ...] = DEFAULT_SOURCES,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    digest = hashlib.sha1((",".join(concepts) + "|" + ",".join(sources)).encode()).hexdigest()[:8]
    key = cache / f"dataset-{size}-{len(concepts)}-{digest}.pt"
    if key.exists():
        blob = torch.load(key, weights_only=False)
        if blob["concepts"] == concepts and tuple(blob.get("sources", DEFAULT_SOURCES)) == sources:
            return blob["x"], blob["y"], blob["stats"]
    x, y, stats = build_dataset(emoji_dir, concepts, size, sources)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save({"x": x, "y": y, "stats": stats, "concepts": concepts, "sources": list(sources)}, key)
    return x, y, stats


# ----------------------------------------------------------------------------- augmentation


def _hue_rotate(rgb: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate colours around the grey axis by ``angle`` radians per sample (keeps black black)."""
    cos, sin = angle.cos()[:, None, None], angle.sin()[:, None, None]
    k = 1.0 / 3.0
    sq = (1.0 / 3.0) ** 0.5
    eye = torch.eye(3, device=rgb.device)[None]
    ones = torch.full((1, 3, 3), k, device=rgb.device)
    cross = torch.tensor([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=rgb.dtype, device=rgb.device)[None] * sq
    m = cos * eye + (1 - cos) * ones + sin * cross
    return torch.einsum("bij,bjhw->bihw", m, rgb)


def augment_real(x: torch.Tensor, hue: float = 0.06, shift: int = 4) -> torch.Tensor:
    """Data augmentation of real images: flips, small shifts, small hue jitter."""
    b = x.shape[0]
    flip = torch.rand(b, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    x01 = (x + 1) / 2
    angle = (torch.rand(b, device=x.device) * 2 - 1) * hue * 2 * np.pi
    rgb = _hue_rotate(x01[:, :3], angle).clamp(0, 1)
    rgb = torch.minimum(rgb, x01[:, 3:4])  # stay premultiplied
    x = torch.cat([rgb, x01[:, 3:4]], 1) * 2 - 1
    return translate(x, shift)


def translate(x: torch.Tensor, shift: int) -> torch.Tensor:
    """Per-sample integer translation with transparent fill; differentiable (DiffAugment)."""
    if shift <= 0:
        return x
    b, _, h, w = x.shape
    pad = F.pad(x + 1, (shift, shift, shift, shift)) - 1  # pad with -1 == transparent
    dx = torch.randint(0, 2 * shift + 1, (b,), device=x.device)
    dy = torch.randint(0, 2 * shift + 1, (b,), device=x.device)
    iy = (
        (dy[:, None] + torch.arange(h, device=x.device)[None])
        .view(b, 1, h, 1)
        .expand(b, x.shape[1], h, w + 2 * shift)
    )
    rows = pad.gather(2, iy)
    ix = (dx[:, None] + torch.arange(w, device=x.device)[None]).view(b, 1, 1, w).expand(b, x.shape[1], h, w)
    return rows.gather(3, ix)


def diff_augment(x: torch.Tensor) -> torch.Tensor:
    """Differentiable augmentation shown to D for real and fake alike: shift, brightness, cutout."""
    b = x.shape[0]
    x = translate(x, x.shape[-1] // 8)
    x01 = (x + 1) / 2
    gain = 1 + (torch.rand(b, 1, 1, 1, device=x.device) - 0.5) * 0.5
    rgb = torch.minimum(x01[:, :3] * gain, x01[:, 3:4])
    x = torch.cat([rgb, x01[:, 3:4]], 1) * 2 - 1
    # cutout: one transparent square per image
    h = x.shape[-1]
    c = h // 4
    cy = torch.randint(0, h - c + 1, (b,), device=x.device)
    cx = torch.randint(0, h - c + 1, (b,), device=x.device)
    ar = torch.arange(h, device=x.device)
    my = (ar[None] >= cy[:, None]) & (ar[None] < cy[:, None] + c)
    mx = (ar[None] >= cx[:, None]) & (ar[None] < cx[:, None] + c)
    mask = (my[:, :, None] & mx[:, None, :])[:, None]
    return torch.where(mask, torch.full_like(x, -1.0), x)
