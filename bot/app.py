"""``campaignbot run``: the chat service on the embedded defaults. Slack and/or Discord when their
settings are present (both can run in one process on one engine); otherwise the local playground."""

from __future__ import annotations

import asyncio
import logging

from engine.adapter import ChatAdapter
from engine.errors import CampaignbotError
from engine.settings import Settings

logger = logging.getLogger(__name__)


def configured_adapters(settings: Settings, *, playground: bool | None = None) -> list[ChatAdapter]:
    """The adapters the environment asks for. ``playground=None`` adds it only when no platform is set."""
    from bot.discord_adapter import configured as discord_configured  # noqa: PLC0415
    from bot.slack_adapter import SlackAdapter, SlackSettings  # noqa: PLC0415

    adapters: list[ChatAdapter] = []
    try:
        slack = SlackSettings.from_env()
    except ValueError as exc:
        raise CampaignbotError(f"Slack settings are incomplete: {_first_line(exc)}") from None
    if slack:
        logger.info(slack.describe())
        adapters.append(SlackAdapter(slack))
    discord = discord_configured()
    if discord:
        logger.info("Discord: gateway via %s", getattr(discord, "describe", lambda: "Discord's gateway")())
        adapters.append(discord)
    if playground or (playground is None and not adapters):
        from bot.playground.playground_adapter import from_settings  # noqa: PLC0415

        adapters.append(
            from_settings(settings, announce=lambda url: print(f"campaignbot playground: {url}", flush=True))
        )
    return adapters


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run(settings: Settings | None = None, *, playground: bool | None = None) -> int:
    from bot.runner import serve  # noqa: PLC0415

    settings = settings or Settings()
    adapters = configured_adapters(settings, playground=playground)
    names = ", ".join(a.platform for a in adapters)
    logger.info("campaignbot: serving %s; data in %s", names, settings.data_dir.resolve())
    return asyncio.run(serve(settings, adapters))
