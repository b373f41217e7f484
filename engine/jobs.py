"""Typed contracts between the engine and the inference worker (JSON the same way for SQL and Redis)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class Cancelled(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside the worker when a job was cancelled (or its lease was lost) while running."""


@dataclass
class JobSpec:
    """What the worker must make. ``id`` is chosen by the caller (``C12-R2``) so enqueue is idempotent."""

    id: str
    kind: str  # "round"
    campaign_id: int
    round_number: int
    user: str
    brief: dict[str, Any]
    variants: int = 4
    size: str = "square"
    seed: int = 0
    parent: dict[str, Any] | None = None  # the parent round (studio Round.to_dict()) for refine rounds
    parent_variant: int | None = None
    instruction: str | None = None
    colour: str | None = None
    strength: str = "subtle"
    cta: str | None = None
    fresh: bool = False  # a new first-style round with edited brief (reply without "more like K")
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobSpec:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class Job:
    """A job as the queue holds it."""

    id: str
    spec: JobSpec
    state: str  # queued running done failed cancelled dropped
    attempts: int = 0
    max_attempts: int = 3
    worker: str | None = None
    lease_until: float = 0.0
    cancel_requested: bool = False
    stage: str = "queued"
    percent: int = 0
    progress_seq: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: float = 0.0
    finished_at: float | None = None
    handled: bool = False

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled", "dropped")
