"""The ``/campaign`` command grammar: text after ``/campaign`` -> one typed :class:`Command`.

Grammar (tokens split shell-style, so ``"quoted values"`` stay together)::

    /campaign <brief words...> [--variants N] [--tone T] [--size S] [--seed N] [--lang L]
              [--avoid "words"] [--audience "..."] [--keywords "..."] [--length L] [--vote DURATION]
    /campaign help [topic]
    /campaign status
    /campaign history|export|resume|cancel <campaign>      (12, C12, #12 or a card id C12-R2-V3)

Every mistake raises :class:`~engine.errors.UserError` whose message says what was wrong and shows
an example that works. Nothing else escapes :func:`parse_command`. Pure Python; no torch.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from difflib import get_close_matches

from engine.brief import LANGUAGES, LENGTHS, MAX_VARIANTS, SIZES, TONES, Brief, suggest
from engine.errors import UserError
from engine.neutralize import neutralize

EXAMPLE = "/campaign smart watch for runners --tone playful"
DEFAULT_VARIANTS = 4
DEFAULT_SIZE = "square"
MAX_SEED = 2**31 - 1
VOTE_MIN_SECONDS = 60
VOTE_MAX_SECONDS = 24 * 3600
MAX_CAMPAIGN_ID = 2**63 - 1

# --------------------------------------------------------------------------------------------------
# Commands


@dataclass(frozen=True)
class NewCampaign:
    """Start a campaign: ``brief`` is validated and neutralised by :meth:`Brief.create`."""

    brief: Brief
    variants: int = DEFAULT_VARIANTS
    size: str = DEFAULT_SIZE
    seed: int | None = None
    vote_seconds: int | None = None


@dataclass(frozen=True)
class Help:
    """Show usage; ``topic`` is a canonical topic name from :data:`HELP_TOPICS` or ``None`` for the overview."""

    topic: str | None = None


@dataclass(frozen=True)
class Status:
    """List the user's running campaigns and the queue."""


@dataclass(frozen=True)
class History:
    campaign_id: int


@dataclass(frozen=True)
class Export:
    campaign_id: int


@dataclass(frozen=True)
class Resume:
    campaign_id: int


@dataclass(frozen=True)
class Cancel:
    campaign_id: int


Command = NewCampaign | Help | Status | History | Export | Resume | Cancel

# --------------------------------------------------------------------------------------------------
# Help text (kept well under Slack's 3,000-character section limit)

FLAG_EXAMPLES: dict[str, str] = {
    "--variants": "--variants 4",
    "--tone": "--tone playful",
    "--size": "--size landscape",
    "--seed": "--seed 42",
    "--lang": "--lang en",
    "--avoid": '--avoid "cheap, free"',
    "--audience": '--audience "marathon beginners"',
    "--keywords": '--keywords "GPS, battery life"',
    "--length": "--length short",
    "--vote": "--vote 30m",
}
FLAGS: tuple[str, ...] = tuple(FLAG_EXAMPLES)
SUBCOMMANDS: tuple[str, ...] = ("help", "status", "history", "export", "resume", "cancel")

HELP_FLAGS = f"""*Options* (put them after the brief; `--flag value` or `--flag=value`)
• `--variants N`: how many cards, 1-{MAX_VARIANTS} (default {DEFAULT_VARIANTS})
• `--tone T`: {", ".join(TONES)} (default friendly)
• `--size S`: {", ".join(SIZES)} (default {DEFAULT_SIZE})
• `--length L`: {", ".join(LENGTHS)} body copy (default medium)
• `--lang L`: {", ".join(LANGUAGES)} (default: detected from the brief)
• `--audience "..."`: who it is for, e.g. `--audience "marathon beginners"`
• `--keywords "..."`: words to use, comma separated, e.g. `--keywords "GPS, battery life"`
• `--avoid "..."`: words never to use, e.g. `--avoid "cheap, free"`
• `--seed N`: 0-{MAX_SEED}; the same seed gives the same cards
• `--vote D`: let the channel vote with number reactions for D (1m to 24h, e.g. `30m`, `1h30m`), \
then continue with the winner"""

HELP_REACTIONS = f"""*Reactions*
• 1️⃣ … {["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣"][MAX_VARIANTS - 1]} on the grid, or ⭐ / 🔁 on a card: \
choose that variant and make the next round from it
• ❌ on the status message: cancel the campaign"""

