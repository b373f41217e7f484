"""A wire-level fake Slack for adapter tests."""

from tests.fakes.slack.server import Delivery, Ephemeral, FakeSlack, File, Message

__all__ = ["Delivery", "Ephemeral", "FakeSlack", "File", "Message"]
