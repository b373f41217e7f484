"""A refinement instruction ("shorter, bluer, more playful") as the few values generation needs. No torch.

There is one vocabulary for instructions: :func:`engine.replies.parse_reply`, which reads chat replies.
This module only projects its :class:`~engine.replies.Edits` onto what ``campaignbot generate --steer``,
:meth:`Studio.refine_round` and :meth:`Copywriter.rewrite` use (tone, length, colour, strength).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.brief import LENGTHS
from engine.errors import UserError
from engine.replies import Current, Refine, parse_reply


@dataclass
class Steering:
    tone: str | None = None
    length: str | None = None
    colour: str | None = None
    strength: str = "subtle"


def parse_steering(text: str | None, current_length: str = "medium") -> Steering:
    """Best-effort reading of an instruction: what is not understood is ignored (the chat engine, which
    uses :func:`parse_reply` directly, tells people when a reply was not understood)."""
    if not text or not text.strip():
        return Steering()
    length = current_length if current_length in LENGTHS else "medium"
    try:
        intent = parse_reply(text, current=Current(length=length))
    except UserError:
        return Steering()
    if not isinstance(intent, Refine):
        return Steering()
    e = intent.edits
    return Steering(tone=e.tone, length=e.length, colour=e.colour, strength=e.strength or "subtle")
