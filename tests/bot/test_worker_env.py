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
