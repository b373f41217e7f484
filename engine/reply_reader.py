"""The reply reader behind :func:`engine.replies.parse_reply`: one reply being read, clause by clause,
against the vocabulary (:mod:`engine.vocabulary`), into :class:`~engine.edits.Edits`."""

from __future__ import annotations

import re

from engine.brief import CJK_CTA_MAX, CTA_MAX, LENGTHS, MAX_VARIANTS
from engine.edits import (
    KEYWORD_MAX,
    MAX_AVOID,
    MAX_KEYWORDS,
    BackTo,
    Current,
    Edits,
    NotUnderstood,
    Refine,
    ReplyIntent,
)
from engine.errors import UserError
from engine.neutralize import neutralize
from engine.vocabulary import (
    _AGAIN,
    _AVOID,
    _BACK,
    _CARD,
    _COLOUR_NOUNS,
    _COLOUR_WORDS,
    _CONTEXT_COLOURS,
    _FEWER_VARIANTS,
    _FILLER,
    _I,
    _INTENSIFIERS,
    _LESS_PREFIX,
    _LESS_TONE,
    _LESS_WORDS,
    _LIKE,
    _LONGER,
    _LONGER_PHRASES,
    _MENTION,
    _MORE_VARIANTS,
    _NUMBER_WORDS,
    _ORDINALS,
    _PLEASANTRIES,
    _SHORTER,
    _SHORTER_PHRASES,
    _SIZE_WORDS,
    _SOFT_MENTION,
    _STRONG,
    _STRONG_PHRASES,
    _SUBTLE,
    _SUBTLE_PHRASES,
    _TONE_AS_COLOUR,
    _TONE_BY_NOUN,
    _TONE_NOUNS,
    _TONE_WORDS,
    _UNDO,
    _VARIANTS,
)


def number(token: str) -> int:
    token = token.strip().lower()
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    if token in _ORDINALS:
        return _ORDINALS[token]
    digits = re.sub(r"(?:st|nd|rd|th)$", "", token)
    return int(digits) if digits.isdigit() and len(digits) <= 6 else 10**6


