"""The playground adapter: the engine's :class:`~engine.adapter.ChatAdapter` for a local web chat.

The engine posts into :class:`~bot.playground.channel.Channels`; every change is pushed to the open
pages over their WebSockets. :meth:`PlaygroundAdapter.run` serves the page (see ``server.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.playground.channel import BOT, MAX_MESSAGES, Channels, Message
from engine.adapter import OutMessage
from engine.errors import PermanentPlatformError
from engine.settings import Settings

if TYPE_CHECKING:
    from aiohttp import web

    from engine.engine import Engine

logger = logging.getLogger(__name__)

WORKSPACE = "local"
DEFAULT_CHANNEL = "general"


class PlaygroundSettings(BaseSettings):
    """``CAMPAIGNBOT_PLAYGROUND_HOST`` / ``_PORT`` / ``_MAX_MESSAGES`` (and the same keys in ``.env``)."""

    model_config = SettingsConfigDict(env_prefix="CAMPAIGNBOT_PLAYGROUND_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8321
    max_messages: int = Field(
        default=MAX_MESSAGES,
        ge=1,
        description="messages a channel keeps (in memory and in the journal); the oldest conversations go first",
    )


@dataclass(eq=False)
class Client:
    """One open page: its WebSocket and the user name typed into it."""

    ws: web.WebSocketResponse
    user: str = ""
    user_name: str = ""

    async def send(self, payload: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        try:
            await asyncio.wait_for(self.ws.send_json(payload), 5.0)
        except (ConnectionError, TimeoutError, RuntimeError) as exc:
            logger.info("playground page dropped (%s)", exc)


class PlaygroundAdapter:
    platform = "playground"
    min_edit_interval = 0.0

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8321,
        journal: bool = True,
        max_messages: int = MAX_MESSAGES,
        announce: Callable[[str], None] | None = None,
    ):
        self.data_dir = data_dir
        self.host = host
        self.port = port
        journal_path = data_dir / "playground" / "journal.jsonl" if journal else None
        self.channels = Channels(journal_path, max_messages=max_messages)
        self.clients: set[Client] = set()
        self.announce = announce
        self.url: str | None = None
        self.ready = asyncio.Event()

    # -- ChatAdapter --------------------------------------------------------------------------------------
    async def open_thread(self, channel: str, root: OutMessage) -> tuple[str, str]:
        done = root.checkpoints.get("root")
        if done is not None:  # found after an unfinished attempt: the thread is the root's
            return done, done
        m = self.channels.add(channel, None, BOT, BOT, root.text, root)
        await self.publish(m)
        return m.id, m.id

    async def find_sent(
        self, channel: str, thread: str | None, key: str, *, since: float | None = None
    ) -> str | None:
        """The post carrying outbox ``key``, from the journal (the playground is its own platform)."""
        m = self.channels.find(channel, thread, key)
        return m.id if m is not None else None

    async def post(self, channel: str, thread: str | None, message: OutMessage) -> str:
        m = self.channels.add(channel, thread, BOT, BOT, message.text, message)
        await self.publish(m)
        return m.id

    async def edit(self, channel: str, thread: str | None, message_id: str, text: str) -> None:
        m = self.channels.edit(message_id, text)
        if m is None:
            # dropped with its conversation (the channel keeps its last messages): nothing left to edit
            raise PermanentPlatformError(f"playground message {message_id} is no longer kept")
        await self.publish(m)

    async def add_reactions(
        self, channel: str, thread: str | None, message_id: str, emojis: list[str]
    ) -> None:
        for e in emojis:
            self.channels.react(message_id, e, BOT)
        m = self.channels.get(message_id)
        if m is not None:
            await self.publish(m)

    async def tell(self, channel: str, thread: str | None, user: str, text: str) -> None:
        m = self.channels.add(channel, thread, BOT, BOT, text, only=user)
        await self.publish(m)

    # -- pages --------------------------------------------------------------------------------------------
    async def publish(self, m: Message) -> None:
        """Send a new or changed message to every page allowed to see it."""
        payload = {"type": "message", "message": m.public()}
        await asyncio.gather(
            *(c.send(payload) for c in list(self.clients) if c.user and (m.only is None or m.only == c.user))
        )

    def file_for(self, message_id: str) -> Path | None:
        """The attachment of a message, only if it lies inside the engine's data dir."""
        m = self.channels.get(message_id)
        if m is None or not m.file:
            return None
        root = self.data_dir.resolve()
        path = Path(m.file).resolve()
        if not path.is_relative_to(root):
            logger.warning("message %s names a file outside the data dir; not served", message_id)
            return None
        return path if path.is_file() else None

    async def run(self, engine: Engine, stop: asyncio.Event) -> None:
        """Serve the page until ``stop`` is set (``bot.runner.serve`` calls this)."""
        from aiohttp import web  # noqa: PLC0415

        from bot.playground.server import make_app  # noqa: PLC0415

        runner = web.AppRunner(make_app(self, engine), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        port = self.port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port = server.sockets[0].getsockname()[1]
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.url = f"http://{shown}:{port}/"
        logger.info("playground listening on %s", self.url)
        if self.announce:
            self.announce(self.url)
        self.ready.set()
        try:
            await stop.wait()
        finally:
            for c in list(self.clients):
                await c.ws.close()
            await runner.cleanup()


def from_settings(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    announce: Callable[[str], None] | None = None,
) -> PlaygroundAdapter:
    """The adapter for ``campaignbot run``: host and port from ``CAMPAIGNBOT_PLAYGROUND_HOST``/``_PORT``
    (or ``environ`` when given, for tests), data next to the engine's."""
    if environ is None:
        pg = PlaygroundSettings()
    else:
        keys = {
            "host": "CAMPAIGNBOT_PLAYGROUND_HOST",
            "port": "CAMPAIGNBOT_PLAYGROUND_PORT",
            "max_messages": "CAMPAIGNBOT_PLAYGROUND_MAX_MESSAGES",
        }
        pg = PlaygroundSettings.model_validate({k: environ[v] for k, v in keys.items() if v in environ})
    return PlaygroundAdapter(
        settings.data_dir, host=pg.host, port=pg.port, max_messages=pg.max_messages, announce=announce
    )
