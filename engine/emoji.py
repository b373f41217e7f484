"""Reactions: the number keycaps on a contact sheet, the choose and cancel emoji, in every spelling the
platforms send (unicode, ``:short_name:``, skin tones)."""

from __future__ import annotations

import re

NUMBER_EMOJI: list[str] = [f"{d}\ufe0f\u20e3" for d in "12345678"]
_NUMBER_NAMES = ("one", "two", "three", "four", "five", "six", "seven", "eight")
_CHOOSE_EMOJI = frozenset(
    {"\u2b50", "\U0001f31f", "\U0001f501", "\U0001f504", "\U0001f503"}
)  # ⭐ 🌟 🔁 🔄 🔃
_CHOOSE_NAMES = frozenset(
    {"star", "star2", "glowing_star", "repeat", "arrows_counterclockwise", "arrows_clockwise"}
)
_CANCEL_EMOJI = frozenset({"\u274c", "\u274e"})  # ❌ ❎
_CANCEL_NAMES = frozenset({"x", "cross_mark", "negative_squared_cross_mark", "cross_mark_button"})


def _emoji_key(emoji: str) -> str:
    """Normalise a reaction: strip ``:colons:``, skin tones (``::skin-tone-2``), variation selector; lower-case."""
    e = emoji.strip()
    e = e.split("::", 1)[0].strip(":").strip().lower()
    return e.replace("\ufe0f", "")


def emoji_choice(emoji: str) -> int | None:
    """The variant number (1-8) a reaction stands for, or ``None``.

    Accepts unicode keycaps (``2️⃣``, with or without the variation selector) and short names
    (Slack ``two``, Discord ``:two:``, ``keycap_2``)."""
    key = _emoji_key(emoji)
    if len(key) == 2 and key[1] == "\u20e3" and key[0] in "12345678":
        return int(key[0])
    if key in _NUMBER_NAMES:
        return _NUMBER_NAMES.index(key) + 1
    m = re.fullmatch(r"keycap_?([1-8])", key)
    return int(m.group(1)) if m else None


def is_choose_emoji(emoji: str) -> bool:
    """⭐ / 🔁 (and 🌟 🔄 🔃) on a card: choose that variant."""
    key = _emoji_key(emoji)
    return key in _CHOOSE_NAMES or key in _CHOOSE_EMOJI


def is_cancel_emoji(emoji: str) -> bool:
    """❌ (or ❎) on the status message: cancel the campaign."""
    key = _emoji_key(emoji)
    return key in _CANCEL_NAMES or key in _CANCEL_EMOJI
