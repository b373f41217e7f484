"""The help the bot gives (``/campaign help [topic]``): every help text, kept well under Slack's
3,000-character section limit, and the flag examples error messages show."""

from __future__ import annotations

from engine.brief import (
    DEFAULT_SIZE,
    DEFAULT_VARIANTS,
    LANGUAGES,
    LENGTHS,
    MAX_SEED,
    MAX_VARIANTS,
    SIZES,
    TONES,
    suggest,
)
from engine.errors import UserError

EXAMPLE = "/campaign smart watch for runners --tone playful"

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


def topic_name(topic: str) -> str:
    """The topic an alias stands for (``emoji`` -> ``reactions``); unknown names come back as they are."""
    key = topic.strip().lower()
    return _TOPIC_ALIASES.get(key, key)


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
