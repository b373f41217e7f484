"""Thread replies -> structured intents: "shorter and bolder, bluer, 6 variants" becomes one :class:`Refine`.

A reply is read in three passes:

1. quoted values (``"battery life"``, ``'free'``) and a ``cta: ...`` / ``button "..."`` value are set aside,
   so their words are never read as instructions;
2. whole-reply intents: ``help`` / ``?`` -> :class:`HelpIntent`; ``export`` / ``download [N]`` ->
   :class:`ExportIntent`;
3. the rest is cut into clauses (at ``, ; . ! ?``, new lines, ``and``, ``&``, ``then``, ``but``, ``plus``) and each clause
   is matched against phrase patterns (``back to round 1``, ``more like 2``, ``6 variants``, ``avoid X``,
   ``mention X``) and then single cue words (tone, length, colour, size, strength).

Nothing recognised -> :class:`NotUnderstood` with examples (never a guess). A value out of range
(``more like 12`` with 4 cards, ``back to round 9`` in round 2, ``20 variants``) or a text value over
its length limit raises :class:`~engine.errors.UserError` whose message names the allowed range.
Nothing else escapes :func:`parse_reply`. Pure Python; no torch.
"""

from __future__ import annotations

import re

from engine.edits import (
    COLOURS,
    MAX_REPLY_CHARS,
    BackTo,
    Current,
    Edits,
    ExportIntent,
    HelpIntent,
    NotUnderstood,
    Refine,
    ReplyIntent,
)
from engine.errors import UserError
from engine.neutralize import neutralize, require_encodable
from engine.reply_reader import Reader, number
from engine.vocabulary import (
    _AND,
    _CLAUSE_SPLIT,
    _CTA,
    _EXPORT,
    _HELP,
    _I,
)


def _extract_quotes(text: str) -> tuple[str, list[str]]:
    """Replace "double" and 'single' quoted values with placeholders; return the text and the values."""
    quoted: list[str] = []

    def keep(m: re.Match[str]) -> str:
        quoted.append(m.group(1))
        return f" \x01{len(quoted) - 1}\x01 "

    text = re.sub(r'"([^"\n]{0,200})"', keep, text)
    text = re.sub(r"(?<![\w'])'([^'\n]{1,200}?)'(?![\w'])", keep, text)
    return text, quoted


def parse_reply(
    text: str,
    *,
    current: Current | None = None,
    tone: str | None = None,
    length: str | None = None,
    size: str | None = None,
    variants: int | None = None,
    max_round: int | None = None,
    language: str | None = None,
) -> ReplyIntent:
    """Read a plain reply in a campaign thread. Returns an intent; raises only :class:`UserError`
    (a number out of range, a text value over its length limit).

    The campaign's state comes as ``current=Current(...)`` or as keywords (``tone``, ``length``, ``size``,
    ``variants`` = cards in the base round, ``max_round`` = latest round number, ``language``); keywords win."""
    base = current or Current()
    current = Current(
        tone=tone if tone is not None else base.tone,
        length=length if length is not None else base.length,
        size=size if size is not None else base.size,
        variants=variants if variants is not None else base.variants,
        round=max_round if max_round is not None else base.round,
        language=language if language is not None else base.language,
    )
    if not isinstance(text, str):
        return NotUnderstood()
    text = neutralize(require_encodable(text, "That reply"))  # also strips control characters: \x01 is ours
    if len(text) > MAX_REPLY_CHARS:
        return NotUnderstood(
            "That reply is too long to read as an instruction. Keep it short, e.g. `shorter, bluer, more like 2`."
        )
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    text = re.sub(r"[^\S\n]+", " ", text).strip()
    text = re.sub(r"\bblack\s*(?:and|&)\s*white\b|\bb&w\b", "monochrome", text, flags=_I)
    text, quoted = _extract_quotes(text)
    reader = Reader(current, quoted)

    for pat in _CTA:
        m = pat.search(text)
        if m:
            value, tail = m.group(1), ""
            parts = _AND.split(value, maxsplit=1)
            if len(parts) == 2 and reader.has_cue(parts[1]):  # "cta: Shop now and make it bluer"
                value, tail = parts
            reader.set_cta(value)
            text = text[: m.start()] + " , " + tail + text[m.end() :]
            break
    if not reader.recognised:
        bare = text.strip()
        if "\x01" not in bare and _HELP.fullmatch(bare.rstrip(" .!?") or bare):
            return HelpIntent()
        m = _EXPORT.match(bare)
        if m:
            variant = number(m.group(1)) if m.group(1) else None
            if variant is not None and not 1 <= variant <= current.variants:
                raise UserError(
                    f'Pick a card from 1 to {current.variants} to export, e.g. "export 2", or just "export".'
                )
            return ExportIntent(variant)
    for clause in _CLAUSE_SPLIT.split(text):
        reader.clause(clause)
    return reader.finish()


__all__ = [
    "COLOURS",
    "MAX_REPLY_CHARS",
    "BackTo",
    "Current",
    "Edits",
    "ExportIntent",
    "HelpIntent",
    "NotUnderstood",
    "Refine",
    "ReplyIntent",
    "parse_reply",
]
