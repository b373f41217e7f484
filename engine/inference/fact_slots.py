"""Fitting a version-4 model's FACT labels to the sentences it wrote around them.

The grounded-v4 copy model writes ``FACT1``..``FACT3`` where an ad uses one of the product's benefits, but a
16M-parameter model cannot tell from a label whether the benefit behind it is a verb phrase ("drives
screws and bores holes"), a noun phrase ("30-hour battery life") or an adjective ("leak-proof"), so it
writes "This PRODUCT is FACT1" or "so you can FACT2" whatever the benefit is. Here, before the labels are
filled:

1. every benefit gets a rough syntactic kind (:func:`fact_kind`) and every label a slot read off the word
   before it (:func:`slot_of`);
2. the benefits are assigned to the labels the ad uses in the order that fits most slots (the model chose
   *that* a benefit goes there far more reliably than *which* one);
3. what still does not fit and has an obvious mend is mended ("is FACT" with a noun phrase becomes "has
   FACT", "can FACT" with "drives ..." becomes "can drive ...", "PRODUCT FACT" with a noun phrase gets "has");
4. what is left is counted as a misfit, which the copywriter ranks down.

All rough on purpose: a few word lists and suffixes, no tagger (none ships offline here).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from engine.inference.creative.concepts import stem
from engine.inference.creative.copy_words import CTA_VERBS

FACT_RE = re.compile(r"\bFACT([1-3])\b")

VERB = "verb"  # opens with a present-tense verb: "drives screws and bores holes"
BASE = "base"  # opens with a base-form verb: "book online", "grow herbs indoors"
ADJ = "adj"  # an adjective phrase: "leak-proof", "dishwasher safe", "lightweight"
NOUN = "noun"  # anything else: "30-hour battery life", "GPS", "fast charging"
ABS = "absolute"  # a noun with a participle: "two batteries included", "no battery needed"

_ADJ_SUFFIXES = ("proof", "free", "safe", "friendly", "resistant", "able", "ible", "ful", "less", "ive",
                 "ous", "ic", "ical", "weight", "tight", "ready", "sized", "made", "ish")  # fmt: skip
_ADJ_WORDS = frozenset(["light", "quiet", "soft", "warm", "cool", "fast", "quick", "easy", "simple", "safe",
                        "strong", "durable", "compact", "portable", "organic", "natural", "local", "fresh",
                        "healthy", "vegan", "gentle", "secure", "private", "affordable", "cheap", "small",
                        "big", "large", "clean", "dry", "smooth", "sturdy", "flexible", "reusable",
                        "adjustable", "waterproof", "washable", "breathable", "educational", "handmade",
                        "recyclable", "compostable", "biodegradable", "insulated", "certified", "licensed",
                        "insured", "refillable", "rechargeable", "wireless", "cordless", "foldable",
                        "stackable", "seasonal", "personal", "professional", "quiet", "low-maintenance",
                        "ready-to-use", "non-toxic", "eco-friendly", "all-natural", "gluten-free"])  # fmt: skip
_NOT_VERBS = frozenset(["pets", "kids", "parents", "students", "teams", "dogs", "cats", "plans", "classes",
                        "lessons", "tools", "goods", "sets", "pieces", "sessions", "options", "extras",
                        "features", "hours", "days", "years", "minutes", "weeks", "months", "sizes",
                        "colours", "colors", "flavours", "flavors", "materials", "pockets", "layers",
                        "series", "news", "glass", "less", "wireless", "stainless", "seamless",
                        "various", "generous", "delicious", "gorgeous", "famous", "serious", "previous",
                        "plus", "bonus", "always", "perhaps", "towards", "sometimes"])  # fmt: skip

_MODALS = frozenset(["can", "could", "will", "would", "may", "might", "must", "to"])
_BEFORE_NOUN = frozenset(["has", "have", "had", "with", "offers", "offer", "features", "feature", "includes",
                          "include", "uses", "use", "brings", "bring", "gives", "give", "of", "for", "a",
                          "an", "the", "its", "your", "their", "our", "get", "enjoy", "love"])  # fmt: skip
_COPULA = frozenset(["is", "are", "was", "were", "stays", "stay", "feels", "feel", "looks", "look", "keeps",
                     "keep"])  # fmt: skip
_SUBJECT = frozenset(["PRODUCT", "ITEM"])
_WORD_BEFORE = re.compile(r"([A-Za-z']+)\s+$")


def fact_kind(fact: str) -> str:
    """Rough syntactic kind of a benefit phrase (VERB, BASE, ADJ or NOUN)."""
    words = [w.strip(",.;:") for w in fact.split()]
    if not words or not words[0]:
        return NOUN
    first, last = words[0].lower(), words[-1].lower()
    if len(words) >= 2 and first.isalpha() and first not in _NOT_VERBS and stem(first) != first:
        nxt = words[1].lower()
        if nxt not in ("and", "or") and not nxt.endswith(("'s",)):
            return VERB
    if len(words) >= 2 and first in CTA_VERBS:
        return BASE
    if len(words) >= 2 and last.endswith("ed") and last not in _ADJ_WORDS:
        return ABS
    if len(words) >= 2 and _is_adjective(first) and words[1].lower() in _PREPOSITIONS:
        return ADJ  # "compatible with major sets", "safe for kids"
    if _is_adjective(last):
        return ADJ
    if len(words) == 1 and last.endswith("ed") and len(last) > 4:
        return ADJ
    return NOUN


_PREPOSITIONS = frozenset(["with", "for", "in", "on", "to", "at", "from", "by", "under", "against"])


def _is_adjective(word: str) -> bool:
    w = word.lower()
    return w in _ADJ_WORDS or (w.endswith(_ADJ_SUFFIXES) and not is_plural_word(w))


def is_plural_word(word: str) -> bool:
    w = word.lower()
    return (
        w not in _NOT_VERBS - {"pets", "kids", "parents", "students", "teams", "dogs", "cats"}
        and stem(w) != w
    )


def word_before(before: str) -> str:
    m = _WORD_BEFORE.search(before)
    return m.group(1) if m else ""


def slot_of(before: str) -> str | None:
    """What kind of phrase may follow ``before`` (the text up to a label): a set of kinds by name, or None
    when anything goes (the start of a sentence, after a comma)."""
    stripped = before.rstrip()
    if not stripped or stripped[-1] in ".!?:,;\n":
        return None
    m = _WORD_BEFORE.search(before)
    if m is None:
        return None
    word = m.group(1)
    low = word.lower()
    if word in _SUBJECT or low in ("it", "they"):
        return "subject"
    if low in _MODALS:
        return "modal"
    if low == "you":  # "lets you FACT", "helps you FACT": a base verb follows
        prev = _WORD_BEFORE.search(before[: m.start(1)])
        if prev is not None and prev.group(1).lower() in ("let", "lets", "help", "helps", "make", "makes"):
            return "modal"
    if low in ("a", "an"):
        return "article"
    if low in _BEFORE_NOUN:
        return "object"
    if low in _COPULA:
        return "copula"
    return None


_FITS = {
    "subject": {VERB},
    "modal": {BASE},
    "article": {NOUN},
    "object": {NOUN},
    "copula": {ADJ},
}


def fits(slot: str | None, kind: str, fact: str, word: str = "") -> bool:
    if slot is None:
        return True
    if kind == ABS:  # "with two batteries included", never "has two batteries included"
        return word.lower() == "with"
    if slot == "article":
        last = fact.split()[-1].lower() if fact.split() else ""
        return kind in _FITS[slot] and not is_plural_word(last) and not last.endswith("ing")
    return kind in _FITS[slot]


def base_form(phrase: str) -> str:
    """ "drives screws and bores holes" -> "drive screws and bore holes" (each -s verb that opens the phrase
    or follows "and")."""
    words = phrase.split()

    def base(w: str) -> str:  # the plural-stripping stemmer undoes the -s of a present-tense verb
        b = stem(w)
        return b[:1].upper() + b[1:] if w[:1].isupper() else b

    out = []
    for i, w in enumerate(words):
        if i == 0 or (words[i - 1].lower() == "and" and fact_kind(" ".join(words[i:])) == VERB):
            w = base(w)
        out.append(w)
    return " ".join(out)


@dataclass(frozen=True)
class FittedFacts:
    fields: tuple[str, ...]  # the fields with slots mended, labels still in place
    facts: tuple[str, ...]  # the benefit behind FACT1, FACT2, FACT3 after reassignment
    misfits: int  # labels still where their benefit does not fit
    mended: int


def _slots(fields: list[str]) -> list[tuple[int, int, str | None, str]]:
    """(field, label number, slot, word before) for every label in the fields."""
    out = []
    for f, text in enumerate(fields):
        for m in FACT_RE.finditer(text):
            before = text[: m.start()]
            out.append((f, int(m.group(1)) - 1, slot_of(before), word_before(before)))
    return out


def fit_facts(fields: list[str], facts: tuple[str, ...] | list[str]) -> FittedFacts:
    """Assign ``facts`` to the labels in ``fields`` so that most slots fit, mend what is obvious and count
    the rest (see the module docstring). Labels beyond ``facts`` are left alone."""
    facts = tuple(facts)
    slots = [s for s in _slots(fields) if s[1] < len(facts)]
    if not slots:
        return FittedFacts(tuple(fields), facts, 0, 0)
    kinds = [fact_kind(f) for f in facts]
    best: tuple[int, tuple[int, ...]] | None = None
    for perm in itertools.permutations(range(len(facts))):  # at most 3! = 6
        bad = sum(not fits(slot, kinds[perm[n]], facts[perm[n]], word) for _, n, slot, word in slots)
        if best is None or bad < best[0]:
            best = (bad, perm)
        if bad == 0:
            break
    assert best is not None
    perm = best[1]
    assigned = tuple(facts[perm[i]] for i in range(len(facts)))
    kinds = [kinds[perm[i]] for i in range(len(facts))]
    out, mended, misfits = [], 0, 0
    for text in fields:
        pieces: list[str] = []
        last = 0
        for m in FACT_RE.finditer(text):
            n = int(m.group(1)) - 1
            head = text[last : m.start()]
            last = m.end()
            if n >= len(assigned):
                pieces.append(head + m.group(0))
                continue
            before = "".join(pieces) + head
            slot = slot_of(before)
            label = m.group(0)
            if fits(slot, kinds[n], assigned[n], word_before(before)):
                pieces.append(head + label)
                continue
            fixed = _mend(head, label, slot, kinds[n], assigned[n])
            if fixed is None:
                misfits += 1
                pieces.append(head + label)
            else:
                mended += 1
                misfits += not fixed[1]
                pieces.append(fixed[0])
        pieces.append(text[last:])
        out.append("".join(pieces))
    return FittedFacts(tuple(out), assigned, misfits, mended)


def _mend_article(before_article: str, label: str, kind: str) -> str | None:
    """A label after "a"/"an" that takes no article: the text up to the article, mended; None if no mend."""
    prev = _WORD_BEFORE.search(before_article)
    before = prev.group(1).lower() if prev is not None else ""
    if kind == NOUN and before in _BEFORE_NOUN | _COPULA | {
        "and"
    }:  # "has a fast charging" -> "has fast charging"
        return before_article + label
    if (
        kind == ADJ and prev is not None and before in ("has", "have", "is", "are")
    ):  # "has a leak-proof" -> "is leak-proof"
        verb = "is" if before in ("has", "is") else "are"
        verb = verb[:1].upper() + verb[1:] if prev.group(1)[:1].isupper() else verb
        return before_article[: prev.start(1)] + verb + " " + label
    return None


def _mend(head: str, label: str, slot: str | None, kind: str, fact: str) -> tuple[str, bool] | None:
    """``head`` (the text before the label) and the label, mended so the benefit fits, and whether the
    mend reads as written (a stock phrase such as "can enjoy FACT" does not: it still counts as a misfit
    so the ranking prefers a candidate that needed none); None when there is no mend."""
    m = _WORD_BEFORE.search(head)
    if m is None:
        return None
    word, start = m.group(1), m.start(1)
    low = word.lower()
    cap = word[:1].isupper()

    def w(s: str) -> str:
        return s[:1].upper() + s[1:] if cap else s

    if slot == "copula" and low in ("is", "are"):
        if kind == VERB:  # "This PRODUCT is drives ..." -> "This PRODUCT drives ..."
            return head[:start] + label, True
        if kind == NOUN:  # "is 30-hour battery life" -> "has 30-hour battery life"
            return head[:start] + w("has" if low == "is" else "have") + " " + label, True
    if slot == "subject":
        plural = low == "they"
        if kind == NOUN:
            return head + ("have " if plural else "has ") + label, True
        if kind == ADJ:
            return head + ("are " if plural else "is ") + label, True
    if slot == "modal" and kind == VERB:  # "so you can drives screws" -> "so you can drive screws"
        return head + base_form(fact), True
    if slot == "modal" and kind == NOUN:  # "so you can GPS" -> "so you can enjoy GPS"
        return head + "enjoy " + label, False
    if kind == ABS and slot in ("object", "copula", "subject") and low != "with":
        # "has two batteries included" -> "comes with two batteries included"
        verb = "come" if low in ("have", "are") else "comes"
        return (head if slot == "subject" else head[:start]) + w(verb) + " with " + label, True
    if slot == "article" and (mended := _mend_article(head[:start], label, kind)) is not None:
        return mended, True
    if slot == "object" and kind == VERB and low in ("has", "have"):  # "has drives ..." -> "drives ..."
        return head[:start] + label, True
    if slot == "object" and kind == ADJ and low in ("has", "have", "offers", "offer"):
        return head[:start] + w("is" if low in ("has", "offers") else "are") + " " + label, True
    return None
