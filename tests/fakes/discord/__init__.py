"""A fake Discord at the wire: REST + gateway on 127.0.0.1, for the real discord.py client."""

from tests.fakes.discord.server import FakeDiscord, Sent

__all__ = ["FakeDiscord", "Sent"]
