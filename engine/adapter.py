"""The small protocol the engine owns and every chat adapter implements (Slack, Discord, playground, tests).

Message ids are strings chosen by the platform (Slack ``ts``, Discord snowflake). ``thread`` is the
platform's thread id returned by :meth:`ChatAdapter.open_thread`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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


class Checkpoints:
    """The steps of one post already done, when a post takes several platform calls (an upload then its
    card, a root message then its thread): an adapter asks :meth:`get` before a step and calls
    :meth:`record` after it, so a retry of the post skips what is done. The engine's outbox keeps them in
    the post's row (they survive a restart); a message built elsewhere keeps them in memory."""

    def __init__(
        self,
        done: dict[str, str] | None = None,
        save: Callable[[dict[str, str]], Awaitable[None]] | None = None,
    ) -> None:
        self._done = dict(done or {})
        self._save = save

    def get(self, step: str) -> str | None:
        return self._done.get(step)

    async def record(self, step: str, value: str) -> None:
        self._done[step] = value
        if self._save is not None:
            await self._save(dict(self._done))


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
    # The outbox key of this post (unique and stable across retries): an adapter tags the platform message
    # with it (Slack metadata, a Discord nonce) so that :meth:`Reconciles.find_sent` finds it again.
    key: str = ""
    checkpoints: Checkpoints = field(default_factory=Checkpoints, compare=False, repr=False)


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


@runtime_checkable
class Reconciles(Protocol):
    """Optional for a :class:`ChatAdapter`: find a post the engine may have made already.

    The outbox writes an attempt marker before it calls the platform. A post found with the marker but no
    message id (the engine died after the call, or the platform's answer was lost) is looked up with
    :meth:`find_sent` before it is sent again: found, it is recorded as sent; not found, it is sent. An
    adapter without this method is sent again (it should then make a re-send harmless itself, as Discord's
    ``enforce_nonce`` does)."""

    async def find_sent(
        self, channel: str, thread: str | None, key: str, *, since: float | None = None
    ) -> str | None:
        """The id of the message carrying outbox ``key`` in the thread (or the channel when ``thread`` is
        None), or None when there is none. ``since`` (epoch seconds) is when the unfinished attempt began:
        the message, if any, was posted about then or later."""
        ...
