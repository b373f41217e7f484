"""Hero art from a pretrained class-conditional BigGAN(-deep), for operators with a model hub.

An optional alternative to the house GAN (:class:`~engine.inference.visual.VisualModel`) with the same
public interface, selected by ``CAMPAIGNBOT_VISUAL_MODEL=biggan:<id or directory>``. It needs the
PyPI package ``pytorch-pretrained-biggan`` (imported only when a model is loaded) and its weights:
a hub id (``biggan-deep-128``, ``-256``, ``-512``; downloaded by the package, so network is needed) or
a local directory holding ``config.json`` and ``pytorch_model.bin``.

* Concepts are the ImageNet class names (the 1000 that torchvision ships, so no download; a model
  with fewer classes uses the first ``num_classes``). A brief gets the class whose name is nearest in
  meaning (all-MiniLM-L6-v2 cosine, the copywriter's offline embedder); without that embedder, the
  class sharing most words with the brief.
* Latents are truncated normal, exactly what the package's ``truncated_noise_sample`` draws for a seed
  (values in ``[-2, 2]`` times ``truncation``), drawn on the CPU, so a seed gives the same ``z`` on any
  device and :meth:`BigGANVisualModel.render` redraws a record from its stored latent.
* Images are the generator's RGB at its own resolution with a fully opaque alpha channel: BigGAN
  paints whole scenes with their background, and no cut-out is attempted (the compositor shows an
  opaque hero as a rounded photo card instead of a cut-out on a stage disc).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.errors import ModelError
from engine.inference.creative.types import VisualRecord
from engine.inference.visual import REFINE_STRENGTHS, HeroArt, stored_latent

logger = logging.getLogger(__name__)

PREFIX = "biggan:"
DEFAULT_TRUNCATION = 0.4
HUB_IDS = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
_FILES = ("config.json", "pytorch_model.bin")


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names in label order, as torchvision ships them (offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


class BigGANVisualModel:
    """A loaded BigGAN with its class names. Create with :meth:`load`."""

    def __init__(
        self,
        model: torch.nn.Module,
        concepts: list[str],
        *,
        name: str,
        version: str,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        truncation: float = DEFAULT_TRUNCATION,
    ) -> None:
        if not 0 < truncation <= 1:
            raise ValueError(f"truncation must be in (0, 1], not {truncation}")
        self.model = model.to(device=device, dtype=dtype).eval()
        self.config: Any = model.config  # a pytorch_pretrained_biggan.BigGANConfig
        self.concepts = list(concepts)
        self.name = name
        self.version = version
        self.device = device
        self.dtype = dtype
        self.truncation = float(truncation)
        self._index = {c: i for i, c in enumerate(self.concepts)}
        self._concept_emb: np.ndarray | None = None

    @classmethod
    def load(
        cls,
        id_or_path: str | Path,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        *,
        truncation: float = DEFAULT_TRUNCATION,
    ) -> BigGANVisualModel:
        """``BigGAN.from_pretrained(id_or_path)``; :class:`ModelError` with a clear message if impossible."""
        source = str(id_or_path)
        try:
            from pytorch_pretrained_biggan import BigGAN
        except ImportError as err:
            raise ModelError(
                f"The BigGAN visual model needs the package pytorch-pretrained-biggan ({err}). "
                "Install it with `pip install pytorch-pretrained-biggan==0.1.1 scipy`."
            ) from err
        where = Path(source).expanduser()
        if source not in HUB_IDS and not all((where / f).is_file() for f in _FILES):
            raise ModelError(
                f"BigGAN model not found: {source}. Use a hub id ({', '.join(HUB_IDS)}; the download "
                "needs network access) or a local directory holding config.json and pytorch_model.bin."
            )
        try:
            model = BigGAN.from_pretrained(source if source in HUB_IDS else str(where))
        except Exception as err:
            hint = (
                "Downloading from the model hub needs network access; "
                if source in HUB_IDS
                else "Is it a BigGAN checkpoint (config.json + pytorch_model.bin from pytorch-pretrained-biggan)? "
            )
            raise ModelError(
                f"BigGAN model {source} could not be loaded ({type(err).__name__}: {err}). {hint}"
                "Alternatively point the setting at a local directory with config.json and pytorch_model.bin."
            ) from err
        n_classes = int(model.config.num_classes)
        names = imagenet_classes()
        if n_classes > len(names):
            raise ModelError(f"BigGAN model {source} has {n_classes} classes; only {len(names)} have names.")
        if source in HUB_IDS:
            name, version = "biggan-deep", source.rsplit("-", 1)[1]
        else:
            name, version = where.resolve().name or "biggan", "local"
        logger.info(
            "loaded BigGAN visual model %s (%d classes, %dpx) on %s",
            source,
            n_classes,
            model.config.output_dim,
            device,
        )
        return cls(
            model,
            names[:n_classes],
            name=name,
            version=version,
            device=device,
            dtype=dtype,
            truncation=truncation,
        )

    @property
    def z_dim(self) -> int:
        return int(self.config.z_dim)

    # -- concepts -------------------------------------------------------------------------------------------
    def concept_for(self, brief_text: str) -> str:
        """The ImageNet class nearest in meaning to the brief (never raises)."""
        try:
            from engine.inference.product_knowledge import shared_embedder

            embedder = shared_embedder()
            if embedder is not None:
                if self._concept_emb is None:
                    self._concept_emb = embedder.encode(self.concepts)
                q = embedder.encode([brief_text])[0]
                return self.concepts[int(np.argmax(self._concept_emb @ q))]
            return self._word_overlap(brief_text)
        except Exception:  # matching must never break a campaign
            logger.exception("concept matching failed; using %s", self.concepts[0])
            return self.concepts[0]

    def _word_overlap(self, brief_text: str) -> str:
        def words(s: str) -> set[str]:
            return {w.rstrip("s") for w in re.findall(r"[a-z]+", s.lower()) if len(w) > 2}

        brief = words(brief_text)
        scores = [len(brief & words(c)) for c in self.concepts]
        return self.concepts[int(np.argmax(scores))]

    def _label(self, concept: str) -> int:
        try:
            return self._index[concept]
        except KeyError:
            raise ModelError(
                f"The visual model does not know the concept '{concept}' (it knows {len(self.concepts)} "
                f"ImageNet classes, e.g. {', '.join(self.concepts[:5])})."
            ) from None

    # -- drawing --------------------------------------------------------------------------------------------
    def _latents(self, seeds: list[int]) -> torch.Tensor:
        """One truncated-normal latent per seed, drawn on the CPU (as ``truncated_noise_sample(seed=s)``)."""
        from pytorch_pretrained_biggan import truncated_noise_sample

        rows: list[Any] = [
            truncated_noise_sample(1, self.z_dim, self.truncation, seed=int(s) % 2**32)[0] for s in seeds
        ]
        return torch.from_numpy(np.stack(rows)) if rows else torch.empty(0, self.z_dim)

    @torch.inference_mode()
    def _draw(self, concepts: list[str], latents: torch.Tensor) -> list[Image.Image]:
        if len(concepts) != latents.shape[0]:
            raise ValueError(f"{len(concepts)} concepts for {latents.shape[0]} latents")
        if not concepts:
            return []
        labels = torch.tensor([self._label(c) for c in concepts], device=self.device)
        one_hot = torch.nn.functional.one_hot(labels, len(self.concepts)).to(self.dtype)
        out = self.model(latents.to(device=self.device, dtype=self.dtype), one_hot, self.truncation)
        rgb = ((out.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        pixels = rgb.permute(0, 2, 3, 1).numpy()
        return [Image.fromarray(p, "RGB").convert("RGBA") for p in pixels]

    def generate(self, concepts: list[str], seeds: list[int]) -> list[HeroArt]:
        """One image per (concept, seed), in one batched forward pass."""
        if len(concepts) != len(seeds):
            raise ValueError(f"{len(concepts)} concepts for {len(seeds)} seeds")
        z = self._latents(seeds)
        images = self._draw(concepts, z)
        return [
            HeroArt(img, VisualRecord(concept=c, seed=int(s), latent=row.tolist()))
            for img, c, s, row in zip(images, concepts, seeds, z, strict=True)
        ]

    def refine(self, parent: VisualRecord, seeds: list[int], strength: str = "subtle") -> list[HeroArt]:
        """Variations near ``parent``: ``z = (z_parent + s * noise) / sqrt(1 + s^2)`` per seed, clamped
        to the truncation range ``[-2t, 2t]``; ``strength`` is ``subtle`` (s = 0.3) or ``strong`` (0.7)."""
        if strength not in REFINE_STRENGTHS:
            raise ValueError(f"unknown strength {strength!r}; use {' or '.join(REFINE_STRENGTHS)}")
        s = REFINE_STRENGTHS[strength]
        base = self._parent_latent(parent)
        noise = self._latents(seeds)
        bound = 2 * self.truncation
        z = ((base[None] + s * noise) / math.sqrt(1 + s * s)).clamp(-bound, bound)
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
        z = stored_latent(record, self.z_dim)
        return z if z is not None else self._latents([record.seed])[0]
