"""Discord's side of the grammar: the ``/campaign`` application command group (typed options turned
into the text grammar of :func:`engine.commands.parse_command`), the persistent Refine/Export buttons,
and the text helpers posts need (clipping, markdown, quoting)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from engine.adapter import Button
from engine.brief import LANGUAGES, LENGTHS, MAX_SEED, MAX_VARIANTS, SIZES, TONES
from engine.help import HELP_TOPICS

if TYPE_CHECKING:
    from bot.discord_adapter import DiscordAdapter

CUSTOM_ID = re.compile(r"campaignbot:(?P<action>refine|export):(?P<value>C[0-9]+-R[0-9]+-V[0-9]+)")


def clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def markdown(text: str) -> str:
    """Engine text is plain; help uses Slack-style ``*Heading*``, which is bold on Discord as ``**``."""
    return re.sub(r"(?m)^\*([^*\n]+)\*", r"**\1**", text)


def _quote(value: str) -> str:
    """Quote an option value for the command grammar (shell-like, no backslash escapes)."""
    value = value.replace("\u201c", '"').replace("\u201d", '"')
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', "") + '"'


def command_text(brief: str, options: dict[str, Any]) -> str:
    """Typed options -> the text after ``/campaign`` (the brief goes after ``--``, so it is all words)."""
    parts = [f"--{name} {_quote(str(v))}" for name, v in options.items() if v is not None and v != ""]
    return " ".join([*parts, "--", brief])


class CardButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID):
    """A Refine/Export button whose ``custom_id`` names the card, so it works after a restart."""

    def __init__(self, action: str, value: str, label: str = "") -> None:
        style = discord.ButtonStyle.primary if action == "refine" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=clip(label or action.title(), 80),
                style=style,
                custom_id=f"campaignbot:{action}:{value}",
            )
        )
        self.action = action
        self.value = value

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CardButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(match["action"], match["value"], label or "")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        adapter: DiscordAdapter = interaction.client.adapter
        await adapter.on_button(interaction, self.action, self.value)


def view_for(buttons: list[Button]) -> discord.ui.View | None:
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for b in buttons[:25]:
        view.add_item(CardButton(b.action, b.value, b.label))
    return view


def campaign_group(adapter: DiscordAdapter) -> app_commands.Group:
    """The ``/campaign`` group. Long on purpose: it is a declaration, one small decorated function per
    subcommand, and discord.py reads each one's signature (typed, described options) where it is defined."""
    group = app_commands.Group(name="campaign", description="Ad copy and visuals, refined in a thread")
    tone_choices = [app_commands.Choice(name=t, value=t) for t in TONES]
    size_choices = [app_commands.Choice(name=s, value=s) for s in SIZES]
    lang_choices = [app_commands.Choice(name=s, value=s) for s in LANGUAGES]
    length_choices = [app_commands.Choice(name=s, value=s) for s in LENGTHS]
    topic_choices = [app_commands.Choice(name=t, value=t) for t in HELP_TOPICS]

    @group.command(name="new", description="Start a campaign: numbered ad cards in a new thread")
    @app_commands.describe(
        brief="What to advertise, e.g. smart watch for runners",
        variants=f"How many cards (1-{MAX_VARIANTS})",
        tone="Voice of the copy",
        size="Image format",
        seed="The same seed gives the same cards",
        lang="Language of the copy (default: detected)",
        vote="Let the channel vote for this long, e.g. 30m or 1h",
        audience="Who it is for, e.g. marathon beginners",
        keywords="Words to use, comma separated",
        avoid="Words never to use, comma separated",
        length="Body copy length",
    )
    @app_commands.choices(tone=tone_choices, size=size_choices, lang=lang_choices, length=length_choices)
    async def new(
        interaction: discord.Interaction[Any],
        brief: app_commands.Range[str, 1, 500],
        variants: app_commands.Range[int, 1, MAX_VARIANTS] | None = None,
        tone: str | None = None,
        size: str | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        lang: str | None = None,
        vote: app_commands.Range[str, 1, 20] | None = None,
        audience: app_commands.Range[str, 1, 200] | None = None,
        keywords: app_commands.Range[str, 1, 200] | None = None,
        avoid: app_commands.Range[str, 1, 200] | None = None,
        length: str | None = None,
    ) -> None:
        opts = {
            "variants": variants,
            "tone": tone,
            "size": size,
            "seed": seed,
            "lang": lang,
            "vote": vote,
            "audience": audience,
            "keywords": keywords,
            "avoid": avoid,
            "length": length,
        }
        await adapter.on_command(interaction, command_text(brief, opts))

    @group.command(name="help", description="How to use campaignbot")
    @app_commands.describe(topic="A topic: flags, reactions, replies, commands, examples, tones, sizes")
    @app_commands.choices(topic=topic_choices)
    async def help_(interaction: discord.Interaction[Any], topic: str | None = None) -> None:
        await adapter.on_command(interaction, f"help {topic}" if topic else "help")

    @group.command(name="status", description="Your running campaigns and the queue")
    async def status(interaction: discord.Interaction[Any]) -> None:
        await adapter.on_command(interaction, "status")

    def by_campaign(word: str, description: str) -> None:
        @group.command(name=word, description=description)
        @app_commands.describe(campaign="The campaign, e.g. C12 (or a card id like C12-R2-V3)")
        async def sub(
            interaction: discord.Interaction[Any], campaign: app_commands.Range[str, 1, 40]
        ) -> None:
            await adapter.on_command(interaction, f"{word} {_quote(campaign)}")

    by_campaign("history", "Every round of a campaign")
    by_campaign("export", "Download a campaign's cards as a zip")
    by_campaign("resume", "Pick a campaign up again")
    by_campaign("cancel", "Stop a campaign's running rounds")
    return group
