"""The generation chain: brief -> copy (GPT-2) -> hero art (GAN) -> finished creatives (Pillow).

A :class:`Studio` loads its models once and makes rounds: a first round from a brief, or a refine
round from one chosen variant of an earlier round. Rounds are plain data (:class:`Round`) that
serialise to ``copy.json`` so any card can be redrawn or refined later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from engine.inference.creative.types import CopyVariant
from engine.inference.device import resolve_device, resolve_dtype
from engine.inference.record import Round, Variant
from engine.inference.visual import HeroArt, VisualModel
from engine.settings import Settings
from engine.steering import Steering

# Most candidate rows of one copy-model batch on a CPU when jobs are batched (CAMPAIGNBOT_COPY_BATCH_ROWS
# unset): bench/results/copy_throughput.json measured 96 rows within 5% of 192 per token on the 2-core CPU
# (2892 and 3024 tok/s) with half the KV cache; an 8-job batch peaked at 1259 MB instead of 1395 MB.
CPU_BATCH_ROWS = 96

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


@dataclass
class RoundAsk:
    """One job's round for :meth:`Studio.make_rounds`: a first round from ``brief``, or (``parent`` and
    ``choice`` set) a refine round from variant ``choice`` of ``parent`` (``variants``, ``size`` and ``seed``
    then default to the parent's)."""

    brief: Brief
    variants: int | None = None
    size: str | None = None
    seed: int | None = None
    progress: Progress = _noop
    cta: str | None = None
    colour: str | None = None
    parent: Round | None = None
    choice: int | None = None
    steering: Steering | None = None
    note: str | None = None
    on_variant: Callable[[Variant], None] | None = None  # each creative as soon as it is composed


@dataclass
class _Plan:
    """A round in the making: its checked arguments, then its copy and heroes as they are made."""

    ask: RoundAsk
    brief: Brief
    n: int
    size: str
    seed: int
    number: int
    chosen: Variant | None  # the parent's chosen variant of a refine round
    steer: Steering
    copies: list[CopyVariant] = field(default_factory=list)
    heroes: list[HeroArt] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def _one(results: list[Round | Exception]) -> Round:
    [result] = results
    if isinstance(result, Exception):
        raise result
    return result


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
        cw.batch_rows = self.settings.copy_batch_rows or (
            CPU_BATCH_ROWS if self.device.type == "cpu" else None
        )
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
        ask = RoundAsk(
            brief, variants=variants, size=size, seed=seed, progress=progress, cta=cta, colour=colour
        )
        return _one(self.make_rounds([ask]))

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
        ask = RoundAsk(
            brief or parent.brief,
            variants=variants,
            size=size,
            seed=seed,
            progress=progress,
            cta=cta,
            parent=parent,
            choice=choice,
            steering=steering,
            note=note,
        )
        return _one(self.make_rounds([ask]))

    def make_rounds(self, asks: list[RoundAsk]) -> list[Round | Exception]:
        """Several jobs' rounds at once (cross-job micro-batching): all their copy candidates in shared
        model batches (:meth:`Copywriter.write_many`: seeds and sampling settings kept per job, so each
        job's cards are the ones it gets alone), all first-round hero candidates in one forward, then each
        round composed. Each job's progress callback, errors and cancellation stay its own: an exception
        in one job's part (including one its progress callback raises) is that job's result, and its
        batch-mates go on. A single round is a batch of one (:meth:`first_round`, :meth:`refine_round`)."""
        out: list[Round | Exception | None] = [None] * len(asks)
        plans: dict[int, _Plan] = {}
        for i, ask in enumerate(asks):
            try:
                plans[i] = self._plan(ask)
                ask.progress("rewriting copy" if ask.parent is not None else "writing copy", 0.05)
            except Exception as exc:
                out[i] = exc
                plans.pop(i, None)
        self._write_copy(plans, out)
        self._draw_heroes(plans, out)
        made: dict[int, Round] = {}
        for i, plan in plans.items():
            if out[i] is not None:
                continue
            try:
                made[i] = self._assemble(plan)
            except Exception as exc:
                out[i] = exc
        ids = list(made)
        errors = self._compose_many(
            [(made[i], plans[i].ask.progress, plans[i].timings, plans[i].ask.on_variant) for i in ids]
        )
        for i, err in zip(ids, errors, strict=True):
            out[i] = err if err is not None else made[i]
        return [o if o is not None else RuntimeError("round not made") for o in out]

    def _plan(self, ask: RoundAsk) -> _Plan:
        """What a round needs, its arguments checked (a :class:`UserError` for bad ones)."""
        if ask.parent is None:
            n, size = 4 if ask.variants is None else ask.variants, ask.size or "square"
            _check_round_args(n, size)
            return _Plan(ask, ask.brief, n, size, ask.seed or 0, 1, None, Steering())
        assert ask.choice is not None
        chosen = _chosen_variant(ask.parent, ask.choice)
        n = ask.variants or len(ask.parent.variants)
        size = ask.size or ask.parent.size
        _check_round_args(n, size)
        number = ask.parent.number + 1
        seed = refine_seed(ask.parent.seed, number) if ask.seed is None else ask.seed
        return _Plan(ask, ask.brief, n, size, seed, number, chosen, ask.steering or Steering())

    def _write_copy(self, plans: dict[int, _Plan], out: list[Round | Exception | None]) -> None:
        """Every planned job's copy, the jobs of one language in one :meth:`Copywriter.write_many`."""
        by_writer: dict[str, list[int]] = {}
        for i, plan in plans.items():
            try:
                self.copywriter(plan.brief.language)
            except Exception as exc:
                out[i] = exc
                continue
            by_writer.setdefault(plan.brief.language, []).append(i)
        for language, ids in by_writer.items():
            cw = self.copywriter(language)
            t0 = time.perf_counter()
            steps = []
            for i in ids:
                plan = plans[i]
                if plan.chosen is None:
                    steps.append(cw.write_steps(plan.brief, plan.n, plan.seed))
                else:
                    steps.append(
                        cw.rewrite_steps(
                            plan.brief, plan.chosen.copy, plan.n, plan.seed, plan.steer.length_step
                        )
                    )
            results = cw.write_many(steps)
            spent = time.perf_counter() - t0
            for i, res in zip(ids, results, strict=True):
                if isinstance(res, Exception):
                    out[i] = res
                    continue
                _apply_cta(res, plans[i].ask.cta)
                plans[i].copies = res
                plans[i].timings["copy_s"] = spent

    def _draw_heroes(self, plans: dict[int, _Plan], out: list[Round | Exception | None]) -> None:
        """Every job's hero art: the first rounds' candidates in one forward, refine rounds each near their
        chosen image."""
        live = [i for i in plans if out[i] is None]
        for i in live:
            plan = plans[i]
            try:
                plan.ask.progress("refining visuals" if plan.chosen else "drawing visuals", 0.45)
            except Exception as exc:
                out[i] = exc
        firsts = [i for i in live if out[i] is None and plans[i].chosen is None]
        if firsts:
            t1 = time.perf_counter()
            concepts: list[str] = []
            seeds: list[int] = []
            for i in firsts:
                plan = plans[i]
                concept = self.visual.concept_for(concept_text(plan.brief))
                concepts += [concept] * len(plan.copies)
                seeds += visual_seeds(plan.seed, len(plan.copies))
            try:
                heroes = self.visual.generate(concepts, seeds)
            except Exception as exc:
                for i in firsts:
                    out[i] = exc
            else:
                spent = time.perf_counter() - t1
                at = 0
                for i in firsts:
                    plan = plans[i]
                    plan.heroes = heroes[at : at + len(plan.copies)]
                    at += len(plan.copies)
                    plan.timings["visual_s"] = spent
        for i in live:
            plan = plans[i]
            if out[i] is not None or plan.chosen is None:
                continue
            t1 = time.perf_counter()
            try:
                plan.heroes = self.visual.refine(
                    plan.chosen.visual,
                    visual_seeds(plan.seed, len(plan.copies), plan.number),
                    plan.steer.strength,
                )
            except Exception as exc:
                out[i] = exc
                continue
            plan.timings["visual_s"] = time.perf_counter() - t1

    def _assemble(self, plan: _Plan) -> Round:
        """The round of ``plan`` from its copy and heroes (composed next)."""
        ask, chosen = plan.ask, plan.chosen
        if chosen is None:
            variants = [
                Variant(
                    index=i + 1,
                    copy=c,
                    visual=h.record,
                    palette_index=i,
                    colour_hint=ask.colour,
                    hero=h.image,
                )
                for i, (c, h) in enumerate(zip(plan.copies, plan.heroes, strict=True))
            ]
            rnd = Round(
                number=1,
                brief=plan.brief,
                size=plan.size,
                seed=plan.seed,
                variants=variants,
                models=self.model_names(plan.brief.language),
                grounding=self._grounding(plan.brief),
            )
        else:
            assert ask.parent is not None and ask.choice is not None
            hint = plan.steer.colour or chosen.colour_hint
            variants = [
                Variant(
                    index=i + 1,
                    copy=c,
                    visual=h.record,
                    palette_index=chosen.palette_index,
                    colour_hint=hint,
                    parent=ask.choice,
                    hero=h.image,
                )
                for i, (c, h) in enumerate(zip(plan.copies, plan.heroes, strict=True))
            ]
            rnd = Round(
                number=plan.number,
                brief=plan.brief,
                size=plan.size,
                seed=plan.seed,
                variants=variants,
                models=self.model_names(plan.brief.language),
                parent_round=ask.parent.number,
                parent_variant=ask.choice,
                instruction=ask.note,
                grounding=self._grounding(plan.brief),
            )
        return rnd

    def redraw(self, rnd: Round) -> Round:
        """Recompose every card of a stored round from its records (bit-for-bit on the same hardware)."""
        for v in rnd.variants:
            v.hero = self.visual.render(v.visual).image
        self._compose(rnd, _noop, {})
        return rnd

    def _compose(
        self,
        rnd: Round,
        progress: Progress,
        timings: dict[str, float],
        on_variant: Callable[[Variant], None] | None = None,
    ) -> None:
        [err] = self._compose_many([(rnd, progress, timings, on_variant)])
        if err is not None:
            raise err

    def _compose_many(
        self, jobs: list[tuple[Round, Progress, dict[str, float], Callable[[Variant], None] | None]]
    ) -> list[Exception | None]:
        """Compose the creatives of several rounds variant by variant across the rounds (every round's first
        card, then every round's second, ...), so each job's first card is ready early and handed to its
        ``on_variant`` (default: :attr:`on_variant`) at once; then each round's contact sheet. An error in
        one round (its progress callback may raise to cancel it) stops that round alone."""
        errors: list[Exception | None] = [None] * len(jobs)
        t = time.perf_counter()
        for k in range(max((len(rnd.variants) for rnd, *_ in jobs), default=0)):
            for j, (rnd, progress, _, hook) in enumerate(jobs):
                if errors[j] is not None or k >= len(rnd.variants):
                    continue
                try:
                    self._compose_variant(rnd, rnd.variants[k], progress, hook or self.on_variant)
                except Exception as exc:
                    errors[j] = exc
        for j, (rnd, progress, timings, _) in enumerate(jobs):
            if errors[j] is not None:
                continue
            try:
                rnd.sheet = contact_sheet([v.image for v in rnd.variants if v.image is not None])
                timings["compose_s"] = time.perf_counter() - t
                rnd.timings.update(timings)
                progress("done", 1.0)
            except Exception as exc:
                errors[j] = exc
        return errors

    def _compose_variant(
        self, rnd: Round, v: Variant, progress: Progress, hook: Callable[[Variant], None] | None
    ) -> None:
        i = v.index - 1
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
        if hook is not None:
            hook(v)


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