def _is_pleasantry(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return bool(words) and all(w in _PLEASANTRIES for w in words)


def _first(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
    """The first pattern's match in ``text`` (patterns are tried in order), or None."""
    for pat in patterns:
        if m := pat.search(text):
            return m
    return None


def _blank(text: str, m: re.Match[str]) -> str:
    return text[: m.start()] + " " + text[m.end() :]


# --------------------------------------------------------------------------------------------------
# Parsing


class Reader:
    """One reply being read; accumulates edits and remembers which clauses meant something."""

    def __init__(self, current: Current, quoted: list[str]) -> None:
        self.current = current
        self.quoted = quoted
        self.edits = Edits()
        self.keywords: list[str] = []
        self.avoid: list[str] = []
        self.recognised = False
        self.ignored: list[str] = []
        self.last_list: str | None = None  # "keywords" / "avoid": where a bare follow-up clause goes

    # values -----------------------------------------------------------------------------------------

    def value(self, raw: str) -> str:
        """A text value: placeholders restored, neutralised, trimmed of stray quotes and punctuation."""
        text = re.sub(r"\x01([0-9]+)\x01", lambda m: self.quoted[int(m.group(1))], raw)
        text = " ".join(neutralize(text).split())
        return text.strip(" \"'`*_~.,;:!?()[]{}")

    def add_list(self, kind: str, raw: str) -> None:
        items = [raw] if raw.strip().startswith("\x01") else re.split(r"\s+or\s+|\s*/\s*", raw, flags=_I)
        for item in items:
            text = self.value(item)
            if not text or _is_pleasantry(text):
                continue
            if len(text) > KEYWORD_MAX:
                verb = "mention" if kind == "keywords" else "avoid"
                raise UserError(
                    f'"{text[:KEYWORD_MAX]}…" is {len(text)} characters; keep each word or phrase under '
                    f'{KEYWORD_MAX}, e.g. {verb} "battery life".'
                )
            target = self.keywords if kind == "keywords" else self.avoid
            value = text if kind == "keywords" else text.lower()
            if value.lower() not in (t.lower() for t in target):
                target.append(value)
            self.recognised = True
            self.last_list = kind

    def set_cta(self, raw: str) -> None:
        text = self.value(raw)
        if not text:
            return
        limit = CJK_CTA_MAX if self.current.language == "zh" else CTA_MAX
        if len(text) > limit:
            raise UserError(
                f'The button text "{text[:limit]}…" is {len(text)} characters; keep it to {limit}, e.g. cta: Shop now.'
            )
        self.edits.cta = text
        self.recognised = True

    # numbers ----------------------------------------------------------------------------------------

    def set_round(self, n: int) -> None:
        cur = self.current.round
        if n == -1:
            n = cur
        if not 1 <= n <= cur:
            if cur <= 1:
                raise UserError(
                    'This is round 1, so there is no earlier round yet. Try "more like 2" or "shorter".'
                )
            raise UserError(
                f'There are {cur} rounds so far; pick round 1-{cur}, e.g. "back to round {cur - 1}".'
            )
        self.edits.back_to_round = n
        self.recognised = True

    def set_like(self, n: int) -> None:
        back = self.edits.back_to_round
        high = self.current.variants if back is None or back == self.current.round else MAX_VARIANTS
        high = max(1, min(high, MAX_VARIANTS))
        if n == -1:
            n = high
        if not 1 <= n <= high:
            raise UserError(f'Pick a card from 1 to {high}, e.g. "more like {min(2, high)}".')
        self.edits.like = n
        self.recognised = True

    def set_variants(self, n: int) -> None:
        if not 1 <= n <= MAX_VARIANTS:
            raise UserError(f'You can ask for 1-{MAX_VARIANTS} variants, e.g. "6 variants".')
        self.edits.variants = n
        self.recognised = True

    # a clause ---------------------------------------------------------------------------------------

    def clause(self, text: str) -> None:
        text = re.sub(r"^(?:(?:and|&|then|but|plus|also)\s+)+", "", text.strip(" .!?:-"), flags=_I)
        if not text:
            return
        before, list_before = self.recognised, self.last_list
        self.recognised, self.last_list = False, None
        self.cues(self.phrases(text))
        if not self.recognised:
            bare = self.value(text)
            if list_before and bare and len(bare.split()) <= 4 and not _is_pleasantry(bare):
                self.add_list(list_before, text)  # "avoid cheap, free and deal"
            elif bare and not _is_pleasantry(bare):
                self.ignored.append(bare[:60])
        self.recognised = self.recognised or before

    def phrases(self, text: str) -> str:
        """Match phrase patterns; return what is left of the clause for the cue words."""
        rest = self._which_round(text)
        if rest is None:
            return ""
        text = rest
        if not self.recognised and re.fullmatch(r"\s*#?\s*[0-9]{1,6}\s*", text):
            self.set_like(number(text.strip(" #")))  # a bare "2" picks card 2, like the 2️⃣ reaction
            return ""
        text = self._how_many(text)
        return self._words_to_use_or_avoid(text)

    def _which_round(self, text: str) -> str | None:
        """Card ids, "undo", "back to round N", "more like K"; None when the clause was only an undo."""
        cur = self.current
        m = _CARD.search(text)
        if m:
            r, v = int(m.group(1)), int(m.group(2))
            if r != cur.round:
                self.set_round(r)
            self.set_like(v)
            text = _blank(text, m)
        if _UNDO.fullmatch(text.strip()):
            self.set_round(cur.round - 1)
            return None
        if m := _first(_BACK, text):
            g = m.group(1).lower()
            self.set_round(1 if g in ("start", "beginning", "original") else number(g))
            text = _blank(text, m)
        if m := _first(_LIKE, text):
            self.set_like(number(m.group(1)))
            text = _blank(text, m)
        return text

    def _how_many(self, text: str) -> str:
        """ "6 variants", "more options", "fewer cards"."""
        if m := _first(_VARIANTS, text):
            self.set_variants(number(m.group(1)))
        elif m := _MORE_VARIANTS.search(text):
            self.set_variants(min(MAX_VARIANTS, self.current.variants + 2))
        elif m := _FEWER_VARIANTS.search(text):
            self.set_variants(max(1, self.current.variants - 2))
        return _blank(text, m) if m else text

    def _words_to_use_or_avoid(self, text: str) -> str:
        """ "avoid X", "mention X" (the rest of the clause is the value, so nothing after it is read)."""
        if m := _first(_AVOID, text):
            self.add_list("avoid", m.group(1))
            return text[: m.start()]
        if m := _first(_MENTION, text):
            self.add_list("keywords", m.group(1))
            return text[: m.start()]
        m = _SOFT_MENTION.search(text)
        if m and (m.group(1).startswith("\x01") or not self.has_cue(m.group(1))):
            self.add_list("keywords", m.group(1))
            return text[: m.start()]
        return text

    def has_cue(self, text: str) -> bool:
        probe = Reader(self.current, self.quoted)
        probe.cues(text)
        return probe.recognised

    def cues(self, text: str) -> None:
        """Single words and short phrases: tone, length, colour, size, strength, "again"."""
        text = re.sub(r"\x01[0-9]+\x01", " ", text.lower())
        if not text.strip():
            return
        text = self._phrase_cues(text)
        words = re.findall(r"[0-9]+:[0-9]+|[a-z][a-z'-]*", text)
        if words and set(words) <= (_AGAIN | _FILLER) and set(words) & _AGAIN:
            self.recognised = True  # "again", "another one please": a fresh round, same brief
            return
        for i in range(len(words)):
            if self._word_cue(words, i):
                self.recognised = True

    def _shift(self, step: int) -> None:
        """A relative length edit: ``step`` places along LENGTHS from the current (or already edited) length."""
        e = self.edits
        cur = LENGTHS.index(self.current.length) if self.current.length in LENGTHS else 1
        at = LENGTHS.index(e.length) if e.length in LENGTHS else cur
        e.length = LENGTHS[max(0, min(len(LENGTHS) - 1, at + step))]
        e.length_step += step
        self.recognised = True

    def _phrase_cues(self, text: str) -> str:
        """Multi-word cues ("less text", "totally different"); returns the text with them blanked out."""
        e = self.edits
        if m := _SHORTER_PHRASES.search(text):
            self._shift(-1)
            text = _blank(text, m)
        elif m := _LONGER_PHRASES.search(text):
            self._shift(+1)
            text = _blank(text, m)
        if m := _STRONG_PHRASES.search(text):
            e.strength, self.recognised = "strong", True
            text = _blank(text, m)
        if m := _SUBTLE_PHRASES.search(text):
            e.strength, self.recognised = e.strength or "subtle", True
            text = _blank(text, m)
        return text

    def _word_cue(self, words: list[str], i: int) -> bool:
        """Read ``words[i]`` in its context (the words before and after); True if it meant something."""
        e = self.edits
        w = words[i]
        prev = words[i - 1] if i > 0 else ""
        prev2 = " ".join(words[max(0, i - 2) : i])
        nxt = words[i + 1] if i + 1 < len(words) else ""
        negated = prev in ("less", "too") or prev2 in _LESS_PREFIX
        step = 2 if (prev in _INTENSIFIERS or prev2 in ("a lot", "way more")) else 1
        if nxt in _COLOUR_NOUNS and (w in _TONE_AS_COLOUR or w in _CONTEXT_COLOURS or w in _COLOUR_WORDS):
            e.colour = _TONE_AS_COLOUR.get(w) or _CONTEXT_COLOURS.get(w) or _COLOUR_WORDS[w]
        elif nxt in _TONE_NOUNS and w in _TONE_BY_NOUN:
            e.tone = _TONE_BY_NOUN[w]
        elif (w in _SHORTER and not negated) or (w == "long" and negated):
            self._shift(-step)
        elif (w in _LONGER and not negated) or (w == "short" and negated):
            self._shift(+step)
        elif w in ("short", "shortest", "long", "longest", "medium"):
            e.length = {"shortest": "short", "longest": "long"}.get(w, w)
            e.length_step = 0
        elif negated and (w in _TONE_WORDS or w in _LESS_WORDS):
            e.tone = _LESS_WORDS.get(w) or _LESS_TONE[_TONE_WORDS[w]]
        elif negated and w in ("dark", "darker", "light", "lighter", "bright", "brighter"):
            e.colour = "light" if w.startswith("dark") else ("dark" if w.startswith("light") else "muted")
        elif w in _TONE_WORDS and not negated:
            e.tone = _TONE_WORDS[w]
        elif w in _COLOUR_WORDS and not negated:
            e.colour = _COLOUR_WORDS[w]
        elif w in _CONTEXT_COLOURS and prev == "more":
            e.colour = _CONTEXT_COLOURS[w]
        elif w in _SIZE_WORDS:
            e.size = _SIZE_WORDS[w]
        elif w in _STRONG:
            e.strength = "strong"
        elif w in _SUBTLE:
            e.strength = e.strength or "subtle"
        else:
            return False
        return True

    def finish(self) -> ReplyIntent:
        if not self.recognised:
            return NotUnderstood()
        self.edits.add_keywords = tuple(self.keywords[:MAX_KEYWORDS])
        self.edits.avoid = tuple(self.avoid[:MAX_AVOID])
        e = self.edits
        if e.back_to_round is not None and e == Edits(back_to_round=e.back_to_round):
            return BackTo(e.back_to_round)
        return Refine(edits=e, like=e.like, ignored=tuple(self.ignored))
