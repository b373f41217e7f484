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


@pytest.mark.parametrize(
    ("line", "secret", "kept"),
    [
        # a response_url is a secret whatever its host (GovSlack, a proxy, the fake Slack in tests)
        ('{"response_url": "http://127.0.0.1:3999/response/4f1e9a"}', "4f1e9a", '"response_url": '),
        ("response_url=https%3A%2F%2Fhooks.slack-gov.com%2Fcommands%2FT1%2F2%2Fabc&x=1", "abc", "&x=1"),
        ("{'response_url': 'https://proxy.internal/hooks/T1/2/xyz'}", "xyz", "'response_url': "),
        # Slack's verification token and Discord's interaction token ride in every payload
        ('{"token": "legacy-verification-token", "team_id": "T0FAKE"}', "legacy-verification", "T0FAKE"),
        ("token=legacy-verification-token&team_id=T0FAKE", "legacy-verification", "team_id=T0FAKE"),
        # a webhook / interaction URL through a proxy or at another host (DISCORD_API_URL) keeps no token
        (
            "POST http://127.0.0.1:8001/api/v10/interactions/1234567/itok-0a1b2c3d4e5f/callback",
            "itok-0a1b2c3d4e5f",
            "/interactions/1234567/[redacted]/callback",
        ),
        (
            "PATCH https://proxy.example/api/v10/webhooks/987654321/aW50ZXJhY3Rpb24/messages/@original",
            "aW50ZXJhY3Rpb24",
            "/webhooks/987654321/[redacted]/messages/@original",
        ),
    ],
)
def test_secrets_are_masked_whatever_the_host(line: str, secret: str, kept: str) -> None:
    out = redact.redact(line)
    assert secret not in out and kept in out, out


def test_words_that_only_contain_token_are_left_alone() -> None:
    line = "max_tokens: 30, tokens=12, tokenizer=gpt2"
    assert redact.redact(line) == line
