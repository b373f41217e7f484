"""The playground's web server (aiohttp): one page, its script and style, attachments by message id,
and a WebSocket that carries the user's actions in and every change out.

WebSocket messages from the page (JSON)::

    {"type": "hello",   "user": "Alice"}                               who this tab is (kept in localStorage)
    {"type": "command", "text": "/campaign smart watch --variants 2"}  a slash command in the channel
    {"type": "reply",   "thread": "<root id>", "text": "shorter"}      a reply in a campaign thread
    {"type": "react",   "message": "<id>", "emoji": "2️⃣", "on": true}  add (or take back) a reaction
    {"type": "button",  "message": "<id>", "action": "refine", "value": "C1-R1-V2"}

and to the page: ``welcome`` (user and every message it may see), ``message`` (a new or changed
message), ``ephemeral`` (the engine's answer, for this tab only) and ``error`` (input refused).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from bot.playground.channel import BOT
from bot.playground.playground_adapter import DEFAULT_CHANNEL, WORKSPACE, Client, PlaygroundAdapter
from engine.emoji import NUMBER_EMOJI
from engine.engine import Engine
from engine.events import ButtonEvent, CommandEvent, Event, ReactionEvent, ReplyEvent, Where
from engine.neutralize import neutralize

logger = logging.getLogger(__name__)

MAX_TEXT = 2000  # characters in one command or reply (Slack allows about as much in a slash command)
MAX_NAME = 40
MAX_FRAME = 16 * 1024  # bytes in one WebSocket message; bigger ones close the socket (code 1009)
REACTIONS = [*NUMBER_EMOJI, "⭐", "❌", "👍", "🎉"]
_ID = re.compile(r"[0-9a-f]{12}")
_STATIC = {"app.js": "application/javascript", "app.css": "text/css", "icon.svg": "image/svg+xml"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

ADAPTER: web.AppKey[PlaygroundAdapter] = web.AppKey("adapter", PlaygroundAdapter)
ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)


class Refused(Exception):
    """Input the playground will not pass on; the message is shown to the user as is."""


def _static(name: str) -> bytes:
    return resources.files("bot.playground").joinpath("static", name).read_bytes()


def make_app(adapter: PlaygroundAdapter, engine: Engine) -> web.Application:
    app = web.Application(middlewares=[_guard], client_max_size=64 * 1024)
    app[ADAPTER] = adapter
    app[ENGINE] = engine
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/files/{id}", attachment)
    app.router.add_get("/ws", websocket)
    return app


@web.middleware
async def _guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Loopback servers answer only to loopback host names (no DNS rebinding); every answer carries a
    strict Content-Security-Policy, so even a slip in the page could not run injected script."""
    adapter = request.app[ADAPTER]
    if adapter.host in _LOOPBACK:
        host = (urlsplit(f"//{request.host}").hostname or "").strip("[]")
        if host not in _LOOPBACK:
            raise web.HTTPMisdirectedRequest(text="This playground only answers on localhost.")
    resp = await handler(request)
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


async def index(request: web.Request) -> web.Response:
    return web.Response(
        body=_static("index.html"), content_type="text/html", headers={"Cache-Control": "no-store"}
    )


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise web.HTTPNotFound()
    return web.Response(body=_static(name), content_type=_STATIC[name], headers={"Cache-Control": "no-cache"})


async def favicon(request: web.Request) -> web.Response:
    return web.Response(body=_static("icon.svg"), content_type="image/svg+xml")


async def attachment(request: web.Request) -> web.StreamResponse:
    """An attachment by the id of its message: only files the engine posted, only inside its data dir."""
    mid = request.match_info["id"]
    if not _ID.fullmatch(mid):
        raise web.HTTPNotFound()
    path = request.app[ADAPTER].file_for(mid)
    if path is None:
        raise web.HTTPNotFound()
    if path.suffix.lower() == ".png":
        return web.FileResponse(path, headers={"Content-Type": "image/png", "Cache-Control": "max-age=3600"})
    safe = re.sub(r"[^\w.-]", "_", path.name)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{safe}"',
        },
    )


async def websocket(request: web.Request) -> web.WebSocketResponse:
    # Browsers always send Origin on a WebSocket handshake: none, or another site's, is refused (a page
    # on another site, or a script, must not drive someone's local playground).
    origin = request.headers.get("Origin")
    if not origin or urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden(text="WebSocket from another site refused.")
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30)
    await ws.prepare(request)
    adapter, engine = request.app[ADAPTER], request.app[ENGINE]
    client = Client(ws)
    adapter.clients.add(client)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
                if not isinstance(data, dict):
                    raise Refused("The playground did not understand that message.")
                await _act(adapter, engine, client, data)
            except Refused as exc:
                await client.send({"type": "error", "text": str(exc), "ref": _ref(msg.data)})
            except ValueError:
                await client.send(
                    {"type": "error", "text": "The playground did not understand that message."}
                )
    finally:
        adapter.clients.discard(client)
    return ws


def _ref(raw: str) -> str:
    try:
        ref = json.loads(raw).get("ref", "")
    except (ValueError, AttributeError):
        return ""
    return ref if isinstance(ref, str) and len(ref) <= 40 else ""


def _text(data: dict[str, Any], what: str) -> str:
    text = data.get("text")
    if not isinstance(text, str):
        raise Refused(f"The {what} had no text.")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise Refused(
            f"That {what} is {len(text):,} characters long; the limit is {MAX_TEXT:,}. "
            "Keep the brief short, e.g. /campaign smart watch for runners --tone playful"
        )
    if not text:
        raise Refused(f"The {what} was empty.")
    return text


