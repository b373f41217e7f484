"""Placeholders in delexicalised copy: the product (``PRODUCT``/``ITEM``) and, from version 4, the
grounding facts (``FACT1``..``FACT3``) are taken out of training text (:func:`delexicalise`) and written
back into sampled copy (:func:`fill_copy`), with capitals, ``a``/``an`` and number agreement mended.
"""

from __future__ import annotations

import re
from dataclasses import replace

from engine.brief import Brief
from engine.inference.copywriter.prompts import FACT_TOKENS, ITEM_TOKEN, PLACEHOLDERS, PRODUCT_TOKEN
from engine.inference.creative.concepts import stem
from engine.inference.creative.copy_rules import CTA_MAX_WORDS
from engine.inference.creative.types import CopyVariant

_PLACEHOLDER = re.compile(r"(?:\b([Aa]n?)\s+)?\b(PRODUCT|ITEM|FACT[1-3])\b")
_UNFILLED = re.compile(r"\b(?:PRODUCT|ITEM|FACT\d?)\b")


def _term_pattern(term: str, commas: bool = False) -> re.Pattern[str] | None:
    words = re.findall(r"[\w'&+.]+", term)
    if not words:
        return None
    sep = r",?[\s-]+" if commas else r"[\s-]+"  # a fact may be written "brighter, even skin"
    return re.compile(r"(?<![\w'])" + sep.join(re.escape(w) for w in words) + r"(?![\w'])", re.IGNORECASE)


def delexicalise(text: str, brief: Brief) -> str:
    """Replace the brief's product in ``text`` by placeholders (case-insensitive): the whole product line
    or its product phrase by ``PRODUCT``, then the head noun by ``ITEM``. Used to build training text for
    delexicalised models and to score filled copy under such a model."""
    for term, token in ((brief.product, PRODUCT_TOKEN), (brief.product_phrase, PRODUCT_TOKEN),
                        (brief.head_noun, ITEM_TOKEN)):  # fmt: skip
        pattern = _term_pattern(term)
        if pattern is not None:
            text = pattern.sub(token, text)
    return text


def delexicalise_facts(text: str, facts: tuple[str, ...] | list[str]) -> str:
    """Replace each fact written out in ``text`` by its placeholder (FACT1 for the first ...), longest
    fact first so a fact inside another is not split (version-4 training text and scoring)."""
    order = sorted(range(min(len(facts), len(FACT_TOKENS))), key=lambda i: -len(facts[i]))
    for i in order:
        pattern = _term_pattern(facts[i], commas=True)
        if pattern is not None:
            text = pattern.sub(FACT_TOKENS[i], text)
    return text


def delexicalise_copy(
    copy: CopyVariant, brief: Brief, facts: tuple[str, ...] | list[str] = ()
) -> CopyVariant:
    def delex(text: str) -> str:
        return delexicalise_facts(delexicalise(text, brief), facts) if facts else delexicalise(text, brief)

    return replace(copy, headline=delex(copy.headline), body=delex(copy.body), cta=delex(copy.cta))


def unfilled(copy: CopyVariant) -> bool:
    """A placeholder left in the copy (a FACT label with no fact behind it)."""
    return any(_UNFILLED.search(t) for t in (copy.headline, copy.body, copy.cta))


def _title(phrase: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in phrase.split())


def fill_placeholders(
    text: str, brief: Brief, *, title: bool = False, facts: tuple[str, ...] | list[str] = ()
) -> str:
    """Put the brief's product back where a delexicalised model wrote ``PRODUCT`` / ``ITEM``, and the
    grounding facts where a version-4 model wrote ``FACT1`` ... (a label with no fact is left as it is).

    In a headline (``title=True``) the name is title-cased; elsewhere it is used as typed and
    capitalised at the start of the field or of a sentence. ``a``/``an`` before it is made to agree."""

    def sub(m: re.Match[str]) -> str:
        article, token = m.group(1), m.group(2)
        if token.startswith("FACT"):
            n = int(token[4:]) - 1
            if n >= len(facts):
                return m.group(0)
            value = " ".join(facts[n].split())
        else:
            value = " ".join(str(getattr(brief, PLACEHOLDERS[token])).split()) or brief.product
        if title:
            value = _title(value)
        before = text[: m.start()].rstrip()
        if not before or before[-1] in ".!?:\n":
            head = article or value
            head = head[:1].upper() + head[1:]
            if article:
                article = head
            else:
                value = head
        if article:
            vowel = value[:1].lower() in "aeiou"
            article = (article[0] + ("n" if vowel else "")) if article[0] in "Aa" else article
            return f"{article} {value}"
        return value

    return _PLACEHOLDER.sub(sub, text)


