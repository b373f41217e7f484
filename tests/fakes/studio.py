"""A stand-in for the studio: what the worker needs of one (a device, a batch knob, a round per job), without
models. ``fault`` runs inside the generation, after its first progress report: it can hang, or raise what
a device raises. Like the studio, it calls ``on_variant`` with each variant as it is composed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from engine.brief import Brief
from engine.inference.creative.types import CopyVariant, VisualRecord
from engine.inference.record import Round, Variant


class StandInStudio:
    device = torch.device("cpu")

    def __init__(self, fault: Callable[[StandInStudio], None] | None = None) -> None:
        self.fault = fault
        self.max_batch: int | None = None
        self.batches: list[int | None] = []  # max_batch of every generation, in order
        self.on_variant: Callable[[Variant], None] | None = None  # as Studio: each variant once composed

    def warm_up(self) -> None:
        return None

    def first_round(self, brief: Brief, *, variants: int, progress: Any, **_: Any) -> Round:
        progress("writing copy", 0.3)
        self.batches.append(self.max_batch)
        if self.fault is not None:
            self.fault(self)
        progress("drawing visuals", 0.6)
        out = [
            Variant(
                index=k,
                copy=CopyVariant(f"Headline {k}", "Body.", "Start now"),
                visual=VisualRecord(concept="watch", seed=k),
                palette_index=0,
                image=Image.new("RGB", (8, 8)),
            )
            for k in range(1, variants + 1)
        ]
        for k, v in enumerate(out, start=1):  # composed one by one, as the studio does
            progress(f"composing variant {k}/{variants}", 0.6 + 0.35 * (k - 1) / variants)
            if self.on_variant is not None:
                self.on_variant(v)
        rnd = Round(number=1, brief=brief, size="square", seed=1, variants=out)
        rnd.sheet = Image.new("RGB", (8, 8))
        return rnd

    def make_rounds(self, asks: list[Any]) -> list[Round | Exception]:
        """The studio's batch entry point: each ask made in turn, each outcome (a round or an error) its own."""
        out: list[Round | Exception] = []
        for ask in asks:
            default, self.on_variant = self.on_variant, ask.on_variant or self.on_variant
            try:
                out.append(self.first_round(ask.brief, variants=ask.variants or 4, progress=ask.progress))
            except Exception as exc:
                out.append(exc)
            finally:
                self.on_variant = default
        return out
