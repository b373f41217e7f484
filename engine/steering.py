"""What a refinement needs beyond the brief, already resolved: colour, strength and a relative length
step. No torch, no parsing in the worker.

There is one vocabulary for instructions, :func:`engine.replies.parse_reply`, and a reply is read once:
by the engine for chat (:mod:`engine.planning` puts the result into the job), or by ``campaignbot
generate --steer`` for its own flag (:func:`steer_from_text`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.brief import LENGTHS, Brief
from engine.errors import UserError
from engine.replies import Current, Edits, Refine, parse_reply


@dataclass
class Steering:
    colour: str | None = None
    strength: str = "subtle"
    # "shorter" -1, "much shorter" -2, "longer" +1: relative to the chosen variant's own body length
    length_step: int = 0

    @classmethod
    def from_edits(cls, e: Edits) -> Steering:
        return cls(colour=e.colour, strength=e.strength or "subtle", length_step=e.length_step)


def steer_length(step: int, body_length: str, brief_length: str) -> str:
    """The body length a refine round aims for: ``step`` applied to the chosen variant's own length (so
    "shorter" is shorter than what the person saw), never past what the brief already asks for."""
    order = list(LENGTHS)
    if not step or body_length not in order:
        return brief_length
    target = order[max(0, min(len(order) - 1, order.index(body_length) + step))]
    if target == body_length:
        return brief_length
    pick = min if step < 0 else max
    return pick(target, brief_length, key=order.index) if brief_length in order else target


def steer_from_text(text: str | None, brief: Brief) -> tuple[Brief, Steering]:
    """Read a ``--steer`` text once (best effort: what is not understood is ignored; the chat tells people
    instead) into the next brief and the rest of the steering."""
    if not text or not text.strip():
        return brief, Steering()
    length = brief.length if brief.length in LENGTHS else "medium"
    try:
        intent = parse_reply(text, current=Current(tone=brief.tone, length=length))
    except UserError:
        return brief, Steering()
    if not isinstance(intent, Refine):
        return brief, Steering()
    return intent.edits.apply_to_brief(brief), Steering.from_edits(intent.edits)
