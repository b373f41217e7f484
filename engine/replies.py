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
from dataclasses import asdict, dataclass
from typing import Any

from engine.brief import CJK_CTA_MAX, CTA_MAX, LENGTHS, MAX_VARIANTS, SIZES, TONES, Brief
from engine.commands import HELP_REPLIES
from engine.errors import UserError
from engine.neutralize import neutralize

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


# --------------------------------------------------------------------------------------------------
# Intents


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

# --------------------------------------------------------------------------------------------------
# Vocabulary


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "6th": 6, "7th": 7, "8th": 8, "last": -1,
}  # fmt: skip
_NUM = r"[0-9]{1,6}|one|two|three|four|five|six|seven|eight"
_ORD = r"first|second|third|fourth|fifth|sixth|seventh|eighth|last|[1-8](?:st|nd|rd|th)"

_TONE_WORDS: dict[str, str] = {
    **{t: t for t in TONES},
    "fun": "playful", "funnier": "playful", "funny": "playful", "cheeky": "playful", "witty": "playful",
    "quirky": "playful", "playfull": "playful", "sillier": "playful",
    "bolder": "bold", "punchier": "bold", "louder": "bold", "confident": "bold", "daring": "bold",
    "edgier": "bold", "edgy": "bold",
    "luxury": "premium", "luxurious": "premium", "classier": "premium", "classy": "premium",
    "elegant": "premium", "upscale": "premium", "fancier": "premium", "posher": "premium",
    "friendlier": "friendly", "casual": "friendly", "approachable": "friendly", "chattier": "friendly",
    "urgency": "urgent", "pushier": "urgent", "fomo": "urgent",
    "calmer": "calm", "relaxed": "calm", "gentler": "calm", "chill": "calm", "soothing": "calm",
    "softer": "calm", "quieter": "calm",
    "formal": "professional", "serious": "professional", "corporate": "professional",
    "businesslike": "professional", "pro": "professional",
}  # fmt: skip
# "less playful" / "too formal": the opposite tone.
_LESS_TONE: dict[str, str] = {
    "playful": "professional", "bold": "calm", "premium": "friendly", "friendly": "professional",
    "urgent": "calm", "calm": "bold", "professional": "friendly",
}  # fmt: skip
_LESS_WORDS: dict[str, str] = {
    "salesy": "calm",
    "pushy": "calm",
    "stiff": "friendly",
    "corporate": "friendly",
}

_COLOUR_WORDS: dict[str, str] = {
    **{c: c for c in COLOURS if c not in ("warm", "cool", "light", "bright")},
    "redder": "red", "greener": "green", "bluer": "blue", "pinker": "pink", "yellower": "yellow",
    "turquoise": "teal", "violet": "purple", "gray": "grey", "golden": "gold",
    "warmer": "warm", "cooler": "cool", "darker": "dark", "lighter": "light", "brighter": "bright",
    "pastels": "pastel", "subdued": "muted", "colourful": "vibrant", "colorful": "vibrant", "vivid": "vibrant",
    "saturated": "vibrant", "monochrome": "mono", "grayscale": "mono", "greyscale": "mono",
}  # fmt: skip
# Words that are colours only next to a colour noun ("cool colours"), so "cool!" is not an instruction.
_CONTEXT_COLOURS = {"warm": "warm", "cool": "cool", "light": "light", "bright": "bright", "mono": "mono"}
_TONE_AS_COLOUR = {"bold": "vibrant", "bolder": "vibrant", "louder": "vibrant", "punchier": "vibrant",
                   "softer": "muted", "calm": "muted", "calmer": "muted", "gentler": "muted",
                   "quieter": "muted"}  # fmt: skip
_COLOUR_NOUNS = _wordset(
    "colour colours color colors palette palettes background backgrounds hues hue shades shade tones visual "
    "visuals image images picture pictures art artwork look scheme"
)
_TONE_NOUNS = _wordset("tone voice copy words wording text writing language vibe")

