"""What a reply asks for, as data: the campaign's current values (:class:`Current`), the changes
(:class:`Edits`) and the intents :func:`engine.replies.parse_reply` returns. No parsing here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.brief import LENGTHS, Brief
from engine.help import HELP_REPLIES

MAX_REPLY_CHARS = 1000
KEYWORD_MAX = 40  # same caps as Brief.create
MAX_KEYWORDS = 8
MAX_AVOID = 16

# Canonical colour hints an Edits.colour can hold (the compositor maps them to palettes).
COLOURS: tuple[str, ...] = (
    "red", "orange", "yellow", "green", "teal", "blue", "navy", "purple", "pink", "brown", "black", "white",
    "grey", "gold", "silver", "warm", "cool", "dark", "light", "bright", "pastel", "muted", "vibrant", "mono",
    "neon",
)  # fmt: skip

NOT_UNDERSTOOD = (
    "I didn't catch an instruction there. Reply in this thread with things like "
    '`shorter`, `bolder`, `bluer`, `mention GPS`, `avoid "cheap"`, `cta: Shop now`, `6 variants`, '
    "`landscape`, `more like 2` or `back to round 1` (several at once work too), "
    "or react with a number to pick a card. Reply `help` for more."
)


@dataclass(frozen=True)
class Current:
    """What the campaign looks like now: the values relative edits ("shorter") and bounds depend on."""

    tone: str = "friendly"
    length: str = "medium"
    size: str = "square"
    variants: int = 4  # cards in the latest round: "more like N" must be 1..variants
    round: int = 1  # latest round number: "back to round N" must be 1..round
    language: str = "en"


@dataclass
class Edits:
    """Changes a reply asks for; ``None`` / empty means "keep as is"."""

    tone: str | None = None
    length: str | None = None  # absolute: short / medium / long (already resolved against the current length)
    colour: str | None = None  # one of COLOURS
    add_keywords: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    cta: str | None = None
    variants: int | None = None
    size: str | None = None
    strength: str | None = None  # "strong" (bigger changes) or "subtle"
    # the relative part of a length edit ("shorter" -1, "much shorter" -2): the worker applies it to the
    # chosen variant's own body, which may differ from the brief's length
    length_step: int = 0
    like: int | None = None  # base the next round on this variant
    back_to_round: int | None = None  # ... of this round (None: the latest)

    def is_empty(self) -> bool:
        return self == Edits()

    def describe(
        self, current_tone: str, current_length: str, current_size: str = "square", current_variants: int = 4
    ) -> str:
        """What changes, e.g. ``tone playful -> bold, shorter``; ``""`` when nothing does (see :meth:`echo`)."""
        parts: list[str] = []
        if self.back_to_round is not None:
            parts.append(f"from round {self.back_to_round}")
        if self.like is not None:
            parts.append(f"based on #{self.like}")
        if self.tone and self.tone != current_tone:
            parts.append(f"tone {current_tone} -> {self.tone}")
        if self.length and current_length in LENGTHS and self.length in LENGTHS:
            step = LENGTHS.index(self.length) - LENGTHS.index(current_length)
            if step:
                parts.append(
                    ("shorter" if step < 0 else "longer")
                    + (" (" + self.length + ")" if abs(step) > 1 else "")
                )
            else:
                parts.append(f"length stays {self.length}")
        elif self.length and self.length != current_length:
            parts.append(f"length {self.length}")
        if self.colour:
            parts.append(f"colour {self.colour}")
        if self.add_keywords:
            parts.append("mention " + ", ".join(f'"{k}"' for k in self.add_keywords))
        if self.avoid:
            parts.append("avoid " + ", ".join(f'"{a}"' for a in self.avoid))
        if self.cta:
            parts.append(f'button "{self.cta}"')
        if self.size and self.size != current_size:
            parts.append(f"size {current_size} -> {self.size}")
        if self.variants is not None and self.variants != current_variants:
            parts.append(f"{self.variants} variant" + ("s" if self.variants != 1 else ""))
        if self.strength == "strong":
            parts.append("bigger changes")
        elif self.strength == "subtle":
            parts.append("subtle changes")
        return ", ".join(parts)

    def echo(
        self, current_tone: str, current_length: str, current_size: str = "square", current_variants: int = 4
    ) -> str:
        """The sentence posted before queuing: ``Got it: tone playful -> bold, shorter``."""
        changes = self.describe(current_tone, current_length, current_size, current_variants)
        return "Got it: " + (changes or "same brief, fresh wording")

    def apply_to_brief(self, brief: Brief) -> Brief:
        """The brief for the next round: tone, length, keywords and avoid-words merged (caps as Brief.create)."""
        avoid_l = {a.lower() for a in self.avoid}
        add_l = {k.lower() for k in self.add_keywords}
        keywords = [k for k in brief.keywords if k.lower() not in avoid_l]
        keywords += [k for k in self.add_keywords if k.lower() not in {x.lower() for x in keywords}]
        avoid = [a for a in brief.avoid if a.lower() not in add_l]
        avoid += [a for a in self.avoid if a not in avoid]
        return Brief.create(
            brief.product,
            audience=brief.audience,
            tone=self.tone or brief.tone,
            language=brief.language,
            length=self.length or brief.length,
            keywords=tuple(keywords[-MAX_KEYWORDS:]),
            avoid=tuple(avoid[-MAX_AVOID:]),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["add_keywords"] = list(self.add_keywords)
        d["avoid"] = list(self.avoid)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Edits:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["add_keywords"] = tuple(known.get("add_keywords", ()))
        known["avoid"] = tuple(known.get("avoid", ()))
        return cls(**known)


@dataclass(frozen=True)
class Refine:
    """Make the next round with ``edits``; ``like`` is the variant to build on (None: the engine's choice).
    ``ignored`` lists clauses that were not understood, for the echo."""

    edits: Edits
    like: int | None = None
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackTo:
    """Go back to an earlier round, unchanged (a reply that only said "back to round 1")."""

    round: int


@dataclass(frozen=True)
class ExportIntent:
    """Export the campaign (``variant`` set for "export 2")."""

    variant: int | None = None


@dataclass(frozen=True)
class HelpIntent:
    message: str = HELP_REPLIES


@dataclass(frozen=True)
class NotUnderstood:
    message: str = NOT_UNDERSTOOD


ReplyIntent = Refine | BackTo | ExportIntent | HelpIntent | NotUnderstood
