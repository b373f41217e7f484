"""Render engine messages as Slack text and Block Kit: mrkdwn escaping and Slack's size limits.

Everything the bot shows in Slack goes through :func:`escape`, so generated copy or a brief can never
become a mention (``<!channel>``, ``<@U123>``) or a link.
"""

from __future__ import annotations

from typing import Any

from engine.adapter import Button, OutMessage

SECTION_LIMIT = 3000  # characters of text in one section block
TEXT_LIMIT = 3000  # we keep the fallback ``text`` of a message this short too (Slack allows 40,000)
MAX_BLOCKS = 50
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000

# unicode reactions the engine asks for -> Slack short names (reactions.add takes names, not characters)
_NUMBER_NAMES = ("one", "two", "three", "four", "five", "six", "seven", "eight")
_EMOJI_NAMES: dict[str, str] = {f"{d}\u20e3": name for d, name in zip("12345678", _NUMBER_NAMES, strict=True)}
_EMOJI_NAMES.update({"\u274c": "x", "\u274e": "negative_squared_cross_mark", "\u2b50": "star"})


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What a person typed, from the escaped form Slack delivers in events."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis), never inside an ``&amp;``-style entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def split_text(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """Split escaped text into pieces of at most ``limit`` characters, at line breaks where possible and
    never inside an entity."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
            amp = rest.rfind("&", 0, cut)
            if amp != -1 and ";" not in rest[amp:cut]:
                cut = amp
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest or not parts:
        parts.append(rest)
    return parts


def emoji_name(emoji: str) -> str:
    """The Slack short name of a reaction given as a unicode emoji (or already a name)."""
    key = emoji.replace("\ufe0f", "").strip(":")
    return _EMOJI_NAMES.get(key, key)


def fallback_text(message: OutMessage) -> str:
    """The plain ``text`` of a message: shown in notifications and by clients that cannot draw blocks."""
    return clip(escape(message.text), TEXT_LIMIT)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button_element(button: Button) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "button",
        "action_id": button.action,
        "text": {"type": "plain_text", "text": clip(button.label, BUTTON_LABEL_LIMIT), "emoji": True},
        "value": button.value[:BUTTON_VALUE_LIMIT],
    }
    if button.action == "refine":
        el["style"] = "primary"
    return el


def message_blocks(message: OutMessage) -> list[dict[str, Any]]:
    """Block Kit for a message: its text, one section per field (``*Headline*`` …), then its buttons."""
    blocks: list[dict[str, Any]] = []
    for piece in split_text(escape(message.text)):
        if piece.strip():
            blocks.append(_section(piece))
    for label, value in message.fields:
        head = f"*{escape(label)}*\n"
        for i, piece in enumerate(split_text(escape(value), SECTION_LIMIT - len(head))):
            blocks.append(_section((head if i == 0 else "") + piece))
    if message.buttons:
        blocks = blocks[: MAX_BLOCKS - 1]
        blocks.append({"type": "actions", "elements": [button_element(b) for b in message.buttons[:25]]})
    return blocks[:MAX_BLOCKS]


def status_blocks(text: str) -> list[dict[str, Any]]:
    return [_section(p) for p in split_text(escape(text))][:MAX_BLOCKS]