HELP_REPLIES = """*Replies in the thread* steer the next round, e.g.
• `shorter` / `longer`, `bolder`, `more playful`, `tone: premium`
• `bluer`, `warmer colours`, `pastel`, `darker`
• `mention GPS`, `use "battery life"`, `avoid cheap`, `don't say "free"`
• `cta: Shop now`, `button "Try it free"`
• `6 variants`, `landscape`, `make it a story`, `wilder` (bigger changes)
• `more like 2`, `back to round 1`, `export`, `help`
Several at once work too: `shorter and bolder, bluer, 6 variants`."""

HELP_COMMANDS = """*Commands*
• `/campaign <brief> [options]`: start a campaign
• `/campaign status`: your running campaigns
• `/campaign history C12`: every round of campaign 12
• `/campaign export C12`: download its cards
• `/campaign resume C12`: pick campaign 12 up again
• `/campaign cancel C12`: stop it
• `/campaign help flags|reactions|replies|examples`: more help"""

HELP_EXAMPLES = """*Examples*
• `/campaign smart watch for runners --tone playful`
• `/campaign organic coffee subscription --size story --variants 6 --avoid "cheap"`
• `/campaign spring sale for our bike shop --audience "commuters" --keywords "e-bike, test ride" --vote 1h`
• `/campaign 智能手表 --lang zh`
To start a brief that begins with a command word, quote it: `/campaign "resume builder app"`."""

HELP_TEXT = f"""*campaignbot* writes ad copy, draws a visual and posts numbered cards in a thread.
Start with `{EXAMPLE}`.

{HELP_FLAGS}

{HELP_REACTIONS}

{HELP_REPLIES}

{HELP_COMMANDS}"""

HELP_TOPICS: dict[str, str] = {
    "flags": HELP_FLAGS,
    "reactions": HELP_REACTIONS,
    "replies": HELP_REPLIES,
    "commands": HELP_COMMANDS,
    "examples": HELP_EXAMPLES,
    "tones": f"*Tones*: {', '.join(TONES)}. Example: `{EXAMPLE}`. In a thread, reply `more premium`.",
    "sizes": "*Sizes*: "
    + ", ".join(f"{name} ({w}x{h})" for name, (w, h) in SIZES.items())
    + ". Example: `/campaign smart watch --size story`. In a thread, reply `landscape`.",
}
_TOPIC_ALIASES: dict[str, str] = {
    "flag": "flags",
    "options": "flags",
    "option": "flags",
    "reaction": "reactions",
    "emoji": "reactions",
    "emojis": "reactions",
    "vote": "reactions",
    "voting": "reactions",
    "reply": "replies",
    "steer": "replies",
    "steering": "replies",
    "thread": "replies",
    "command": "commands",
    "subcommands": "commands",
    "example": "examples",
    "tone": "tones",
    "size": "sizes",
}


def help_text(topic: str | None = None) -> str:
    """The help for ``topic`` (a name or alias from :data:`HELP_TOPICS`), or the overview for ``None``."""
    if topic is None:
        return HELP_TEXT
    key = _TOPIC_ALIASES.get(topic.strip().lower(), topic.strip().lower())
    if key not in HELP_TOPICS:
        raise UserError(
            f"No help on '{topic}'.{suggest(key, tuple(HELP_TOPICS))} "
            f"Topics: {', '.join(HELP_TOPICS)}. Example: /campaign help flags"
        )
    return HELP_TOPICS[key]


# --------------------------------------------------------------------------------------------------
# Card ids and campaign references

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


# --------------------------------------------------------------------------------------------------
# Emoji


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


# --------------------------------------------------------------------------------------------------
# Parsing

_APOSTROPHE = "\x00"  # placeholder for in-word apostrophes (men's); neutralize() removes real NULs first
_INWORD_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
_DASH_FLAG = re.compile(
    r"^[\u2012\u2013\u2014\u2015\u2212]+(?=[a-z])", re.IGNORECASE
)  # —tone (phone autocorrect)
_INT = re.compile(r"[+-]?[0-9]{1,30}")
_LANG_ALIASES = {
    "english": "en",
    "en-us": "en",
    "en-gb": "en",
    "en_us": "en",
    "en_gb": "en",
    "chinese": "zh",
    "zh-cn": "zh",
    "zh_cn": "zh",
    "zh-hans": "zh",
    "cn": "zh",
    "mandarin": "zh",
    "中文": "zh",
}
_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}


