"""An aiohttp server that speaks the part of Discord's REST API and gateway that discord.py uses.

It keeps a small guild model (one guild, a text channel, threads, messages, reactions, the
ephemeral answers each user saw) so tests assert what a person would see. It is strict: an unknown
route, a bad token, a missing ``allowed_mentions`` or an over-long message is recorded in
:attr:`FakeDiscord.problems`, which the test fixture asserts is empty. Faults can be injected: a
429 with ``retry_after`` and ``Via`` on the next matching request, gateway op 7 RECONNECT, and a
dropped socket. Every JSON response carries ``Content-Type: application/json`` exactly (discord.py
parses nothing else).

Sharding, as Discord does it: IDENTIFY may carry ``shard: [id, count]`` (none means ``[0, 1]``); READY
then carries it back and lists the shard's guilds only; a guild's events (GUILD_CREATE, MESSAGE_CREATE,
INTERACTION_CREATE, MESSAGE_REACTION_ADD, THREAD_CREATE ...) go to every live session of the shard
``(guild_id >> 22) % count``, events without a guild (DMs) to shard 0, and an event no live session
takes is dropped (:attr:`FakeDiscord.dropped`), as Discord drops what a shard nobody holds would get.
A session ends when its client closes the socket cleanly (1000/1001); one that lost its socket keeps
its events for a RESUME. ``GET /gateway/bot`` answers :attr:`FakeDiscord.recommended_shards`; an
IDENTIFY with a bad shard is closed with 4010, one with fewer shards than
:attr:`FakeDiscord.required_shards` with 4011.

Several clients (processes) can share one fake: each is given its own URLs (:meth:`api_url_for`,
:meth:`gateway_url_for`), so every request, session and interaction answer records which client made it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

API = "/api/v10"
MESSAGE_CONTENT = 1 << 15
EPHEMERAL = 1 << 6
INTERACTION_TTL = 3.0  # seconds to answer an interaction before its token stops accepting a callback
DIRECT_MESSAGES = 1 << 12
CLIENT = web.RequestKey("client", str)  # which client made a REST request (the API URL it was given)
CLEAN_CLOSE = (1000, 1001)  # a client closing with these ends its session (no RESUME)
_ids = itertools.count(1_300_000_000_000_000_000)
# guild ids made for a given shard: their own range of timestamps (far below the counter's), one each
_guild_ts = itertools.count(200_000_000_000)
GUILD_EVENTS = ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE")  # the guild id is the payload's "id"


def snowflake() -> str:
    return str(next(_ids))


def shard_of(guild_id: str | int | None, shard_count: int) -> int:
    """Discord's rule: a guild's events go to shard ``(guild_id >> 22) % shard_count``; DMs to shard 0."""
    return 0 if guild_id is None else (int(guild_id) >> 22) % shard_count


def guild_snowflake(shard: int, shard_count: int) -> str:
    """A fresh guild id that lands on ``shard`` of ``shard_count``."""
    ts = next(_guild_ts)
    while ts % shard_count != shard:
        ts = next(_guild_ts)
    return str(ts << 22)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=h)


@dataclass
class Sent:
    """One message the bot sent (REST), as the wire carried it."""

    route: str
    payload: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)
    client: str = ""  # which client sent it (by the API URL it was given)


@dataclass
class _Session:
    id: str
    intents: int
    shard: tuple[int, int] = (0, 1)  # [id, count] as identified; (0, 1) when IDENTIFY had no shard
    client: str = ""  # which client (by the gateway URL it was given) holds it
    gateway_url: str = ""
    sharded: bool = False  # IDENTIFY carried a shard
    ended: bool = False  # closed cleanly by its client: no events, no RESUME
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None

    def takes(self, guild_id: str | None) -> bool:
        return not self.ended and shard_of(guild_id, self.shard[1]) == self.shard[0]


class FakeDiscord:
    def __init__(self, token: str = "fake-bot-token") -> None:
        self.token = token
        self.app_id = snowflake()
        self.guild_id = snowflake()  # the default guild (tests of one guild use it; add_guild makes more)
        self.channel_id = snowflake()
        self.guilds: dict[str, str] = {self.guild_id: "Marketing"}  # guild id -> name
        self.bot: dict[str, Any] = {
            "id": self.app_id,
            "username": "campaignbot",
            "discriminator": "0",
            "global_name": "campaignbot",
            "avatar": None,
            "bot": True,
        }
        self.users: dict[str, dict[str, Any]] = {}
        for name in ("alice", "bob"):
            uid = snowflake()
            self.users[name] = {
                "id": uid,
                "username": name,
                "discriminator": "0",
                "global_name": name.title(),
                "avatar": None,
            }
        self.channels: dict[str, dict[str, Any]] = {
            self.channel_id: {
                "id": self.channel_id,
                "type": 0,
                "guild_id": self.guild_id,
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                "parent_id": None,
                "nsfw": False,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
            }
        }
        self.messages: dict[str, dict[str, Any]] = {}
        self.reactions: dict[str, list[tuple[str, str]]] = {}  # message id -> [(emoji, user id)]
        self.files: dict[str, list[tuple[str, bytes]]] = {}  # message id -> attachments
        self.edits: dict[str, list[str]] = {}  # message id -> every content it had
        self.commands: list[dict[str, Any]] = []
        self.command_syncs = 0
        self.interactions: dict[str, dict[str, Any]] = {}
        self.sent: list[Sent] = []
        self.requests: list[tuple[str, str]] = []
        self.problems: list[str] = []
        self.identifies = 0
        self.resumes = 0
        self.session: _Session | None = None  # the latest session identified or resumed
        self._sessions: dict[str, _Session] = {}
        self.sessions: list[_Session] = []  # every session, in the order they were identified
        self.dropped: list[dict[str, Any]] = []  # events no live session took (their shard is not held)
        self.recommended_shards = 1  # GET /gateway/bot
        self.required_shards = 1  # an IDENTIFY with fewer shards is closed with 4011 Sharding required
        self.requests_by: list[tuple[str, str, str]] = []  # (client, method, path)
        self._dm_channels: dict[str, str] = {}  # user name -> the id of their DM channel with the bot
        self._faults: list[tuple[str, re.Pattern[str], float]] = []
        self._lost: list[tuple[str, re.Pattern[str]]] = []  # requests done whose answer is never sent
        self.refuse_threads: int | None = None  # 403/404: thread creation refused with this status
        self.nonce_window = 300.0  # seconds Discord remembers a nonce with enforce_nonce
        self.deduplicated = 0  # sends answered with the message an earlier send with its nonce made
        self._nonces: dict[tuple[str, str], tuple[str, float]] = {}  # (channel, nonce) -> (message, when)
        self.rate_limited: list[tuple[str, str, float]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.connected = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/c/{client}/gateway", self._gateway)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        app.router.add_route("*", "/c/{client}" + API + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        for s in self._sessions.values():
            if s.ws is not None and not s.ws.closed:
                await s.ws.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return self.url + API

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway"

    def api_url_for(self, client: str) -> str:
        """The REST base URL for one named client: its requests are recorded as made by ``client``."""
        return f"{self.url}/c/{client}{API}"

    def gateway_url_for(self, client: str) -> str:
        return f"{self.url.replace('http://', 'ws://')}/c/{client}/gateway"

    # -- guilds --------------------------------------------------------------------------------------------
    def add_guild(self, name: str, *, shard: int = 0, shard_count: int = 1) -> tuple[str, str]:
        """A guild (with a text channel, #general) whose id lands on ``shard`` of ``shard_count``; (guild id,
        channel id). The bot joins it at its next IDENTIFY (no GUILD_CREATE is sent to live sessions)."""
        gid = guild_snowflake(shard, shard_count)
        self.guilds[gid] = name
        cid = snowflake()
        self.channels[cid] = {**self.channels[self.channel_id], "id": cid, "guild_id": gid}
        return gid, cid

    def guild_of(self, channel_id: str) -> str | None:
        ch = self.channels.get(channel_id)
        return ch.get("guild_id") if ch else None

    def live_sessions(self, shard: tuple[int, int] | None = None) -> list[_Session]:
        return [s for s in self.sessions if not s.ended and (shard is None or s.shard == shard)]

    # -- faults --------------------------------------------------------------------------------------------
    def rate_limit_next(self, method: str, path_regex: str, retry_after: float = 0.5) -> None:
        """The next request matching ``method`` and ``path_regex`` gets a 429 (with ``Via``, as Discord's
        own rate limits carry; a 429 without it is Cloudflare's ban)."""
        self._faults.append((method, re.compile(path_regex), retry_after))

    def lose_next(self, method: str, path_regex: str) -> None:
        """The next matching request takes effect, then the connection drops before the answer."""
        self._lost.append((method, re.compile(path_regex)))

    async def reconnect(self, shard: tuple[int, int] | None = None) -> None:
        """Gateway op 7: the client must close and RESUME. Events dispatched meanwhile are kept for it."""
        s = self._live(shard)
        ws, s.ws = s.ws, None
        self.connected.clear()
        if ws is not None:
            await ws.send_json({"op": 7, "d": None})

    async def drop_socket(self, shard: tuple[int, int] | None = None) -> None:
        """Close the socket abruptly (code 1011); the client should reconnect and RESUME."""
        s = self._live(shard)
        ws, s.ws = s.ws, None
        self.connected.clear()
        if ws is not None:
            await ws.close(code=1011, message=b"dropped")

    # -- gateway -------------------------------------------------------------------------------------------
    def _live(self, shard: tuple[int, int] | None = None) -> _Session:
        if shard is not None:
            found = self.live_sessions(shard)
            assert found, f"no live session holds shard {shard}"
            return found[-1]
        assert self.session is not None, "no gateway session yet"
        return self.session

    async def _emit(self, s: _Session, t: str, d: dict[str, Any]) -> None:
        """Send one event to one session (with its next sequence number). When the socket is down the event
        waits for the client's RESUME, as Discord's session replay does."""
        s.seq += 1
        ev = {"op": 0, "t": t, "s": s.seq, "d": d}
        s.events.append(ev)
        if s.ws is not None and not s.ws.closed:
            await s.ws.send_json(ev)

    async def dispatch(
        self,
        t: str,
        d: dict[str, Any],
        view: Callable[[_Session, dict[str, Any]], dict[str, Any] | None] | None = None,
    ) -> None:
        """Send a gateway event to every live session of the shard its guild is on (DMs: shard 0).
        ``view`` shapes (or, answering None, withholds) the payload per session, e.g. by its intents."""
        gid = d.get("id") if t in GUILD_EVENTS else d.get("guild_id")
        targets = [s for s in self.sessions if s.takes(gid)]
        sent = 0
        for s in targets:
            payload = view(s, d) if view is not None else d
            if payload is not None:
                await self._emit(s, t, payload)
                sent += 1
        if not sent:
            self.dropped.append({"t": t, "guild_id": gid, "d": d})

    def _shard(self, d: dict[str, Any]) -> tuple[int, int] | None:
        """The IDENTIFY's shard as (id, count), (0, 1) without one, None when it is invalid."""
        shard = d.get("shard")
        if shard is None:
            return (0, 1)
        if (
            not isinstance(shard, list)
            or len(shard) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in shard)
        ):
            return None
        sid, count = shard
        return (sid, count) if count >= 1 and 0 <= sid < count else None

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("encoding") != "json" or request.query.get("v") != "10":
            self.problems.append(f"gateway query {dict(request.query)}")
        client = request.match_info.get("client", "")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        session: _Session | None = None
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            op = data.get("op")
            if op == 1:
                await ws.send_json({"op": 11})
            elif op == 2:
                session = await self._identify(ws, data["d"], client)
                if session is None:
                    break
            elif op == 6:
                session = await self._resume(ws, data["d"]) or session
            elif op in (3, 4, 8):
                pass  # presence, voice state, member requests: accepted and ignored
            else:
                self.problems.append(f"unexpected gateway op {op}")
        if session is not None and session.ws is ws:
            session.ws = None
            if ws.close_code in CLEAN_CLOSE:
                session.ended = True  # Discord: a clean close ends the session; it cannot be resumed
            if session is self.session:
                self.connected.clear()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, d: dict[str, Any], client: str) -> _Session | None:
        """A new session (READY, then a GUILD_CREATE per guild of its shard), or None: the socket is closed
        with Discord's close code."""
        if d.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard = self._shard(d)
        if shard is None:
            await ws.close(code=4010, message=b"Invalid shard.")
            return None
        if shard[1] < self.required_shards:
            await ws.close(code=4011, message=b"Sharding required.")
            return None
        self.identifies += 1
        session = _Session(
            id=secrets.token_hex(8),
            intents=int(d.get("intents", 0)),
            shard=shard,
            client=client,
            gateway_url=self.gateway_url_for(client) if client else self.gateway_url,
            sharded="shard" in d,
            ws=ws,
        )
        self._sessions[session.id] = session
        self.sessions.append(session)
        self.session = session
        await self._emit(session, "READY", self._ready(session))
        for gid in self.guilds:
            if session.takes(gid):
                await self._emit(session, "GUILD_CREATE", self._guild(gid))
        self.connected.set()
        return session

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> _Session | None:
        """The session resumed on this socket (what it missed replayed, then RESUMED), or None: op 9."""
        found = self._sessions.get(d.get("session_id", ""))
        if found is None or found.ended or d.get("token") != self.token:
            await ws.send_json({"op": 9, "d": False})
            return None
        self.resumes += 1
        found.ws = ws
        self.session = found
        for ev in found.events:
            if ev["s"] > int(d.get("seq") or 0):
                await ws.send_json(ev)
        await self._emit(found, "RESUMED", {})
        self.connected.set()
        return found

    def _ready(self, s: _Session) -> dict[str, Any]:
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**self.bot, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": gid, "unavailable": True} for gid in self.guilds if s.takes(gid)],
            "session_id": s.id,
            "resume_gateway_url": s.gateway_url,
            "application": {"id": self.app_id, "flags": 0},
            "private_channels": [],
        }
        if s.sharded:
            ready["shard"] = list(s.shard)
        return ready

    def _guild(self, gid: str) -> dict[str, Any]:
        return {
            "id": gid,
            "name": self.guilds[gid],
            "icon": None,
            "owner_id": self.users["alice"]["id"],
            "unavailable": False,
            "member_count": 3,
            "large": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {
                    "id": gid,
                    "name": "@everyone",
                    "permissions": "1071698660928",
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [c for c in self.channels.values() if c["type"] == 0 and c["guild_id"] == gid],
            "threads": [c for c in self.channels.values() if c["type"] == 11 and c["guild_id"] == gid],
            "members": [self._member(self.bot)],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": _now(),
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
        }

    def _member(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "user": user,
            "roles": [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }

    # -- REST ----------------------------------------------------------------------------------------------
    _ROUTES: list[tuple[str, str, str]] = [
        ("GET", r"/users/@me", "me"),
        ("GET", r"/gateway/bot", "gateway_bot"),
        ("GET", r"/oauth2/applications/@me", "app_info"),
        ("PUT", r"/applications/(?P<app>\d+)/commands", "sync"),
        ("GET", r"/applications/(?P<app>\d+)/commands", "list_commands"),
        ("GET", r"/channels/(?P<cid>\d+)", "get_channel"),
        ("POST", r"/channels/(?P<cid>\d+)/messages", "create_message"),
        ("GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", "get_message"),
        ("PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", "edit_message"),
        ("POST", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/threads", "create_thread"),
        ("PUT", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me", "react"),
        ("POST", r"/interactions/(?P<iid>\d+)/(?P<tok>[^/]+)/callback", "callback"),
        ("POST", r"/webhooks/(?P<app>\d+)/(?P<tok>[^/]+)", "followup"),
        ("GET", r"/webhooks/(?P<app>\d+)/(?P<tok>[^/]+)/messages/@original", "get_original"),
        ("PATCH", r"/webhooks/(?P<app>\d+)/(?P<tok>[^/]+)/messages/(?P<mid>@original|\d+)", "edit_followup"),
    ]

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        raw = request.raw_path.split("?", 1)[0]
        path = raw[raw.index(API) + len(API) :]
        client = request.match_info.get("client", "")
        request[CLIENT] = client
        self.requests.append((request.method, path))
        self.requests_by.append((client, request.method, path))
        for method, rx, retry_after in list(self._faults):
            if method == request.method and rx.fullmatch(path):
                self._faults.remove((method, rx, retry_after))
                self.rate_limited.append((method, path, time.monotonic()))
                body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
                return _json(body, 429, {"Via": "1.1 google", "Retry-After": str(int(retry_after) + 1)})
        for method, pattern, name in self._ROUTES:
            m = re.fullmatch(pattern, path)
            if m and method == request.method:
                if name not in ("callback", "followup", "get_original", "edit_followup") and (
                    request.headers.get("Authorization") != f"Bot {self.token}"
                ):
                    return _json({"message": "401: Unauthorized", "code": 0}, 401)
                args = {k: unquote(v) for k, v in m.groupdict().items()}
                handler = getattr(self, "_r_" + name)
                result: web.StreamResponse = await handler(request, **args)
                for lost in list(self._lost):
                    if lost[0] == request.method and lost[1].fullmatch(path):
                        self._lost.remove(lost)
                        assert request.transport is not None
                        request.transport.close()  # done, but the answer never reaches the bot
                return result
        self.problems.append(f"unknown route {request.method} {path}")
        return _json({"message": "404: Not Found", "code": 0}, 404)

    async def _body(self, request: web.Request) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("multipart/"):
            payload: dict[str, Any] = {}
            files: list[tuple[str, bytes]] = []
            reader = await request.multipart()
            async for part in reader:
                name = getattr(part, "name", None)
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(data)
                elif name and name.startswith("files["):
                    files.append((getattr(part, "filename", None) or name, bytes(data)))
                else:
                    self.problems.append(f"unexpected multipart part {name}")
            return payload, files
        if request.can_read_body:
            if ctype != "application/json":
                self.problems.append(f"body with Content-Type {ctype!r}")
            return await request.json(), []
        return {}, []

    def _check_send(self, where: str, payload: dict[str, Any]) -> None:
        am = payload.get("allowed_mentions")
        if am is None or am.get("parse") != [] or am.get("users") or am.get("roles"):
            self.problems.append(f"{where}: allowed_mentions {am!r} would let a mention through")
        if len(payload.get("content") or "") > 2000:
            self.problems.append(f"{where}: content longer than 2,000 characters")
        for e in payload.get("embeds") or []:
            total = len(e.get("title", "")) + len(e.get("description", ""))
            if len(e.get("title", "")) > 256 or len(e.get("description", "")) > 4096:
                self.problems.append(f"{where}: embed title/description too long")
            for f in e.get("fields", []):
                total += len(f["name"]) + len(f["value"])
                if len(f["name"]) > 256 or len(f["value"]) > 1024:
                    self.problems.append(f"{where}: embed field too long")
            if total > 6000:
                self.problems.append(f"{where}: embed longer than 6,000 characters")

    def _message(
        self,
        channel_id: str,
        author: dict[str, Any],
        payload: dict[str, Any],
        files: list[tuple[str, bytes]],
        **extra: Any,
    ) -> dict[str, Any]:
        mid = snowflake()
        content = payload.get("content") or ""
        msg = {
            "id": mid,
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": snowflake(),
                    "filename": name,
                    "size": len(data),
                    "url": f"{self.url}/attachments/{mid}/{name}",
                    "proxy_url": f"{self.url}/attachments/{mid}/{name}",
                    "content_type": "image/png" if name.endswith(".png") else "application/octet-stream",
                }
                for name, data in files
            ],
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(payload.get("flags") or 0),
            **extra,
        }
        self.files[mid] = files
        self.edits[mid] = [content]
        return msg

    async def _r_gateway_bot(self, request: web.Request) -> web.Response:
        client = request[CLIENT]
        return _json(
            {
                "url": self.gateway_url_for(client) if client else self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000 - self.identifies,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def _r_me(self, request: web.Request) -> web.Response:
        return _json({**self.bot, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _r_app_info(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": self.app_id,
                "name": "campaignbot",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.users["alice"],
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
            }
        )

    async def _r_sync(self, request: web.Request, app: str) -> web.Response:
        body: Any
        body, _ = await self._body(request)  # a JSON list here
        self.command_syncs += 1
        self.commands = [
            {**c, "id": snowflake(), "application_id": self.app_id, "version": "1"} for c in body
        ]
        return _json(self.commands)

    async def _r_list_commands(self, request: web.Request, app: str) -> web.Response:
        return _json(self.commands)

    async def _r_get_channel(self, request: web.Request, cid: str) -> web.Response:
        if cid not in self.channels:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        return _json(self.channels[cid])

    async def _r_create_message(self, request: web.Request, cid: str) -> web.Response:
        if cid not in self.channels:
            self.problems.append(f"post to unknown channel {cid}")
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        payload, files = await self._body(request)
        self._check_send(f"POST /channels/{cid}/messages", payload)
        self.sent.append(Sent(f"/channels/{cid}/messages", payload, files, client=request[CLIENT]))
        nonce = payload.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            self.problems.append(f"nonce {nonce!r} longer than 25 characters")
        seen = self._nonces.get((cid, str(nonce))) if nonce is not None else None
        if (
            seen is not None
            and payload.get("enforce_nonce")
            and time.monotonic() - seen[1] < self.nonce_window
        ):
            self.deduplicated += 1
            return _json(self.messages[seen[0]])
        msg = self._message(cid, self.bot, payload, files)
        if nonce is not None:
            msg["nonce"] = str(nonce)
            self._nonces[(cid, str(nonce))] = (msg["id"], time.monotonic())
        self.messages[msg["id"]] = msg
        await self.dispatch("MESSAGE_CREATE", {**msg, "guild_id": self.guild_of(cid)})
        return _json(msg)

    async def _r_get_message(self, request: web.Request, cid: str, mid: str) -> web.Response:
        msg = self.messages.get(mid)
        if msg is None or msg["channel_id"] != cid:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return _json(msg)

    async def _r_edit_message(self, request: web.Request, cid: str, mid: str) -> web.Response:
        msg = self.messages.get(mid)
        if msg is None or msg["channel_id"] != cid:
            where = f"it is in {msg['channel_id']}" if msg is not None else "no such message"
            self.problems.append(f"edit of unknown message {mid} in {cid} ({where})")
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        payload, _ = await self._body(request)
        if "content" in payload:
            self._check_send(f"PATCH /channels/{cid}/messages/{mid}", payload)
            msg["content"] = payload["content"] or ""
            self.edits[mid].append(msg["content"])
        msg["edited_timestamp"] = _now()
        return _json(msg)

    async def _r_create_thread(self, request: web.Request, cid: str, mid: str) -> web.Response:
        payload, _ = await self._body(request)
        if mid not in self.messages or cid not in self.channels or self.channels[cid]["type"] != 0:
            self.problems.append(f"thread on unknown message {mid} in {cid}")
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if not 1 <= len(payload.get("name", "")) <= 100:
            self.problems.append(f"thread name {payload.get('name')!r}")
        if self.refuse_threads is not None:
            refusals = {403: ("Missing Permissions", 50013), 404: ("Unknown Channel", 10003)}
            text, code = refusals[self.refuse_threads]
            return _json({"message": text, "code": code}, self.refuse_threads)
        if mid in self.channels:
            return _json(
                {"message": "A thread has already been created for this message", "code": 160004}, 400
            )
        thread = {
            "id": mid,  # Discord: a thread started from a message has the message's id
            "type": 11,
            "guild_id": self.guild_of(cid),
            "parent_id": cid,
            "owner_id": self.app_id,
            "name": payload.get("name", ""),
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": payload.get("auto_archive_duration", 1440),
                "archive_timestamp": _now(),
                "locked": False,
            },
        }
        self.channels[mid] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return _json(thread, 201)

    async def _r_react(self, request: web.Request, cid: str, mid: str, emoji: str) -> web.Response:
        if mid not in self.messages or self.messages[mid]["channel_id"] != cid:
            self.problems.append(f"reaction on unknown message {mid}")
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        self.reactions.setdefault(mid, []).append((emoji, self.app_id))
        await self.dispatch("MESSAGE_REACTION_ADD", self._reaction_event(self.app_id, cid, mid, emoji))
        return web.Response(status=204)

    def _reaction_event(self, uid: str, cid: str, mid: str, emoji: str) -> dict[str, Any]:
        return {
            "user_id": uid,
            "channel_id": cid,
            "message_id": mid,
            "guild_id": self.guild_of(cid),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }

    async def _r_callback(self, request: web.Request, iid: str, tok: str) -> web.Response:
        it = self.interactions.get(iid)
        if it is None or it["token"] != tok:
            self.problems.append(f"callback for unknown interaction {iid}")
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        if it["callback"] is not None:
            self.problems.append(f"interaction {iid} answered twice")
            return _json({"message": "Interaction has already been acknowledged.", "code": 40060}, 400)
        if time.monotonic() - it["at"] > INTERACTION_TTL:
            self.problems.append(f"interaction {iid} answered after {INTERACTION_TTL} s")
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        if request.query.get("with_response") not in ("1", "true"):
            self.problems.append("interaction callback without with_response")
        body, files = await self._body(request)
        it["callback"] = body
        it["callback_after"] = time.monotonic() - it["at"]
        it["answered_by"] = request[CLIENT]
        rtype = body["type"]
        data = body.get("data") or {}
        result: dict[str, Any] = {
            "interaction": {"id": iid, "type": it["payload"]["type"]},
        }
        if rtype in (4, 5):
            if rtype == 4:
                self._check_send(f"callback {iid}", data)
            msg = self._message(
                it["payload"]["channel_id"], self.bot, data, files, interaction_id=iid, webhook_id=self.app_id
            )
            it["original"] = msg
            it["seen"].append(msg["content"])
            result["interaction"].update(
                response_message_id=msg["id"],
                response_message_loading=rtype == 5,
                response_message_ephemeral=bool(int(data.get("flags") or 0) & EPHEMERAL),
            )
            result["resource"] = {"type": rtype, "message": msg}
        else:
            result["resource"] = {"type": rtype}
        return _json(result)

    def _by_token(self, tok: str) -> dict[str, Any] | None:
        for it in self.interactions.values():
            if it["token"] == tok:
                return it
        self.problems.append("webhook call with an unknown interaction token")
        return None

    async def _r_followup(self, request: web.Request, app: str, tok: str) -> web.Response:
        it = self._by_token(tok)
        if it is None:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        payload, files = await self._body(request)
        self._check_send("followup", payload)
        msg = self._message(it["payload"]["channel_id"], self.bot, payload, files, webhook_id=self.app_id)
        it["followups"].append(msg)
        it["seen"].append(msg["content"])
        return _json(msg)

    async def _r_get_original(self, request: web.Request, app: str, tok: str) -> web.Response:
        it = self._by_token(tok)
        if it is None or it.get("original") is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return _json(it["original"])

    async def _r_edit_followup(self, request: web.Request, app: str, tok: str, mid: str) -> web.Response:
        it = self._by_token(tok)
        if it is None or it.get("original") is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        payload, _ = await self._body(request)
        self._check_send("edit @original", payload)
        it["original"]["content"] = payload.get("content") or ""
        it["seen"].append(it["original"]["content"])
        return _json(it["original"])

    # -- what users do -------------------------------------------------------------------------------------
    def _command_options(self, sub: str, options: dict[str, Any]) -> list[dict[str, Any]]:
        cmd = next((c for c in self.commands if c["name"] == "campaign"), None)
        assert cmd is not None, "/campaign was never synced"
        subdef = next((o for o in cmd.get("options", []) if o["name"] == sub and o["type"] == 1), None)
        assert subdef is not None, f"/campaign has no subcommand {sub}"
        known = {o["name"]: o for o in subdef.get("options", [])}
        out = []
        for name, value in options.items():
            assert name in known, f"/campaign {sub} has no option {name} (has {sorted(known)})"
            out.append({"name": name, "type": known[name]["type"], "value": value})
        for o in known.values():
            assert not o.get("required") or o["name"] in options, f"{o['name']} is required"
        return [{"name": sub, "type": 1, "options": out}]

    async def _interaction(
        self,
        user: str,
        channel_id: str,
        itype: int,
        data: dict[str, Any],
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        iid = snowflake()
        ch = self.channels[channel_id]
        gid = ch["guild_id"]
        payload: dict[str, Any] = {
            "id": iid,
            "application_id": self.app_id,
            "type": itype,
            "token": "itok-" + secrets.token_hex(12),
            "version": 1,
            "guild_id": gid,
            "channel_id": channel_id,
            "channel": ch,
            "member": {**self._member(self.users[user]), "permissions": "1071698660928"},
            "data": data,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": "1071698660928",
            "entitlements": [],
            "authorizing_integration_owners": {"0": gid},
            "context": 0,
            "attachment_size_limit": 26214400,
        }
        if message is not None:
            payload["message"] = message
        it = {
            "id": iid,
            "token": payload["token"],
            "payload": payload,
            "at": time.monotonic(),
            "callback": None,
            "answered_by": None,  # the client that answered it (its callback)
            "original": None,
            "followups": [],
            "seen": [],
        }
        self.interactions[iid] = it
        await self.dispatch("INTERACTION_CREATE", payload)
        return it

    async def slash(
        self, user: str, sub: str, channel_id: str | None = None, **options: Any
    ) -> dict[str, Any]:
        """``user`` runs ``/campaign <sub> option:value ...`` (types taken from the synced definition)."""
        cmd = next((c for c in self.commands if c["name"] == "campaign"), None)
        assert cmd is not None, "/campaign was never synced"
        data = {
            "id": cmd["id"],
            "name": "campaign",
            "type": 1,
            "options": self._command_options(sub, options),
        }
        return await self._interaction(user, channel_id or self.channel_id, 2, data)

    async def click(self, user: str, message_id: str, custom_id: str) -> dict[str, Any]:
        msg = self.messages[message_id]
        ids = [c["custom_id"] for row in msg["components"] for c in row.get("components", [])]
        assert custom_id in ids, f"message {message_id} has no button {custom_id} (has {ids})"
        data = {"custom_id": custom_id, "component_type": 2}
        gid = self.guild_of(msg["channel_id"])
        return await self._interaction(user, msg["channel_id"], 3, data, {**msg, "guild_id": gid})

    async def react(self, user: str, message_id: str, emoji: str) -> None:
        msg = self.messages[message_id]
        uid = self.users[user]["id"]
        self.reactions.setdefault(message_id, []).append((emoji, uid))
        await self.dispatch(
            "MESSAGE_REACTION_ADD", self._reaction_event(uid, msg["channel_id"], message_id, emoji)
        )

    async def unreact(self, user: str, message_id: str, emoji: str) -> None:
        msg = self.messages[message_id]
        uid = self.users[user]["id"]
        self.reactions[message_id].remove((emoji, uid))  # strict: only a reaction that is there
        await self.dispatch(
            "MESSAGE_REACTION_REMOVE", self._reaction_event(uid, msg["channel_id"], message_id, emoji)
        )

    async def say(self, user: str, channel_id: str, content: str, *, mention_bot: bool = False) -> str:
        """``user`` writes ``content`` in a channel or thread; Discord blanks the content for a bot without
        the MESSAGE_CONTENT intent unless the message mentions it."""
        author = self.users[user]
        text = f"<@{self.app_id}> {content}" if mention_bot else content
        msg = self._message(channel_id, author, {"content": text}, [])
        msg["mentions"] = [self.bot] if mention_bot else []
        self.messages[msg["id"]] = msg

        def visible(s: _Session, d: dict[str, Any]) -> dict[str, Any]:
            if not (s.intents & MESSAGE_CONTENT) and not mention_bot:
                return {**d, "content": "", "embeds": [], "attachments": [], "components": []}
            return d

        event = {**msg, "guild_id": self.guild_of(channel_id), "member": self._member(author)}
        await self.dispatch("MESSAGE_CREATE", event, visible)
        return str(msg["id"])

    async def dm(self, user: str, content: str) -> str:
        """``user`` writes the bot a direct message: no guild, so shard 0's sessions get it, and only those
        that asked for the DIRECT_MESSAGES intent."""
        author = self.users[user]
        cid = self._dm_channels.setdefault(user, snowflake())
        msg = self._message(cid, author, {"content": content}, [])
        self.messages[msg["id"]] = msg

        def with_intent(s: _Session, d: dict[str, Any]) -> dict[str, Any] | None:
            return d if s.intents & DIRECT_MESSAGES else None

        await self.dispatch("MESSAGE_CREATE", msg, with_intent)
        return str(msg["id"])

    # -- what tests read -----------------------------------------------------------------------------------
    def in_channel(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == channel_id]

    def bot_messages(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.in_channel(channel_id) if m["author"]["id"] == self.app_id]

    def threads(self, guild_id: str | None = None) -> list[dict[str, Any]]:
        return [
            c
            for c in self.channels.values()
            if c["type"] == 11 and (guild_id is None or c["guild_id"] == guild_id)
        ]

    def events_seen(self, client: str) -> list[dict[str, Any]]:
        """Every gateway event sent to ``client``'s sessions."""
        return [ev for s in self.sessions if s.client == client for ev in s.events]
