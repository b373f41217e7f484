"""Hero art from the conditional GAN: pick a concept for a brief, draw, refine and redraw images.

Every image is reproducible from its :class:`~engine.inference.creative.types.VisualRecord` (concept, seed and
the latent vector itself). Latents are drawn on the CPU from ``seed``, so a seed gives the same
``z`` on any device; the pixels then match to within the device's arithmetic.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.errors import ModelError
from engine.inference.compose.hero import measure
from engine.inference.creative.concepts import match_concept
from engine.inference.creative.types import VisualRecord
from engine.inference.gan import (
    DISCRIMINATOR_FILE,
    Discriminator,
    Generator,
    build_generator,
    load_discriminator,
    load_generator_checkpoint,
    sample_latents,
    to_rgba_uint8,
)

logger = logging.getLogger(__name__)

# How far a refinement moves from its parent, as the weight of fresh noise mixed into the latent.
REFINE_STRENGTHS: dict[str, float] = {"subtle": 0.3, "strong": 0.7}
# Weight of the discriminator's opinion (z-scored over a pool, clipped to +-2) against the shape score:
# at most 0.8 between two candidates, less than the 1.0 a clean shape earns, so D chooses among clean
# candidates and never picks a clipped or broken one over a clean one. (D alone did not raise the
# judge's concept accuracy: bench/hero_selection.py.)
D_WEIGHT = 0.2


def candidate_seeds(seed: int, k: int) -> list[int]:
    """``k`` seeds to draw for one variant: the variant's own seed first, then ones derived from it."""
    out = [int(seed)]
    for j in range(1, k):
        digest = hashlib.blake2b(f"{int(seed)}:{j}".encode(), digest_size=8).digest()
        out.append(int.from_bytes(digest, "big") >> 1)  # 63 bits, a valid torch seed
    return out


@dataclass
class HeroArt:
    """One generated image (RGBA, raw generator size) and the record that redraws it."""

    image: Image.Image
    record: VisualRecord


def stored_latent(record: VisualRecord, z_dim: int) -> torch.Tensor | None:
    """The latent a record stored (None for a record that keeps only its seed); a latent of another
    size means the record was made with another model, which is a clear error, not a silent redraw."""
    if not record.latent:
        return None
    if len(record.latent) != z_dim:
        raise ModelError(
            f"The stored latent has {len(record.latent)} values; this visual model "
            f"expects {z_dim}. Was it made with another model?"
        )
    return torch.tensor(record.latent, dtype=torch.float32)


