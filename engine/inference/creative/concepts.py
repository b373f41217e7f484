"""Visual concepts for hero art, and matching a brief to one. Pure Python: no torch here.

Each concept is one class of the conditional GAN. It is defined by the emoji it was trained on
(short names from ``emoji-datasource-google``) and by keywords a brief might use. Keywords are the
curated ad words (:mod:`engine.inference.creative.concept_tables` holds the tables) plus the words
of the emoji short names, so ``alarm_clock`` teaches ``alarm``.

Matching is deterministic keyword/stem scoring: words of the product phrase (``smart watch`` in
``smart watch for runners``) weigh most, its head noun more still, the rest of the brief a little.
When nothing matches, category words (``app``, ``agency``, ``sale``) pick a sensible default, and
failing that :data:`DEFAULT_CONCEPT`. Matching never raises.

Chinese (any text with CJK characters) is matched by substring against :data:`_ZH_KEYWORDS`, longest
keywords first, with the same product-phrase weighting; the head noun is the product phrase's last
keyword (跑步鞋 is shoes), generic tails such as 店 or 服务 aside. Mixed text adds both scores.
English-only text is scored exactly as before.
"""

from __future__ import annotations

import re
from functools import lru_cache

from engine.brief import is_cjk
from engine.inference.creative.concept_tables import (
    _CATEGORY_FALLBACKS,
    _STOP_WORDS,
    _TABLE,
    _ZH_CATEGORY_FALLBACKS,
    _ZH_KEYWORDS,
    _ZH_TAIL_WORDS,
    Concept,
)

CONCEPTS: dict[str, Concept] = {c.name: c for c in _TABLE}
CONCEPT_NAMES: tuple[str, ...] = tuple(CONCEPTS)
DEFAULT_CONCEPT = "celebration"

_ZH_GENERIC_TAILS: tuple[str, ...] = tuple(sorted(set(_ZH_TAIL_WORDS.split()), key=lambda w: (-len(w), w)))
_STOP = frozenset(_STOP_WORDS.split())
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'+&]*")
_SPLITTERS = re.compile(r"\s+(?:for|that|which|with|to|in|by|from|of)\s+|[,;:()–—|/]|\s-\s", re.IGNORECASE)
# For text with CJK characters: the same, plus Chinese (full-width) punctuation. English-only text keeps
# _SPLITTERS exactly, so its product phrase never changes.
_CJK_SPLITTERS = re.compile(
    r"\s+(?:for|that|which|with|to|in|by|from|of)\s+|[,;:()–—|/，、；：。！？（）【】「」『』《》｜／\u3000]|\s-\s",
    re.IGNORECASE,
)
_NON_CJK_TAIL = re.compile(r"[^\u3400-\u9fff\uf900-\ufaff]+$")


def stem(word: str) -> str:
    """A tiny, predictable English stemmer: plurals and possessives only (``watches`` -> ``watch``)."""
    w = word.lower().strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ches", "shes", "sses", "xes", "zes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _tokens(text: str) -> list[str]:
    return [stem(t) for t in _TOKEN.findall(text.lower())]


def _phrases(tokens: list[str]) -> dict[str, int]:
    """Single tokens and adjacent pairs (``smart watch``), each with the index of its last token."""
    out: dict[str, int] = {}
    for i, t in enumerate(tokens):
        out[t] = i
        if i:
            out[f"{tokens[i - 1]} {t}"] = i
    return out


@lru_cache(maxsize=1)
def _keyword_index() -> dict[str, dict[str, float]]:
    """concept -> {stemmed keyword phrase: weight}. Curated words weigh 1.0, short-name words 0.6."""
    index: dict[str, dict[str, float]] = {}
    for c in _TABLE:
        kws: dict[str, float] = {}
        for short in c.emoji:
            for part in re.split(r"[_\-]", short):
                if (
                    len(part) > 2
                    and part not in _STOP
                    and not part.isdigit()
                    and not part.startswith("clock")
                ):
                    kws.setdefault(stem(part), 0.6)
        for kw in c.keywords:
            toks = _tokens(kw)
            if toks:
                kws[" ".join(toks)] = 1.0 + 0.5 * (len(toks) - 1)
        index[c.name] = kws
    return index


def _product_phrase(text: str, cjk: bool = False) -> str:
    head = (_CJK_SPLITTERS if cjk else _SPLITTERS).split(text, maxsplit=1)[0].strip()
    return head or text


@lru_cache(maxsize=1)
def _zh_index() -> tuple[tuple[str, str, float], ...]:
    """(keyword, concept, weight) for every Chinese keyword; longer keywords weigh more."""
    return tuple(
        (kw.lower(), name, 1.0 + 0.5 * (len(kw) - 1)) for name, kws in _ZH_KEYWORDS.items() for kw in kws
    )


def _zh_core_length(product: str) -> int:
    """Length of the product phrase up to its head noun: trailing Latin/digits/punctuation and generic
    business words (店, 服务, 品牌 ...) stripped, never down to nothing."""
    core = product
    while True:
        stripped = _NON_CJK_TAIL.sub("", core)
        for tail in _ZH_GENERIC_TAILS:
            if stripped.endswith(tail) and len(stripped) > len(tail):
                stripped = stripped[: -len(tail)]
                break
        if stripped == core or not stripped:
            break
        core = stripped
    return len(core)


