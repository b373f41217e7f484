"""The Discord adapter: discord.py gateway + REST in, engine events out; engine posts back out as messages.

``/campaign`` is an application command group (Discord does not allow options beside subcommands):
``/campaign new brief:... [variants tone size seed lang vote audience keywords avoid length]`` and
``/campaign help|status|history|export|resume|cancel``. The typed options are turned into the text
grammar of :func:`engine.commands.parse_command`, so every mistake gets the same friendly message as
on Slack. Interactions are deferred at once (ephemeral), then answered by editing ``@original``; the
campaign itself is posted with the bot token into a thread on a root message, so it outlives the
15-minute interaction token.

Inside a thread, engine events carry ``Where.channel`` = the thread's parent channel (the campaign's
channel) and ``Where.thread`` = the thread id; on Discord a thread started from a message has the
message's id.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import discord
import yarl
from discord import app_commands
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.discord_commands import CardButton, campaign_group, clip, markdown, view_for
from bot.refusals import permanent_when
from engine.adapter import OutMessage
from engine.engine import Engine
from engine.errors import PlatformError
from engine.events import ButtonEvent, CommandEvent, ReactionEvent, Reply, ReplyEvent, Where

logger = logging.getLogger(__name__)

PLATFORM = "discord"
NO_MENTIONS = discord.AllowedMentions.none()
MAX_CONTENT = 2000
READY_TIMEOUT = 15.0


def _discord_refusal(exc: Exception) -> str | None:
    """403 (a missing permission, e.g. Create Public Threads) and 404 (a deleted channel or message) are
    refusals no retry can mend; retrying them would also count toward Discord's invalid-request limit."""
    if isinstance(exc, (discord.Forbidden, discord.NotFound)):
        return f"Discord refused ({exc.status}): {exc.text or exc}"
    return None


_permanent_errors = permanent_when(_discord_refusal)

THREAD_EXISTS = 160004  # Discord's error code: a thread has already been created for this message


def nonce_for(key: str) -> str:
    """The nonce of the post with outbox ``key`` (Discord allows 25 characters): the same on every try, so
    with ``enforce_nonce`` Discord answers a re-send (after a lost response or a crash) with the message it
    made the first time instead of a second one. Discord keeps nonces for a few minutes only."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]


class DiscordNotConnected(PlatformError):
    """A post was attempted while the gateway is down; the engine's outbox retries it later."""


class DiscordSettings(BaseSettings):
    """``DISCORD_TOKEN`` (required), ``DISCORD_API_URL``, ``DISCORD_GATEWAY_URL``, ``DISCORD_MESSAGE_CONTENT``."""

    model_config = SettingsConfigDict(env_prefix="DISCORD_", env_file=".env", extra="ignore")

    token: SecretStr
    api_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    message_content: bool = False  # the privileged intent; turn it on in the Developer Portal first


class _Client(discord.Client):
    def __init__(self, adapter: DiscordAdapter) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_messages = True
        intents.guild_reactions = True
        intents.message_content = adapter.settings.message_content
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS)
        self.adapter = adapter
        self.tree: app_commands.CommandTree[_Client] = app_commands.CommandTree(self)
        self.tree.add_command(campaign_group(adapter))
        self.tree.on_error = adapter.on_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CardButton)
        await self.adapter.sync_commands()

    async def on_ready(self) -> None:
        self.adapter.ready.set()
        logger.info("discord: connected as %s to %d server(s)", self.user, len(self.guilds))

    async def on_resumed(self) -> None:
        self.adapter.ready.set()
        logger.info("discord: gateway session resumed")

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(payload)  # withdraws a choice still being debounced

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)


