"""Turn a free-text refinement instruction ("shorter, bluer, more playful") into structured edits. No torch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.brief import LENGTHS, TONES

_TONE_WORDS: dict[str, str] = {
    "playful": "playful",
    "fun": "playful",
    "funnier": "playful",
    "lighter": "playful",
    "bold": "bold",
    "bolder": "bold",
    "punchier": "bold",
    "louder": "bold",
    "premium": "premium",
    "luxury": "premium",
    "luxurious": "premium",
    "classier": "premium",
    "elegant": "premium",
    "friendly": "friendly",
    "warmer": "friendly",
    "warm": "friendly",
    "urgent": "urgent",
    "urgency": "urgent",
    "calm": "calm",
    "calmer": "calm",
    "softer": "calm",
    "relaxed": "calm",
    "professional": "professional",
    "formal": "professional",
    "serious": "professional",
}
_COLOURS = (
    "red",
    "orange",
    "yellow",
    "green",
    "teal",
    "blue",
    "bluer",
    "purple",
    "pink",
    "brown",
    "black",
    "white",
    "gold",
    "darker",
    "lighter-colours",
    "brighter",
    "pastel",
    "redder",
    "greener",
    "warmer-colours",
    "cooler",
)


@dataclass
class Steering:
    tone: str | None = None
    length: str | None = None
    colour: str | None = None
    strength: str = "subtle"
    understood: list[str] = field(default_factory=list)

    def describe(self, old_tone: str, old_length: str) -> str:
        parts = []
        if self.tone and self.tone != old_tone:
            parts.append(f"tone {old_tone} -> {self.tone}")
        if self.length and self.length != old_length:
            parts.append(self.length + "er" if self.length in ("short", "long") else f"length {self.length}")
        if self.colour:
            parts.append(f"colour {self.colour}")
        if self.strength == "strong":
            parts.append("bigger visual change")
        return ", ".join(parts) if parts else "same brief, fresh wording"


def parse_steering(text: str | None, current_length: str = "medium") -> Steering:
    """Best-effort parse of a refinement instruction; unknown words are simply ignored here
    (the chat engine decides whether a reply was understood)."""
    s = Steering()
    if not text:
        return s
    words = re.findall(r"[a-z-]+", text.lower())
    idx = LENGTHS.index(current_length) if current_length in LENGTHS else 1
    for w in words:
        if w in ("shorter", "short", "shorten", "concise", "briefer"):
            s.length = LENGTHS[max(0, idx - 1)]
            s.understood.append(w)
        elif w in ("longer", "long", "detailed", "expand"):
            s.length = LENGTHS[min(len(LENGTHS) - 1, idx + 1)]
            s.understood.append(w)
        elif w in _TONE_WORDS or w in TONES:
            s.tone = _TONE_WORDS.get(w, w)
            s.understood.append(w)
        elif w in _COLOURS:
            s.colour = {"bluer": "blue", "redder": "red", "greener": "green"}.get(w, w)
            s.understood.append(w)
        elif w in ("different", "wilder", "stronger", "bigger", "new"):
            s.strength = "strong"
            s.understood.append(w)
    return s
