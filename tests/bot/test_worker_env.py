"""The worker process never talks to a chat platform, so it does not get the platforms' tokens."""

from __future__ import annotations

from bot.supervisor import worker_env


def test_the_worker_gets_no_platform_secrets() -> None:
    env = worker_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "slack_app_token": "xapp-1",
            "DISCORD_TOKEN": "t",
            "CAMPAIGNBOT_DATABASE_URL": "postgresql://db/cb",
            "CAMPAIGNBOT_COPY_MODEL": "house",
            "PATH": "/usr/bin",
        }
    )
    assert env == {
        "CAMPAIGNBOT_DATABASE_URL": "postgresql://db/cb",
        "CAMPAIGNBOT_COPY_MODEL": "house",
        "PATH": "/usr/bin",
    }


async def test_platform_refusals_become_permanent_errors() -> None:
    """The adapters tell the outbox which refusals no retry can mend (Slack error codes, Discord 403/404)."""
    from types import SimpleNamespace

    import discord
    import pytest
    from slack_sdk.errors import SlackApiError

    from bot import discord_adapter, slack_adapter
    from engine.errors import PermanentPlatformError

    async def slack_refuses(code: str) -> None:
        raise SlackApiError("refused", {"ok": False, "error": code})

    for code in ("channel_not_found", "not_in_channel", "message_not_found"):
        with pytest.raises(PermanentPlatformError, match=code):
            await slack_adapter._permanent_errors(slack_refuses)(code)
    with pytest.raises(SlackApiError):  # a rate limit or an outage is not permanent
        await slack_adapter._permanent_errors(slack_refuses)("ratelimited")

    response = SimpleNamespace(status=403, reason="Forbidden")

    async def discord_refuses() -> None:
        raise discord.Forbidden(response, {"code": 50001, "message": "Missing Access"})  # type: ignore[arg-type]

    with pytest.raises(PermanentPlatformError, match="403"):
        await discord_adapter._permanent_errors(discord_refuses)()