def _short(text: str, n: int = 30) -> str:
    text = neutralize(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _tokens(text: str) -> list[str]:
    """Shell-like split that tolerates apostrophes (``men's shoes``) and smart quotes."""
    text = neutralize(text)
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u201e", '"').replace("\u2018", "'")
    text = text.replace("\u2019", "'")
    text = re.sub(r"\s", " ", text)  # NBSP and friends split like spaces
    protected = _INWORD_APOSTROPHE.sub(_APOSTROPHE, text)
    # Retry with ' as a literal for "runners' shoes", unless some ' opens a word (then it is a quote left open).
    attempts = ("\"'", '"') if not re.search(r"(?<![\w'])'", protected) else ("\"'",)
    for quotes in attempts:
        lex = shlex.shlex(protected, posix=True)
        lex.whitespace_split = True
        lex.commenters = ""
        lex.quotes = quotes
        lex.escape = ""  # no backslash escapes: marketers paste text, not shell
        lex.escapedquotes = ""
        try:
            return [t.replace(_APOSTROPHE, "'") for t in lex]
        except ValueError:
            continue
    raise UserError(
        'A quote is not closed. Put each value in a pair of quotes, e.g. /campaign smart watch --avoid "cheap, free".'
    )


def _parse_int(value: str, flag: str, low: int, high: int) -> int:
    example = FLAG_EXAMPLES[flag]
    if not _INT.fullmatch(value.strip()):
        raise UserError(f"{flag} needs a whole number from {low} to {high}; try {example}.")
    n = int(value.strip())
    if not low <= n <= high:
        raise UserError(f"{flag} must be {low}-{high}; try {example}.")
    return n


def parse_duration(value: str) -> int:
    """``30m``, ``2h``, ``1h30m``, ``90 minutes``, ``1d`` -> seconds, between 1 minute and 24 hours."""
    raw = value.strip().lower()
    example = FLAG_EXAMPLES["--vote"]
    if _INT.fullmatch(raw):
        raise UserError(f"--vote needs a unit: minutes (m) or hours (h); try --vote {raw.lstrip('+-')}m.")
    parts = re.findall(r"([0-9]{1,6})\s*([a-z]+)", raw)
    if (
        not parts
        or re.sub(r"[0-9]{1,6}\s*[a-z]+", "", raw).strip(" ,") != ""
        or any(u not in _UNITS for _, u in parts)
    ):
        raise UserError(f"--vote takes a duration like 30m, 2h or 1h30m; try {example}.")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if not VOTE_MIN_SECONDS <= seconds <= VOTE_MAX_SECONDS:
        raise UserError(f"--vote must be between 1 minute and 24 hours; try {example}.")
    return seconds


def _flag_name(token: str) -> str | None:
    """``--tone`` / ``--tone=x`` / ``—tone`` -> ``--tone``; ``None`` if ``token`` is not an option."""
    if token.startswith("--"):
        return token.split("=", 1)[0].lower() if len(token) > 2 else None
    t = _DASH_FLAG.sub("--", token)
    if t.startswith("--") and t.split("=", 1)[0].lower() in FLAGS:
        return t.split("=", 1)[0].lower()
    return None


def _unknown_flag(name: str) -> UserError:
    close = get_close_matches(name, list(FLAGS), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]}?" if close else f" Options: {', '.join(FLAGS)}."
    return UserError(f"Unknown option {_short(name)}.{hint} See /campaign help flags.")


def _parse_subcommand(word: str, rest: list[str]) -> Command:
    if word == "help":
        topics = [t for t in rest if t.lower() not in ("--help", "-h")]
        if len(topics) > 1:
            raise UserError("help takes one topic, e.g. /campaign help flags.")
        if not topics:
            return Help(None)
        topic = topics[0].strip().lower()
        help_text(topic)  # raises a friendly error for unknown topics
        return Help(_TOPIC_ALIASES.get(topic, topic))
    if word == "status":
        if rest:
            raise UserError("status takes nothing after it: /campaign status.")
        return Status()
    if not rest:
        raise UserError(f"Which campaign? Add its number, e.g. /campaign {word} C12.")
    if len(rest) > 1:
        raise UserError(
            f"{word} takes one campaign, e.g. /campaign {word} C12. "
            f'To start a brief that begins with "{word}", quote it: /campaign "{word} {_short(" ".join(rest), 40)}".'
        )
    if not re.search(r"[0-9]", rest[0]):
        raise UserError(
            f"'{_short(rest[0])}' is not a campaign. Use its number, e.g. /campaign {word} C12. "
            f'To start a brief that begins with "{word}", quote it: /campaign "{word} {_short(rest[0], 20)}".'
        )
    cid = parse_campaign_ref(rest[0], command=word)
    if word == "history":
        return History(cid)
    if word == "export":
        return Export(cid)
    if word == "resume":
        return Resume(cid)
    return Cancel(cid)


