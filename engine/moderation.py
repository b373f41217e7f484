"""A moderation list: words and phrases an operator refuses in briefs and replies and never lets the studio
post in generated copy. The list is an object passed in (from the settings today; a workspace's brand kit
may hand its own later), never a global.

Matching is whole-word (a phrase: whole words in a row), after normalising the text the way people dodge
a filter: Unicode NFKC (full-width letters), case folding, hidden characters removed (zero-width space,
joiners, word joiner, BOM, soft hyphen), look-alike Cyrillic and Greek letters read as Latin, leetspeak
(0 o, 1 i or l, 3 e, 4 a, 5 s, 7 t, @ a, $ s) in words that have a letter in them, and a single word
spelt out with separators ("b.a.d", "b a d"). "class" never matches "ass", nor "hello" "hell".
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_HIDDEN = re.compile("[\u00ad\u180e\u200b-\u200d\u2060\ufeff]")
# Cyrillic and Greek letters that look like Latin ones (after case folding).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "һ": "h", "ɡ": "g",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s", "σ": "s", "μ": "u", "γ": "y",
    }
)  # fmt: skip
_LEET: dict[str, tuple[str, ...]] = {
    "0": ("o",), "1": ("i", "l"), "3": ("e",), "4": ("a",), "5": ("s",), "7": ("t",),
    "@": ("a",), "$": ("s",),
}  # fmt: skip
_TOKEN = re.compile(r"(?:[^\W_]|[@$])+")
_MAX_READINGS = 16  # leet readings of one word (a "1" is i or l): enough for real dodges, bounded
_MIN_SPELT = 3  # "b a d": a run of at least this many single characters is read as one word


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", _HIDDEN.sub("", text)).casefold().translate(_HOMOGLYPHS)


def _readings(token: str) -> set[str]:
    """The token as written, and its leetspeak readings when it has a letter in it (plain numbers stay)."""
    if not any(c.isalpha() for c in token) and not (len(token) == 1 and token in _LEET):
        return {token}
    options = [_LEET.get(c, (c,)) for c in token]
    out = {token}
    for combo in itertools.islice(itertools.product(*options), _MAX_READINGS):
        out.add("".join(combo))
    return out


def _words(text: str) -> list[str]:
    return _TOKEN.findall(_fold(text))


@dataclass(frozen=True)
class ModerationList:
    """Banned entries, each a tuple of normalised words (one word, or a phrase)."""

    entries: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, words: Iterable[str]) -> ModerationList:
        entries = {tuple(_words(w)) for w in words}
        return cls(tuple(sorted(e for e in entries if e)))

    @classmethod
    def from_settings(cls, words: str, file: Path | None) -> ModerationList:
        """The operator's list: comma-separated ``words`` plus ``file`` (one entry a line, # comments)."""
        items = words.split(",")
        if file is not None:
            for line in file.read_text(encoding="utf-8").splitlines():
                items.append(line.split("#", 1)[0])
        return cls.of(i.strip() for i in items if i.strip())

    def __bool__(self) -> bool:
        return bool(self.entries)

    def words(self) -> list[str]:
        """The entries as normalised text (what a job carries to the worker)."""
        return [" ".join(e) for e in self.entries]

    def match(self, text: str) -> str | None:
        """The first entry ``text`` contains (for the operator's log; never shown to users), or None."""
        if not self.entries:
            return None
        tokens = [_readings(t) for t in _words(text)]
        for entry in self.entries:
            if _phrase_at(tokens, entry) or (len(entry) == 1 and _spelt_out(tokens, entry[0])):
                return " ".join(entry)
        return None

    def matches(self, *texts: str) -> str | None:
        for t in texts:
            hit = self.match(t)
            if hit:
                return hit
        return None


def _phrase_at(tokens: list[set[str]], entry: tuple[str, ...]) -> bool:
    n = len(entry)
    return any(all(entry[k] in tokens[i + k] for k in range(n)) for i in range(len(tokens) - n + 1))


def _spelt_out(tokens: list[set[str]], word: str) -> bool:
    """``word`` written one character at a time with separators between ("b.a.d", "b a d")."""
    if len(word) < _MIN_SPELT:
        return False
    n = len(word)
    singles = [{r for r in t if len(r) == 1} for t in tokens]
    for i in range(len(tokens) - n + 1):
        if all(word[k] in singles[i + k] for k in range(n)):
            # the whole run of single characters, not a part of a longer one ("a b c d" is not "bcd")
            before = i > 0 and bool(singles[i - 1])
            after = i + n < len(tokens) and bool(singles[i + n])
            if not before and not after:
                return True
    return False