_SIZE_WORDS: dict[str, str] = {
    **{s: s for s in SIZES},
    "wide": "landscape", "wider": "landscape", "widescreen": "landscape", "horizontal": "landscape",
    "banner": "landscape", "16:9": "landscape",
    "stories": "story", "vertical": "story", "portrait": "story", "tall": "story", "taller": "story",
    "reel": "story", "reels": "story", "tiktok": "story", "9:16": "story",
    "1:1": "square", "squared": "square",
}  # fmt: skip
_STRONG = _wordset("different wilder wild crazier crazy radical experimental stronger weirder")
_SUBTLE = _wordset("subtle subtler slight slightly minor tweak tweaks similar")
_STRONG_PHRASES = re.compile(
    r"\b(?:surprise me|shake it up|mix it up|change it up|something (?:new|else)|new direction|"
    r"bigger changes?|totally new|start fresh|fresh take)\b"
)
_SUBTLE_PHRASES = re.compile(
    r"\b(?:small changes?|a (?:little|bit|touch)|keep it close|close to (?:it|this))\b"
)
_SHORTER = _wordset("shorter shorten concise briefer tighter trim trimmer snappier leaner")
_LONGER = _wordset("longer lengthen expand detailed elaborate richer fuller")
_SHORTER_PHRASES = re.compile(r"\b(?:less (?:text|copy|words)|fewer words|cut it down|too long|tl;?dr)\b")
_LONGER_PHRASES = re.compile(r"\b(?:more (?:text|copy|words|detail|details)|too short)\b")
_AGAIN = _wordset("again regenerate redo reroll retry refresh another continue next more go iterate rerun")
# A clause made only of these words (and at least one _AGAIN word) asks for a fresh round: "another one please".
_FILLER = _wordset(
    "please pls one round batch set try let's lets ahead keep going some give me us a an the it do make new ok "
    "okay thanks cool nice great yes yep sure good now let run"
)
# "warmer tone", "lighter copy": tone words when followed by a tone noun.
_TONE_BY_NOUN = {"warm": "friendly", "warmer": "friendly", "light": "playful", "lighter": "playful",
                 "brighter": "playful", "bright": "playful", "softer": "calm", "cooler": "calm"}  # fmt: skip
_INTENSIFIERS = _wordset("much way lot lots far")
_LESS_PREFIX = ("less", "too", "not so", "not as", "not too", "way too", "a bit too", "bit too", "fewer")
_PLEASANTRIES = _wordset(
    "thanks thank you thx ty please pls plz cheers lol haha nice great cool ok okay awesome love it perfect "
    "worries problem this that them these those one no yes yeah wow hmm"
)

# --------------------------------------------------------------------------------------------------
# Phrase patterns (case-insensitive; quoted values are placeholders \x01N\x01 surrounded by spaces)

_I = re.IGNORECASE
_Q = r"\x01[0-9]+\x01"
_VALUE = rf"({_Q}|[^\s\x01].*$)"  # a quoted value, or the rest of the clause
_NUM = r"[0-9]{1,6}|one|two|three|four|five|six|seven|eight"
_ORD = r"first|second|third|fourth|fifth|sixth|seventh|eighth|last|[1-8](?:st|nd|rd|th)"
_REF = r"(?:#\s*|no\.?\s*|number\s+|variant\s+|version\s+|v|option\s+|card\s+|idea\s+|design\s+)"
_PICK = (
    r"(?:go\s+with|pick|choose|take|prefer|use|based\s+on|build\s+on|riff\s+on|iterate\s+on|work\s+from|"
    r"(?:i|we)\s+(?:like|love|prefer))"
)