def parse_command(text: str) -> Command:
    """Parse what follows ``/campaign``. Raises :class:`UserError` (only) with a friendly message."""
    if not isinstance(text, str):
        raise UserError(f"Type what to advertise, e.g. {EXAMPLE}. See /campaign help.")
    tokens = _tokens(text)
    if not tokens:
        raise UserError(f"Tell me what to advertise, e.g. {EXAMPLE}. For every option, type /campaign help.")
    if any(t.lower() in ("--help", "-h") for t in tokens):
        return Help(None)
    first = tokens[0].lower()
    if first in SUBCOMMANDS:
        return _parse_subcommand(first, tokens[1:])

    values: dict[str, str] = {}
    words: list[str] = []
    i = 0
    only_words = False
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if only_words:
            words.append(token)
            continue
        if token == "--":
            only_words = True
            continue
        name = _flag_name(token)
        if name is None:
            bare = token.lower().lstrip("-")
            if token.startswith("-") and "--" + bare in FLAGS:
                raise UserError(f"Options start with two dashes: try {FLAG_EXAMPLES['--' + bare]}.")
            words.append(token)
            continue
        if name not in FLAGS:
            raise _unknown_flag(name)
        if name in values:
            raise UserError(f"{name} is given twice; keep one, e.g. {FLAG_EXAMPLES[name]}.")
        normalised = _DASH_FLAG.sub("--", token)
        if "=" in normalised:
            value = normalised.split("=", 1)[1]
        elif i < len(tokens) and _flag_name(tokens[i]) is None and tokens[i] != "--":
            value = tokens[i]
            i += 1
        else:
            value = ""
        if not value.strip():
            raise UserError(f"{name} needs a value; try {FLAG_EXAMPLES[name]}.")
        values[name] = value.strip()

    if not words:
        raise UserError(f"Add a brief before the options: what are we advertising? e.g. {EXAMPLE}.")

    variants = (
        _parse_int(values["--variants"], "--variants", 1, MAX_VARIANTS)
        if "--variants" in values
        else DEFAULT_VARIANTS
    )
    seed = _parse_int(values["--seed"], "--seed", 0, MAX_SEED) if "--seed" in values else None
    vote = parse_duration(values["--vote"]) if "--vote" in values else None
    size = values.get("--size", DEFAULT_SIZE).lower()
    if size not in SIZES:
        raise UserError(
            f"Unknown size '{_short(size)}'.{suggest(size, tuple(SIZES))} Sizes: {', '.join(SIZES)}; try --size landscape."
        )
    tone = values.get("--tone", "friendly").lower()
    if tone not in TONES:
        raise UserError(
            f"Unknown tone '{_short(tone)}'.{suggest(tone, TONES)} Tones: {', '.join(TONES)}; try --tone playful."
        )
    length = values.get("--length", "medium").lower()
    if length not in LENGTHS:
        raise UserError(
            f"Unknown length '{_short(length)}'.{suggest(length, LENGTHS)} Lengths: {', '.join(LENGTHS)}; try --length short."
        )
    lang: str | None = None
    if "--lang" in values:
        raw_lang = values["--lang"].lower()
        lang = _LANG_ALIASES.get(raw_lang, raw_lang)
        if lang not in LANGUAGES:
            raise UserError(
                f"Unsupported language '{_short(raw_lang)}'. Supported: {', '.join(LANGUAGES)}; try --lang en."
            )
    brief = Brief.create(
        " ".join(words),
        audience=values.get("--audience", ""),
        tone=tone,
        language=lang,
        length=length,
        keywords=values.get("--keywords", ""),
        avoid=values.get("--avoid", ""),
    )
    return NewCampaign(brief=brief, variants=variants, size=size, seed=seed, vote_seconds=vote)
