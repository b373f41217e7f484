"""Sampled candidates and the checks that reject them: the copy rules plus what only a model's output
gets wrong (a missing field, a placeholder left in, a prompt line leaking, a made-up word), and the
repair of rejected candidates when too few valid ones came.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.brief import Brief
from engine.inference.copywriter.placeholders import unfilled
from engine.inference.creative.copy_rules import (
    copy_text,
    cta_problem,
    cta_strays,
    edit_similarity,
    filter_reasons,
    repair,
    repeated_word,
    unknown_words,
    within_limits,
    words,
)
from engine.inference.creative.types import CopyVariant
from engine.inference.product_knowledge import Grounding

_RUN_ON = re.compile(r"[a-z][.!?][A-Z][a-z]")
_MISSPELT_PLACEHOLDER = re.compile(r"\b(?:Product|Item)s?\b|,(?:Product|Item)")


@dataclass
class Candidate:
    copy: CopyVariant
    complete: bool
    reasons: list[str]
    repaired: bool = False
    prompt: str = ""
    # a fact where it does not fit the sentence (fact_slots.fit_facts): ranked down, not rejected
    misfit: bool = False


@dataclass(frozen=True)
class Checks:
    """What the candidates of one sampling batch are checked against."""

    brief: Brief
    context: Brief  # the brief with the grounding as keywords: words the copy may use unseen in training
    about: list[str]  # words of the product, audience, keywords and grounding
    own: list[str]  # words of the product line
    grounded: bool
    fact_slots: bool
    lexicon: frozenset[str] | None

    @classmethod
    def of(
        cls,
        brief: Brief,
        grounding: Grounding,
        grounded: bool,
        fact_slots: bool,
        lexicon: frozenset[str] | None,
    ) -> Checks:
        context = Brief(
            product=brief.product,
            audience=brief.audience,
            keywords=(*brief.keywords, grounding.category, *grounding.benefits),
        )
        about = words(" ".join([brief.product, brief.audience, *brief.keywords, grounding.category,
                                *grounding.benefits]))  # fmt: skip
        own = words(brief.product)
        return cls(brief, context, about, own, grounded, fact_slots, lexicon)


def candidate_reasons(copy: CopyVariant, complete: bool, checks: Checks) -> list[str]:
    """Why a sampled (filled, neutralised) candidate is rejected; empty: it is valid."""
    reasons = filter_reasons(copy, checks.brief)
    if not complete:
        reasons.append("missing field")
    if unfilled(copy):
        reasons.append("placeholder with nothing behind it")
    if checks.fact_slots and any(repeated_word(f) for f in (copy.headline, copy.body)):
        # filled facts bypass the decoder's repetition block ("leak-proof and sweat-free and leak-proof")
        reasons.append("a word twice in a field")
    problem = cta_problem(copy.cta)
    if problem and complete:
        reasons.append(f"call to action {problem}")
    strays = cta_strays(copy.cta, checks.about) if checks.grounded else []
    if strays and complete:  # "Explore Kids' Raincoats" for building blocks
        reasons.append(f"call to action about '{strays[0]}'")
    if _RUN_ON.search(f"{copy.headline} {copy.body}"):
        reasons.append("no space after a full stop")  # "daily.Benef the ovens": a prompt line leaking
    if _MISSPELT_PLACEHOLDER.search(f"{copy.headline} {copy.body}") and "product" not in checks.own:
        reasons.append("a placeholder written as a word")  # "Your First Coaching,Product Day"
    if checks.lexicon is not None:
        unknown = unknown_words(copy, checks.context, checks.lexicon)
        if unknown:
            reasons.append(f"unknown word '{unknown[0]}'")
    return reasons


def repaired(pool: list[Candidate], brief: Brief, parent: CopyVariant | None, need: int) -> list[Candidate]:
    """Fix what can be fixed (lengths, product name) in rejected candidates, best first."""
    fixed: list[Candidate] = []
    for cand in pool:
        if not cand.reasons or not (cand.copy.headline or cand.copy.body):
            continue
        copy = repair(cand.copy, brief)
        reasons = filter_reasons(copy, brief)
        if parent is not None and edit_similarity(copy_text(copy), copy_text(parent)) > 0.85:
            reasons.append("same as the parent")
        problem = cta_problem(copy.cta)
        if problem:
            reasons.append(f"call to action {problem}")
        fixed.append(
            Candidate(copy, cand.complete, reasons, repaired=True, prompt=cand.prompt, misfit=cand.misfit)
        )
    # Fully valid repairs first, then the ones with the fewest remaining problems.
    fixed.sort(key=lambda c: (len(c.reasons), not c.complete, not within_limits(c.copy, brief)))
    return fixed[: max(need, 0) * 2]
