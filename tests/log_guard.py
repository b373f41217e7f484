"""A pytest plugin: every test runs with the root logger at DEBUG and one more handler on it, with the
product's redaction filter installed the way the composition root installs it (``redact.install`` on the
root's handlers, ``bot.cli``). The handler formats each record and fails the test if the line still holds a
token, a signing secret or a webhook / response URL with its token. It keeps only the offending lines.

A test that must log a secret on purpose, past the filter, says so with ``@pytest.mark.logs_secrets``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from engine import redact
from tests.fakes.slack.server import FakeSlack

# What must never be in a log line, whatever the filter's own patterns say (written separately, so a gap
# in the filter shows here). The tests' own secrets are listed by value.
TEST_SECRETS = (
    FakeSlack.BOT_TOKEN,
    FakeSlack.APP_TOKEN,
    FakeSlack.SIGNING_SECRET,
    "fake-bot-token",  # FakeDiscord's default token
    "the-real-token",
)
_MASKED = re.escape(redact.MASK)
# (pattern, needles): a pattern is searched only in lines that hold one of its needles (lower case; none:
# always), which keeps the check of every DEBUG record cheap.
LEAK_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{6,}"), ("xox",)),  # Slack bot / user tokens
    (re.compile(r"\bxapp-[A-Za-z0-9-]{6,}"), ("xapp-",)),  # Slack app-level tokens
    (
        re.compile(r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}"),
        (),
    ),  # Discord bot tokens
    (re.compile(r"\bitok-[0-9a-f]{8,}"), ("itok-",)),  # the fake Discord's interaction tokens
    (
        re.compile(rf"/(?:webhooks|interactions)/\d+/(?!{_MASKED})[^\s\"'/?]{{8,}}"),
        ("/webhooks/", "/interactions/"),
    ),  # a token in a webhook / interaction URL
    (re.compile(r"hooks\.slack\.com/"), ("hooks.slack.com",)),  # response and webhook URLs (masked whole)
    (
        re.compile(rf"response_url['\"]?\s*[:=]\s*['\"]?(?!{_MASKED})https?://"),
        ("response_url",),
    ),  # a response_url's value
    (re.compile("|".join(re.escape(s) for s in TEST_SECRETS)), tuple(s.lower() for s in TEST_SECRETS)),
)


def find_leak(line: str) -> re.Match[str] | None:
    """The first secret-looking text in a formatted log line, or None."""
    low = line.lower()
    for pattern, needles in LEAK_PATTERNS:
        if needles and not any(n in low for n in needles):
            continue
        m = pattern.search(line)
        if m:
            return m
    return None


class LeakChecker(logging.Handler):
    """Checks every record it is given; remembers only the lines that leak (at most ``keep``)."""

    def __init__(self, keep: int = 5) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.leaks: list[str] = []
        self.keep = keep
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted is logging's problem, not a leak
            return
        m = find_leak(line)
        if m is not None:
            self.count += 1
            if len(self.leaks) < self.keep:
                around = line[max(0, m.start() - 200) : m.end() + 100]
                self.leaks.append(f"{m.group(0)!r} from {record.name}: ...{around}...")


def _quiet_pytest_capture(config: pytest.Config) -> None:
    """pytest's own capture handlers (the failure report, ``caplog``) keep what they kept before the root
    went to DEBUG: WARNING and up, unless a test asks ``caplog`` for more. Storing and formatting every
    DEBUG record there made the bot tests 2.5x slower; the checker alone sees them all."""
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    if plugin is None or config.getini("log_level") or config.getoption("log_level", None):
        return
    for handler in (plugin.report_handler, plugin.caplog_handler):
        if handler.level == logging.NOTSET:
            handler.setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def no_secrets_in_logs(request: pytest.FixtureRequest) -> Iterator[LeakChecker]:
    _quiet_pytest_capture(request.config)
    root = logging.getLogger()
    checker = LeakChecker()
    level = root.level
    root.addHandler(checker)
    redact.install(root)  # as bot.cli does: a RedactingFilter on every handler of the root logger
    root.setLevel(logging.DEBUG)
    try:
        yield checker
    finally:
        root.setLevel(level)
        root.removeHandler(checker)
    if checker.leaks and request.node.get_closest_marker("logs_secrets") is None:
        shown = "\n  ".join(checker.leaks)
        pytest.fail(f"{checker.count} log line(s) hold a secret after redaction:\n  {shown}", pytrace=False)
