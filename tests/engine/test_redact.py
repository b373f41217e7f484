"""Secrets never reach a log line: the filter the composition root installs on every handler."""

from __future__ import annotations

import io
import logging

import pytest

from engine import redact

SLACK_BOT = "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
DISCORD = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GabcDE.abcdefghijklmnopqrstuvwxyz0123456"
HOOK = "https://discord.com/api/v10/webhooks/123456789012345678/aW50ZXJhY3Rpb246dG9rZW4"
RESPONSE_URL = "https://hooks.slack.com/actions/T0001/12345/abcdefSECRET"


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> tuple[logging.Logger, io.StringIO]:
    """A root-like logger with one handler, the filter installed as bot.cli does it."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "8f742231b10e8888abcd99yyyzzz85a5")
    root = logging.getLogger("redact-test-root")
    root.handlers.clear()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    redact.install(root)
    return root, out


def test_tokens_webhooks_and_known_secrets_are_masked_at_every_level(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    root, out = logged
    child = root.getChild("discord.webhook.async_")  # a third-party logger: records propagate up
    child.debug("POST %s with token %s", HOOK, DISCORD)
    child.info("slack envelope %r", {"response_url": RESPONSE_URL, "token": SLACK_BOT})
    child.warning("signature check with 8f742231b10e8888abcd99yyyzzz85a5 failed")
    text = out.getvalue()
    for secret in (
        SLACK_BOT,
        DISCORD,
        "aW50ZXJhY3Rpb246dG9rZW4",
        "abcdefSECRET",
        "8f742231b10e8888abcd99yyyzzz85a5",
    ):
        assert secret not in text, secret
    assert text.count(redact.MASK) >= 5
    assert "webhooks/123456789012345678/" in text  # what it was stays readable


def test_tracebacks_are_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    root, out = logged
    try:
        raise RuntimeError(f"request to {HOOK} failed")
    except RuntimeError:
        root.exception("delivery failed")
    text = out.getvalue()
    assert "RuntimeError" in text and "aW50ZXJhY3Rpb246dG9rZW4" not in text


def test_plain_text_is_left_alone() -> None:
    line = "campaign C12 round 2 queued by U0ALICE (refining C12-R1-V3)"
    assert redact.redact(line) == line
    assert (
        redact.redact("postgresql+asyncpg://bot:hunter22@db:5432/cb")
        == "postgresql+asyncpg://bot:[redacted]@db:5432/cb"
    )
