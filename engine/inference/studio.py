"""The generation chain: brief -> copy (GPT-2) -> hero art (GAN) -> finished creatives (Pillow).

A :class:`Studio` loads its models once and makes rounds: a first round from a brief, or a refine
round from one chosen variant of an earlier round. Rounds are plain data (:class:`Round`) that
serialise to ``copy.json`` so any card can be redrawn or refined later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from transformers.utils import logging as hf_logging

from engine.brief import MAX_VARIANTS, SIZES, Brief, refine_seed
from engine.errors import UserError
from engine.inference.biggan import PREFIX as BIGGAN_PREFIX
from engine.inference.biggan import BigGANVisualModel
from engine.inference.compose.layout import compose_creative
from engine.inference.compose.palettes import palette_for
from engine.inference.compose.sheet import contact_sheet
from engine.inference.copywriter import Copywriter
from engine.inference.creative.types import CopyVariant, VisualRecord
from engine.inference.device import resolve_device, resolve_dtype
from engine.inference.record import Round, Variant
from engine.inference.visual import HeroArt, VisualModel
from engine.settings import Settings
from engine.steering import Steering

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # (stage, fraction done 0..1)


def _noop(stage: str, frac: float) -> None:
    return None


def concept_text(brief: Brief) -> str:
    """The text the concept matcher reads: the product first, then audience and keywords as separate
    clauses, so that "headphones" (not the audience "commuters") is the product's head noun."""
    return "; ".join(p for p in (brief.product, brief.audience, *brief.keywords) if p.strip())


def visual_seeds(seed: int, n: int, round_number: int = 1) -> list[int]:
    """Per-variant image seeds derived from the round seed (stable, distinct across rounds)."""
    return [(seed * 1_000_003 + round_number * 1009 + i) % (2**31 - 1) for i in range(1, n + 1)]


