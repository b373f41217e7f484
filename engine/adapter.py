"""The small protocol the engine owns and every chat adapter implements (Slack, Discord, playground, tests).

Message ids are strings chosen by the platform (Slack ``ts``, Discord snowflake). ``thread`` is the
platform's thread id returned by :meth:`ChatAdapter.open_thread`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:  # the engine imports this module; the name is only needed for type checking
    from engine.engine import Engine


@dataclass
class Button:
    label: str
    action: str  # "refine" | "export"
    value: str  # card id, e.g. C12-R2-V3


@dataclass
class OutMessage:
    """A message the engine wants shown. ``text`` is already neutralised plain text; adapters escape it
    for their markup. ``file`` is a PNG (or zip) to attach. ``fields`` are labelled parts (headline/body/cta)
    that adapters may render as sections or embeds."""

    text: str
    file: Path | None = None  # a PNG (shown inline) or another file (export zip) to attach
    title: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


@runtime_checkable
class ChatAdapter(Protocol):
    platform: str
    # Seconds the platform wants between two edits of one message (0.0: no limit of its own). The engine
    # is the one place that throttles status edits: it waits at least this long, and the latest text lands.
    min_edit_interval: float

    async def open_thread(self, channel: str, root: OutMessage) -> tuple[str, str]:
        """Post ``root`` in ``channel`` and open a thread on it; return (root message id, thread id)."""
        ...

    async def post(self, channel: str, thread: str | None, message: OutMessage) -> str:
        """Post into a thread (or the channel when ``thread`` is None); return the message id."""
        ...

    async def edit(self, channel: str, thread: str | None, message_id: str, text: str) -> None:
        """Replace the text of an earlier message (status lines)."""
        ...

    async def add_reactions(
        self, channel: str, thread: str | None, message_id: str, emojis: list[str]
    ) -> None:
        """Add reactions (unicode emoji) to a message, in order."""
        ...

    async def tell(self, channel: str, thread: str | None, user: str, text: str) -> None:
        """A short note for one user (ephemeral where the platform allows, else a normal reply)."""
        ...

    async def run(self, engine: Engine, stop: asyncio.Event) -> None:
        """Hold the adapter's own connection to its platform (Socket Mode, the Discord gateway, the
        playground's web server) and feed its events to ``engine`` until ``stop`` is set. An adapter with
        no connection of its own (the console, test fakes) just waits for ``stop``."""
        ...
