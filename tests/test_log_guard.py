"""The DEBUG log guard (tests/log_guard.py) can fail: it catches a secret logged past the redaction filter,
lets the filter's masked lines through, and fails a test that leaks."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from engine import redact
from tests.fakes.slack.server import FakeSlack
from tests.log_guard import LeakChecker, find_leak

REPO = Path(__file__).resolve().parent.parent
SLACK_TOKEN = "xoxb-1234567890-0987654321-abcdefghijklmnop"
LINES = [
    f"posting with {SLACK_TOKEN}",
    "POST https://discord.com/api/v10/webhooks/123456789012345678/aW50ZXJhY3Rpb246dG9rZW4/messages/@original",
    "POST http://127.0.0.1:8001/api/v10/interactions/1234567/itok-0a1b2c3d4e5f6a7b/callback",
    "envelope {'response_url': 'http://127.0.0.1:3999/response/4f1e9a2b'}",
    "https://hooks.slack.com/services/T000/B000/XXXX",
    f"verifying with {FakeSlack.SIGNING_SECRET}",
]


@pytest.mark.parametrize("line", LINES)
def test_the_checker_finds_each_secret_and_the_filter_masks_it(line: str) -> None:
    assert find_leak(line) is not None
    assert find_leak(redact.redact(line, (FakeSlack.SIGNING_SECRET,))) is None


def test_a_record_logged_without_the_filter_is_caught_and_with_it_is_not() -> None:
    log = logging.getLogger("log-guard-test")
    log.propagate = False
    bare, filtered = LeakChecker(), LeakChecker()
    filtered.addFilter(redact.RedactingFilter(secrets=()))
    log.addHandler(bare)
    try:
        log.debug("token %s", SLACK_TOKEN)
        assert bare.count == 1 and SLACK_TOKEN in bare.leaks[0]
        log.removeHandler(bare)
        log.addHandler(filtered)
        log.debug("token %s", SLACK_TOKEN)
        assert filtered.count == 0
    finally:
        log.handlers.clear()


def test_a_test_that_leaks_fails(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    pytester.makeconftest('pytest_plugins = ["tests.log_guard"]')
    pytester.makepyfile(
        f"""
        import logging
        import pytest

        log = logging.getLogger("some.library")

        def test_leaks_a_secret_the_filter_cannot_know():
            log.debug("checking signature with {FakeSlack.SIGNING_SECRET}")

        def test_a_token_shape_is_masked_by_the_filter():
            log.debug("token {SLACK_TOKEN}")

        @pytest.mark.logs_secrets
        def test_says_it_logs_one_on_purpose():
            log.warning("{FakeSlack.SIGNING_SECRET}")
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning"
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*1 log line(s) hold a secret after redaction*", "*fake-signing-secret*"])
