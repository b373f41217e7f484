"""The copywriter: any causal LM (the house GPT-2 by default) writes headline, body and call to action.

The model sees a fixed plain-text prompt (see :func:`.prompts.render_prompt`) and completes the three fields. House
models name the product by placeholder (``PRODUCT``/``ITEM``) and, from version 4 (``grounded-v4``), each
grounding benefit by its label (``FACT1``..``FACT3``); :func:`.placeholders.fill_copy` writes them out.
Many candidates are sampled in one batched ``generate`` call, neutralised, filtered with
:mod:`engine.inference.creative.copy_rules`, scored (model likelihood + keyword coverage) and picked greedily with a
diversity penalty, so the variants a marketer sees are valid and not near-duplicates.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import random
from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from engine.brief import Brief
from engine.errors import ModelError
from engine.inference import stock_phrases
from engine.inference.copywriter.candidates import Candidate, Checks, candidate_reasons, repaired
from engine.inference.copywriter.decoding import Sampling
from engine.inference.copywriter.placeholders import fill_copy
from engine.inference.copywriter.prompts import (
    ANGLES,
    FACTS_FORMAT,
    GROUNDED_FORMATS,
    LEXICON_FILE,
    few_shot_prompt,
    length_label,
    parse_completion,
    prompt_format,
    render_prompt,
    uses_placeholders,
)
from engine.inference.copywriter.ranking import ScoringMixin, near_duplicates, pick_diverse
from engine.inference.copywriter.tuning import (
    CANDIDATES_PER_VARIANT,
    FALLBACK_TEMPERATURE,
    MAX_NEW_TOKENS,
    MIN_CANDIDATES,
    PROMPT_GROUPS,
    ROUNDS,
    SPREAD_TEMPERATURE,
    TEMPERATURE,
)
from engine.inference.creative.copy_rules import copy_text, edit_similarity
from engine.inference.creative.types import CopyVariant
from engine.inference.fact_slots import fit_facts
from engine.inference.product_knowledge import Grounding, ProductKnowledge
from engine.neutralize import neutralize
from engine.settings import HOUSE_COPY_MODEL
from engine.steering import steer_length

logger = logging.getLogger(__name__)

# One job's copy as steps: it yields the sampling requests it waits on, is sent their completions (one list
# per request) and returns its variants. :meth:`Copywriter.write_many` runs several jobs' steps together.
CopySteps = Generator[list[Sampling], list[list[str]], list[CopyVariant]]


class Copywriter(ScoringMixin):
    """A loaded copy model. ``name`` and ``version`` identify it in round metadata (``name@version``)."""

    def __init__(self, model: Any, tokenizer: Any, name: str, version: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.version = version
        self._logit_bias: torch.Tensor | None = None
        self.stock: frozenset[tuple[str, ...]] = frozenset()  # the model's filler 4-grams (stock_phrases)
        self._content_starts: torch.Tensor | None = None
        self._word_starts = torch.zeros(0, dtype=torch.bool)  # set with _content_starts
        self._newlines: torch.Tensor | None = None
        self._labels: tuple[set[int], set[int], list[int]] | None = None  # how FACT labels tokenize
        # transformers 5 renamed ``past_key_values`` to ``cache``; older versions only know the former.
        params = inspect.signature(model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        # Only the last position's logits while sampling: the LM head over every prompt position and all
        # 50,257 tokens was most of the time of a round on the CPU.
        self._last_only = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self.placeholders = uses_placeholders(model)
        # House models from version 3 read the grounded prompt (category, benefits, angle); any other
        # model (a hub GPT-2) gets the few-shot prompt of FEW_SHOT in front of the same request.
        self.grounded = prompt_format(model) in GROUNDED_FORMATS
        self.fact_slots = prompt_format(model) == FACTS_FORMAT  # writes FACT1.. for the benefits
        # Every word the model saw in training completions (house models ship it as lexicon.txt): sampled
        # candidates with made-up words are rejected. None for models without one (no check).
        self.lexicon: frozenset[str] | None = None
        self.knowledge: ProductKnowledge | None = None
        self._groundings: dict[tuple[str, tuple[str, ...]], Grounding] = {}

    # -- loading ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, name_or_path: str, device: torch.device, dtype: torch.dtype) -> Copywriter:
        """Load any causal LM by local directory or by hub id (from the local cache only, never the network)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(name_or_path).expanduser()
        # "org/name" is a hub id; anything absolute, relative-looking or deeper is a path.
        looks_like_path = (
            path.is_absolute()
            or name_or_path.startswith((".", "~"))
            or name_or_path.count("/") > 1
            or "\\" in name_or_path
        )
        if looks_like_path and not path.exists():
            raise ModelError(
                f"Copy model directory {name_or_path} does not exist; point CAMPAIGNBOT_COPY_MODEL at a model "
                "directory (the house model is engine/inference/house/copy-en) or rebuild it with "
                "'campaignbot train copy fit'."
            )
        if path.exists() and not path.is_dir():
            raise ModelError(f"Copy model {name_or_path} is a file; expected a Hugging Face model directory.")
        source = str(path) if path.is_dir() else name_or_path
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError) as exc:
            where = (
                "directory"
                if path.is_dir()
                else "model id: no such local directory, and not in the local Hugging Face cache (never downloaded)"
            )
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"Could not load copy model {name_or_path!r} as a {where}: {first[:200]}. "
                "Use a directory with config.json, weights and tokenizer files, e.g. engine/inference/house/copy-en."
            ) from exc
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        model.to(device=device, dtype=dtype).eval()
        name = path.name if path.is_dir() else name_or_path
        logger.info("copy model %s loaded on %s (%s)", name, device, dtype)
        writer = cls(model, tokenizer, name, _version_of(path if path.is_dir() else None, model))
        lexicon = path / LEXICON_FILE if path.is_dir() else None
        if lexicon is not None and lexicon.is_file():
            writer.lexicon = frozenset(w for w in lexicon.read_text(encoding="utf-8").split() if w)
        if path.is_dir():
            writer.stock = stock_phrases.load(path)
        # The product knowledge table: shipped with the house model; any other model borrows the house one.
        for directory in ([path] if path.is_dir() else []) + [HOUSE_COPY_MODEL]:
            writer.knowledge = ProductKnowledge.load(directory)
            if writer.knowledge is not None:
                break
        return writer

    # -- public API ------------------------------------------------------------------------------------
    def ground(self, brief: Brief) -> Grounding:
        """The category and benefits the copy is conditioned on (see :mod:`product_knowledge`); the last
        few answers are kept, since a round asks for the same brief more than once."""
        key = (brief.product, brief.keywords)
        if key not in self._groundings:
            if self.knowledge is None:
                found = Grounding(
                    benefits=tuple(brief.keywords[:3]), source="keywords" if brief.keywords else ""
                )
            else:
                found = self.knowledge.ground(brief)
            if len(self._groundings) >= 64:
                self._groundings.pop(next(iter(self._groundings)))
            self._groundings[key] = found
        return self._groundings[key]

    def write(self, brief: Brief, n: int, seed: int) -> list[CopyVariant]:
        """``n`` distinct, valid variants for ``brief``; the same seed gives the same variants."""
        return self._drive(self.write_steps(brief, n, seed))

    def rewrite(
        self, brief: Brief, parent: CopyVariant, n: int, seed: int, length_step: int = 0
    ) -> list[CopyVariant]:
        """``n`` new variants that keep ``parent``'s idea (its headline) for ``brief`` (already steered:
        tone, keywords). ``length_step`` ("shorter" -1, "longer" +1) is relative to the parent's actual
        body, never stacked on a brief that a caller already steered."""
        return self._drive(self.rewrite_steps(brief, parent, n, seed, length_step))

    def write_steps(self, brief: Brief, n: int, seed: int) -> CopySteps:
        """:meth:`write` as steps (see :data:`CopySteps`), for :meth:`write_many`."""
        return self._variants(brief, None, n, seed, parent=None)

    def rewrite_steps(
        self, brief: Brief, parent: CopyVariant, n: int, seed: int, length_step: int = 0
    ) -> CopySteps:
        """:meth:`rewrite` as steps (see :data:`CopySteps`), for :meth:`write_many`."""
        length = steer_length(length_step, length_label(parent.body), brief.length)
        return self._variants(replace(brief, length=length), parent.headline, n, seed, parent=parent)

    def write_many(self, jobs: list[CopySteps]) -> list[list[CopyVariant] | Exception]:
        """Several jobs' copy at once: whenever every job still writing waits on sampling, all their
        sampling requests are decoded together (:meth:`sample_many`: shared model batches, a generator per
        request), so each job gets the copy it gets alone. A job that raises fails alone; a failure of a
        shared batch (e.g. out of memory) fails the jobs in it."""
        out: list[list[CopyVariant] | Exception | None] = [None] * len(jobs)
        waiting: dict[int, list[Sampling]] = {}

        def advance(i: int, reply: list[list[str]] | None) -> None:
            try:
                waiting[i] = next(jobs[i]) if reply is None else jobs[i].send(reply)
            except StopIteration as done:
                out[i] = done.value
            except Exception as exc:  # this job's own error: its batch-mates go on
                out[i] = exc

        for i in range(len(jobs)):
            advance(i, None)
        while waiting:
            ready = sorted(waiting)
            asks = [waiting.pop(i) for i in ready]
            try:
                answers = self.sample_many([r for a in asks for r in a])
            except Exception as exc:
                for i in ready:
                    jobs[i].close()
                    out[i] = exc
                continue
            at = 0
            for i, a in zip(ready, asks, strict=True):
                advance(i, answers[at : at + len(a)])
                at += len(a)
        return [o if o is not None else [] for o in out]

    def _drive(self, steps: CopySteps) -> list[CopyVariant]:
        """Run one job's steps alone: each sampling request decoded as soon as it is asked."""
        [result] = self.write_many([steps])
        if isinstance(result, Exception):
            raise result
        return result

    def prompts(self, brief: Brief, idea: str | None, groups: int, seed: int) -> list[str]:
        """One prompt per candidate group. A grounded model gets the product's facts and a different
        angle per group (drawn by ``seed``); other models get the few-shot prompt."""
        grounding = self.ground(brief)
        if not self.grounded:
            if self.placeholders:  # a house model of version 2: the plain prompt it was trained on
                return [render_prompt(brief, idea=idea)]
            return [few_shot_prompt(brief, grounding, idea)]
        rng = random.Random(seed)
        angles = rng.sample(ANGLES, min(groups, len(ANGLES)))
        return [
            render_prompt(brief, idea=idea, grounding=grounding, angle=a, facts=self.fact_slots)
            for a in angles
        ]

    # -- internals -------------------------------------------------------------------------------------

    def _variants(
        self, brief: Brief, idea: str | None, n: int, seed: int, parent: CopyVariant | None
    ) -> CopySteps:
        n = max(1, int(n))
        k = max(MIN_CANDIDATES, CANDIDATES_PER_VARIANT * n)
        prompts = self.prompts(brief, idea, max(n, PROMPT_GROUPS), seed)
        grounding = self.ground(brief)
        seen: set[str] = set()
        pool = yield from self._pool(brief, grounding, prompts, k, n, seed, parent, seen)
        good = _fill_with_repairs(pool, brief, parent, n)
        self._score(brief, grounding, good)
        picked = pick_diverse([c.copy for c in good], n)
        if self.grounded and near_duplicates(picked):
            # two of the cards would read alike: one more, warmer batch gives the picker other choices
            spread = yield from self._sample(
                brief, grounding, prompts, k, seed + 7_000_003, SPREAD_TEMPERATURE
            )
            for cand in spread:
                key = copy_text(cand.copy).lower()
                if key in seen or cand.reasons:
                    continue
                if parent is not None and edit_similarity(copy_text(cand.copy), copy_text(parent)) > 0.85:
                    continue
                seen.add(key)
                self._score(brief, grounding, [cand])
                good.append(cand)
            picked = pick_diverse([c.copy for c in good], n)
        return picked

    def _pool(
        self,
        brief: Brief,
        grounding: Grounding,
        prompts: list[str],
        k: int,
        n: int,
        seed: int,
        parent: CopyVariant | None,
        seen: set[str],
    ) -> Generator[list[Sampling], list[list[str]], list[Candidate]]:
        """Distinct candidates (their texts added to ``seen``) from up to ``ROUNDS`` sampling batches, and
        one hotter batch when those gave fewer than ``n`` valid headlines."""
        pool: list[Candidate] = []
        for attempt in range(ROUNDS + 1):
            # the last round, only reached when too few distinct valid candidates came, samples hotter
            temperature = TEMPERATURE if attempt < ROUNDS else FALLBACK_TEMPERATURE
            batch = yield from self._sample(
                brief, grounding, prompts, k, seed + attempt * 1_000_003, temperature
            )
            for cand in batch:
                key = copy_text(cand.copy).lower()
                if key in seen:
                    continue
                seen.add(key)
                if parent is not None and edit_similarity(copy_text(cand.copy), copy_text(parent)) > 0.85:
                    cand.reasons.append("same as the parent")
                pool.append(cand)
            if len({c.copy.headline.lower() for c in pool if not c.reasons}) >= n:
                break
        return pool

    def _sample(
        self,
        brief: Brief,
        grounding: Grounding,
        prompts: list[str],
        k: int,
        seed: int,
        temperature: float = TEMPERATURE,
    ) -> Generator[list[Sampling], list[list[str]], list[Candidate]]:
        budget = brief.headline_max() + brief.body_max() + brief.cta_max()
        per = [k // len(prompts) + (1 if i < k % len(prompts) else 0) for i in range(len(prompts))]
        rows = [(p, c) for p, c in zip(prompts, per, strict=True) for _ in range(c)]
        # the copy boost spells facts out; a version-4 model writes their labels and needs none
        facts = self._fact_tokens(brief, grounding) if self.grounded and not self.fact_slots else []
        texts = yield from self._sampling(
            [p for p, _ in rows], min(MAX_NEW_TOKENS, budget // 3 + 16), seed, temperature, facts
        )
        checks = Checks.of(brief, grounding, self.grounded, self.fact_slots, self.lexicon)
        return [
            self._candidate(prompt, text, grounding, checks)
            for (prompt, _), text in zip(rows, texts, strict=True)
        ]

    def _sampling(
        self, prompts: list[str], max_new: int, seed: int, temperature: float, facts: list[list[int]]
    ) -> Generator[list[Sampling], list[list[str]], list[str]]:
        """Ask for one completion per prompt: one request, or (``max_batch`` set, e.g. retrying a round that
        ran out of memory) requests of at most ``max_batch`` prompts with seeds of their own."""
        size = self.max_batch or len(prompts) or 1
        asks = [
            Sampling(
                prompts[a : a + size],
                max_new,
                seed + j * 7919 if len(prompts) > size else seed,
                temperature,
                facts,
            )
            for j, a in enumerate(range(0, len(prompts), size))
        ]
        answers = yield asks
        return [t for texts in answers for t in texts]

    def _candidate(self, prompt: str, text: str, grounding: Grounding, checks: Checks) -> Candidate:
        """One sampled completion as copy: parsed, its facts and placeholders filled, neutralised, checked."""
        copy, complete = parse_completion(text)
        misfit = False
        fact_texts: tuple[str, ...] = ()
        if self.fact_slots:  # which benefit behind which label, and the sentence mended around it
            fitted = fit_facts([copy.headline, copy.body, copy.cta], grounding.benefits)
            copy = replace(copy, headline=fitted.fields[0], body=fitted.fields[1], cta=fitted.fields[2])
            misfit, fact_texts = fitted.misfits > 0, fitted.facts
        if self.placeholders:
            copy = fill_copy(copy, checks.brief, fact_texts)
        copy = CopyVariant(neutralize(copy.headline), neutralize(copy.body), neutralize(copy.cta))
        return Candidate(
            copy, complete, candidate_reasons(copy, complete, checks), prompt=prompt, misfit=misfit
        )


def _version_of(directory: Path | None, model: Any) -> str:
    """Short hash of the config and the weights file(s), so rounds record exactly which model wrote them."""
    h = hashlib.sha256()
    if directory is not None:
        files = [directory / "config.json"] + sorted(
            p for p in directory.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file()
        )
        for f in files:
            if f.exists():
                h.update(f.name.encode())
                h.update(f.read_bytes())
    else:
        h.update(model.config.to_json_string().encode())
        for name, tensor in sorted(model.state_dict().items())[:8]:
            h.update(name.encode())
            h.update(tensor.detach().float().cpu().numpy().tobytes()[:65536])
    return h.hexdigest()[:10]


def _fill_with_repairs(
    pool: list[Candidate], brief: Brief, parent: CopyVariant | None, n: int
) -> list[Candidate]:
    """The valid candidates of ``pool``; when fewer than ``n`` (or fewer than ``n`` headlines), repaired
    candidates fill the gap, those with a headline not yet seen first."""
    good = [c for c in pool if not c.reasons]
    heads = {c.copy.headline.lower() for c in good}
    if len(good) < n or len(heads) < n:
        keys = {copy_text(c.copy).lower() for c in good}
        extra = [c for c in repaired(pool, brief, parent, len(pool)) if copy_text(c.copy).lower() not in keys]
        extra.sort(key=lambda c: c.copy.headline.lower() in heads)  # stable: new headlines first
        for cand in extra:
            if len(good) >= n and len(heads) >= n:
                break
            if cand.copy.headline.lower() in heads and len(good) >= n:
                continue
            keys.add(copy_text(cand.copy).lower())
            heads.add(cand.copy.headline.lower())
            good.append(cand)
    return good
