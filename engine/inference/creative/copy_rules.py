"""Rules for ad copy: filters and ranking metrics. Pure Python (no torch), shared by the copywriter,
the corpus builder and the quality benchmark.

Every check takes a :class:`~engine.inference.creative.types.CopyVariant` (or plain text) and a
:class:`~engine.brief.Brief` and is deterministic, so a benchmark can report the same numbers the
copywriter optimises. The word lists the rules use live in :mod:`engine.inference.creative.copy_words`
(re-exported here: ``CTA_VERBS``, ``CTA_GENERIC``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

from engine.brief import Brief
from engine.inference.creative.concepts import stem
from engine.inference.creative.copy_words import (
    _CTA_DETERMINERS,
    _CTA_OPEN_ADJECTIVES,
    _DANGLING,
    _LIGHT_WORDS,
    CTA_GENERIC,
    CTA_VERBS,
)
from engine.inference.creative.types import CopyVariant
from engine.neutralize import has_mention_or_markup, neutralize

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?…]['\")\]”’]*$")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])\s+")


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits, inner apostrophes kept)."""
    return [w.lower() for w in _WORD.findall(text)]


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def repeated_ngram(text: str, n: int = 3) -> bool:
    """True if some word n-gram occurs more than once in ``text`` (a sign of a looping generation)."""
    grams = ngrams(words(text), n)
    return len(grams) != len(set(grams))


def repeated_word(text: str) -> bool:
    """True if a content word (4+ letters) occurs twice in one field: "high-quality, high-quality
    materials", "timeless and timeless" read as stutter in an ad. Measured by bench/quality.py; not a
    filter (rejecting or down-ranking it left the house model with less fluent, less distinct variants)."""
    seen: set[str] = set()
    for w in words(text):
        if len(w) < 4 or w in _LIGHT_WORDS:
            continue
        if w in seen:
            return True
        seen.add(w)
    return False


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry meaning: 4+ letters, not a light function word."""
    return [w for w in words(text) if len(w) >= 4 and w not in _LIGHT_WORDS]


CTA_MAX_WORDS = 5


def cta_problem(cta: str) -> str | None:
    """Why ``cta`` is not a real call to action (a verb-led phrase of at most five words), or None."""
    ws = re.findall(r"[A-Za-z][A-Za-z'-]*", cta)
    if not ws:
        return "is empty"
    if len(cta.split()) > CTA_MAX_WORDS:
        return f"has more than {CTA_MAX_WORDS} words"
    if ws[0].lower() not in CTA_VERBS:
        return f"does not start with a verb ('{ws[0]}')"
    if len(ws) == 1 and ws[0].lower() not in {"subscribe", "donate", "rsvp", "register", "enroll", "explore"}:
        return "is a single word"
    last = ws[-1].lower()
    before = ws[-2].lower() if len(ws) > 1 else ""
    if (
        last in _DANGLING
        or last in _CTA_DETERMINERS
        or (last in _CTA_OPEN_ADJECTIVES and before in _CTA_DETERMINERS)
    ):
        return f"ends on '{ws[-1]}'"
    return None


def cta_strays(cta: str, about: Iterable[str]) -> list[str]:
    """Content words of a call to action after its verb that are neither about the product (``about``: its
    words, category, benefits, keywords; stemmed) nor a generic button object (CTA_GENERIC): "Explore Kids'
    Raincoats" for building blocks -> ["raincoats"]."""
    keep = {stem(w) for w in about}
    out = []
    for w in content_words(cta)[1:]:
        s = stem(w.strip("'"))
        if (
            s not in keep
            and s not in CTA_GENERIC
            and w not in CTA_GENERIC
            and s[:5] not in {k[:5] for k in keep}
        ):
            out.append(w)
    return out


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Distinct-n over a set of texts: unique word n-grams / all word n-grams (0.0 when there are none)."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        grams.extend(ngrams(words(text), n))
    return len(set(grams)) / len(grams) if grams else 0.0


def edit_similarity(a: str, b: str) -> float:
    """Normalised similarity in [0, 1] of two strings (1.0 = identical, case and spacing ignored)."""
    return _similarity(" ".join(a.lower().split()), " ".join(b.lower().split()))


