"""Secrets never reach a log line, at any level: a logging filter that rewrites each record's text
(message, arguments, traceback) with tokens, signing secrets and webhook / response URLs masked.

Installed on every handler of the root logger by the composition root (``bot.cli``), so records of
third-party loggers (discord.py logs interaction webhook URLs at DEBUG, slack_sdk logs envelopes with
``response_url``) are masked too. Known secret values from the environment are masked wherever they
appear; token shapes are masked even when the value is not known (a token of another app).
"""

from __future__ import annotations

import logging
import os
import re

MASK = "[redacted]"
# Environment variables whose values are secrets (whatever their shape).
SECRET_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_CLIENT_SECRET",
    "DISCORD_TOKEN",
    "CAMPAIGNBOT_DATABASE_URL",
)
# (pattern, replacement, needles): what stays readable around a secret is kept by the replacement's groups;
# a pattern runs only on text that holds one of its needles (lower case, looked for in the lowered text;
# none: always), so a DEBUG line with no sign of a secret costs a few substring checks, not eight regexes.
_PATTERNS: list[tuple[re.Pattern[str], str, tuple[str, ...]]] = [
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"), MASK, ("xox",)),  # Slack bot / user / refresh tokens
    (re.compile(r"\bxapp-[0-9]-[A-Za-z0-9-]{8,}"), MASK, ("xapp-",)),  # Slack app-level (Socket Mode) tokens
    (
        re.compile(r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}"),
        MASK,
        (),
    ),  # Discord bot tokens
    # Discord webhook and interaction callback URLs carry their token in the path, at any host (discord.com,
    # a proxy named by DISCORD_API_URL); what follows the token (/callback, /messages/...) stays readable
    (
        re.compile(r"(/(?:webhooks|interactions)/\d+/)[^\s\"'/?&]+"),
        rf"\1{MASK}",
        ("/webhooks/", "/interactions/"),
    ),
    (
        re.compile(r"https?://hooks\.slack\.com/[^\s\"']+"),
        MASK,
        ("hooks.slack.com",),
    ),  # response/webhook URLs
    # the value of a key that names a secret, in JSON, a repr or a form body: a response_url at any host
    # (GovSlack, a proxy), Slack's verification token and Discord's interaction token in every payload
    (
        re.compile(
            r"((?<![\w-])[\"']?(?:response_url|token|access_token|client_secret|signing_secret)[\"']?"
            r"\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
        ),
        rf"\1{MASK}",
        ("response_url", "token", "secret"),
    ),
    (
        re.compile(r"(?i)(\bBot |\bBearer )[A-Za-z0-9._-]{20,}"),
        rf"\1{MASK}",
        ("bot ", "bearer "),
    ),  # Authorization headers
    (
        re.compile(r"(postgres(?:ql)?(?:\+\w+)?://[^:/\s]+:)[^@\s]+(@)"),
        rf"\1{MASK}\2",
        ("postgres",),
    ),  # a database password
]


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    for value in secrets:
        if value and len(value) >= 6:
            text = text.replace(value, MASK)
    low = text.lower()
    for pattern, replacement, needles in _PATTERNS:
        if not needles or any(n in low for n in needles):
            text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in every record that passes (it never drops a record)."""

    def __init__(self, secrets: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.secrets = secrets if secrets is not None else env_secrets()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record as logging would show it
            message = str(record.msg)
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def env_secrets() -> tuple[str, ...]:
    return tuple(v for k in SECRET_ENV if (v := os.environ.get(k)))


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Put one :class:`RedactingFilter` on every handler of ``logger`` (the root logger by default)."""
    root = logger or logging.getLogger()
    f = RedactingFilter()
    for handler in root.handlers:
        if not any(isinstance(x, RedactingFilter) for x in handler.filters):
            handler.addFilter(f)
    return f
