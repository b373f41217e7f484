"""Slack for the campaign engine, on slack-bolt's :class:`AsyncApp` (Socket Mode or HTTP).

Inbound, every Slack envelope becomes one engine event: ``/campaign`` -> :class:`CommandEvent` (acked
within Slack's 3 s with the engine's ephemeral reply), ``reaction_added`` / ``reaction_removed`` -> :class:`ReactionEvent`,
a reply in a campaign thread -> :class:`ReplyEvent`, a "Refine N"/"Export" click -> :class:`ButtonEvent`.
Slack's ``event_id`` travels with the event, so the engine drops a redelivered event.

Outbound, :class:`SlackAdapter` implements :class:`engine.adapter.ChatAdapter`: the root message opens the
thread (thread id = root ``ts``); a message with a file is uploaded with ``files_upload_v2`` into the thread
and followed by its Block Kit card (copy + buttons), whose ``ts`` is the message id the engine keeps (the
number reactions go on it); status lines are edited with ``chat.update`` behind a per-message guard;
notes for one person use ``chat.postEphemeral``. HTTP 429s are retried after ``Retry-After`` by slack_sdk's
rate-limit retry handler, below the engine's outbox, so nothing is lost or posted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.refusals import permanent_when
from bot.slack_blocks import (
    emoji_name,
    escape,
    fallback_text,
    message_blocks,
    status_blocks,
    unescape,
)
from engine.adapter import OutMessage
from engine.engine import Engine
from engine.errors import UserError
from engine.events import ButtonEvent, CommandEvent, Event, ReactionEvent, ReplyEvent, Where

logger = logging.getLogger(__name__)

# Slack API errors that no retry can mend: the message is given up at once (one log line) and the
# campaign's later messages still go out. Anything else is retried (rate limits, outages, timeouts).
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "thread_not_found",
        "user_not_in_channel",
        "restricted_action",
        "missing_scope",
    }
)


def _slack_refusal(exc: Exception) -> str | None:
    code = exc.response.get("error") if isinstance(exc, SlackApiError) else None
    return f"Slack refused: {code}" if code in PERMANENT_ERRORS else None


_permanent_errors = permanent_when(_slack_refusal)


DEFAULT_API_URL = "https://slack.com/api/"
SLOW_ACK = "Working on it…"
ACK_FAILED = "Sorry, something went wrong on our side. Please try again in a minute."
# Every post carries its outbox key in its message metadata, so that after a crash or a lost response the
# post is found (find_sent) instead of being made twice.
METADATA_EVENT = "campaignbot_post"
LOOKUP_LIMIT = 200  # messages one lookup reads (from the attempt's time on, so the newest are among them)
LOOKUP_SLACK_S = 120.0  # the lookup starts this long before the attempt (clocks differ)


def _metadata(key: str) -> dict[str, Any] | None:
    return {"event_type": METADATA_EVENT, "event_payload": {"key": key}} if key else None


REPLY_SUBTYPES = frozenset({"thread_broadcast"})  # message subtypes that are still a person's reply


class SlackSettings(BaseSettings):
    """Slack settings from the environment (prefix ``SLACK_``) or an injected mapping.

    ``mode`` defaults to Socket Mode when an app-level token is set, else HTTP."""

    model_config = SettingsConfigDict(env_prefix="SLACK_", env_file=".env", extra="ignore")

    bot_token: SecretStr = Field(description="xoxb-… bot token")
    app_token: SecretStr | None = Field(default=None, description="xapp-… app-level token (Socket Mode)")
    signing_secret: SecretStr | None = Field(default=None, description="signing secret (HTTP mode)")
    api_url: str = Field(default=DEFAULT_API_URL, description="Web API base URL (a fake Slack in tests)")
    mode: Literal["socket", "http"] | None = Field(default=None, description="socket or http")
    host: str = Field(default="0.0.0.0", description="HTTP mode: address to listen on")
    port: int = Field(default=3000, description="HTTP mode: port to listen on (0: any free port)")
    path: str = Field(default="/slack/events", description="HTTP mode: request URL path")
    edit_interval: float = Field(
        default=1.5, description="seconds between chat.update calls on one message (the engine keeps to it)"
    )
    edits_per_minute: int = Field(
        default=42,
        ge=6,
        description="status edits (chat.update) per workspace and minute, shared by all replicas; progress "
        "edits use at most half, the rest is kept for final status lines (Slack allows about 50 a minute)",
    )
    ack_timeout: float = Field(default=2.0, description="seconds the engine may take before a plain ack")
    ping_interval: float = Field(default=10.0, description="Socket Mode keep-alive ping interval")
    max_retries: int = Field(default=5, description="retries of a rate-limited (429) call")

    @model_validator(mode="after")
    def _check_mode(self) -> SlackSettings:
        if self.mode is None:
            self.mode = "socket" if self.app_token else "http"
        if self.mode == "socket" and not self.app_token:
            raise ValueError("Slack Socket Mode needs SLACK_APP_TOKEN (an xapp-… app-level token).")
        if self.mode == "http" and not self.signing_secret:
            raise ValueError(
                "Slack HTTP mode needs SLACK_SIGNING_SECRET (Basic Information in the app config)."
            )
        if not self.api_url.endswith("/"):
            self.api_url += "/"
        return self

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> SlackSettings | None:
        """Settings from ``SLACK_*`` keys of ``env`` (no ``.env`` file), or ``None`` when no bot token is set."""
        if not env.get("SLACK_BOT_TOKEN"):
            return None
        values = {k[len("SLACK_") :].lower(): v for k, v in env.items() if k.startswith("SLACK_") and v}
        return cls.model_validate(values)

    @classmethod
    def from_env(cls) -> SlackSettings | None:
        """Settings from the process environment and ``.env``, or ``None`` when Slack is not configured."""
        try:
            return cls()  # type: ignore[call-arg]  # pydantic-settings reads the fields from the environment
        except ValueError as exc:
            if "bot_token" in str(exc) and "Field required" in str(exc):
                return None
            raise

    def describe(self) -> str:
        """One safe log line (no secrets): the mode and where it connects."""
        if self.mode == "socket":
            return f"Slack: Socket Mode via {self.api_url}"
        return f"Slack: HTTP mode on {self.host}:{self.port}{self.path} (API {self.api_url})"


class SlackAdapter:
    """A :class:`engine.adapter.ChatAdapter` for Slack, plus ``run(engine, stop)`` for the connection."""

    platform = "slack"

    def __init__(self, settings: SlackSettings):
        self.settings = settings
        self.min_edit_interval = settings.edit_interval  # chat.update per message; the engine keeps to it
        # chat.update per workspace (Slack's Tier 3, about 50 a minute); the engine keeps every replica to it
        self.edits_per_minute = settings.edits_per_minute
        self.client = AsyncWebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.api_url,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=settings.max_retries)],
        )
        self.app = AsyncApp(
            client=self.client,
            signing_secret=(
                settings.signing_secret.get_secret_value()
                if settings.signing_secret
                else "unused-in-socket-mode"
            ),
            request_verification_enabled=settings.mode == "http",
            process_before_response=False,
        )
        self.engine: Engine | None = None
        self.bot_user_id: str | None = None
        self.team_id: str = ""
        self.http_port: int | None = None  # the port actually bound in HTTP mode
        self.ready = asyncio.Event()  # set once connected (Socket Mode) or listening (HTTP)
        self._background: set[asyncio.Task[Any]] = set()
        self._register()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SlackAdapter | None:
        """The adapter configured by ``SLACK_*`` settings, or ``None`` when ``SLACK_BOT_TOKEN`` is unset."""
        settings = SlackSettings.from_mapping(env) if env is not None else SlackSettings.from_env()
        return cls(settings) if settings else None

    # -- outbound: ChatAdapter --------------------------------------------------------------------------
    @_permanent_errors
    async def open_thread(self, channel: str, root: OutMessage) -> tuple[str, str]:
        done = root.checkpoints.get("root")
        if done is not None:  # posted by an earlier attempt (found by find_sent): its ts is the thread
            return done, done
        resp = await self.client.chat_postMessage(
            channel=channel,
            text=fallback_text(root),
            blocks=message_blocks(root),
            unfurl_links=False,
            metadata=_metadata(root.key),
        )
        ts = str(resp["ts"])
        return ts, ts

    @_permanent_errors
    async def post(self, channel: str, thread: str | None, message: OutMessage) -> str:
        """A message with a file is an upload, then its card. The upload is a checkpoint of the post (kept
        in the outbox row, so it survives a restart): a retry after the card failed posts only the card."""
        if message.file is not None and message.checkpoints.get("upload") is None:
            resp = await self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread,
                file=str(message.file),
                filename=message.file.name,
                title=escape(message.title or message.file.stem)[:250],
            )
            await message.checkpoints.record("upload", str((resp.get("file") or {}).get("id") or "done"))
        resp = await self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread,
            text=fallback_text(message),
            blocks=message_blocks(message),
            unfurl_links=False,
            unfurl_media=False,
            metadata=_metadata(message.key),
        )
        return str(resp["ts"])

    @_permanent_errors
    async def find_sent(
        self, channel: str, thread: str | None, key: str, *, since: float | None = None
    ) -> str | None:
        """The bot's message carrying outbox ``key`` in its metadata: in the thread (conversations.replies)
        or among the channel's messages (conversations.history), from ``since`` on when given."""
        if not key:
            return None
        args: dict[str, Any] = {"channel": channel, "include_all_metadata": True, "limit": LOOKUP_LIMIT}
        if since is not None:
            args["oldest"] = f"{max(0.0, since - LOOKUP_SLACK_S):.6f}"
        if thread is not None:
            resp = await self.client.conversations_replies(ts=thread, **args)
        else:
            resp = await self.client.conversations_history(**args)
        for m in resp.get("messages") or []:
            meta = m.get("metadata") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and (meta.get("event_payload") or {}).get("key") == key
            ):
                return str(m["ts"])
        return None

    @_permanent_errors
    async def edit(self, channel: str, thread: str | None, message_id: str, text: str) -> None:
        """Edit a status line (the engine spaces edits by :attr:`min_edit_interval`)."""
        await self.client.chat_update(
            channel=channel, ts=message_id, text=escape(text)[:3000], blocks=status_blocks(text)
        )

    @_permanent_errors
    async def add_reactions(
        self, channel: str, thread: str | None, message_id: str, emojis: list[str]
    ) -> None:
        for e in emojis:
            try:
                await self.client.reactions_add(channel=channel, timestamp=message_id, name=emoji_name(e))
            except SlackApiError as exc:
                if exc.response.get("error") != "already_reacted":  # a retry after a partial success
                    raise

    @_permanent_errors
    async def tell(self, channel: str, thread: str | None, user: str, text: str) -> None:
        await self.client.chat_postEphemeral(
            channel=channel, user=user, thread_ts=thread, text=escape(text)[:3000], blocks=status_blocks(text)
        )

    # -- inbound: Slack envelopes -> engine events --------------------------------------------------------
    def _register(self) -> None:
        self.app.command("/campaign")(self._on_command)
        self.app.event("reaction_added")(self._on_reaction)
        self.app.event("reaction_removed")(self._on_reaction)  # withdraws a choice still being debounced
        self.app.event("message")(self._on_message)
        self.app.action("refine")(self._on_button)
        self.app.action("export")(self._on_button)
        self.app.error(self._on_error)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        logger.error(
            "Slack listener failed (%s): %s", body.get("type") or body.get("command"), error, exc_info=error
        )

    def _engine(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("SlackAdapter.run() has not been started with an engine")
        return self.engine

    async def _on_command(self, ack: Any, body: dict[str, Any]) -> None:
        where = Where("slack", body.get("team_id") or self.team_id, body["channel_id"])
        user = body["user_id"]
        ev = CommandEvent(
            where,
            user,
            unescape(body.get("text") or ""),
            event_id=body.get("trigger_id") or "",
            user_name=body.get("user_name") or "",
        )
        task = asyncio.ensure_future(self._engine().handle(ev))
        done, _ = await asyncio.wait({task}, timeout=self.settings.ack_timeout)
        if task not in done:  # answer Slack now; the engine's reply follows as an ephemeral message
            await ack(response_type="ephemeral", text=SLOW_ACK)
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            self._spawn(self._tell_later(task, where.channel, user))
            return
        try:
            reply = task.result()
        except Exception:
            logger.exception("/campaign from %s failed", user)
            await ack(response_type="ephemeral", text=ACK_FAILED)
            return
        if reply is None:  # a duplicate delivery
            await ack()
            return
        await ack(response_type="ephemeral", text=escape(reply.text)[:3000])

    async def _tell_later(self, task: asyncio.Future[Any], channel: str, user: str) -> None:
        try:
            reply = await task
            text = reply.text if reply else ""
        except Exception:
            logger.exception("/campaign from %s failed", user)
            text = ACK_FAILED
        if text:
            await self.tell(channel, None, user, text)

    async def _on_reaction(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message" or not event.get("user") or event["user"] == self.bot_user_id:
            return
        ev = ReactionEvent(
            Where("slack", body.get("team_id") or self.team_id, item["channel"]),
            event["user"],
            item["ts"],
            event["reaction"],
            event_id=body.get("event_id") or "",
            removed=event.get("type") == "reaction_removed",
        )
        await self._dispatch(ev, event["user"])

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        if event.get("subtype") and event["subtype"] not in REPLY_SUBTYPES:
            return  # edits, deletions, joins, file shares, bot messages
        user = event.get("user")
        if not user or event.get("bot_id") or user == self.bot_user_id:
            return
        thread = event.get("thread_ts")
        if not thread or thread == event.get("ts"):
            return  # only replies inside threads steer a campaign
        ev = ReplyEvent(
            Where("slack", body.get("team_id") or self.team_id, event["channel"], thread),
            user,
            unescape(event.get("text") or ""),
            message_id=event.get("ts") or "",
            event_id=body.get("event_id") or "",
        )
        await self._dispatch(ev, user)

    async def _on_button(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        thread = container.get("thread_ts") or message.get("thread_ts")
        user = body["user"]["id"]
        ev = ButtonEvent(
            Where("slack", (body.get("team") or {}).get("id") or self.team_id, channel, thread),
            user,
            action["action_id"],
            action.get("value") or "",
            message_id=container.get("message_ts") or message.get("ts") or "",
            event_id=f"{action['action_id']}:{action.get('action_ts') or body.get('trigger_id') or ''}",
        )
        await self._dispatch(ev, user)

    async def _dispatch(self, ev: Event, user: str) -> None:
        try:
            reply = await self._engine().handle(ev)
        except UserError as exc:  # the engine returns these as replies; belt and braces
            reply = None
            await self.tell(ev.where.channel, ev.where.thread, user, str(exc))
        if reply and reply.text:
            await self.tell(ev.where.channel, ev.where.thread, user, reply.text)

    # -- connection ---------------------------------------------------------------------------------------
    async def run(self, engine: Engine, stop: asyncio.Event) -> None:
        """Connect to Slack (Socket Mode) or listen for its requests (HTTP) until ``stop`` is set."""
        self.engine = engine
        engine.add_adapter(self)
        auth = await self.client.auth_test()
        self.bot_user_id = auth.get("user_id")
        self.team_id = auth.get("team_id") or ""
        logger.info("%s (team %s, bot user %s)", self.settings.describe(), self.team_id, self.bot_user_id)
        if self.settings.mode == "socket":
            await self._run_socket(stop)
        else:
            await self._run_http(stop)

    async def _run_socket(self, stop: asyncio.Event) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler  # noqa: PLC0415

        assert self.settings.app_token is not None
        handler = AsyncSocketModeHandler(
            self.app,
            app_token=self.settings.app_token.get_secret_value(),
            ping_interval=self.settings.ping_interval,
        )
        try:
            await handler.connect_async()
            self.ready.set()
            await stop.wait()
        finally:
            self.ready.clear()
            await handler.close_async()
            await self.aclose()

    async def _run_http(self, stop: asyncio.Event) -> None:
        from aiohttp import web  # noqa: PLC0415

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        webapp = self.app.web_app(path=self.settings.path, port=self.settings.port)
        webapp.router.add_get("/healthz", healthz)  # for the load balancer
        runner = web.AppRunner(webapp)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.host, self.settings.port)
            await site.start()
            self.http_port = int(runner.addresses[0][1])
            logger.info("Slack: listening on %s:%d%s", self.settings.host, self.http_port, self.settings.path)
            self.ready.set()
            await stop.wait()
        finally:
            self.ready.clear()
            await runner.cleanup()
            await self.aclose()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def aclose(self) -> None:
        """Finish background work (called when ``run`` ends)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