def _later_mentions_short(fields: list[str], brief: Brief) -> list[str]:
    """Name a multi-word product in full once; later ``PRODUCT`` mentions become ``ITEM`` (the head noun),
    as a copywriter would write "the drill" after "Cordless Power Drill" rather than repeat all three words."""
    if len(brief.product_phrase.split()) < 2:
        return fields
    out = []
    named = False
    for text in fields:
        parts = re.split(r"\b(PRODUCT)\b", text)
        for i in range(1, len(parts), 2):
            if named:
                parts[i] = ITEM_TOKEN
            named = True
        out.append("".join(parts))
    return out


_SINGULAR_VERBS = {"has": "have", "is": "are", "was": "were", "does": "do", "keeps": "keep", "makes": "make",
                   "lets": "let", "gives": "give", "offers": "offer", "comes": "come", "stays": "stay",
                   "helps": "help", "brings": "bring", "turns": "turn", "feels": "feel", "fits": "fit",
                   "works": "work", "uses": "use", "holds": "hold", "adds": "add"}  # fmt: skip


def is_plural(noun: str) -> bool:
    """A rough English plural test for a product's head noun (the project's stemmer strips an ending):
    "headphones", "candles", "jeans" yes; "glass", "hummus", "analysis", "bus", "news" no."""
    w = noun.lower()
    return not w.endswith(("'s", "news", "series")) and stem(w) != w


def agree(text: str, brief: Brief) -> str:
    """Number agreement around a plural product the placeholder hid: "This headphones has" -> "These
    headphones have", "A headphones with" -> "Headphones with"."""
    if not is_plural(brief.head_noun):
        return text
    names = sorted({brief.product_phrase, brief.head_noun}, key=len, reverse=True)
    name = "|".join(re.escape(n) for n in names if n)
    verbs = "|".join(_SINGULAR_VERBS)

    def these(m: re.Match[str]) -> str:
        det = "These" if m.group(1)[0] == "T" else "these"
        verb = _SINGULAR_VERBS.get(m.group(3).lower(), m.group(3)) if m.group(3) else ""
        return f"{det} {m.group(2)}" + (f" {verb}" if verb else "")

    text = re.sub(rf"\b(This|this) ({name})\b(?: ({verbs})\b)?", these, text, flags=re.IGNORECASE)
    text = re.sub(rf"\b({name}) ({verbs})\b", lambda m: f"{m.group(1)} {_SINGULAR_VERBS[m.group(2).lower()]}", text,
                  flags=re.IGNORECASE)  # fmt: skip

    def relative(m: re.Match[str]) -> str:  # "Candles That Fits" -> "Candles That Fit"
        verb = _SINGULAR_VERBS[m.group(3).lower()]
        verb = verb[:1].upper() + verb[1:] if m.group(3)[:1].isupper() else verb
        return f"{m.group(1)} {m.group(2)} {verb}"

    text = re.sub(rf"\b({name}) (that|which|That|Which) ({verbs})\b", relative, text, flags=re.IGNORECASE)

    def bare(m: re.Match[str]) -> str:
        word = m.group(2)
        return word[:1].upper() + word[1:] if m.group(1)[0] == "A" else word

    return re.sub(rf"\b(An?|an?) ({name})\b", bare, text, flags=re.IGNORECASE)


# Head nouns that say nothing on a button by themselves: "Download the app" becomes "Download the Budgeting
# App" when the product's full name fits in the call to action.
_VAGUE_HEADS = frozenset(["app", "service", "services", "class", "classes", "kit", "set", "box", "plan",
                          "software", "platform", "tool", "course", "session", "subscription", "program"])  # fmt: skip


def fill_copy(copy: CopyVariant, brief: Brief, facts: tuple[str, ...] | list[str] = ()) -> CopyVariant:
    headline, body, cta = _later_mentions_short([copy.headline, copy.body, copy.cta], brief)
    if brief.head_noun.lower() in _VAGUE_HEADS and re.search(rf"\b{ITEM_TOKEN}\b", cta):
        named = re.sub(rf"\b{ITEM_TOKEN}\b", PRODUCT_TOKEN, cta, count=1)
        if len(fill_placeholders(named, brief).split()) <= CTA_MAX_WORDS:
            cta = named
    return replace(
        copy,
        headline=agree(fill_placeholders(headline, brief, title=True, facts=facts), brief),
        body=agree(fill_placeholders(body, brief, facts=facts), brief),
        cta=agree(fill_placeholders(cta, brief, title=_is_title(cta), facts=facts), brief),
    )


def _is_title(text: str) -> bool:
    small = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
    words = [w for w in re.findall(r"[A-Za-z]+", text) if w not in PLACEHOLDERS and w.lower() not in small]
    return bool(words) and all(w[0].isupper() for w in words)