_CARD = re.compile(r"\bc[0-9]{1,19}-r([0-9]{1,9})-v([0-9]{1,9})\b", _I)
_UNDO = re.compile(r"(?:undo(?:\s+that)?|go\s+back|previous\s+round|revert(?:\s+that)?)", _I)
_BACK = [
    re.compile(rf"\b(?:go\s+)?back\s+to\s+(?:round|r)\s*#?\s*({_NUM})\b", _I),
    re.compile(
        rf"\b(?:revert|return|rewind|jump|restart|roll\s+back)\s+(?:back\s+)?to\s+(?:round|r)\s*#?\s*({_NUM})\b",
        _I,
    ),
    re.compile(rf"\b(?:from|use|reuse|start\s+from|redo)\s+round\s*#?\s*({_NUM})\b", _I),
    re.compile(rf"\bround\s*#?\s*({_NUM})\s+again\b", _I),
    re.compile(rf"\b(?:back|revert|return)\s+to\s+the\s+({_ORD})\s+(?:round|one|batch|set)\b", _I),
    re.compile(r"\bback\s+to\s+the\s+(start|beginning|original)\b", _I),
]
_LIKE = [
    re.compile(rf"\b(?:more\s+)?like\s+(?:the\s+)?({_ORD})(?:\s+(?:one|card|variant|version|option))?\b", _I),
    re.compile(rf"\b(?:more\s+)?like\s+{_REF}?({_NUM})\b", _I),
    re.compile(rf"\b{_PICK}\s+(?:the\s+)?{_REF}({_NUM})\b", _I),
    re.compile(rf"\b{_PICK}\s+(?:the\s+)?({_ORD}|[1-8])(?:\s+(?:one|card|variant|version|option))?\b", _I),
    re.compile(r"(?:^|\s)#\s*([0-9]{1,6})\b", _I),
    re.compile(rf"\b(?:variant|version|option|card|number)\s+({_NUM})\b", _I),
]
_VARIANTS = [
    re.compile(
        rf"\b({_NUM})\s+(?:more\s+|new\s+|different\s+|fresh\s+)?(?:variants?|versions?|options?|ideas?|cards?|"
        rf"variations?|alternatives?|takes?|designs?|creatives?|ads?|of\s+them)\b",
        _I,
    ),
    re.compile(rf"\b(?:variants?|versions?|count)\s*[:=]?\s*({_NUM})\b", _I),
    re.compile(
        rf"\b(?:give\s+me|show\s+me|make|generate|i\s+want|we\s+want|i\s+need|need)\s+({_NUM})\b"
        rf"(?!\s*(?:st|nd|rd|th)\b)",
        _I,
    ),
    re.compile(rf"\b(?:only|just)\s+({_NUM})\b", _I),
]
_MORE_VARIANTS = re.compile(r"\bmore\s+(?:variants|versions|options|ideas|cards|variations)\b", _I)
_FEWER_VARIANTS = re.compile(r"\b(?:fewer|less)\s+(?:variants|versions|options|ideas|cards|variations)\b", _I)
_AVOID = [
    re.compile(
        r"\b(?:avoid|avoiding|ban|never\s+(?:say|use|mention|write)|don'?t\s+(?:say|use|mention|write|include)|"
        r"do\s+not\s+(?:say|use|mention|write|include)|stop\s+(?:saying|using|mentioning)|no\s+more)\b\s*:?\s*"
        rf"(?:the\s+)?(?:words?\s+|phrases?\s+|term\s+)?{_VALUE}",
        _I,
    ),
    re.compile(rf"\b(?:remove|drop|lose|cut|without)\s+(?:the\s+)?(?:words?\s+|phrases?\s+)?({_Q})", _I),
    re.compile(r"\b(?:remove|drop|lose|cut)\s+the\s+(?:words?|phrases?)\s+([^\s\x01].*)$", _I),
    re.compile(rf"^no\s+({_Q}|[^\W\d][\w'&+.-]*(?:\s+[\w'&+.-]+)?)$", _I),
]
_MENTION = [
    re.compile(
        r"\b(?:mention(?:ing)?|keywords?|add\s+(?:the\s+)?(?:keywords?|words?|phrases?)|"
        r"(?:include|use)\s+(?:the\s+)?(?:words?|phrases?|keywords?)|talk\s+about)\s*:?\s*"
        rf"{_VALUE}",
        _I,
    ),
    re.compile(rf"\bsay\s+({_Q})", _I),
]
# "use/add/include X": a keyword unless X is itself an instruction ("use a darker palette", "add urgency").
_SOFT_MENTION = re.compile(
    rf"\b(?:use|add|include|feature|highlight|emphasi[sz]e|stress)\s+(?:the\s+)?{_VALUE}", _I
)
_CTA = [
    re.compile(
        r"\b(?:cta|call\s+to\s+action|button(?:\s+text)?)"
        r"(?:\s*[:=]\s*|\s+(?:to|should\s+(?:say|be|read)|says?|reads?|text|of|is)\s+|\s*(?=\x01))"
        r"(\x01[0-9]+\x01|[^,;\n.!?]+)",
        _I,
    ),
    re.compile(r"\b(?:cta|call\s+to\s+action)\s+(\x01[0-9]+\x01|[^,;\n.!?]+)", _I),
]
_CLAUSE_SPLIT = re.compile(r"\s*(?:[,;\n]|[.!?](?:\s|$)|\s(?:and|&|then|but|plus|also)\s)\s*", _I)
_AND = re.compile(r"\s(?:and|&|then|but|plus|also)\s", _I)
_HELP = re.compile(
    r"(?:\?+|help\b.*|commands|options|what\s+can\s+(?:i|we)\s+(?:say|do|type|ask|write)\b.*|"
    r"how\s+does\s+(?:this|it)\s+work\b.*|how\s+do\s+(?:i|we)\s+(?:use|steer|change)\b.*)",
    _I | re.DOTALL,
)
_EXPORT = re.compile(
    r"(?:(?:please|pls|can\s+you|could\s+you|can\s+i|ok|okay)\s+)*(?:export|download|zip)\b"
    r"(?:.*?(?:^|\s|#)([0-9]{1,6})\b)?",
    _I | re.DOTALL,
)


