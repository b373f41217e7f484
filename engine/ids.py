"""Campaign and card ids (``C12``, ``C12-R2-V3``): printing and parsing them."""

from __future__ import annotations

import re

from engine.errors import UserError
from engine.neutralize import neutralize

MAX_CAMPAIGN_ID = 2**63 - 1


def _short(text: str, n: int = 30) -> str:
    text = neutralize(text)
    return text if len(text) <= n else text[: n - 1] + "…"


_CARD_ID = re.compile(r"#?c([0-9]{1,19})-r([0-9]{1,9})-v([0-9]{1,9})", re.IGNORECASE)
_CAMPAIGN_REF = re.compile(r"#?c?([0-9]{1,19})(?:-r[0-9]{1,9}(?:-v[0-9]{1,9})?)?", re.IGNORECASE)


def card_id(campaign: int, round_no: int, variant: int) -> str:
    """``card_id(12, 2, 3) == "C12-R2-V3"``: the id printed on every card."""
    return f"C{campaign}-R{round_no}-V{variant}"


def parse_card_id(text: str) -> tuple[int, int, int]:
    """``"C12-R2-V3"`` -> ``(12, 2, 3)`` (case-insensitive, an optional leading ``#``)."""
    m = _CARD_ID.fullmatch(text.strip())
    if not m:
        raise UserError(
            f"'{_short(text)}' is not a card id. Card ids look like C12-R2-V3 (campaign 12, round 2, card 3)."
        )
    c, r, v = (int(g) for g in m.groups())
    if not (1 <= c <= MAX_CAMPAIGN_ID and r >= 1 and v >= 1):
        raise UserError(
            f"'{_short(text)}' is not a card id. Card ids look like C12-R2-V3 (numbers start at 1)."
        )
    return c, r, v


def parse_campaign_ref(text: str, *, command: str = "history") -> int:
    """``12``, ``C12``, ``c12``, ``#12`` or a card id ``C12-R2-V3`` -> ``12``."""
    m = _CAMPAIGN_REF.fullmatch(text.strip())
    cid = int(m.group(1)) if m else 0
    if not (1 <= cid <= MAX_CAMPAIGN_ID):
        raise UserError(
            f"'{_short(text)}' is not a campaign. Use its number as shown on the cards, e.g. /campaign {command} C12."
        )
    return cid
