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

Sharding (``DISCORD_SHARD_COUNT``, ``DISCORD_SHARD_IDS``): the process holds one gateway connection per
shard it is given (discord.py's :class:`discord.AutoShardedClient`) and sees the events of those shards'
guilds only (a guild's shard is ``(guild_id >> 22) % shard_count``). Everything it sends goes over REST,
which needs no gateway connection for the guild: any Discord replica delivers any guild's posts from the
outbox, so a post never waits for the replica whose shard holds its guild. The slash commands are
synced by the process holding shard 0 only (once per deployment, not once per replica).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import discord
import yarl
from discord import app_commands
from pydantic import SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.discord_commands import CardButton, campaign_group, clip, markdown, view_for
from bot.refusals import permanent_when
from engine.adapter import OutMessage
from engine.engine import Engine
from engine.errors import CampaignbotError, PlatformError
from engine.events import ButtonEvent, CommandEvent, ReactionEvent, Reply, ReplyEvent, Where

logger = logging.getLogger(__name__)

PLATFORM = "discord"
NO_MENTIONS = discord.AllowedMentions.none()
MAX_CONTENT = 2000
READY_TIMEOUT = 15.0  # seconds a post waits for the client to log in (REST) before the outbox retries it
# Gateway close codes that no reconnect can mend: the token is gone, the shard settings are wrong.
MAX_SHARD_RANGE = 10_000  # shards one DISCORD_SHARD_IDS range may name (a typo must not allocate millions)
AUTHENTICATION_FAILED = 4004
INVALID_SHARD = 4010
SHARDING_REQUIRED = 4011


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
    """A post was attempted while the client is not logged in (REST); the engine's outbox retries it later."""


def _shard_ids(value: Any) -> list[int] | None:
    """``DISCORD_SHARD_IDS`` as written: ``0,1``, ``2`` or a range ``4-7`` (and mixes: ``0,2-3``)."""
    if value is None or isinstance(value, list):
        return value
    text = str(value).strip()
    if not text:
        return None
    ids: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", part)
        if m is None:
            raise ValueError(
                f"DISCORD_SHARD_IDS must be shard numbers separated by commas (e.g. 0,1 or 4-7); got {text!r}"
            )
        first, last = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if last < first:
            raise ValueError(f"DISCORD_SHARD_IDS: the range {part.strip()} runs backwards")
        if last - first >= MAX_SHARD_RANGE:
            raise ValueError(f"DISCORD_SHARD_IDS: the range {part.strip()} is too long for one process")
        ids.extend(range(first, last + 1))
    return ids


class DiscordSettings(BaseSettings):
    """``DISCORD_TOKEN`` (required), ``DISCORD_API_URL``, ``DISCORD_GATEWAY_URL``, ``DISCORD_MESSAGE_CONTENT``,
    ``DISCORD_SHARD_COUNT`` and ``DISCORD_SHARD_IDS``.

    Sharding: unset ``DISCORD_SHARD_COUNT`` = one unsharded gateway connection (a bot in up to 2,500
    servers). A number = the deployment's total shard count; this process holds ``DISCORD_SHARD_IDS``
    (default: all of them), one gateway connection each. ``auto`` = Discord's recommended count (``GET
    /gateway/bot``), every shard in this one process; it takes no ``DISCORD_SHARD_IDS`` because replicas
    that split the shards must agree on the count, and the recommendation may change between their starts."""

    model_config = SettingsConfigDict(env_prefix="DISCORD_", env_file=".env", extra="ignore")

    token: SecretStr
    api_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    message_content: bool = False  # the privileged intent; turn it on in the Developer Portal first
    shard_count: int | Literal["auto"] | None = None
    shard_ids: Annotated[list[int] | None, NoDecode] = None

    @field_validator("shard_count", mode="before")
    @classmethod
    def _count(cls, value: Any) -> int | str | None:
        if value is None or isinstance(value, int):
            if isinstance(value, int) and value < 1:
                raise ValueError(f"DISCORD_SHARD_COUNT must be 1 or more; got {value}")
            return value
        text = str(value).strip().lower()
        if not text:
            return None
        if text == "auto":
            return "auto"
        if not re.fullmatch(r"\d+", text) or int(text) < 1:
            raise ValueError(
                f"DISCORD_SHARD_COUNT must be a whole number of shards (1 or more) or auto; got {value!r}"
            )
        return int(text)

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> list[int] | None:
        return _shard_ids(value)

    @model_validator(mode="after")
    def _shards(self) -> DiscordSettings:
        count, ids = self.shard_count, self.shard_ids
        if ids is None:
            if isinstance(count, int):
                self.shard_ids = list(range(count))  # the default: this process holds every shard
            return self
        if count is None:
            raise ValueError(
                "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the deployment's total number of shards)"
            )
        if count == "auto":
            raise ValueError(
                "DISCORD_SHARD_IDS needs a fixed DISCORD_SHARD_COUNT, not auto: replicas that split the "
                "shards must agree on the count (auto is for one process holding every shard)"
            )
        if not ids:
            raise ValueError("DISCORD_SHARD_IDS names no shard")
        dup = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dup:
            raise ValueError(f"DISCORD_SHARD_IDS names shard {', '.join(map(str, dup))} more than once")
        out = sorted(i for i in ids if not 0 <= i < count)
        if out:
            raise ValueError(
                f"DISCORD_SHARD_IDS: shard {', '.join(map(str, out))} is out of range for "
                f"DISCORD_SHARD_COUNT={count} (shards are 0-{count - 1})"
            )
        return self

    @property
    def sharded(self) -> bool:
        return self.shard_count is not None

    @property
    def syncs_commands(self) -> bool:
        """Whether this process registers the slash commands: the one holding shard 0 (or the unsharded one;
        with ``auto`` this process holds every shard)."""
        return self.shard_ids is None or 0 in self.shard_ids

    def describe(self) -> str:
        """One safe log line: how this process connects (no secrets)."""
        if self.shard_count is None:
            where = f"one gateway connection via {self.gateway_url}"
        elif self.shard_count == "auto":
            where = "every shard of Discord's recommended count (GET /gateway/bot), in this process"
        else:
            held = ",".join(map(str, self.shard_ids or []))
            where = f"shard(s) {held} of {self.shard_count} via {self.gateway_url}"
        sync = (
            "slash commands synced here"
            if self.syncs_commands
            else "slash commands synced by shard 0's replica"
        )
        return f"Discord: {where}; {sync}"


def settings_problem(exc: ValidationError) -> str:
    """A ValidationError of :class:`DiscordSettings` as one line naming the variables."""
    parts = []
    for e in exc.errors():
        msg = str(e["msg"]).removeprefix("Value error, ")
        field = str(e["loc"][0]) if e["loc"] else ""
        name = f"DISCORD_{field.upper()}"
        parts.append(msg if not field or name in msg else f"{name}: {msg}")
    return "; ".join(parts)


def _intents(settings: DiscordSettings) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.guild_reactions = True
    intents.message_content = settings.message_content
    return intents


class _Events:
    """What both clients (one connection, or one per shard) do with the gateway's events."""

    adapter: DiscordAdapter
    tree: app_commands.CommandTree[Any]

    def _attach(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter
        self.tree = app_commands.CommandTree(cast(discord.Client, self))
        self.tree.add_command(campaign_group(adapter))
        self.tree.on_error = adapter.on_command_error  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        """Called by ``login()`` once the REST client holds the token, before any gateway connection."""
        self.adapter.logged_in.set()
        cast(discord.Client, self).add_dynamic_items(CardButton)
        if self.adapter.settings.syncs_commands:
            await self.adapter.sync_commands()
        else:
            logger.info("discord: slash commands are synced by the replica holding shard 0, not here")

    async def on_ready(self) -> None:
        client = cast(discord.Client, self)
        self.adapter.ready.set()
        if isinstance(client, discord.AutoShardedClient):
            held = ",".join(map(str, client.shard_ids or range(client.shard_count or 0)))
            logger.info(
                "discord: shard(s) %s of %s ready as %s: %d server(s)",
                held,
                client.shard_count,
                client.user,
                len(client.guilds),
            )
        else:
            logger.info("discord: connected as %s to %d server(s)", client.user, len(client.guilds))

    async def on_shard_ready(self, shard_id: int) -> None:
        logger.info("discord: shard %d connected", shard_id)

    async def on_resumed(self) -> None:
        self.adapter.ready.set()
        logger.info("discord: gateway session resumed")

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.on_reaction(payload)  # withdraws a choice still being debounced

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)


class _Client(_Events, discord.Client):
    """One unsharded gateway connection (``DISCORD_SHARD_COUNT`` unset)."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(intents=_intents(adapter.settings), allowed_mentions=NO_MENTIONS)
        self._attach(adapter)


class _ShardedClient(_Events, discord.AutoShardedClient):
    """One gateway connection per shard this process holds (``DISCORD_SHARD_COUNT`` set)."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        s = adapter.settings
        if s.shard_count == "auto":  # discord.py asks GET /gateway/bot for the count and its gateway URL
            super().__init__(intents=_intents(s), allowed_mentions=NO_MENTIONS)
        else:
            super().__init__(
                intents=_intents(s),
                allowed_mentions=NO_MENTIONS,
                shard_count=s.shard_count,
                shard_ids=list(s.shard_ids or []),
            )
        self._attach(adapter)


def _make_client(adapter: DiscordAdapter) -> discord.Client:
    return _ShardedClient(adapter) if adapter.settings.sharded else _Client(adapter)


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
        self.ready = asyncio.Event()  # the gateway: every shard this process holds has connected
        self.logged_in = asyncio.Event()  # REST: what posting needs (no gateway connection at all)
        self.client = _make_client(self)
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
            self.client = _make_client(self)
        self.ready.clear()
        self.logged_in.clear()
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
        except discord.ConnectionClosed as exc:
            if exc.code not in (AUTHENTICATION_FAILED, INVALID_SHARD, SHARDING_REQUIRED):
                raise
            if exc.code == AUTHENTICATION_FAILED:  # the token was reset while connected
                logger.error(
                    "Discord rejected DISCORD_TOKEN on the gateway (4004 Authentication failed): the token "
                    "was reset; put the new one in DISCORD_TOKEN and restart"
                )
            elif exc.code == SHARDING_REQUIRED:
                logger.error(
                    "Discord requires sharding for this bot (4011: in too many servers for one connection): "
                    "set DISCORD_SHARD_COUNT (auto, or the count GET /gateway/bot recommends) and split "
                    "the shards over the replicas with DISCORD_SHARD_IDS"
                )
            else:
                logger.error(
                    "Discord refused the shard settings (4010 Invalid shard): check DISCORD_SHARD_COUNT "
                    "and DISCORD_SHARD_IDS"
                )
            stop.set()
        finally:
            self._running = False
            self.ready.clear()
            self.logged_in.clear()

    def describe(self) -> str:
        return self.settings.describe()

    async def sync_commands(self) -> None:
        """Register the slash commands only when their definition changed (Discord limits creates per day).
        Called by the process holding shard 0 only (see :attr:`DiscordSettings.syncs_commands`)."""
        tree = cast(_Events, self.client).tree
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
        """Wait while the client logs in; fail at once when not running, so the outbox retries later.

        Posts go over REST: they need the logged-in client, never a gateway connection. A replica whose
        shards are (re)connecting, or that holds no shard of the post's guild, still posts."""
        if self.logged_in.is_set():
            return
        if not self._running:
            raise DiscordNotConnected("the Discord adapter is not running")
        try:
            await asyncio.wait_for(self.logged_in.wait(), READY_TIMEOUT)
        except TimeoutError:
            raise DiscordNotConnected(f"not logged in to Discord after {READY_TIMEOUT:.0f} s") from None

    # -- inbound: platform event -> engine event -----------------------------------------------------------
    async def _handle(self, event: Any) -> Reply | None:
        assert self.engine is not None, "run() sets the engine"
        return await self.engine.handle(event)

    async def _place(self, channel_id: int) -> tuple[str, str | None]:
        """A channel or thread id -> (the campaign channel, the thread or None)."""
        if channel_id not in self._parents:
            # the cache holds the guilds of this process's shards; a thread another replica opened is there
            # once its THREAD_CREATE came in, and otherwise one REST call away
            ch = self.client.get_channel(channel_id)
            if ch is None:
                try:
                    ch = await self.client.fetch_channel(channel_id)
                except discord.HTTPException as exc:
                    logger.warning("discord: channel %s could not be looked up: %s", channel_id, exc)
                    return str(channel_id), None  # not remembered: the next event looks again
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


class _Token(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISCORD_", env_file=".env", extra="ignore")

    token: SecretStr = SecretStr("")


def configured() -> DiscordAdapter | None:
    """The adapter when ``DISCORD_TOKEN`` is set (environment or ``.env``), else ``None`` (the other
    ``DISCORD_*`` settings are then not read: a Slack-only replica may share them). Bad settings raise
    :class:`CampaignbotError` with one line naming the variables."""
    if not _Token().token.get_secret_value():
        return None
    try:
        settings = DiscordSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise CampaignbotError(f"Discord settings are invalid: {settings_problem(exc)}") from None
    return DiscordAdapter(settings)
