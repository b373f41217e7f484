"""The playground's chat model: channels holding messages, threads (a thread is the id of its root
message), reactions by user, buttons, and notes shown to one user only.

Everything lives in memory and is appended to a journal (JSON lines in the data dir), so a restart
keeps the conversation and the message ids the engine has stored. Both are bounded: a channel keeps its
last ``max_messages`` messages (the oldest conversation, a root message with its thread, goes first, also
while the journal is replayed), and the journal is rewritten as a snapshot of what is kept once it holds
more than twice that many lines. Pure Python; no aiohttp here.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.adapter import OutMessage

logger = logging.getLogger(__name__)

BOT = "campaignbot"
MAX_MESSAGES = 2000  # per channel, kept in memory and in the journal
COMPACT_SLACK = 200  # journal lines beyond twice the kept messages before the journal is rewritten


@dataclass
class Message:
    """One message as the page shows it. ``file`` is a server-side path and is never sent to the page:
    the page asks for ``/files/<id>`` instead. ``only`` marks a note visible to one user."""

    id: str
    channel: str
    thread: str | None
    user: str
    user_name: str
    text: str
    at: float
    title: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[dict[str, str]] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji -> users, in order
    file: str | None = None
    edited: bool = False
    only: str | None = None
    key: str = ""  # the engine's outbox key of a bot post (kept in the journal; never sent to the page)

    def public(self) -> dict[str, Any]:
        """What the page receives: no server paths, just the kind of attachment."""
        d = asdict(self)
        path = d.pop("file")
        d.pop("key")
        d["fields"] = [list(f) for f in self.fields]
        d["attachment"] = None
        if path:
            kind = "image" if path.lower().endswith(".png") else "download"
            d["attachment"] = {"kind": kind, "name": Path(path).name, "url": f"files/{self.id}"}
        return d


def new_id() -> str:
    """Message ids are random, so they never collide with ids stored by the engine before a restart."""
    return secrets.token_hex(6)


class Channels:
    """All channels of the playground workspace and the journal behind them."""

    def __init__(self, journal: Path | None = None, *, max_messages: int = MAX_MESSAGES):
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.messages: dict[str, Message] = {}  # in the order they were posted
        self.journal = journal
        self.max_messages = max_messages
        self._per_channel: dict[str, int] = {}
        self._threads: dict[
            str, dict[str, list[str]]
        ] = {}  # channel -> root id -> its messages, oldest first
        self._journal_lines = 0
        if journal is not None:
            journal.parent.mkdir(parents=True, exist_ok=True)
            self._replay(journal)
            self._compact_if_due()

    # -- reading ------------------------------------------------------------------------------------------
    def get(self, message_id: str) -> Message | None:
        return self.messages.get(message_id)

    def visible(self, user: str) -> list[Message]:
        return [m for m in self.messages.values() if m.only is None or m.only == user]

    def find(self, channel: str, thread: str | None, key: str) -> Message | None:
        """The bot's post carrying the engine's outbox ``key`` (the journal keeps it across restarts)."""
        for m in self.messages.values():
            if key and m.key == key and m.channel == channel and m.thread == thread:
                return m
        return None

    def replies(self, thread: str) -> int:
        return sum(1 for m in self.messages.values() if m.thread == thread and m.only is None)

    # -- writing ------------------------------------------------------------------------------------------
    def add(
        self,
        channel: str,
        thread: str | None,
        user: str,
        user_name: str,
        text: str,
        out: OutMessage | None = None,
        only: str | None = None,
    ) -> Message:
        m = Message(
            id=new_id(),
            channel=channel,
            thread=thread,
            user=user,
            user_name=user_name,
            text=text,
            at=time.time(),
            only=only,
        )
        if out is not None:
            m.title = out.title
            m.fields = list(out.fields)
            m.buttons = [{"label": b.label, "action": b.action, "value": b.value} for b in out.buttons]
            m.file = str(out.file) if out.file else None
            m.key = out.key
        self._keep(m)
        self._write({"op": "msg", "m": asdict(m)})
        return m

    # -- bounds -------------------------------------------------------------------------------------------
    def _keep(self, m: Message) -> None:
        """Hold a new message; past the channel's bound, its oldest conversations are dropped."""
        if m.id in self.messages:  # the same message again (a journal written twice): replace it
            self.messages[m.id] = m
            return
        self.messages[m.id] = m
        threads = self._threads.setdefault(m.channel, {})
        threads.setdefault(m.thread or m.id, []).append(m.id)
        self._per_channel[m.channel] = self._per_channel.get(m.channel, 0) + 1
        while self._per_channel[m.channel] > self.max_messages:
            self._drop_oldest(m.channel)

    def _drop_oldest(self, channel: str) -> None:
        """Drop the channel's oldest conversation: a root message and its thread, or a lone reply."""
        threads = self._threads[channel]
        root = next(iter(threads))
        for mid in threads.pop(root):
            del self.messages[mid]
            self._per_channel[channel] -= 1

    def edit(self, message_id: str, text: str) -> Message | None:
        m = self.messages.get(message_id)
        if m is None:
            return None
        m.text, m.edited = text, True
        self._write({"op": "edit", "id": message_id, "text": text})
        return m

    def react(self, message_id: str, emoji: str, user: str, on: bool = True) -> Message | None:
        """Add (or take back) ``user``'s ``emoji`` on a message; returns the message if it changed."""
        m = self.messages.get(message_id)
        if m is None:
            return None
        users = m.reactions.setdefault(emoji, [])
        if on == (user in users):
            return None
        if on:
            users.append(user)
        else:
            users.remove(user)
            if not users:
                del m.reactions[emoji]
        self._write({"op": "react", "id": message_id, "emoji": emoji, "user": user, "on": on})
        return m

    # -- journal ------------------------------------------------------------------------------------------
    def _write(self, op: dict[str, Any]) -> None:
        if self.journal is None:
            return
        with self.journal.open("a", encoding="utf-8") as f:
            f.write(json.dumps(op, ensure_ascii=False) + "\n")
        self._journal_lines += 1
        self._compact_if_due()

    def _compact_if_due(self) -> None:
        """Rewrite the journal as one line per kept message once it is mostly history of dropped ones
        (written beside and renamed: a crash leaves the old journal or the new one, never half)."""
        if self.journal is None or self._journal_lines <= 2 * len(self.messages) + COMPACT_SLACK:
            return
        tmp = self.journal.with_name(f"{self.journal.name}.{secrets.token_hex(4)}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for m in self.messages.values():
                f.write(json.dumps({"op": "msg", "m": asdict(m)}, ensure_ascii=False) + "\n")
        os.replace(tmp, self.journal)
        logger.info("playground journal compacted: %d lines -> %d", self._journal_lines, len(self.messages))
        self._journal_lines = len(self.messages)

    def _replay(self, journal: Path) -> None:
        if not journal.exists():
            return
        with journal.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                self._journal_lines = n
                try:
                    op = json.loads(line)
                    if op["op"] == "msg":
                        d = op["m"]
                        d["fields"] = [tuple(x) for x in d.get("fields", [])]
                        self._keep(Message(**d))
                    elif op["op"] == "edit" and op["id"] in self.messages:
                        m = self.messages[op["id"]]
                        m.text, m.edited = op["text"], True
                    elif op["op"] == "react" and op["id"] in self.messages:
                        users = self.messages[op["id"]].reactions.setdefault(op["emoji"], [])
                        if op["on"] and op["user"] not in users:
                            users.append(op["user"])
                        elif not op["on"] and op["user"] in users:
                            users.remove(op["user"])
                except (ValueError, KeyError, TypeError) as exc:
                    logger.warning("playground journal line %d skipped: %s", n, exc)
        for m in self.messages.values():
            for e in [e for e, users in m.reactions.items() if not users]:
                del m.reactions[e]