def _zh_scores(text: str) -> dict[str, float]:
    """Chinese keyword scores per concept, by substring occurrence (CJK text has no word boundaries).

    Occurrences are taken longest first and may not overlap, so 西兰花 is broccoli, not 兰花 (orchid),
    and 电动车 is a car, not 动车 (a train). Like the English scoring, each keyword counts once per
    concept: in the product phrase it weighs 3 plus its nearness to the end, and most of all when it
    is the head noun (it ends the phrase: 跑步鞋 is shoes, not running); elsewhere it weighs 1.
    """
    s = text.strip().lower()
    if not s:
        return {}
    product_len = len(_product_phrase(s, cjk=True))
    core_len = _zh_core_length(s[:product_len]) or product_len
    found: list[tuple[int, int, str, float]] = []  # start, end, concept, weight
    for kw, name, w in _zh_index():
        i = s.find(kw)
        while i >= 0:
            found.append((i, i + len(kw), name, w))
            i = s.find(kw, i + 1)
    found.sort(key=lambda o: (o[0] - o[1], o[0]))  # longest first, then leftmost
    taken: list[tuple[int, int]] = []
    best: dict[tuple[str, str], float] = {}  # (concept, keyword text) -> best occurrence score
    for start, end, name, w in found:
        if any(start < e and b < end for b, e in taken):
            continue
        taken.append((start, end))
        if end <= product_len:
            nearness = min(end, core_len) / core_len
            score = (3.0 + nearness) * w
            if start < core_len <= end:  # the head noun
                score = 2.0 * score + 2.0
        else:
            score = 1.0 * w
        key = (name, s[start:end])
        best[key] = max(best.get(key, 0.0), score)
    scores: dict[str, float] = {}
    for (name, _kw), score in best.items():
        scores[name] = scores.get(name, 0.0) + score
    return scores


def score_concepts(brief_text: str, concepts: list[str] | None = None) -> dict[str, float]:
    """Keyword scores per concept (0.0 where nothing matched). Deterministic."""
    names = [n for n in (concepts if concepts is not None else CONCEPT_NAMES)]
    text = brief_text or ""
    cjk = is_cjk(text)
    product = _tokens(_product_phrase(text, cjk))
    everything = _tokens(text)
    head = product[-1] if product else ""
    p_phr, all_phr = _phrases(product), _phrases(everything)
    index = _keyword_index()
    scores: dict[str, float] = {}
    for name in names:
        kws = index.get(name)
        if kws is None:
            scores[name] = 0.0
            continue
        s = 0.0
        for kw, w in kws.items():
            if kw in p_phr:
                # Later words of the product phrase are nearer its head noun: "organic COFFEE".
                nearness = (p_phr[kw] + 1) / len(product)
                s += (3.0 + nearness) * w + (2.0 if kw == head or kw.endswith(" " + head) else 0.0)
            elif kw in all_phr:
                s += 1.0 * w
        scores[name] = s
    if cjk:  # Chinese (or mixed) text: Chinese keyword scores add to those of any English words
        for name, s in _zh_scores(text).items():
            if name in scores and name in index:
                scores[name] += s
    return scores


def top_concepts(text: str, k: int = 3, concepts: list[str] | None = None) -> list[str]:
    """The ``k`` best concepts for ``text``, best first; always ``k`` names (padded with fallbacks)."""
    names = list(concepts) if concepts is not None else list(CONCEPT_NAMES)
    if not names or k <= 0:
        return []
    scores = score_concepts(text, names)
    order = {n: i for i, n in enumerate(names)}
    ranked = [n for n in sorted(names, key=lambda n: (-scores[n], order[n])) if scores[n] > 0]
    fallback = _fallback(text, names)
    if fallback not in ranked:
        ranked.append(fallback)
    ranked.extend(n for n in names if n not in ranked)
    return ranked[:k]


def _fallback(text: str, names: list[str]) -> str:
    text = text or ""
    words = set(_tokens(text))
    zh = text.lower() if is_cjk(text) else ""
    for concept, cues in _CATEGORY_FALLBACKS:
        if concept in names and (
            words & set(cues) or any(cue in zh for cue in _ZH_CATEGORY_FALLBACKS.get(concept, ()))
        ):
            return concept
    if DEFAULT_CONCEPT in names:
        return DEFAULT_CONCEPT
    return names[0]


def match_concept(brief_text: str, concepts: list[str] | None = None) -> str:
    """The single best concept for a brief; a sensible default when nothing matches. Never raises.

    ``concepts`` restricts the choice to what a given model knows (its class list).
    """
    try:
        names = list(concepts) if concepts is not None else list(CONCEPT_NAMES)
        if not names:
            return DEFAULT_CONCEPT
        return top_concepts(brief_text, 1, names)[0]
    except Exception:  # matching must never break a campaign
        return DEFAULT_CONCEPT if concepts is None or DEFAULT_CONCEPT in concepts else list(concepts)[0]


assert set(_ZH_KEYWORDS) == set(CONCEPTS), "every concept needs Chinese keywords (and no others)"
