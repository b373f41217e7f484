"""One root exception for the project, subclassed by failure domain.

A :class:`UserError` message is written for a marketer: what was wrong and an example that works.
It is safe to show in chat or print on the command line.
"""

from __future__ import annotations


class CampaignbotError(Exception):
    """Root of every error the project raises on purpose."""


class UserError(CampaignbotError):
    """Bad input from a person. ``str(err)`` is a friendly one-line message."""


class CampaignExpiredError(CampaignbotError):
    """A round was asked of a campaign that retention expired meanwhile (the engine answers with
    ``messages.campaign_expired``); nothing was written."""

    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"campaign {campaign_id} has expired")
        self.campaign_id = campaign_id


class ModelError(CampaignbotError):
    """A model could not be loaded or run (missing files, wrong format, unsupported language)."""


class JobError(CampaignbotError):
    """A job failed in a way the user should hear about."""


class PlatformError(CampaignbotError):
    """A chat platform call failed for a reason outside the project (network, rate limit, outage,
    refusal). Delivery retries these with back-off; any other exception from an adapter is a bug,
    logged with its traceback and given up on after a few tries."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentPlatformError(PlatformError):
    """The platform refused for good (the channel is gone, the bot is not in it, a message was deleted,
    a permission is missing): retrying cannot help. Delivery gives such a message up at once, logs one
    line for the operator, and the campaign's later messages still go out."""
