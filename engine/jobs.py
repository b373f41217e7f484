"""Typed contracts between the engine and the inference worker (JSON the same way for SQL and Redis).

The engine sends a :class:`JobSpec` with every parameter resolved (a reply is parsed once, in the engine:
the worker never reads what a person typed). The worker answers with a :class:`RoundResult` whose images
are named relative to the artifact store (:mod:`engine.artifacts`), never by a path on its own host.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import PurePath
from typing import Any


class Cancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside the worker when a job was cancelled (or its lease was lost) while running."""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DROPPED = "dropped"

    @property
    def active(self) -> bool:
        return self in ACTIVE_STATES

    @property
    def finished(self) -> bool:
        return not self.active


ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})


@dataclass
class JobSpec:
    """What the worker must make. ``id`` is chosen by the caller (``C12-R2``) so enqueue is idempotent.

    ``brief`` already carries the tone, length, keywords and avoid-words a reply asked for; ``colour``,
    ``strength``, ``cta`` and ``length_step`` are the rest of the resolved edits. ``instruction`` is the
    reply as typed, kept only to be shown (history, copy.md), never parsed again."""

    id: str
    kind: str  # "round"
    campaign_id: int
    round_number: int
    user: str
    brief: dict[str, Any]
    variants: int = 4
    size: str = "square"
    seed: int = 0
    parent: dict[str, Any] | None = None  # the parent round's lineage record (RoundResult.round)
    parent_variant: int | None = None
    instruction: str | None = None
    colour: str | None = None
    strength: str = "subtle"
    cta: str | None = None
    # "shorter" / "longer" as asked: steps relative to the chosen variant's own body length (-2..2)
    length_step: int = 0
    fresh: bool = False  # a new first-style round with edited brief (reply without "more like K")
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class VariantResult:
    """One finished creative: its copy, its image (an artifact name) and the records that redraw it."""

    index: int
    headline: str
    body: str
    cta: str
    image: str  # artifact name, e.g. images/C3/round-2/variant-1.png
    visual: dict[str, Any] = field(default_factory=dict)  # seed, latent: how to redraw or refine the hero
    palette_index: int | None = None
    colour_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VariantResult:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def merge_partial(partial: list[VariantResult], variant: VariantResult) -> list[VariantResult]:
    """``partial`` with ``variant`` reported: appended, or in place of an earlier report of its index."""
    out = [variant if v.index == variant.index else v for v in partial]
    return out if any(v.index == variant.index for v in partial) else [*out, variant]


@dataclass
class RoundResult:
    """What a finished round job hands back. ``round`` is the studio's lineage record of the round; the
    engine keeps it opaque and hands it back as the next round's :attr:`JobSpec.parent`."""

    round: dict[str, Any]
    dir: str  # artifact name of the round's folder (creatives, contact sheet, copy.json, copy.md)
    sheet: str  # artifact name of the contact sheet
    variants: list[VariantResult]
    size: str = "square"
    seed: int = 0
    models: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(sum(self.timings.values()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RoundResult:
        """Read a stored result; also the dict form of earlier releases (``images`` beside ``round``)."""
        rd = d["round"]
        if "variants" in d and "images" not in d:
            variants = [VariantResult(**v) for v in d["variants"]]
        else:  # before typed results: absolute image paths in a list beside the studio record
            variants = [
                VariantResult(
                    index=v["index"],
                    headline=v["copy"]["headline"],
                    body=v["copy"]["body"],
                    cta=v["copy"]["cta"],
                    image=str(img),
                    visual=v.get("visual", {}),
                    palette_index=v.get("palette_index"),
                    colour_hint=v.get("colour_hint"),
                )
                for v, img in zip(rd["variants"], d["images"], strict=True)
            ]
        return cls(
            round=rd,
            dir=str(d["dir"]),
            sheet=str(d["sheet"]),
            variants=variants,
            size=d.get("size", rd.get("size", "square")),
            seed=int(d.get("seed", rd.get("seed", 0))),
            models=d.get("models", rd.get("models", {})),
            timings=d.get("timings", rd.get("timings", {})),
        )


def is_relative_name(name: str) -> bool:
    """An artifact name is relative and stays inside the store (no ``..``)."""
    p = PurePath(name)
    return not p.is_absolute() and ".." not in p.parts


@dataclass
class Job:
    """A job as the queue holds it."""

    id: str
    spec: JobSpec
    state: JobState
    attempts: int = 0
    max_attempts: int = 3
    worker: str | None = None
    lease_until: float = 0.0
    cancel_requested: bool = False
    stage: str = "queued"
    percent: int = 0
    progress_seq: int = 0
    result: RoundResult | None = None
    error: str | None = None
    created_at: float = 0.0
    finished_at: float | None = None
    handled: bool = False
    # variants the worker has finished (written and published) before the round is done, in the order it
    # reported them; one per index (a variant made again by a later delivery replaces its earlier report)
    partial: list[VariantResult] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state.finished


@dataclass
class WorkerInfo:
    """A worker's heartbeat, as the status view shows it."""

    name: str
    state: str  # starting ready busy stopped
    device: str
    last_seen: float
