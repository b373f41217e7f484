"""A terminal chat for trying the engine by hand (``campaignbot console``): type ``/campaign …``,
``react <message> <emoji>``, ``reply <text>`` (in the latest campaign's thread) or ``quit``."""

from __future__ import annotations

import asyncio
import itertools
import sys
from typing import TextIO

from engine.adapter import OutMessage
from engine.engine import Engine
from engine.events import CommandEvent, ReactionEvent, ReplyEvent, Where

HELP = """Type:
  /campaign smart watch for runners --variants 2     start a campaign (see /campaign help)
  react m5 2️⃣   (or: react m5 2)                       react to message m5 (number = choose a variant; x = cancel)
  reply shorter and bolder                            reply in the latest campaign thread
  quit"""


class ConsoleAdapter:
    platform = "console"
    min_edit_interval = 0.0

    def __init__(self, out: TextIO = sys.stdout, user: str = "you"):
        self.out = out
        self.user = user
        self._ids = itertools.count(1)
        self._sent: dict[tuple[str, str | None, str], str] = {}  # (channel, thread, outbox key) -> id
        self.last_thread: str | None = None

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def _show(self, mid: str, thread: str | None, m: OutMessage) -> None:
        where = f"[{thread}]" if thread else "[#general]"
        self._print(f"{where} {mid}: {m.text}")
        for k, v in m.fields:
            self._print(f"      {k}: {v}")
        if m.file:
            self._print(f"      file: {m.file}")
        if m.buttons:
            self._print("      buttons: " + " | ".join(b.label for b in m.buttons))

    async def run(self, engine: Engine, stop: asyncio.Event) -> None:
        """No connection of its own: events come from the caller; wait until the service stops."""
        await stop.wait()

    async def open_thread(self, channel: str, root: OutMessage) -> tuple[str, str]:
        mid = root.checkpoints.get("root")  # found after an unfinished attempt
        if mid is None:
            mid = f"m{next(self._ids)}"
            self._show(mid, None, root)
            self._sent[(channel, None, root.key)] = mid
        self.last_thread = mid
        return mid, mid

    async def post(self, channel: str, thread: str | None, message: OutMessage) -> str:
        mid = f"m{next(self._ids)}"
        self._show(mid, thread, message)
        self._sent[(channel, thread, message.key)] = mid
        return mid

    async def find_sent(
        self, channel: str, thread: str | None, key: str, *, since: float | None = None
    ) -> str | None:
        """What this terminal showed with outbox ``key`` (a new console starts a new screen: nothing)."""
        return self._sent.get((channel, thread, key)) if key else None

    async def edit(self, channel: str, thread: str | None, message_id: str, text: str) -> None:
        self._print(f"[{thread}] {message_id} (edited): {text}")

    async def add_reactions(
        self, channel: str, thread: str | None, message_id: str, emojis: list[str]
    ) -> None:
        self._print(f"[{thread}] {message_id} reactions: {' '.join(emojis)}")

    async def tell(self, channel: str, thread: str | None, user: str, text: str) -> None:
        self._print(f"(only {user} sees this) {text}")


async def console_front(adapter: ConsoleAdapter, engine: Engine, stop: asyncio.Event) -> None:
    adapter._print(HELP)
    n = itertools.count(1)
    while not stop.is_set():
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            stop.set()
            return
        line = line.strip()
        if not line:
            continue
        here = Where("console", "local", "general")
        reply = None
        if line in ("quit", "exit"):
            stop.set()
            return
        if line.startswith("/campaign"):
            reply = await engine.handle(
                CommandEvent(
                    here,
                    adapter.user,
                    line[len("/campaign") :].strip(),
                    event_id=f"e{next(n)}",
                    user_name=adapter.user,
                )
            )
        elif line.startswith("react "):
            parts = line.split()
            if len(parts) == 3:
                emoji = parts[2]
                if emoji.isdigit():
                    emoji = f"{emoji}\ufe0f\u20e3"
                reply = await engine.handle(
                    ReactionEvent(here, adapter.user, parts[1], emoji, event_id=f"e{next(n)}")
                )
        elif line.startswith("reply ") and adapter.last_thread:
            reply = await engine.handle(
                ReplyEvent(
                    Where("console", "local", "general", adapter.last_thread),
                    adapter.user,
                    line[6:],
                    event_id=f"e{next(n)}",
                )
            )
        else:
            adapter._print(HELP)
        if reply:
            adapter._print(f"(only you see this) {reply.text}")
