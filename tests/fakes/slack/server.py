"""A fake Slack at the wire: an aiohttp server on 127.0.0.1 that speaks the Web API, the file upload URL
and the Socket Mode websocket, and can also deliver requests to an app in HTTP mode (v0-signed).

It keeps a small workspace model (channels, messages by ts, threads, reactions, files, ephemeral notes)
so tests assert what a person would see. It is strict: an unknown method, a bad token, a malformed
block, a reaction given as a unicode character, or an envelope not acked within 3 s is recorded in
:attr:`FakeSlack.problems`, and the test fixture fails on any. Faults can be injected: a 429 with
``Retry-After`` on any method (or the upload URL), a dropped socket, a ``disconnect`` with
``refresh_requested``, a retried event.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

ACK_TIMEOUT = 3.0  # Slack's limit for acknowledging an envelope or a request
EMOJI_NAME = re.compile(r"^[a-z0-9_+'\-]+$")


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edits: list[str] = field(default_factory=list)
    bot: bool = False
    metadata: dict[str, Any] | None = None  # chat.postMessage's metadata (event_type, event_payload)

    @property
    def current(self) -> str:
        return self.edits[-1] if self.edits else self.text

    def all_text(self) -> str:
        """Everything a person can read in this message (text, every edit, block texts)."""
        return "\n".join([self.text, *self.edits, json.dumps(self.blocks, ensure_ascii=False)])


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    thread_ts: str | None = None
    via: str = "api"  # "api" (chat.postEphemeral) or "ack" (the slash command's response)


@dataclass
class File:
    id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str = ""
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None


@dataclass
class Fault:
    status: int = 429
    retry_after: int = 1


@dataclass
class Delivery:
    """What the app answered to one envelope or HTTP request."""

    ack: dict[str, Any] | None
    latency: float
    status: int = 200
    attempts: int = 1


class FakeSlack:
    BOT_TOKEN = "xoxb-fake-bot-token"
    APP_TOKEN = "xapp-fake-app-token"
    SIGNING_SECRET = "fake-signing-secret"
    TEAM = "T0FAKE"
    APP_ID = "A0FAKE"
    BOT_USER = "U0BOT"
    BOT_ID = "B0BOT"

    def __init__(
        self, *, mode: str = "socket", echo_bot_events: bool = True, update_limit_per_minute: int = 50
    ):
        self.mode = mode  # "socket" or "http": how events reach the app
        self.app_url: str | None = None  # HTTP mode: the app's request URL
        # HTTP mode behind a load balancer: requests go to these in turn (replicas of one app)
        self.app_urls: list[str] = []
        self._next_app = itertools.count()
        self.echo_bot_events = echo_bot_events
        self.update_limit_per_minute = update_limit_per_minute
        self.channels: dict[str, str] = {"C0GENERAL": "general", "C0RANDOM": "random"}
        self.users: dict[str, str] = {"U0ALICE": "alice", "U0BOB": "bob", self.BOT_USER: "campaignbot"}
        self.messages: dict[tuple[str, str], Message] = {}
        self.ephemerals: list[Ephemeral] = []
        self.files: dict[str, File] = {}
        self.calls: list[tuple[float, str, dict[str, Any]]] = []  # (time, method, params)
        self.rate_limited: list[tuple[float, str]] = []
        self.problems: list[str] = []
        self.faults: dict[str, list[Fault]] = {}
        self.lost: dict[str, int] = {}  # method -> how many more calls are made but never answered
        self.connections = 0  # websocket connections opened so far
        self.events: dict[str, dict[str, Any]] = {}  # event_id -> event callback payload
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._tickets: set[str] = set()
        self._ws: web.WebSocketResponse | None = None
        self._ws_request: web.Request | None = None
        self._connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._gone = asyncio.Event()  # set whenever the current socket goes away
        self._echoes: set[asyncio.Task[Any]] = set()
        self._updates: list[float] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.http: aiohttp.ClientSession | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.http = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        for t in list(self._echoes):
            t.cancel()
        await asyncio.gather(*self._echoes, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self.http is not None:
            await self.http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def env(self, mode: str = "socket", **extra: str) -> dict[str, str]:
        """``SLACK_*`` settings pointing an app at this fake."""
        env = {"SLACK_BOT_TOKEN": self.BOT_TOKEN, "SLACK_API_URL": self.api_url, "SLACK_MODE": mode}
        if mode == "socket":
            env["SLACK_APP_TOKEN"] = self.APP_TOKEN
        else:
            env["SLACK_SIGNING_SECRET"] = self.SIGNING_SECRET
        env.update(extra)
        return env

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    # -- Web API ------------------------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.method == "POST" and request.can_read_body:
            if ctype == "application/json":
                params.update(await request.json())
            elif ctype == "application/x-www-form-urlencoded":
                params.update(dict(parse_qsl((await request.read()).decode())))
            elif ctype.startswith("multipart/"):
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    def _json(
        self, data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        return web.json_response(data, status=status, headers=headers)

    def fail_next(self, method: str, *, times: int = 1, retry_after: int = 1, status: int = 429) -> None:
        """The next ``times`` calls of ``method`` (or ``"upload"`` for the upload URL) answer ``status``."""
        self.faults.setdefault(method, []).extend(Fault(status, retry_after) for _ in range(times))

    def lose_next(self, method: str, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` take effect, then the connection drops before the answer
        (a lost response: the app cannot tell whether Slack did it)."""
        self.lost[method] = self.lost.get(method, 0) + times

    def _fault(self, method: str) -> web.Response | None:
        if self.faults.get(method):
            f = self.faults[method].pop(0)
            self.rate_limited.append((time.monotonic(), method))
            return self._json(
                {"ok": False, "error": "ratelimited"},
                status=f.status,
                headers={"Retry-After": str(f.retry_after)},
            )
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or params.get(
            "token"
        )
        want = self.APP_TOKEN if method == "apps.connections.open" else self.BOT_TOKEN
        if token != want:
            self.problem(f"{method} called with a wrong token")
            return self._json({"ok": False, "error": "invalid_auth"})
        self.calls.append((time.monotonic(), method, params))
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            self.problem(f"unknown Web API method {method}")
            return self._json({"ok": False, "error": "unknown_method"}, status=404)
        fault = self._fault(method)
        if fault is not None:
            return fault
        try:
            result: dict[str, Any] = handler(params)
        except _ApiError as exc:
            if exc.strict:
                self.problem(f"{method}: {exc.code} {exc.detail}")
            return self._json({"ok": False, "error": exc.code})
        if self.lost.get(method):
            self.lost[method] -= 1
            assert request.transport is not None
            request.transport.close()  # done, but the answer never reaches the app
        return self._json({"ok": True, **result})

    def _channel(self, params: dict[str, Any], key: str = "channel") -> str:
        ch = params.get(key)
        if ch not in self.channels:
            raise _ApiError("channel_not_found", f"{ch!r}")
        return str(ch)

    def _message(self, channel: str, ts: str | None) -> Message:
        msg = self.messages.get((channel, str(ts)))
        if msg is None:
            raise _ApiError("message_not_found", f"{channel} {ts}")
        return msg

    def _check_blocks(self, blocks: Any) -> list[dict[str, Any]]:
        if blocks is None:
            return []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if not isinstance(blocks, list) or len(blocks) > 50:
            raise _ApiError("invalid_blocks", "not a list of at most 50 blocks")
        for b in blocks:
            if b.get("type") == "section":
                text = (b.get("text") or {}).get("text", "")
                if not text or len(text) > 3000:
                    raise _ApiError("invalid_blocks", f"section text of {len(text)} characters")
            elif b.get("type") == "actions":
                ids = [e.get("action_id") for e in b.get("elements", [])]
                if len(ids) != len(set(ids)) or len(ids) > 25:
                    raise _ApiError("invalid_blocks", f"action ids {ids}")
                for e in b["elements"]:
                    if len(e["text"]["text"]) > 75 or len(e.get("value", "")) > 2000:
                        raise _ApiError("invalid_blocks", "button too long")
            else:
                raise _ApiError("invalid_blocks", f"unexpected block type {b.get('type')}")
        return list(blocks)

    def _add_message(self, msg: Message) -> Message:
        if msg.thread_ts is not None:
            parent = self._message(msg.channel, msg.thread_ts)
            if parent.thread_ts is not None:
                raise _ApiError("invalid_thread_ts", "thread_ts names a reply, not a thread's root")
        self.messages[(msg.channel, msg.ts)] = msg
        return msg

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.test/",
            "team": "Fake Team",
            "user": "campaignbot",
            "team_id": self.TEAM,
            "user_id": self.BOT_USER,
            "bot_id": self.BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self.port}/socket?ticket={ticket}"}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        blocks = self._check_blocks(params.get("blocks"))
        text = params.get("text") or ""
        if not text and not blocks:
            raise _ApiError("no_text", "neither text nor blocks")
        thread = params.get("thread_ts") or None
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata is not None and (
            not isinstance(metadata, dict)
            or not re.fullmatch(r"[a-z0-9_]{1,255}", str(metadata.get("event_type") or ""))
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise _ApiError("invalid_metadata_format", f"{metadata!r}")
        msg = self._add_message(
            Message(channel, self._new_ts(), self.BOT_USER, text, thread, blocks, bot=True, metadata=metadata)
        )
        self._echo_message(msg)
        return {
            "channel": channel,
            "ts": msg.ts,
            "message": {"text": text, "ts": msg.ts, "bot_id": self.BOT_ID},
        }

    def _wire(self, m: Message, with_metadata: bool) -> dict[str, Any]:
        """A message as conversations.history/replies return it (metadata only when asked for)."""
        out: dict[str, Any] = {"type": "message", "ts": m.ts, "user": m.user, "text": m.current}
        if m.thread_ts is not None:
            out["thread_ts"] = m.thread_ts
        if m.bot:
            out["bot_id"] = self.BOT_ID
        if m.files:
            out["files"] = [{"id": f, "title": self.files[f].title} for f in m.files if f in self.files]
        if with_metadata and m.metadata is not None:
            out["metadata"] = m.metadata
        return out

    @staticmethod
    def _window(params: dict[str, Any]) -> tuple[float, int, bool]:
        limit = int(str(params.get("limit") or 100))
        if not 1 <= limit <= 1000:
            raise _ApiError("invalid_limit", str(limit))
        meta = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        return float(str(params.get("oldest") or 0)), limit, meta

    def _m_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """The channel's top-level messages (and thread roots), newest first."""
        channel = self._channel(params)
        oldest, limit, meta = self._window(params)
        found = [
            m
            for m in self.messages.values()
            if m.channel == channel and m.thread_ts is None and float(m.ts) >= oldest
        ]
        found.sort(key=lambda m: float(m.ts), reverse=True)
        return {"messages": [self._wire(m, meta) for m in found[:limit]], "has_more": len(found) > limit}

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread: its root, then its replies oldest first."""
        channel = self._channel(params)
        root = self._message(channel, params.get("ts"))
        oldest, limit, meta = self._window(params)
        replies = [
            m
            for m in self.messages.values()
            if m.channel == channel and m.thread_ts == root.ts and float(m.ts) >= oldest
        ]
        found = [root, *sorted(replies, key=lambda m: float(m.ts))]
        return {"messages": [self._wire(m, meta) for m in found[:limit]], "has_more": len(found) > limit}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        msg = self._message(channel, params.get("ts"))
        if not msg.bot:
            raise _ApiError("cant_update_message", "not the bot's message")
        now = time.monotonic()
        self._updates = [t for t in self._updates if now - t < 60] + [now]
        if len(self._updates) > self.update_limit_per_minute:
            raise _ApiError("ratelimited", f"more than {self.update_limit_per_minute} chat.update a minute")
        text = params.get("text") or ""
        blocks = self._check_blocks(params.get("blocks"))
        msg.edits.append(text)
        if blocks:
            msg.blocks = blocks
        self._echo(
            {
                "type": "message",
                "subtype": "message_changed",
                "channel": channel,
                "hidden": True,
                "message": {
                    "type": "message",
                    "text": text,
                    "user": self.BOT_USER,
                    "bot_id": self.BOT_ID,
                    "ts": msg.ts,
                    "thread_ts": msg.thread_ts,
                },
                "ts": self._new_ts(),
            }
        )
        return {"channel": channel, "ts": msg.ts, "text": text}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        user = params.get("user")
        if user not in self.users:
            raise _ApiError("user_not_found", f"{user!r}")
        self._check_blocks(params.get("blocks"))
        text = params.get("text") or ""
        if not text:
            raise _ApiError("no_text", "ephemeral without text")
        self.ephemerals.append(Ephemeral(channel, str(user), text, params.get("thread_ts") or None))
        return {"message_ts": self._new_ts()}

    def _m_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        msg = self._message(channel, params.get("timestamp"))
        name = str(params.get("name") or "")
        if not EMOJI_NAME.match(name):
            raise _ApiError("invalid_name", f"{name!r} is not an emoji name")
        who = msg.reactions.setdefault(name, [])
        if self.BOT_USER in who:
            raise _ApiError("already_reacted", name, strict=False)
        who.append(self.BOT_USER)
        self._echo(self._reaction_event(self.BOT_USER, msg, name))
        return {}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = params.get("filename"), params.get("length")
        if not filename or not str(length or "").isdigit():
            raise _ApiError("invalid_arguments", "filename and length are required")
        fid = f"F{next(self._ids):06d}"
        self.files[fid] = File(fid, str(filename), int(str(length)))
        return {"upload_url": f"{self.base}/upload/{fid}", "file_id": fid}

    async def _upload(self, request: web.Request) -> web.Response:
        fid = request.match_info["file_id"]
        fault = self._fault("upload")
        if fault is not None:
            return fault
        f = self.files.get(fid)
        data = await request.read()
        if f is None or f.data is not None or len(data) != f.length:
            self.problem(f"bad upload to {fid}: {len(data)} bytes")
            return web.Response(status=400, text="bad upload")
        f.data = data
        return web.Response(text=f"OK - {len(data)}")

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        items = json.loads(params.get("files") or "[]")
        channel = params.get("channel_id")
        thread = params.get("thread_ts") or None
        if channel is not None:
            self._channel(params, "channel_id")
        out = []
        for it in items:
            f = self.files.get(it.get("id"))
            if f is None or f.data is None:
                raise _ApiError("file_not_found", f"{it} was not uploaded")
            if f.channel is not None:
                raise _ApiError("already_completed", f.id)
            f.title = it.get("title") or f.filename
            out.append(f)
        shares: dict[str, Any] = {}
        if channel is not None:
            comment = params.get("initial_comment") or ""
            msg = self._add_message(
                Message(channel, self._new_ts(), self.BOT_USER, comment, thread, bot=True)
            )
            msg.files = [f.id for f in out]
            for f in out:
                f.channel, f.thread_ts, f.message_ts = channel, thread, msg.ts
            shares = {"public": {channel: [{"ts": msg.ts, "thread_ts": thread}]}}
            self._echo_message(msg, subtype="file_share")
        return {"files": [{"id": f.id, "name": f.filename, "title": f.title, "shares": shares} for f in out]}

    # -- Socket Mode --------------------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ticket = request.query.get("ticket", "")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if ticket not in self._tickets:
            self.problem("websocket opened without a ticket from apps.connections.open")
            await ws.close()
            return ws
        self._tickets.discard(ticket)
        old = self._ws
        self._ws, self._ws_request = ws, request
        self.connections += 1
        self._gone.clear()
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake-slack"},
                "connection_info": {"app_id": self.APP_ID},
            }
        )
        self._connected.set()
        if old is not None and not old.closed:
            await old.close()
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                fut = self._acks.pop(data.get("envelope_id", ""), None)
                if fut is None:
                    self.problem(f"ack for an unknown envelope: {msg.data[:200]}")
                elif not fut.done():
                    fut.set_result(data.get("payload"))
        finally:
            if self._ws is ws:
                self._ws = None
                self._connected.clear()
                self._gone.set()
        return ws

    async def wait_connected(self, timeout: float = 20.0, connections: int = 1) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._ws is not None and self.connections >= connections:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the app did not open socket connection #{connections}")

    async def drop_socket(self) -> None:
        """Cut the TCP connection under the websocket, with no close frame (a network drop)."""
        assert self._ws_request is not None and self._ws_request.transport is not None
        self._ws = None
        self._connected.clear()
        self._gone.set()
        self._ws_request.transport.abort()

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        assert self._ws is not None
        await self._ws.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake-slack"}}
        )

    async def _deliver_socket(self, kind: str, payload: dict[str, Any], retry_attempt: int) -> Delivery:
        """Send one envelope; if the socket goes away before the ack, redeliver on the next connection
        (as Slack does), with ``retry_attempt`` counting up."""
        attempts = 0
        while True:
            await asyncio.wait_for(self._connected.wait(), 30)
            ws = self._ws
            if ws is None:
                await asyncio.sleep(0.02)
                continue
            env_id = str(uuid.uuid4())
            fut: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
            self._acks[env_id] = fut
            envelope = {
                "envelope_id": env_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt + attempts,
                "retry_reason": "timeout" if retry_attempt + attempts else "",
            }
            t0 = time.monotonic()
            attempts += 1
            try:
                await ws.send_json(envelope)
            except (ConnectionError, RuntimeError):
                self._acks.pop(env_id, None)
                await asyncio.sleep(0.05)
                continue
            gone: asyncio.Future[Any] = asyncio.ensure_future(self._gone.wait())
            waiters: set[asyncio.Future[Any]] = {fut, gone}
            try:
                done, _ = await asyncio.wait(
                    waiters, timeout=ACK_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                gone.cancel()
            if fut in done:
                return Delivery(fut.result(), time.monotonic() - t0, attempts=attempts)
            self._acks.pop(env_id, None)
            if not done:
                self.problem(f"{kind} envelope not acked within {ACK_TIMEOUT} s")
                return Delivery(None, time.monotonic() - t0, status=0, attempts=attempts)

    # -- HTTP mode ----------------------------------------------------------------------------------------
    def sign(self, body: bytes, timestamp: int | None = None, secret: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        base = b"v0:" + ts.encode() + b":" + body
        sig = "v0=" + hmac.new((secret or self.SIGNING_SECRET).encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}

    async def post_to_app(
        self,
        body: bytes,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[int, str, float]:
        url = self.app_urls[next(self._next_app) % len(self.app_urls)] if self.app_urls else self.app_url
        assert url and self.http is not None
        h = {"Content-Type": content_type, **self.sign(body, timestamp, secret), **(headers or {})}
        t0 = time.monotonic()
        async with self.http.post(url, data=body, headers=h) as resp:
            return resp.status, await resp.text(), time.monotonic() - t0

    async def _deliver_http(self, kind: str, payload: dict[str, Any], retry_attempt: int) -> Delivery:
        headers: dict[str, str] = {}
        if kind == "events_api":
            body, ctype = json.dumps(payload).encode(), "application/json"
            if retry_attempt:
                headers = {"X-Slack-Retry-Num": str(retry_attempt), "X-Slack-Retry-Reason": "http_timeout"}
        elif kind == "slash_commands":
            body, ctype = urlencode(payload).encode(), "application/x-www-form-urlencoded"
        else:
            body, ctype = (
                urlencode({"payload": json.dumps(payload)}).encode(),
                "application/x-www-form-urlencoded",
            )
        status, text, latency = await self.post_to_app(body, ctype, headers=headers)
        if status != 200:
            self.problem(f"app answered {status} to a signed {kind} request: {text[:200]}")
        if latency > ACK_TIMEOUT:
            self.problem(f"app took {latency:.1f} s to answer a {kind} request")
        ack = json.loads(text) if text.startswith("{") else None
        return Delivery(ack, latency, status)

    # -- delivering to the app ----------------------------------------------------------------------------
    async def deliver(self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0) -> Delivery:
        if self.mode == "socket":
            return await self._deliver_socket(kind, payload, retry_attempt)
        return await self._deliver_http(kind, payload, retry_attempt)

    def _callback(self, event: dict[str, Any]) -> dict[str, Any]:
        eid = f"Ev{next(self._ids):08d}"
        payload = {
            "token": "legacy-verification-token",
            "team_id": self.TEAM,
            "api_app_id": self.APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": eid,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.TEAM, "user_id": self.BOT_USER, "is_bot": True}],
            "is_ext_shared_channel": False,
        }
        self.events[eid] = payload
        return payload

    async def send_event(self, event: dict[str, Any]) -> tuple[str, Delivery]:
        payload = self._callback(event)
        return payload["event_id"], await self.deliver("events_api", payload)

    async def redeliver(self, event_id: str, retry_attempt: int = 1) -> Delivery:
        """Slack's retry of an event the app did get (same ``event_id``)."""
        return await self.deliver("events_api", self.events[event_id], retry_attempt=retry_attempt)

    def _echo(self, event: dict[str, Any]) -> None:
        """Slack tells the app about its own posts, edits and reactions; the app must ignore them."""
        if not self.echo_bot_events or (self.mode == "http" and not self.app_url):
            return
        task = asyncio.ensure_future(self.deliver("events_api", self._callback(event)))
        self._echoes.add(task)
        task.add_done_callback(self._echoes.discard)

    def _echo_message(self, msg: Message, subtype: str | None = None) -> None:
        event: dict[str, Any] = {
            "type": "message",
            "channel": msg.channel,
            "user": self.BOT_USER,
            "bot_id": self.BOT_ID,
            "text": msg.text,
            "ts": msg.ts,
            "channel_type": "channel",
        }
        if msg.thread_ts:
            event["thread_ts"] = msg.thread_ts
        if subtype:
            event["subtype"] = subtype
        self._echo(event)

    def _reaction_event(
        self, user: str, msg: Message, name: str, kind: str = "reaction_added"
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "user": user,
            "reaction": name,
            "item_user": msg.user,
            "item": {"type": "message", "channel": msg.channel, "ts": msg.ts},
            "event_ts": self._new_ts(),
        }

    # -- what people do -----------------------------------------------------------------------------------
    async def slash(
        self, user: str, text: str, channel: str = "C0GENERAL", command: str = "/campaign"
    ) -> Delivery:
        payload = {
            "token": "legacy-verification-token",
            "team_id": self.TEAM,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": self.channels[channel],
            "user_id": user,
            "user_name": self.users[user],
            "command": command,
            "text": text,
            "api_app_id": self.APP_ID,
            "is_enterprise_install": "false",
            "response_url": f"{self.base}/response/{uuid.uuid4().hex}",
            "trigger_id": f"{next(self._ids)}.{uuid.uuid4().hex[:12]}",
        }
        d = await self.deliver("slash_commands", payload)
        if d.ack and d.ack.get("text"):
            self.ephemerals.append(Ephemeral(channel, user, d.ack["text"], via="ack"))
        return d

    async def react(self, user: str, msg: Message, name: str) -> tuple[str, Delivery]:
        msg.reactions.setdefault(name, []).append(user)
        return await self.send_event(self._reaction_event(user, msg, name))

    async def unreact(self, user: str, msg: Message, name: str) -> tuple[str, Delivery]:
        msg.reactions[name].remove(user)  # strict: only a reaction that is there can be taken back
        return await self.send_event(self._reaction_event(user, msg, name, "reaction_removed"))

    async def reply(self, user: str, root: Message, text: str) -> tuple[str, Delivery]:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        msg = self._add_message(Message(root.channel, self._new_ts(), user, escaped, root.ts))
        return await self.send_event(
            {
                "type": "message",
                "channel": msg.channel,
                "user": user,
                "text": escaped,
                "ts": msg.ts,
                "thread_ts": root.ts,
                "channel_type": "channel",
                "event_ts": msg.ts,
            }
        )

    async def click(self, user: str, msg: Message, action_id: str) -> Delivery:
        button = next(
            (
                e
                for b in msg.blocks
                if b["type"] == "actions"
                for e in b["elements"]
                if e["action_id"] == action_id
            ),
            None,
        )
        assert button is not None, f"no {action_id} button on {msg.ts}"
        payload = {
            "type": "block_actions",
            "team": {"id": self.TEAM, "domain": "fake"},
            "user": {"id": user, "username": self.users[user], "team_id": self.TEAM},
            "api_app_id": self.APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": msg.ts,
                "channel_id": msg.channel,
                "is_ephemeral": False,
                "thread_ts": msg.thread_ts,
            },
            "trigger_id": f"{next(self._ids)}.{uuid.uuid4().hex[:12]}",
            "channel": {"id": msg.channel, "name": self.channels[msg.channel]},
            "message": {
                "type": "message",
                "ts": msg.ts,
                "thread_ts": msg.thread_ts,
                "text": msg.text,
                "bot_id": self.BOT_ID,
                "blocks": msg.blocks,
            },
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b",
                    "value": button["value"],
                    "type": "button",
                    "text": button["text"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return await self.deliver("interactive", payload)

    # -- what people see ----------------------------------------------------------------------------------
    def roots(self, channel: str = "C0GENERAL") -> list[Message]:
        return [m for (c, _), m in self.messages.items() if c == channel and m.thread_ts is None]

    def thread(self, root: Message) -> list[Message]:
        return [m for m in self.messages.values() if m.channel == root.channel and m.thread_ts == root.ts]

    def bot_posts(self) -> list[Message]:
        return [m for m in self.messages.values() if m.bot]

    def cards(self, root: Message) -> list[Message]:
        """Variant cards: the bot's thread messages with a Refine button."""
        return [m for m in self.thread(root) if m.bot and '"action_id": "refine"' in json.dumps(m.blocks)]

    def grids(self, root: Message) -> list[Message]:
        return [m for m in self.thread(root) if m.bot and m.text.startswith("Round") and "variants" in m.text]

    def notes_for(self, user: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user]

    def count(self, method: str) -> int:
        return sum(1 for _, m, _ in self.calls if m == method)


class _ApiError(Exception):
    def __init__(self, code: str, detail: str = "", *, strict: bool = True):
        super().__init__(code)
        self.code, self.detail, self.strict = code, detail, strict