def _num(token: str) -> int:
    token = token.strip().lower()
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    if token in _ORDINALS:
        return _ORDINALS[token]
    digits = re.sub(r"(?:st|nd|rd|th)$", "", token)
    return int(digits) if digits.isdigit() and len(digits) <= 6 else 10**6


def _is_pleasantry(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return bool(words) and all(w in _PLEASANTRIES for w in words)


def _blank(text: str, m: re.Match[str]) -> str:
    return text[: m.start()] + " " + text[m.end() :]


# --------------------------------------------------------------------------------------------------
# Parsing


class _Reader:
    """One reply being read; accumulates edits and remembers which clauses meant something."""

    def __init__(self, current: Current, quoted: list[str]) -> None:
        self.current = current
        self.quoted = quoted
        self.edits = Edits()
        self.keywords: list[str] = []
        self.avoid: list[str] = []
        self.recognised = False
        self.ignored: list[str] = []
        self.last_list: str | None = None  # "keywords" / "avoid": where a bare follow-up clause goes

    # values -----------------------------------------------------------------------------------------

    def value(self, raw: str) -> str:
        """A text value: placeholders restored, neutralised, trimmed of stray quotes and punctuation."""
        text = re.sub(r"\x01([0-9]+)\x01", lambda m: self.quoted[int(m.group(1))], raw)
        text = " ".join(neutralize(text).split())
        return text.strip(" \"'`*_~.,;:!?()[]{}")

    def add_list(self, kind: str, raw: str) -> None:
        items = [raw] if raw.strip().startswith("\x01") else re.split(r"\s+or\s+|\s*/\s*", raw, flags=_I)
        for item in items:
            text = self.value(item)
            if not text or _is_pleasantry(text):
                continue
            if len(text) > KEYWORD_MAX:
                verb = "mention" if kind == "keywords" else "avoid"
                raise UserError(
                    f'"{text[:KEYWORD_MAX]}…" is {len(text)} characters; keep each word or phrase under '
                    f'{KEYWORD_MAX}, e.g. {verb} "battery life".'
                )
            target = self.keywords if kind == "keywords" else self.avoid
            value = text if kind == "keywords" else text.lower()
            if value.lower() not in (t.lower() for t in target):
                target.append(value)
            self.recognised = True
            self.last_list = kind

    def set_cta(self, raw: str) -> None:
        text = self.value(raw)
        if not text:
            return
        limit = CJK_CTA_MAX if self.current.language == "zh" else CTA_MAX
        if len(text) > limit:
            raise UserError(
                f'The button text "{text[:limit]}…" is {len(text)} characters; keep it to {limit}, e.g. cta: Shop now.'
            )
        self.edits.cta = text
        self.recognised = True

    # numbers ----------------------------------------------------------------------------------------

    def set_round(self, n: int) -> None:
        cur = self.current.round
        if n == -1:
            n = cur
        if not 1 <= n <= cur:
            if cur <= 1:
                raise UserError(
                    'This is round 1, so there is no earlier round yet. Try "more like 2" or "shorter".'
                )
            raise UserError(
                f'There are {cur} rounds so far; pick round 1-{cur}, e.g. "back to round {cur - 1}".'
            )
        self.edits.back_to_round = n
        self.recognised = True

    def set_like(self, n: int) -> None:
        back = self.edits.back_to_round
        high = self.current.variants if back is None or back == self.current.round else MAX_VARIANTS
        high = max(1, min(high, MAX_VARIANTS))
        if n == -1:
            n = high
        if not 1 <= n <= high:
            raise UserError(f'Pick a card from 1 to {high}, e.g. "more like {min(2, high)}".')
        self.edits.like = n
        self.recognised = True

    def set_variants(self, n: int) -> None:
        if not 1 <= n <= MAX_VARIANTS:
            raise UserError(f'You can ask for 1-{MAX_VARIANTS} variants, e.g. "6 variants".')
        self.edits.variants = n
        self.recognised = True

    # a clause ---------------------------------------------------------------------------------------

    def clause(self, text: str) -> None:
        text = re.sub(r"^(?:(?:and|&|then|but|plus|also)\s+)+", "", text.strip(" .!?:-"), flags=_I)
        if not text:
            return
        before, list_before = self.recognised, self.last_list
        self.recognised, self.last_list = False, None
        self.cues(self.phrases(text))
        if not self.recognised:
            bare = self.value(text)
            if list_before and bare and len(bare.split()) <= 4 and not _is_pleasantry(bare):
                self.add_list(list_before, text)  # "avoid cheap, free and deal"
            elif bare and not _is_pleasantry(bare):
                self.ignored.append(bare[:60])
        self.recognised = self.recognised or before

    def phrases(self, text: str) -> str:
        """Match phrase patterns; return what is left of the clause for the cue words."""
        cur = self.current
        m = _CARD.search(text)
        if m:
            r, v = int(m.group(1)), int(m.group(2))
            if r != cur.round:
                self.set_round(r)
            self.set_like(v)
            text = _blank(text, m)
        if _UNDO.fullmatch(text.strip()):
            self.set_round(cur.round - 1)
            return ""
        for pat in _BACK:
            m = pat.search(text)
            if m:
                g = m.group(1).lower()
                self.set_round(1 if g in ("start", "beginning", "original") else _num(g))
                text = _blank(text, m)
                break
        for pat in _LIKE:
            m = pat.search(text)
            if m:
                self.set_like(_num(m.group(1)))
                text = _blank(text, m)
                break
        if not self.recognised and re.fullmatch(r"\s*#?\s*[0-9]{1,6}\s*", text):
            self.set_like(_num(text.strip(" #")))  # a bare "2" picks card 2, like the 2️⃣ reaction
            return ""
        for pat in _VARIANTS:
            m = pat.search(text)
            if m:
                self.set_variants(_num(m.group(1)))
                text = _blank(text, m)
                break
        else:
            if m := _MORE_VARIANTS.search(text):
                self.set_variants(min(MAX_VARIANTS, cur.variants + 2))
                text = _blank(text, m)
            elif m := _FEWER_VARIANTS.search(text):
                self.set_variants(max(1, cur.variants - 2))
                text = _blank(text, m)
        for pat in _AVOID:
            m = pat.search(text)
            if m:
                self.add_list("avoid", m.group(1))
                return text[: m.start()]
        for pat in _MENTION:
            m = pat.search(text)
            if m:
                self.add_list("keywords", m.group(1))
                return text[: m.start()]
        m = _SOFT_MENTION.search(text)
        if m and (m.group(1).startswith("\x01") or not self.has_cue(m.group(1))):
            self.add_list("keywords", m.group(1))
            return text[: m.start()]
        return text

    def has_cue(self, text: str) -> bool:
        probe = _Reader(self.current, self.quoted)
        probe.cues(text)
        return probe.recognised

    def cues(self, text: str) -> None:
        """Single words and short phrases: tone, length, colour, size, strength, "again"."""
        text = re.sub(r"\x01[0-9]+\x01", " ", text.lower())
        if not text.strip():
            return
        e = self.edits
        cur_len = LENGTHS.index(self.current.length) if self.current.length in LENGTHS else 1

        def length_idx() -> int:
            return LENGTHS.index(e.length) if e.length in LENGTHS else cur_len

        def shift(step: int) -> None:
            e.length = LENGTHS[max(0, min(len(LENGTHS) - 1, length_idx() + step))]
            e.length_step += step
            self.recognised = True

        if m := _SHORTER_PHRASES.search(text):
            shift(-1)
            text = _blank(text, m)
        elif m := _LONGER_PHRASES.search(text):
            shift(+1)
            text = _blank(text, m)
        if m := _STRONG_PHRASES.search(text):
            e.strength, self.recognised = "strong", True
            text = _blank(text, m)
        if m := _SUBTLE_PHRASES.search(text):
            e.strength, self.recognised = e.strength or "subtle", True
            text = _blank(text, m)

        words = re.findall(r"[0-9]+:[0-9]+|[a-z][a-z'-]*", text)
        if words and set(words) <= (_AGAIN | _FILLER) and set(words) & _AGAIN:
            self.recognised = True  # "again", "another one please": a fresh round, same brief
            return
        for i, w in enumerate(words):
            prev = words[i - 1] if i > 0 else ""
            prev2 = " ".join(words[max(0, i - 2) : i])
            nxt = words[i + 1] if i + 1 < len(words) else ""
            negated = prev in ("less", "too") or prev2 in _LESS_PREFIX
            step = 2 if (prev in _INTENSIFIERS or prev2 in ("a lot", "way more")) else 1
            if nxt in _COLOUR_NOUNS and (w in _TONE_AS_COLOUR or w in _CONTEXT_COLOURS or w in _COLOUR_WORDS):
                e.colour = _TONE_AS_COLOUR.get(w) or _CONTEXT_COLOURS.get(w) or _COLOUR_WORDS[w]
            elif nxt in _TONE_NOUNS and w in _TONE_BY_NOUN:
                e.tone = _TONE_BY_NOUN[w]
            elif (w in _SHORTER and not negated) or (w == "long" and negated):
                shift(-step)
            elif (w in _LONGER and not negated) or (w == "short" and negated):
                shift(+step)
            elif w in ("short", "shortest", "long", "longest", "medium"):
                e.length = {"shortest": "short", "longest": "long"}.get(w, w)
                e.length_step = 0
            elif negated and (w in _TONE_WORDS or w in _LESS_WORDS):
                e.tone = _LESS_WORDS.get(w) or _LESS_TONE[_TONE_WORDS[w]]
            elif negated and w in ("dark", "darker", "light", "lighter", "bright", "brighter"):
                e.colour = "light" if w.startswith("dark") else ("dark" if w.startswith("light") else "muted")
            elif w in _TONE_WORDS and not negated:
                e.tone = _TONE_WORDS[w]
            elif w in _COLOUR_WORDS and not negated:
                e.colour = _COLOUR_WORDS[w]
            elif w in _CONTEXT_COLOURS and prev == "more":
                e.colour = _CONTEXT_COLOURS[w]
            elif w in _SIZE_WORDS:
                e.size = _SIZE_WORDS[w]
            elif w in _STRONG:
                e.strength = "strong"
            elif w in _SUBTLE:
                e.strength = e.strength or "subtle"
            else:
                continue
            self.recognised = True

    def finish(self) -> ReplyIntent:
        if not self.recognised:
            return NotUnderstood()
        self.edits.add_keywords = tuple(self.keywords[:MAX_KEYWORDS])
        self.edits.avoid = tuple(self.avoid[:MAX_AVOID])
        e = self.edits
        if e.back_to_round is not None and e == Edits(back_to_round=e.back_to_round):
            return BackTo(e.back_to_round)
        return Refine(edits=e, like=e.like, ignored=tuple(self.ignored))


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
    text = neutralize(text)  # also strips control characters, so \x01 is ours alone
    if len(text) > MAX_REPLY_CHARS:
        return NotUnderstood(
            "That reply is too long to read as an instruction. Keep it short, e.g. `shorter, bluer, more like 2`."
        )
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    text = re.sub(r"[^\S\n]+", " ", text).strip()
    text = re.sub(r"\bblack\s*(?:and|&)\s*white\b|\bb&w\b", "monochrome", text, flags=_I)
    text, quoted = _extract_quotes(text)
    reader = _Reader(current, quoted)

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
            variant = _num(m.group(1)) if m.group(1) else None
            if variant is not None and not 1 <= variant <= current.variants:
                raise UserError(
                    f'Pick a card from 1 to {current.variants} to export, e.g. "export 2", or just "export".'
                )
            return ExportIntent(variant)
    for clause in _CLAUSE_SPLIT.split(text):
        reader.clause(clause)
    return reader.finish()