@functools.lru_cache(maxsize=4096)
def _similarity(a_norm: str, b_norm: str) -> float:
    """Kept: the diversity picker asks for the same pairs again at every pick."""
    if not a_norm and not b_norm:
        return 1.0
    return SequenceMatcher(None, a_norm, b_norm, autojunk=False).ratio()


def copy_text(copy: CopyVariant) -> str:
    """The whole variant as one string, for similarity and diversity metrics."""
    return f"{copy.headline}\n{copy.body}\n{copy.cta}"


def within_limits(copy: CopyVariant, brief: Brief) -> bool:
    """Every field is non-empty and within the brief's character limits."""
    return (
        0 < len(copy.headline.strip()) <= brief.headline_max()
        and 0 < len(copy.body.strip()) <= brief.body_max()
        and 0 < len(copy.cta.strip()) <= brief.cta_max()
    )


def _contains_term(text: str, term: str, *, plural: bool = False) -> bool:
    term = term.strip().lower()
    if not term:
        return False
    if not term[0].isalnum() or not term[-1].isalnum() or re.search(r"[\u3400-\u9fff]", term):
        return term in text.lower()
    stem = term
    if plural and len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        stem = term[:-2] if term.endswith(("ches", "shes", "xes", "sses")) else term[:-1]
    suffix = r"(?:s|es)?" if plural else ""
    return re.search(rf"(?<![\w]){re.escape(stem)}{suffix}(?![\w])", text, re.IGNORECASE) is not None


def names_product(copy: CopyVariant, brief: Brief) -> bool:
    """The product's head noun (``watch`` for ``smart watch for runners``) is in the headline or body."""
    text = f"{copy.headline}\n{copy.body}"
    if _contains_term(text, brief.head_noun, plural=True):
        return True
    # "smartwatch" names a "smart watch"; "e-reader" an "e reader".
    compact = re.sub(r"[\s-]+", "", brief.product_phrase.lower())
    return len(compact) > len(brief.head_noun) and compact in re.sub(r"[\s-]+", "", text.lower())


def keyword_coverage(copy: CopyVariant, brief: Brief) -> float:
    """Share of the brief's keywords that appear anywhere in the copy (1.0 when there are none)."""
    if not brief.keywords:
        return 1.0
    text = copy_text(copy)
    hits = sum(1 for k in brief.keywords if _contains_term(text, k, plural=True))
    return hits / len(brief.keywords)


def fact_coverage(copy: CopyVariant, facts: Sequence[str], exclude: Iterable[str] = ()) -> float:
    """Share of ``facts`` (benefit phrases) of which the headline or body uses at least one content word
    (a five-letter prefix match counts: "insulated" uses "insulation"); 0.0 when there are none.
    Words in ``exclude`` (the product's own) do not count."""
    if not facts:
        return 0.0
    skip = set(exclude)
    have = {w[:5] for w in content_words(f"{copy.headline} {copy.body}") if w not in skip}
    used = sum(any(w[:5] in have for w in content_words(f) if w not in skip) for f in facts)
    return used / len(facts)


def contains_avoided(copy: CopyVariant, brief: Brief) -> bool:
    """True if any word or phrase the brief asked to avoid appears in the copy."""
    text = copy_text(copy)
    return any(_contains_term(text, a, plural=True) for a in brief.avoid)


def looks_truncated(text: str, *, sentence: bool = False) -> bool:
    """True if ``text`` looks cut off: empty, ends on a comma/colon/dash or a dangling word
    (``the``, ``and``, ``with`` ...), or leaves a bracket or quote open. With ``sentence=True``
    the text must also end with sentence punctuation (for a body)."""
    t = text.strip()
    if not t:
        return True
    if t[-1] in ",;:-–—/&(" or t.endswith("..."):
        return True
    tokens = words(t)
    if tokens and tokens[-1] in _DANGLING and t[-1].isalnum():
        return True
    if (
        t.count("(") > t.count(")")
        or t.count("[") > t.count("]")
        or t.count('"') % 2
        or t.count("“") > t.count("”")
    ):
        return True
    return bool(sentence and not _SENTENCE_END.search(t) and t[-1].isalnum())


def _known(word: str, lexicon: frozenset[str]) -> bool:
    if word in lexicon or word.isdigit():
        return True
    # a plural or possessive of a known word
    return any(word.endswith(suffix) and word[: -len(suffix)] in lexicon for suffix in ("'s", "s", "es"))


