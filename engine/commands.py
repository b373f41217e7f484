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

from engine.brief import (
    DEFAULT_SIZE,
    DEFAULT_VARIANTS,
    LANGUAGES,
    LENGTHS,
    MAX_SEED,
    MAX_VARIANTS,
    SIZES,
    TONES,
    VOTE_MAX_SECONDS,
    VOTE_MIN_SECONDS,
    Brief,
    suggest,
)
from engine.errors import UserError
from engine.help import EXAMPLE, FLAG_EXAMPLES, FLAGS, SUBCOMMANDS, help_text, topic_name
from engine.ids import parse_campaign_ref
from engine.neutralize import neutralize, require_encodable

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
        return Help(topic_name(topic))
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
    tokens = _tokens(require_encodable(text, "That command"))
    if not tokens:
        raise UserError(f"Tell me what to advertise, e.g. {EXAMPLE}. For every option, type /campaign help.")
    if any(t.lower() in ("--help", "-h") for t in tokens):
        return Help(None)
    first = tokens[0].lower()
    if first in SUBCOMMANDS:
        return _parse_subcommand(first, tokens[1:])
    words, values = _split_flags(tokens)
    if not words:
        raise UserError(f"Add a brief before the options: what are we advertising? e.g. {EXAMPLE}.")
    return _new_campaign(words, values)


def _split_flags(tokens: list[str]) -> tuple[list[str], dict[str, str]]:
    """Brief words and ``--flag value`` pairs (``--flag=value`` too; after ``--`` everything is words)."""
    values: dict[str, str] = {}
    words: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            words += tokens[i:]
            break
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
    return words, values


def _choice(value: str, allowed: tuple[str, ...], what: str, example: str) -> str:
    v = value.lower()
    if v not in allowed:
        raise UserError(
            f"Unknown {what} '{_short(v)}'.{suggest(v, allowed)} {what.title()}s: {', '.join(allowed)}; try {example}."
        )
    return v


def _new_campaign(words: list[str], values: dict[str, str]) -> NewCampaign:
    variants = (
        _parse_int(values["--variants"], "--variants", 1, MAX_VARIANTS)
        if "--variants" in values
        else DEFAULT_VARIANTS
    )
    seed = _parse_int(values["--seed"], "--seed", 0, MAX_SEED) if "--seed" in values else None
    vote = parse_duration(values["--vote"]) if "--vote" in values else None
    size = _choice(values.get("--size", DEFAULT_SIZE), tuple(SIZES), "size", "--size landscape")
    tone = _choice(values.get("--tone", "friendly"), TONES, "tone", "--tone playful")
    length = _choice(values.get("--length", "medium"), LENGTHS, "length", "--length short")
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
