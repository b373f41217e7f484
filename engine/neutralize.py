"""Make generated or user-supplied text safe to post: no mass mentions, no markup, no hidden characters."""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters and bidi controls (LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI, LRM/RLM/ALM), BOM, soft hyphen.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Slack special mentions <!channel> <!here|here> <!everyone>, user/channel/usergroup refs <@U123> <#C123> <!subteam^S1>,
# Discord user/role/channel mentions <@123> <@!123> <@&123> <#123>.
_ANGLE_REF = re.compile(r"<\s*([!@#][^<>]{0,80})>")
_MASS = re.compile(r"@\s*(everyone|here|channel|all)\b", re.IGNORECASE)
_AT_WORD = re.compile(r"@(?=\w)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def require_encodable(text: str, what: str = "The text") -> str:
    """``text`` unchanged, or a :class:`~engine.errors.UserError` when it cannot be stored or posted: a
    lone surrogate (half of an emoji, from a broken paste or a bad client) is not valid Unicode text and
    would fail later, far from the person who typed it (a journal write, copy.json, a poison job)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        from engine.errors import UserError  # noqa: PLC0415 - errors imports nothing of ours; keep this module leaf

        raise UserError(
            f"{what} has a broken character in it (often half of an emoji from a copy and paste). "
            "Please type it again."
        ) from None
    return text


def _ref_to_text(m: re.Match[str]) -> str:
    inner = m.group(1)
    word = re.sub(r"[^\w\s.-]", "", inner.split("|")[-1]).strip()
    return word or "mention"


def neutralize(text: str) -> str:
    """Return ``text`` with mentions and markup defused.

    - ``<!channel>``, ``<@U123>``, ``<#C1>`` become plain words (``channel``, ``U123``);
    - ``@everyone``/``@here``/``@channel`` lose the ``@`` and any ``@name`` gets a harmless
      full-width at sign, so no platform parses a mention;
    - remaining ``<`` / ``>`` become the look-alike ``‹`` / ``›`` (never raw markup);
    - zero-width, bidi-control and other control characters are removed; NFC normalised.
    """
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    text = _ANGLE_REF.sub(_ref_to_text, text)
    text = _MASS.sub(lambda m: m.group(1), text)
    text = _AT_WORD.sub("\uff20", text)
    text = text.replace("<", "\u2039").replace(">", "\u203a")
    return text


def has_mention_or_markup(text: str) -> bool:
    """True if ``text`` still holds something a chat platform could treat as a mention or markup."""
    return bool(_INVISIBLE.search(text) or "<" in text or ">" in text or re.search(r"@\w", text))