class VisualModel:
    """A loaded generator with its concept list. Create with :meth:`load`."""

    def __init__(
        self,
        generator: Generator,
        concepts: list[str],
        *,
        name: str,
        version: str,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        discriminator: Discriminator | None = None,
        candidates: int = 1,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.generator = generator.to(device=device, dtype=dtype).eval()
        self.discriminator = discriminator.to(device=device).eval() if discriminator is not None else None
        self.candidates = max(1, int(candidates))
        self.meta = dict(meta or {})  # the checkpoint's training record (steps, sources, ...)
        self.concepts = list(concepts)
        self.name = name
        self.version = version
        self.device = device
        self.dtype = dtype
        self._index = {c: i for i, c in enumerate(self.concepts)}

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        *,
        candidates: int = 1,
    ) -> VisualModel:
        """Load a generator checkpoint; :class:`ModelError` with a clear message if that is impossible.

        A ``discriminator.pt`` beside it (written by ``campaignbot train visual``) is loaded too and
        helps choose among ``candidates`` draws per image; without it the shape alone decides.
        """
        path = Path(path)
        if not path.is_file():
            raise ModelError(
                f"Visual model checkpoint not found: {path}. Train one with `campaignbot train visual`."
            )
        try:
            ckpt = load_generator_checkpoint(path)
            generator = build_generator(ckpt)
        except Exception as err:
            raise ModelError(f"Visual model checkpoint {path} could not be read ({err}).") from err
        if len(ckpt.concepts) != ckpt.config.n_classes:
            raise ModelError(
                f"Visual model checkpoint {path} names {len(ckpt.concepts)} concepts "
                f"for {ckpt.config.n_classes} classes."
            )
        discriminator = None
        d_path = path.parent / DISCRIMINATOR_FILE
        if d_path.is_file():
            try:
                discriminator = load_discriminator(d_path, ckpt.config, ckpt.concepts)
            except Exception as err:  # selection still works on shape alone
                logger.warning("ignoring %s: %s", d_path, err)
        logger.info(
            "loaded visual model %s v%s (%d concepts, %s) on %s",
            ckpt.name,
            ckpt.version,
            len(ckpt.concepts),
            "with discriminator" if discriminator is not None else "no discriminator",
            device,
        )
        return cls(
            generator,
            ckpt.concepts,
            name=ckpt.name,
            version=ckpt.version,
            device=device,
            dtype=dtype,
            discriminator=discriminator,
            candidates=candidates,
            meta=ckpt.meta,
        )

    @property
    def z_dim(self) -> int:
        return self.generator.config.z_dim

    def concept_for(self, brief_text: str) -> str:
        """The concept this model knows that best fits the brief (never raises)."""
        return match_concept(brief_text, self.concepts)

    def _label(self, concept: str) -> int:
        try:
            return self._index[concept]
        except KeyError:
            raise ModelError(
                f"The visual model does not know the concept '{concept}'. Known: {', '.join(self.concepts)}."
            ) from None

    @torch.inference_mode()
    def _forward(
        self, concepts: list[str], latents: torch.Tensor
    ) -> tuple[list[Image.Image], torch.Tensor | None]:
        """Images for latents, and the discriminator's score of each when there is one."""
        if len(concepts) != latents.shape[0]:
            raise ValueError(f"{len(concepts)} concepts for {latents.shape[0]} latents")
        if not concepts:
            return [], None
        labels = torch.tensor([self._label(c) for c in concepts], dtype=torch.long, device=self.device)
        out = self.generator(latents.to(device=self.device, dtype=self.dtype), labels)
        scores = None
        if self.discriminator is not None:
            scores = self.discriminator(out.float().clamp(-1, 1), labels).float().cpu()
        pixels = to_rgba_uint8(out).numpy()
        return [Image.fromarray(p, "RGBA") for p in pixels], scores

    def _draw(self, concepts: list[str], latents: torch.Tensor) -> list[Image.Image]:
        return self._forward(concepts, latents)[0]

    def score(self, images: list[Image.Image], d_scores: torch.Tensor | None) -> list[float]:
        """How good each candidate is: one clean object (:func:`~engine.inference.compose.hero.measure`)
        plus, with a discriminator, its opinion z-scored over these candidates."""
        shape = [measure(np.asarray(img.getchannel("A"))).score for img in images]
        if d_scores is None or len(images) < 2:
            return shape
        d = d_scores.double()
        z = ((d - d.mean()) / d.std().clamp_min(1e-6)).clamp(-2, 2)
        return [s + D_WEIGHT * float(v) for s, v in zip(shape, z, strict=True)]

    def _select(
        self, concepts: list[str], latents: torch.Tensor, k: int
    ) -> tuple[list[Image.Image], list[int]]:
        """Draw ``k`` consecutive candidates per image (rows ``i*k .. i*k+k-1``) in one batch; keep the best.

        Returns the kept images and their row numbers in ``latents``.
        """
        images, d_scores = self._forward(concepts, latents)
        if k <= 1:
            return images, list(range(len(images)))
        picks = []
        for i in range(0, len(images), k):  # each pool on its own: a hero never depends on its neighbours
            scores = self.score(images[i : i + k], None if d_scores is None else d_scores[i : i + k])
            picks.append(i + int(np.argmax(scores)))
        return [images[r] for r in picks], picks

    def generate(self, concepts: list[str], seeds: list[int]) -> list[HeroArt]:
        """One image per (concept, seed), in one batched forward pass: the best of
        :attr:`candidates` draws, whose seed and latent the record keeps."""
        if len(concepts) != len(seeds):
            raise ValueError(f"{len(concepts)} concepts for {len(seeds)} seeds")
        k = self.candidates
        all_seeds = [c for s in seeds for c in candidate_seeds(s, k)]
        z = sample_latents(all_seeds, self.z_dim)
        images, rows = self._select([c for c in concepts for _ in range(k)], z, k)
        return [
            HeroArt(img, VisualRecord(concept=c, seed=all_seeds[r], latent=z[r].tolist()))
            for img, c, r in zip(images, concepts, rows, strict=True)
        ]

    def refine(self, parent: VisualRecord, seeds: list[int], strength: str = "subtle") -> list[HeroArt]:
        """Variations near ``parent``: ``z = (z_parent + s * noise) / sqrt(1 + s^2)`` per seed.

        The division keeps the latent at the norm the generator was trained on. ``strength`` is
        ``subtle`` (s = 0.3) or ``strong`` (s = 0.7).
        """
        if strength not in REFINE_STRENGTHS:
            raise ValueError(f"unknown strength {strength!r}; use {' or '.join(REFINE_STRENGTHS)}")
        s = REFINE_STRENGTHS[strength]
        base = self._parent_latent(parent)
        k = self.candidates
        all_seeds = [c for seed in seeds for c in candidate_seeds(seed, k)]
        noise = sample_latents(all_seeds, self.z_dim)
        z = (base[None] + s * noise) / math.sqrt(1 + s * s)
        images, rows = self._select([parent.concept] * len(all_seeds), z, k)
        dist = (z - base[None]).norm(dim=1)
        return [
            HeroArt(
                img,
                VisualRecord(
                    concept=parent.concept,
                    seed=all_seeds[r],
                    latent=z[r].tolist(),
                    parent_latent_distance=float(dist[r]),
                ),
            )
            for img, r in zip(images, rows, strict=True)
        ]

    def render(self, record: VisualRecord) -> HeroArt:
        """Redraw exactly the image a record describes, from its stored latent."""
        z = self._parent_latent(record)
        return HeroArt(self._draw([record.concept], z[None])[0], record)

    def _parent_latent(self, record: VisualRecord) -> torch.Tensor:
        z = stored_latent(record, self.z_dim)
        return z if z is not None else sample_latents([record.seed], self.z_dim)[0]