def _message_id(data: dict[str, Any]) -> str:
    mid = data.get("message")
    if not isinstance(mid, str) or not _ID.fullmatch(mid):
        raise Refused("That message is not in this channel.")
    return mid


async def _act(adapter: PlaygroundAdapter, engine: Engine, client: Client, data: dict[str, Any]) -> None:
    kind = data.get("type")
    ref = data.get("ref") if isinstance(data.get("ref"), str) else ""
    if kind == "hello":
        await _hello(adapter, client, data)
        return
    if not client.user:
        raise Refused("Type your name first.")
    make = _EVENTS.get(kind) if isinstance(kind, str) else None
    if make is None:
        raise Refused("The playground did not understand that message.")
    event, thread = await make(adapter, client, data)
    if event is None:
        return
    try:
        reply = await engine.handle(event)
    except Exception:
        logger.exception("engine failed on a playground %s", kind)
        raise Refused("Something went wrong on our side; please try again.") from None
    if reply is None:
        return
    if reply.ephemeral:
        await client.send({"type": "ephemeral", "text": reply.text, "thread": thread, "ref": ref})
    else:
        m = adapter.channels.add(DEFAULT_CHANNEL, thread, BOT, BOT, reply.text)
        await adapter.publish(m)


async def _hello(adapter: PlaygroundAdapter, client: Client, data: dict[str, Any]) -> None:
    name = data.get("user")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_NAME:
        raise Refused(f"Pick a name of 1 to {MAX_NAME} characters, e.g. Alice.")
    name = neutralize(name.strip())
    if name.casefold() == BOT:
        raise Refused("That name belongs to the bot; pick another, e.g. Alice.")
    client.user, client.user_name = f"pg:{name.casefold()}", name
    await client.send(
        {
            "type": "welcome",
            "user": client.user,
            "user_name": name,
            "channel": DEFAULT_CHANNEL,
            "reactions": REACTIONS,
            "max_text": MAX_TEXT,
            "messages": [m.public() for m in adapter.channels.visible(client.user)],
        }
    )


# Each browser action becomes an engine event (None: nothing for the engine) and the thread it is in.
_Made = tuple[Event | None, str | None]


def _where(adapter: PlaygroundAdapter, thread: str | None = None) -> Where:
    return Where(adapter.platform, WORKSPACE, DEFAULT_CHANNEL, thread)


async def _command(adapter: PlaygroundAdapter, client: Client, data: dict[str, Any]) -> _Made:
    text = _text(data, "command")
    if not text.startswith("/campaign"):
        raise Refused("Commands start with /campaign, e.g. /campaign smart watch for runners.")
    body = text[len("/campaign") :].strip()
    return CommandEvent(
        _where(adapter), client.user, body, event_id=uuid.uuid4().hex, user_name=client.user_name
    ), None


async def _reply(adapter: PlaygroundAdapter, client: Client, data: dict[str, Any]) -> _Made:
    thread = data.get("thread")
    root = adapter.channels.get(thread) if isinstance(thread, str) and _ID.fullmatch(thread) else None
    if root is None or root.thread is not None or root.only is not None:
        raise Refused("That thread is not in this channel.")
    text = _text(data, "reply")
    m = adapter.channels.add(DEFAULT_CHANNEL, root.id, client.user, client.user_name, neutralize(text))
    await adapter.publish(m)
    event = ReplyEvent(
        _where(adapter, root.id), client.user, text, message_id=m.id, event_id=uuid.uuid4().hex
    )
    return event, root.id


async def _react(adapter: PlaygroundAdapter, client: Client, data: dict[str, Any]) -> _Made:
    mid, emoji = _message_id(data), data.get("emoji")
    target = adapter.channels.get(mid)
    if target is None or target.only is not None:
        raise Refused("That message is not in this channel.")
    if not isinstance(emoji, str) or emoji not in REACTIONS:
        raise Refused("The playground offers these reactions: " + " ".join(REACTIONS))
    on = data.get("on", True) is not False
    changed = adapter.channels.react(mid, emoji, client.user, on)
    if changed is not None:
        await adapter.publish(changed)
    if changed is None:
        return None, target.thread  # adding it twice (or taking back one never added) means nothing
    # taking a reaction back withdraws the choice it made, if that is still waiting out its debounce
    event = ReactionEvent(
        _where(adapter, target.thread), client.user, mid, emoji, uuid.uuid4().hex, removed=not on
    )
    return event, target.thread


async def _button(adapter: PlaygroundAdapter, client: Client, data: dict[str, Any]) -> _Made:
    mid, action, value = _message_id(data), data.get("action"), data.get("value")
    target = adapter.channels.get(mid)
    if target is None or not any(b["action"] == action and b["value"] == value for b in target.buttons):
        raise Refused("That button is not on that message.")
    assert isinstance(action, str) and isinstance(value, str)
    event = ButtonEvent(
        _where(adapter, target.thread), client.user, action, value, message_id=mid, event_id=uuid.uuid4().hex
    )
    return event, target.thread


_EVENTS: dict[str, Callable[[PlaygroundAdapter, Client, dict[str, Any]], Awaitable[_Made]]] = {
    "command": _command,
    "reply": _reply,
    "react": _react,
    "button": _button,
}