class Studio:
    """Loads the copy and visual models once; makes rounds."""

    def __init__(
        self, settings: Settings | None = None, *, device: str | None = None, dtype: str | None = None
    ):
        self.settings = settings or Settings()
        hf_logging.disable_progress_bar()  # our own progress reporting is enough
        self.device = resolve_device(device or self.settings.device)
        self.dtype = resolve_dtype(dtype or self.settings.dtype, self.device)
        self._copywriters: dict[str, Copywriter] = {}
        self._visual: VisualModel | BigGANVisualModel | None = None
        # Most copy candidates decoded at once (None: all of a round's in one batch). The worker lowers it to
        # retry a round that ran out of memory.
        self.max_batch: int | None = None
        # Called with each variant as soon as its creative is composed (before the next one is): the worker
        # hands it back then, so its card is posted before the round is done. It may raise to stop the round.
        self.on_variant: Callable[[Variant], None] | None = None

    # -- models -----------------------------------------------------------------------------------------
    def copywriter(self, language: str) -> Copywriter:
        if language not in self._copywriters:
            name = self.settings.copy_model_for(language)
            if not name:
                raise UserError(
                    f"The configured copy model does not write '{language}' copy. "
                    f"An operator can set CAMPAIGNBOT_COPY_MODEL_{language.upper()} to a model that does; "
                    "meanwhile try the brief in English (--lang en)."
                )
            self._copywriters[language] = Copywriter.load(name, self.device, self.dtype)
        cw = self._copywriters[language]
        cw.max_batch = self.max_batch
        return cw

    @property
    def visual(self) -> VisualModel | BigGANVisualModel:
        if self._visual is None:
            name = self.settings.visual_model
            if name.startswith(BIGGAN_PREFIX):
                self._visual = BigGANVisualModel.load(name[len(BIGGAN_PREFIX) :], self.device, self.dtype)
            else:
                self._visual = VisualModel.load(
                    name, self.device, self.dtype, candidates=self.settings.visual_candidates
                )
        return self._visual

    def warm_up(self, language: str = "en") -> None:
        """Load models and run one tiny generation so the first real request is not slow."""
        self.copywriter(language)
        self.visual.generate([self.visual.concepts[0]], [0])

    def model_names(self, language: str) -> dict[str, str]:
        cw = self.copywriter(language)
        return {
            "copy": f"{cw.name}@{cw.version}",
            "visual": f"{self.visual.name}@{self.visual.version}",
            "device": str(self.device),
            "dtype": str(self.dtype).replace("torch.", ""),
        }

    def _grounding(self, brief: Brief) -> dict[str, Any]:
        g = self.copywriter(brief.language).ground(brief)
        return {"category": g.category, "benefits": list(g.benefits), "source": g.source}

    # -- rounds -----------------------------------------------------------------------------------------
    def first_round(
        self,
        brief: Brief,
        *,
        variants: int = 4,
        size: str = "square",
        seed: int = 0,
        progress: Progress = _noop,
        cta: str | None = None,
        colour: str | None = None,
    ) -> Round:
        _check_round_args(variants, size)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        progress("writing copy", 0.05)
        copies = self.copywriter(brief.language).write(brief, variants, seed)
        _apply_cta(copies, cta)
        timings["copy_s"] = time.perf_counter() - t0
        progress("drawing visuals", 0.45)
        t1 = time.perf_counter()
        concept = self.visual.concept_for(concept_text(brief))
        heroes = self.visual.generate([concept] * len(copies), visual_seeds(seed, len(copies)))
        timings["visual_s"] = time.perf_counter() - t1
        out = [
            Variant(index=i + 1, copy=c, visual=h.record, palette_index=i, colour_hint=colour, hero=h.image)
            for i, (c, h) in enumerate(zip(copies, heroes, strict=True))
        ]
        rnd = Round(
            number=1,
            brief=brief,
            size=size,
            seed=seed,
            variants=out,
            models=self.model_names(brief.language),
            grounding=self._grounding(brief),
        )
        self._compose(rnd, progress, timings)
        return rnd

    def refine_round(
        self,
        parent: Round,
        choice: int,
        *,
        steering: Steering | None = None,
        note: str | None = None,
        variants: int | None = None,
        size: str | None = None,
        seed: int | None = None,
        progress: Progress = _noop,
        brief: Brief | None = None,
        cta: str | None = None,
    ) -> Round:
        """A round from variant ``choice`` (1-based) of ``parent``: copy rewritten from it, images from its
        latent neighbourhood, same size and palette unless ``steering`` changes them. ``brief`` is the
        next brief with any edits applied (default: the parent's); ``note`` is the instruction as typed,
        only recorded."""
        chosen = _chosen_variant(parent, choice)
        n = variants or len(parent.variants)
        size = size or parent.size
        _check_round_args(n, size)
        steer = steering or Steering()
        brief = brief or parent.brief
        number = parent.number + 1
        seed = refine_seed(parent.seed, number) if seed is None else seed
        timings: dict[str, float] = {}
        copies = self._rewrite_copy(brief, chosen.copy, n, seed, steer, cta, progress, timings)
        heroes = self._refine_visuals(chosen.visual, len(copies), seed, number, steer, progress, timings)
        hint = steer.colour or chosen.colour_hint
        out = [
            Variant(
                index=i + 1,
                copy=c,
                visual=h.record,
                palette_index=chosen.palette_index,
                colour_hint=hint,
                parent=choice,
                hero=h.image,
            )
            for i, (c, h) in enumerate(zip(copies, heroes, strict=True))
        ]
        rnd = Round(
            number=number,
            brief=brief,
            size=size,
            seed=seed,
            variants=out,
            models=self.model_names(brief.language),
            parent_round=parent.number,
            parent_variant=choice,
            instruction=note,
            grounding=self._grounding(brief),
        )
        self._compose(rnd, progress, timings)
        return rnd

    def _rewrite_copy(
        self,
        brief: Brief,
        chosen: CopyVariant,
        n: int,
        seed: int,
        steer: Steering,
        cta: str | None,
        progress: Progress,
        timings: dict[str, float],
    ) -> list[CopyVariant]:
        """A refine round's copy: ``n`` rewrites of the chosen copy (``cta`` fixed if given), timed."""
        t0 = time.perf_counter()
        progress("rewriting copy", 0.05)
        copies = self.copywriter(brief.language).rewrite(brief, chosen, n, seed, steer.length_step)
        _apply_cta(copies, cta)
        timings["copy_s"] = time.perf_counter() - t0
        return copies

    def _refine_visuals(
        self,
        chosen: VisualRecord,
        n: int,
        seed: int,
        number: int,
        steer: Steering,
        progress: Progress,
        timings: dict[str, float],
    ) -> list[HeroArt]:
        """A refine round's heroes: ``n`` images near the chosen one (round ``number``'s seeds), timed."""
        progress("refining visuals", 0.45)
        t1 = time.perf_counter()
        heroes = self.visual.refine(chosen, visual_seeds(seed, n, number), steer.strength)
        timings["visual_s"] = time.perf_counter() - t1
        return heroes

    def redraw(self, rnd: Round) -> Round:
        """Recompose every card of a stored round from its records (bit-for-bit on the same hardware)."""
        for v in rnd.variants:
            v.hero = self.visual.render(v.visual).image
        self._compose(rnd, _noop, {})
        return rnd

    def _compose(self, rnd: Round, progress: Progress, timings: dict[str, float]) -> None:
        t = time.perf_counter()
        for i, v in enumerate(rnd.variants):
            progress(f"composing variant {v.index}/{len(rnd.variants)}", 0.6 + 0.35 * i / len(rnd.variants))
            assert v.hero is not None
            palette = palette_for(rnd.brief.tone, v.palette_index, v.colour_hint)
            creative = compose_creative(
                v.copy,
                v.hero,
                size=rnd.size,
                tone=rnd.brief.tone,
                palette=palette,
                language=rnd.brief.language,
            )
            v.image = creative.image
            if self.on_variant is not None:
                self.on_variant(v)
        rnd.sheet = contact_sheet([v.image for v in rnd.variants if v.image is not None])
        timings["compose_s"] = time.perf_counter() - t
        rnd.timings.update(timings)
        progress("done", 1.0)


def _chosen_variant(parent: Round, choice: int) -> Variant:
    """Variant ``choice`` (1-based) of ``parent``; a :class:`UserError` naming the valid range otherwise."""
    if not 1 <= choice <= len(parent.variants):
        raise UserError(
            f"Round {parent.number} has variants 1-{len(parent.variants)}; "
            f"try --refine {min(len(parent.variants), 1)}."
        )
    return parent.variants[choice - 1]


def _apply_cta(copies: list[CopyVariant], cta: str | None) -> None:
    if cta:
        for c in copies:
            c.cta = cta


def _check_round_args(variants: int, size: str) -> None:
    if not 1 <= variants <= MAX_VARIANTS:
        raise UserError(f"Variants must be 1-{MAX_VARIANTS} (got {variants}); try --variants 4.")
    if size not in SIZES:
        raise UserError(f"Unknown size '{size}'. Sizes: {', '.join(SIZES)}; try --size square.")


# -- files --------------------------------------------------------------------------------------------------
