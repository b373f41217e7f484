"""Hero art from the conditional GAN: pick a concept for a brief, draw, refine and redraw images.

Every image is reproducible from its :class:`~engine.creative.VisualRecord` (concept, seed and
the latent vector itself). Latents are drawn on the CPU from ``seed``, so a seed gives the same
``z`` on any device; the pixels then match to within the device's arithmetic.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from engine.concepts import match_concept
from engine.creative import VisualRecord
from engine.errors import ModelError
from engine.inference.gan import (
    Generator,
    build_generator,
    load_generator_checkpoint,
    sample_latents,
    to_rgba_uint8,
)

logger = logging.getLogger(__name__)

# How far a refinement moves from its parent, as the weight of fresh noise mixed into the latent.
REFINE_STRENGTHS: dict[str, float] = {"subtle": 0.3, "strong": 0.7}


@dataclass
class HeroArt:
    """One generated image (RGBA, raw generator size) and the record that redraws it."""

    image: Image.Image
    record: VisualRecord


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
    ) -> None:
        self.generator = generator.to(device=device, dtype=dtype).eval()
        self.concepts = list(concepts)
        self.name = name
        self.version = version
        self.device = device
        self.dtype = dtype
        self._index = {c: i for i, c in enumerate(self.concepts)}

    @classmethod
    def load(cls, path: str | Path, device: torch.device, dtype: torch.dtype = torch.float32) -> VisualModel:
        """Load a generator checkpoint; :class:`ModelError` with a clear message if that is impossible."""
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
        logger.info(
            "loaded visual model %s v%s (%d concepts) on %s",
            ckpt.name,
            ckpt.version,
            len(ckpt.concepts),
            device,
        )
        return cls(generator, ckpt.concepts, name=ckpt.name, version=ckpt.version, device=device, dtype=dtype)

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
    def _draw(self, concepts: list[str], latents: torch.Tensor) -> list[Image.Image]:
        if len(concepts) != latents.shape[0]:
            raise ValueError(f"{len(concepts)} concepts for {latents.shape[0]} latents")
        if not concepts:
            return []
        labels = torch.tensor([self._label(c) for c in concepts], dtype=torch.long, device=self.device)
        out = self.generator(latents.to(device=self.device, dtype=self.dtype), labels)
        pixels = to_rgba_uint8(out).numpy()
        return [Image.fromarray(p, "RGBA") for p in pixels]

    def generate(self, concepts: list[str], seeds: list[int]) -> list[HeroArt]:
        """One image per (concept, seed), in one batched forward pass."""
        if len(concepts) != len(seeds):
            raise ValueError(f"{len(concepts)} concepts for {len(seeds)} seeds")
        z = sample_latents(seeds, self.z_dim)
        images = self._draw(concepts, z)
        return [
            HeroArt(img, VisualRecord(concept=c, seed=int(s), latent=row.tolist()))
            for img, c, s, row in zip(images, concepts, seeds, z, strict=True)
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
        noise = sample_latents(seeds, self.z_dim)
        z = (base[None] + s * noise) / math.sqrt(1 + s * s)
        images = self._draw([parent.concept] * len(seeds), z)
        dist = (z - base[None]).norm(dim=1)
        return [
            HeroArt(
                img,
                VisualRecord(
                    concept=parent.concept,
                    seed=int(seed),
                    latent=row.tolist(),
                    parent_latent_distance=float(d),
                ),
            )
            for img, seed, row, d in zip(images, seeds, z, dist, strict=True)
        ]

    def render(self, record: VisualRecord) -> HeroArt:
        """Redraw exactly the image a record describes, from its stored latent."""
        z = self._parent_latent(record)
        return HeroArt(self._draw([record.concept], z[None])[0], record)

    def _parent_latent(self, record: VisualRecord) -> torch.Tensor:
        if record.latent:
            if len(record.latent) != self.z_dim:
                raise ModelError(
                    f"The stored latent has {len(record.latent)} values; this visual model "
                    f"expects {self.z_dim}. Was it made with another model?"
                )
            return torch.tensor(record.latent, dtype=torch.float32)
        return sample_latents([record.seed], self.z_dim)[0]