def unknown_words(copy: CopyVariant, brief: Brief, lexicon: frozenset[str]) -> list[str]:
    """Words of ``copy`` that are neither in ``lexicon`` (every word of the copy model's training
    completions) nor in the brief: a small model sampling sub-word pieces makes up words ("worthral"),
    and this is how the copywriter catches them. CJK text is not checked."""
    allowed = set(words(" ".join([brief.product, brief.audience, *brief.keywords])))
    out = []
    for w in words(copy_text(copy)):
        if w not in allowed and not _known(w, lexicon) and not re.search(r"[\u3400-\u9fff]", w):
            out.append(w)
    return out


def filter_reasons(copy: CopyVariant, brief: Brief) -> list[str]:
    """Why a variant should not be shown; an empty list means it passes every rule."""
    reasons: list[str] = []
    fields = {"headline": copy.headline, "body": copy.body, "cta": copy.cta}
    limits = {"headline": brief.headline_max(), "body": brief.body_max(), "cta": brief.cta_max()}
    for name, value in fields.items():
        if not value.strip():
            reasons.append(f"empty {name}")
        elif len(value) > limits[name]:
            reasons.append(f"{name} too long ({len(value)} > {limits[name]})")
        if has_mention_or_markup(value):
            reasons.append(f"markup in {name}")
    if copy.body.strip() and looks_truncated(copy.body, sentence=True):
        reasons.append("body looks truncated")
    if copy.headline.strip() and looks_truncated(copy.headline):
        reasons.append("headline looks truncated")
    if copy.cta.strip() and looks_truncated(copy.cta):
        reasons.append("cta looks truncated")
    if repeated_ngram(copy_text(copy), 3):  # any word 3-gram twice, within a field or across fields
        reasons.append("repeated phrase")
    if contains_avoided(copy, brief):
        reasons.append("contains an avoided word")
    if not names_product(copy, brief):
        reasons.append(f"does not name the product ('{brief.head_noun}')")
    if copy.headline.strip() and edit_similarity(copy.headline, copy.body) > 0.8:
        reasons.append("headline repeats the body")
    return reasons


def trim_to_sentence(text: str, limit: int) -> str:
    """The longest prefix of whole sentences that fits in ``limit`` characters ('' if none fits)."""
    text = " ".join(text.split())
    if len(text) <= limit and not looks_truncated(text, sentence=True):
        return text
    kept = ""
    for sentence in _SENTENCE_SPLIT.split(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit or looks_truncated(sentence, sentence=True):
            break
        kept = candidate
    return kept


def trim_to_words(text: str, limit: int) -> str:
    """Cut ``text`` at a word boundary to fit ``limit`` characters, dropping dangling end words."""
    text = " ".join(text.split())
    if len(text) <= limit:
        out = text
    else:
        out = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    toks = out.split()
    while toks and (words(toks[-1])[-1:] or [""])[0] in _DANGLING:
        toks.pop()
    return " ".join(toks).rstrip(",;:-–—/&(")


def repair(copy: CopyVariant, brief: Brief) -> CopyVariant:
    """Best-effort fix of a generated variant: trim fields to their limits at sentence or word
    boundaries and put the product's head noun in the headline if neither headline nor body names it.
    Only the model's own words (and the brief's) are used; nothing canned is added."""
    body = trim_to_sentence(copy.body, brief.body_max()) or trim_to_words(copy.body, brief.body_max())
    if body and body[-1].isalnum():
        body += "."
        if len(body) > brief.body_max():
            body = body[: brief.body_max()].rstrip(" .") + "."
    headline = trim_to_words(copy.headline, brief.headline_max())
    cta = trim_to_words(copy.cta, brief.cta_max())
    fixed = CopyVariant(headline=headline, body=body, cta=cta, score=copy.score, nll=copy.nll)
    if not names_product(fixed, brief):
        phrase = neutralize(brief.product_phrase)
        phrase = phrase[:1].upper() + phrase[1:]
        room = brief.headline_max() - len(phrase) - 2
        headline = f"{phrase}: {trim_to_words(headline, room)}" if room > 8 and headline else phrase
        fixed.headline = headline[: brief.headline_max()]
    return fixed
