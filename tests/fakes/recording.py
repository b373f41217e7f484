"""A chat adapter that records what a user would see: the engine's contract tests run against it."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.adapter import OutMessage

if TYPE_CHECKING:
    from engine.engine import Engine


@dataclass
class Posted:
    id: str
    channel: str
    thread: str | None
    text: str
    file: Path | None = None
    title: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)
    key: str = ""  # the outbox key the post carried

    @property
    def current(self) -> str:
        return self.edits[-1] if self.edits else self.text


class RecordingAdapter:
    platform = "test"
    min_edit_interval = 0.0

    def __init__(self) -> None:
        self.messages: dict[str, Posted] = {}
        self.tells: list[tuple[str, str | None, str, str]] = []
        self._ids = itertools.count(1)
        self.fail_next_posts = 0
        self.lose_next_answers = 0  # posts that are made, then answered with a timeout (a lost response)
        self.latency = 0.0  # seconds each post takes (lets concurrent senders interleave)
        self.lookups = 0  # find_sent calls
        self.posted: list[str] = []  # ids of the messages posted through this adapter

    def _id(self) -> str:
        return f"m{next(self._ids)}"

    async def run(self, engine: Engine, stop: asyncio.Event) -> None:
        """No connection of its own: events come from the caller; wait until the service stops."""
        await stop.wait()

    async def open_thread(self, channel: str, root: OutMessage) -> tuple[str, str]:
        done = root.checkpoints.get("root")
        if done is not None:  # posted by an earlier attempt: the thread is the root's
            return done, done
        mid = self._id()
        self.messages[mid] = Posted(mid, channel, None, root.text, root.file, root.title, key=root.key)
        self.posted.append(mid)
        await self._answer()
        return mid, mid

    async def find_sent(
        self, channel: str, thread: str | None, key: str, *, since: float | None = None
    ) -> str | None:
        """The platform's own record: the message posted with this outbox key, if any."""
        self.lookups += 1
        found = [m.id for m in self.messages.values() if key and m.key == key and m.thread == thread]
        return found[0] if found else None

    async def _answer(self) -> None:
        """The platform's answer to a post that it made: lost when ``lose_next_answers`` is set."""
        await asyncio.sleep(self.latency)
        if self.lose_next_answers > 0:
            self.lose_next_answers -= 1
            raise TimeoutError("injected: the post was made, its answer lost")

    async def post(self, channel: str, thread: str | None, message: OutMessage) -> str:
        if self.fail_next_posts > 0:
            self.fail_next_posts -= 1
            raise ConnectionError("injected failure")
        mid = self._id()
        self.messages[mid] = Posted(
            mid,
            channel,
            thread,
            message.text,
            message.file,
            message.title,
            list(message.fields),
            [b.label for b in message.buttons],
            key=message.key,
        )
        self.posted.append(mid)
        await self._answer()
        return mid

    async def edit(self, channel: str, thread: str | None, message_id: str, text: str) -> None:
        self.messages[message_id].edits.append(text)

    async def add_reactions(
        self, channel: str, thread: str | None, message_id: str, emojis: list[str]
    ) -> None:
        self.messages[message_id].reactions.extend(emojis)

    async def tell(self, channel: str, thread: str | None, user: str, text: str) -> None:
        self.tells.append((channel, thread, user, text))

    # -- what a user sees ---------------------------------------------------------------------------------
    def thread(self, thread: str) -> list[Posted]:
        return [m for m in self.messages.values() if m.thread == thread]

    def roots(self) -> list[Posted]:
        return [m for m in self.messages.values() if m.thread is None]

    def grids(self, thread: str) -> list[Posted]:
        return [m for m in self.thread(thread) if m.text.startswith("Round ") and m.reactions]

    def cards(self, thread: str) -> list[Posted]:
        return [m for m in self.thread(thread) if m.fields]
