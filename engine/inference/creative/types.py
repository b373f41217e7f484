"""Typed results shared by the copywriter, the visual model, the compositor and the CLI (JSON-serialisable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CopyVariant:
    """One piece of ad copy. ``nll`` is the mean per-token negative log-likelihood under the copy model."""

    headline: str
    body: str
    cta: str
    score: float = 0.0
    nll: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CopyVariant:
        return cls(
            headline=d["headline"],
            body=d["body"],
            cta=d["cta"],
            score=float(d.get("score", 0.0)),
            nll=float(d.get("nll", 0.0)),
        )


@dataclass
class VisualRecord:
    """Everything needed to redraw a hero image bit-for-bit: concept, seed and latent vector."""

    concept: str
    seed: int
    latent: list[float] = field(default_factory=list)
    parent_latent_distance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VisualRecord:
        return cls(
            concept=d["concept"],
            seed=int(d["seed"]),
            latent=[float(x) for x in d.get("latent", [])],
            parent_latent_distance=d.get("parent_latent_distance"),
        )