class DiscordAdapter:
    """ChatAdapter for Discord, plus ``run(engine, stop)``: the gateway connection."""

    platform = PLATFORM
    min_edit_interval = 0.0  # discord.py waits out Discord's rate limits itself

    def __init__(self, settings: DiscordSettings) -> None:
        self.settings = settings
        # discord.py reads these class attributes for every REST call and new gateway connection
        discord.http.Route.BASE = settings.api_url.rstrip("/")
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
        self.engine: Engine | None = None
        self.ready = asyncio.Event()
        self.client = _Client(self)
        self._running = False
        self._parents: dict[int, int | None] = {}  # channel id -> parent channel id (None: not a thread)

    @classmethod
    def from_env(cls) -> DiscordAdapter:
        return cls(DiscordSettings())  # type: ignore[call-arg]

    # -- connection ----------------------------------------------------------------------------------------
    async def run(self, engine: Engine, stop: asyncio.Event) -> None:
        """Connect to the gateway and serve until ``stop`` is set. A bad token logs one line and stops."""
        self.engine = engine
        self._running = True
        if self.client.is_closed():
            self.client = _Client(self)
        self.ready.clear()
        client = self.client
        try:
            async with client:
                runner = asyncio.create_task(client.start(self.settings.token.get_secret_value()))
                stopper = asyncio.create_task(stop.wait())
                done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if runner in done:
                    runner.result()
                stopper.cancel()
                runner.cancel()
                await asyncio.gather(runner, stopper, return_exceptions=True)
        except discord.LoginFailure:
            logger.error(
                "Discord rejected DISCORD_TOKEN (401 Unauthorized): copy the bot token again from the "
                "Developer Portal (Bot > Reset Token)"
            )
            stop.set()
        except discord.PrivilegedIntentsRequired:
            logger.error(
                "Discord refused the MESSAGE CONTENT intent: turn it on in the Developer Portal "
                "(Bot > Privileged Gateway Intents) or unset DISCORD_MESSAGE_CONTENT"
            )
            stop.set()
        finally:
            self._running = False
            self.ready.clear()

    async def sync_commands(self) -> None:
        """Register the slash commands only when their definition changed (Discord limits creates per day)."""
        tree = self.client.tree
        payload = [c.to_dict(tree) for c in tree.get_commands()]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        key = (PLATFORM, f"app:{self.client.application_id}")
        assert self.engine is not None
        data = await self.engine.workspace_data(*key)
        if data.get("commands_hash") == digest:
            logger.info("discord: slash commands unchanged; not syncing")
            return
        await tree.sync()
        await self.engine.save_workspace_data(*key, commands_hash=digest)
        logger.info("discord: slash commands synced (%d)", len(payload))

    async def _wait_ready(self) -> None:
        """Wait while (re)connecting; fail at once when not running, so the outbox retries later."""
        if self.ready.is_set():
            return
        if not self._running:
            raise DiscordNotConnected("the Discord adapter is not connected")
        try:
            await asyncio.wait_for(self.ready.wait(), READY_TIMEOUT)
        except TimeoutError:
            raise DiscordNotConnected(f"not connected to Discord after {READY_TIMEOUT:.0f} s") from None

    # -- inbound: platform event -> engine event -----------------------------------------------------------
    async def _handle(self, event: Any) -> Reply | None:
        assert self.engine is not None, "run() sets the engine"
        return await self.engine.handle(event)

    async def _place(self, channel_id: int) -> tuple[str, str | None]:
        """A channel or thread id -> (the campaign channel, the thread or None)."""
        if channel_id not in self._parents:
            ch = self.client.get_channel(channel_id)
            if ch is None:
                try:
                    ch = await self.client.fetch_channel(channel_id)
                except discord.HTTPException:
                    ch = None
            self._parents[channel_id] = ch.parent_id if isinstance(ch, discord.Thread) else None
        parent = self._parents[channel_id]
        if parent is None:
            return str(channel_id), None
        return str(parent), str(channel_id)

    async def on_command(self, interaction: discord.Interaction[Any], text: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.channel_id is not None
        channel, _ = await self._place(interaction.channel_id)
        user = interaction.user
        event = CommandEvent(
            Where(PLATFORM, str(interaction.guild_id or "dm"), channel),
            str(user.id),
            text,
            event_id=f"i{interaction.id}",
            user_name=user.display_name,
        )
        reply = await self._handle(event)
        await interaction.edit_original_response(
            content=clip(markdown(reply.text), MAX_CONTENT) if reply else "Already on it.",
            allowed_mentions=NO_MENTIONS,
        )

    async def on_button(self, interaction: discord.Interaction[Any], action: str, value: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.channel_id is not None
        channel, thread = await self._place(interaction.channel_id)
        event = ButtonEvent(
            Where(PLATFORM, str(interaction.guild_id or "dm"), channel, thread),
            str(interaction.user.id),
            action,
            value,
            message_id=str(interaction.message.id) if interaction.message else "",
            event_id=f"i{interaction.id}",
        )
        reply = await self._handle(event)
        await interaction.edit_original_response(
            content=clip(reply.text, MAX_CONTENT) if reply else "OK.", allowed_mentions=NO_MENTIONS
        )

    async def on_command_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        logger.error("discord: /campaign failed: %s", error, exc_info=error)
        text = "Something went wrong on our side; please try again in a minute."
        try:
            if interaction.response.is_done():
                await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            pass

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.client.user
        if payload.guild_id is None or (me is not None and payload.user_id == me.id):
            return
        emoji = payload.emoji.name if payload.emoji.id else str(payload.emoji)
        if not emoji:
            return
        channel, thread = await self._place(payload.channel_id)
        reply = await self._handle(
            ReactionEvent(
                Where(PLATFORM, str(payload.guild_id), channel, thread),
                str(payload.user_id),
                str(payload.message_id),
                emoji,
                removed=payload.event_type == "REACTION_REMOVE",
            )
        )
        if reply is not None:
            await self.tell(channel, thread, str(payload.user_id), reply.text)

    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None or message.author.bot or message.webhook_id is not None:
            return
        me = self.client.user
        text = message.content
        if me is not None:
            text = re.sub(rf"<@!?{me.id}>", " ", text).strip()
        if not text:
            if not self.settings.message_content and not message.attachments:
                logger.debug("discord: message %s has no content (MESSAGE_CONTENT intent off)", message.id)
            return
        channel, thread = await self._place(message.channel.id)
        if thread is None:
            return  # only thread replies steer campaigns
        reply = await self._handle(
            ReplyEvent(
                Where(PLATFORM, str(message.guild.id), channel, thread),
                str(message.author.id),
                text,
                message_id=str(message.id),
                event_id=f"m{message.id}",
            )
        )
        if reply is not None:
            await self.tell(channel, thread, str(message.author.id), reply.text)

    # -- outbound: the ChatAdapter protocol ----------------------------------------------------------------
    def _target(self, channel: str, thread: str | None) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(int(thread or channel))

    def _render(self, m: OutMessage) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "content": clip(discord.utils.escape_markdown(m.text), MAX_CONTENT),
            "allowed_mentions": NO_MENTIONS,
        }
        file = None
        if m.file is not None:
            file = discord.File(Path(m.file), filename=Path(m.file).name)
            kwargs["file"] = file
        if m.fields:
            embed = discord.Embed(title=clip(m.title, 256) if m.title else None)
            for name, value in m.fields[:25]:
                embed.add_field(
                    name=clip(name, 256), value=clip(discord.utils.escape_markdown(value), 1024), inline=False
                )
            if file is not None and file.filename.lower().endswith(".png"):
                embed.set_image(url=f"attachment://{file.filename}")
            kwargs["embed"] = embed
        view = view_for(m.buttons)
        if view is not None:
            kwargs["view"] = view
        if (
            m.key
        ):  # discord.py sends it with enforce_nonce: a re-send within minutes returns the first message
            kwargs["nonce"] = nonce_for(m.key)
        return kwargs

    @_permanent_errors
    async def open_thread(self, channel: str, root: OutMessage) -> tuple[str, str]:
        """The root message, then a thread on it: two calls. The root's id is a checkpoint of the post
        (kept in the outbox row) before the thread is asked for, so a retry after a failed thread creation
        creates only the thread; a refusal (403: no Create Public Threads) is permanent and given up."""
        await self._wait_ready()
        root_id = root.checkpoints.get("root")
        if root_id is None:
            msg = await self._target(channel, None).send(**self._render(root))
            root_id = str(msg.id)
            await root.checkpoints.record("root", root_id)
        name = clip(root.title or root.text.splitlines()[0] or "campaign", 100)
        try:
            data = await self.client.http.start_thread_with_message(
                int(channel), int(root_id), name=name, auto_archive_duration=10080, rate_limit_per_user=None
            )
            thread_id = str(data["id"])
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                raise
            thread_id = root_id  # made by an attempt whose answer was lost; it has the root's id
        self._parents[int(thread_id)] = int(channel)
        return root_id, thread_id

    @_permanent_errors
    async def post(self, channel: str, thread: str | None, message: OutMessage) -> str:
        await self._wait_ready()
        msg = await self._target(channel, thread).send(**self._render(message))
        return str(msg.id)

    @_permanent_errors
    async def edit(self, channel: str, thread: str | None, message_id: str, text: str) -> None:
        await self._wait_ready()
        partial = self._target(channel, thread).get_partial_message(int(message_id))
        await partial.edit(
            content=clip(discord.utils.escape_markdown(text), MAX_CONTENT), allowed_mentions=NO_MENTIONS
        )

    @_permanent_errors
    async def add_reactions(
        self, channel: str, thread: str | None, message_id: str, emojis: list[str]
    ) -> None:
        await self._wait_ready()
        partial = self._target(channel, thread).get_partial_message(int(message_id))
        for e in emojis:
            await partial.add_reaction(e)

    @_permanent_errors
    async def tell(self, channel: str, thread: str | None, user: str, text: str) -> None:
        """Discord has no ephemeral messages outside interactions: a reply naming the user (no ping)."""
        await self._wait_ready()
        mention = f"<@{user}> " if user.isdigit() else ""
        await self._target(channel, thread).send(
            content=clip(mention + markdown(text), MAX_CONTENT), allowed_mentions=NO_MENTIONS
        )


def from_env() -> DiscordAdapter:
    """The adapter configured from ``DISCORD_*`` environment variables (and ``.env``)."""
    return DiscordAdapter.from_env()


def configured() -> DiscordAdapter | None:
    """The adapter when ``DISCORD_TOKEN`` is set (environment or ``.env``), else ``None``."""
    try:
        settings = DiscordSettings()  # type: ignore[call-arg]
    except ValidationError:
        return None
    return DiscordAdapter(settings) if settings.token.get_secret_value() else None
