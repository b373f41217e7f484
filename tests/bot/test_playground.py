"""The playground's web server with aiohttp's test client: the page, the WebSocket protocol, attachments
by message id only, and input it refuses. The engine is real (SQLite in a temp dir); no worker runs, so
rounds stay queued and these tests take seconds."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_engine
from bot.playground import PlaygroundAdapter, from_settings
from bot.playground.server import MAX_TEXT, make_app
from engine.adapter import OutMessage
from engine.engine import Engine
from engine.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Site:
    client: TestClient
    adapter: PlaygroundAdapter
    engine: Engine
    data: Path

    async def socket(self) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket as the page opens it: the browser sends the page's own Origin."""
        return await self.client.ws_connect(
            "/ws", headers={"Origin": f"http://{self.client.host}:{self.client.port}"}
        )

    async def page(self, name: str) -> Tab:
        ws = await self.socket()
        tab = Tab(ws, self)
        await tab.send(type="hello", user=name)
        welcome = await tab.expect("welcome")
        tab.user = welcome["user"]
        tab.welcome = welcome
        return tab


@dataclass
class Tab:
    ws: aiohttp.ClientWebSocketResponse
    site: Site
    user: str = ""
    welcome: dict[str, Any] | None = None

    async def send(self, **data: Any) -> None:
        await self.ws.send_json(data)

    async def expect(self, kind: str, pred: Any = None, timeout: float = 10.0) -> dict[str, Any]:
        """The next event of ``kind`` (matching ``pred``), pumping the engine's delivery meanwhile."""
        end = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < end:
            try:
                msg = await self.ws.receive_json(timeout=0.2)
            except TimeoutError:
                await self.site.engine.pump()
                continue
            if msg["type"] == kind and (pred is None or pred(msg)):
                return dict(msg)
        raise AssertionError(f"no {kind} event for {self.user}")

    async def quiet(self, seconds: float = 0.6) -> list[dict[str, Any]]:
        """Everything that arrives within ``seconds`` (pumping meanwhile)."""
        got: list[dict[str, Any]] = []
        end = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < end:
            try:
                got.append(await self.ws.receive_json(timeout=0.1))
            except TimeoutError:
                await self.site.engine.pump()
        return got


@pytest.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    monkeypatch.setenv("CAMPAIGNBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAMPAIGNBOT_STATUS_EDIT_INTERVAL", "0")
    settings = Settings()
    adapter = PlaygroundAdapter(tmp_path)
    engine = await open_engine(settings, [adapter])
    client = TestClient(TestServer(make_app(adapter, engine)))
    await client.start_server()
    yield Site(client, adapter, engine, tmp_path)
    await client.close()
    await engine.close()


def _msg(ev: dict[str, Any]) -> dict[str, Any]:
    return dict(ev["message"])


async def test_page_script_and_style_are_served_with_a_strict_policy(site: Site) -> None:
    r = await site.client.get("/")
    assert r.status == 200 and "text/html" in r.headers["Content-Type"]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in r.headers["Content-Security-Policy"]
    assert "<script" in await r.text()
    js = await site.client.get("/static/app.js")
    assert js.status == 200 and "javascript" in js.headers["Content-Type"]
    source = await js.text()
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source and "eval(" not in source
    assert (await site.client.get("/static/app.css")).status == 200
    assert (await site.client.get("/favicon.ico")).headers["Content-Type"] == "image/svg+xml"
    for path in ["/static/index.html", "/static/../channel.py", "/static/%2e%2e%2fchannel.py", "/nope"]:
        assert (await site.client.get(path)).status == 404, path


async def test_command_opens_a_thread_that_every_tab_sees_live(site: Site) -> None:
    alice = await site.page("Alice")
    bob = await site.page("Bob")
    assert alice.user == "pg:alice" and alice.welcome and alice.welcome["messages"] == []
    await alice.send(type="command", text="/campaign smart watch for runners --variants 2 --tone playful")
    ack = await alice.expect("ephemeral")
    assert ack["text"].startswith("Working on it: campaign C1") and ack["thread"] is None
    root = _msg(await bob.expect("message", lambda e: e["message"]["thread"] is None))
    assert root["title"] == "Campaign C1" and "smart watch for runners" in root["text"]
    assert "Alice" in root["text"] and root["user"] == "campaignbot"
    status = _msg(await bob.expect("message", lambda e: e["message"]["thread"] == root["id"]))
    assert status["text"].startswith("⏳ Round 1 is queued")
    # the engine's status edits arrive as the same message, changed
    job = await site.engine.queue.get("C1-R1")
    assert job is not None
    await site.adapter.edit("general", root["id"], status["id"], "⚙️ Round 1: writing copy (40%)")
    edited = _msg(await alice.expect("message", lambda e: e["message"]["edited"]))
    assert edited["id"] == status["id"]
    assert edited["edited"] and edited["text"].startswith("⚙️")
    # a tab that connects later gets the whole channel
    carol = await site.page("Carol")
    assert carol.welcome and [m["id"] for m in carol.welcome["messages"]][:2] == [root["id"], status["id"]]
    # the engine's answers are only for the tab that asked
    await bob.send(type="command", text="/campaign history C1")
    hist = await bob.expect("ephemeral")
    assert "C1" in hist["text"] and "Round 1" in hist["text"]
    assert not [e for e in await alice.quiet(0.4) if e["type"] == "ephemeral"]


async def test_grammar_errors_come_back_as_the_same_friendly_text(site: Site) -> None:
    alice = await site.page("Alice")
    await alice.send(type="command", text="/campaign watch --tone sassy")
    err = await alice.expect("ephemeral")
    assert "tone" in err["text"].lower() and "Traceback" not in err["text"]
    await alice.send(type="command", text="/campaign help")
    assert "/campaign" in (await alice.expect("ephemeral"))["text"]
    await alice.send(type="command", text="hello there")
    assert "start with /campaign" in (await alice.expect("error"))["text"]
    assert await site.engine.queue.depth() == 0


async def test_replies_reactions_and_buttons_reach_the_engine_with_ownership(site: Site) -> None:
    alice = await site.page("Alice")
    bob = await site.page("Bob")
    await alice.send(type="command", text="/campaign organic coffee --variants 2")
    root = _msg(await alice.expect("message", lambda e: e["message"]["thread"] is None))
    status = _msg(await alice.expect("message", lambda e: e["message"]["thread"] == root["id"]))
    # a thread reply is shown to everyone as Bob's message, then the engine answers Bob alone
    await bob.send(type="reply", thread=root["id"], text="shorter <b>please</b>")
    mine = _msg(await alice.expect("message", lambda e: e["message"]["user"] == "pg:bob"))
    assert mine["thread"] == root["id"] and mine["user_name"] == "Bob" and "<" not in mine["text"]
    note = _msg(await bob.expect("message", lambda e: e["message"]["only"] == "pg:bob"))
    assert note["thread"] == root["id"] and "Only Alice" in note["text"]
    assert not [e for e in await alice.quiet(0.4) if e["type"] == "message" and e["message"]["only"]]
    # Bob's ❌ on the status line cannot cancel Alice's round; Alice's can
    await bob.send(type="react", message=status["id"], emoji="❌")
    await bob.expect("message", lambda e: "Only Alice can cancel" in e["message"]["text"])
    assert (await site.engine.queue.get("C1-R1")).state == "queued"  # type: ignore[union-attr]
    await alice.send(type="react", message=status["id"], emoji="❌")
    chip = _msg(
        await bob.expect("message", lambda e: e["message"]["reactions"].get("❌") == ["pg:bob", "pg:alice"])
    )
    assert chip["id"] == status["id"]
    await alice.expect("message", lambda e: e["message"]["text"].startswith("❌ Round 1 cancelled"))
    assert (await site.engine.queue.get("C1-R1")).state == "cancelled"  # type: ignore[union-attr]
    # taking a reaction back is shown, and means nothing to the engine
    await alice.send(type="react", message=status["id"], emoji="❌", on=False)
    await bob.expect("message", lambda e: e["message"]["reactions"].get("❌") == ["pg:bob"])
    assert await site.engine.queue.get("C1-R2") is None
    # buttons must be ones the message carries
    await alice.send(type="button", message=status["id"], action="refine", value="C1-R1-V1")
    assert "not on that message" in (await alice.expect("error"))["text"]


async def test_oversize_and_malformed_input_is_refused_clearly(site: Site) -> None:
    alice = await site.page("Alice")
    await alice.send(type="command", text="/campaign " + "very long brief " * 300)
    err = await alice.expect("error")
    assert f"the limit is {MAX_TEXT:,}" in err["text"] and "/campaign" in err["text"]
    await alice.send(type="reply", thread="0" * 12, text="shorter")
    assert "thread" in (await alice.expect("error"))["text"]
    await alice.send(type="react", message="../../etc", emoji="1️⃣")
    assert "not in this channel" in (await alice.expect("error"))["text"]
    await alice.ws.send_str("not json")
    assert "did not understand" in (await alice.expect("error"))["text"]
    await alice.send(type="hello", user="x" * 41)
    assert "1 to 40" in (await alice.expect("error"))["text"]
    assert await site.engine.queue.depth() == 0
    # a socket that has not said who it is may not act
    anon = await site.socket()
    await anon.send_json({"type": "command", "text": "/campaign watch"})
    assert "name" in (await anon.receive_json(timeout=5))["text"]
    # a frame over the size limit closes the socket with "message too big"
    await alice.ws.send_str(json.dumps({"type": "command", "text": "x" * 40_000}))
    closed = await alice.ws.receive(timeout=5)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert alice.ws.close_code == 1009


async def test_attachments_only_by_message_id_and_only_from_the_data_dir(
    site: Site, tmp_path_factory: pytest.TempPathFactory
) -> None:
    img = site.data / "campaigns" / "c1" / "sheet.png"
    img.parent.mkdir(parents=True)
    img.write_bytes(PNG)
    mid = await site.adapter.post("general", None, OutMessage(text="sheet", file=img))
    r = await site.client.get(f"/files/{mid}")
    assert r.status == 200 and r.headers["Content-Type"] == "image/png" and await r.read() == PNG
    tab = await site.page("Alice")
    shown = [m for m in tab.welcome["messages"] if m["id"] == mid][0]  # type: ignore[index]
    assert shown["attachment"] == {"kind": "image", "name": "sheet.png", "url": f"files/{mid}"}
    assert str(site.data) not in json.dumps(tab.welcome)  # no server paths reach the page
    # a zip is a download, never rendered inline
    z = site.data / "exports" / "C1-1rounds.zip"
    z.parent.mkdir()
    z.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    zid = await site.adapter.post("general", None, OutMessage(text="export", file=z))
    r = await site.client.get(f"/files/{zid}")
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    assert r.headers["Content-Type"] == "application/octet-stream"
    # files outside the data dir are never served, even if a message names one
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.png"
    outside.write_bytes(PNG)
    oid = await site.adapter.post("general", None, OutMessage(text="x", file=outside))
    assert (await site.client.get(f"/files/{oid}")).status == 404
    link = site.data / "campaigns" / "link.png"
    link.symlink_to(outside)
    lid = await site.adapter.post("general", None, OutMessage(text="x", file=link))
    assert (await site.client.get(f"/files/{lid}")).status == 404
    for path in [
        "/files/../../etc/passwd",
        "/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/files/..%2Fplayground%2Fjournal.jsonl",
        f"/files/{mid}/../../journal.jsonl",
        "/files/" + "a" * 12,
        "/files/sheet.png",
    ]:
        r = await site.client.get(path)
        assert r.status == 404, path
        assert b"PNG" not in await r.read()


async def test_other_sites_and_host_names_are_refused(site: Site) -> None:
    r = await site.client.get("/", headers={"Host": "evil.example:8321"})
    assert r.status == 421
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await site.client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
    assert exc.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await site.client.ws_connect("/ws")  # no Origin at all: not a page of this playground
    assert exc.value.status == 403
    ok = await site.socket()
    await ok.close()


async def test_conversation_survives_a_restart(site: Site) -> None:
    alice = await site.page("Alice")
    await alice.send(type="command", text="/campaign spring festival --variants 1")
    root = _msg(await alice.expect("message", lambda e: e["message"]["thread"] is None))
    await alice.send(type="reply", thread=root["id"], text="bolder")
    await alice.expect("message", lambda e: e["message"]["user"] == "pg:alice")
    again = PlaygroundAdapter(site.data)
    texts = [m.text for m in again.channels.visible("pg:alice")]
    assert texts[0] == root["text"] and "bolder" in texts


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    a = from_settings(s, {})
    assert (a.host, a.port, a.platform) == ("127.0.0.1", 8321, "playground")
    b = from_settings(s, {"CAMPAIGNBOT_PLAYGROUND_PORT": "9000", "CAMPAIGNBOT_PLAYGROUND_HOST": "0.0.0.0"})
    assert (b.host, b.port) == ("0.0.0.0", 9000)


async def test_run_listens_and_announces_its_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    urls: list[str] = []
    adapter = from_settings(settings, {"CAMPAIGNBOT_PLAYGROUND_PORT": "0"}, announce=urls.append)
    engine = await open_engine(settings, [adapter])
    stop = asyncio.Event()
    task = asyncio.create_task(adapter.run(engine, stop))
    await asyncio.wait_for(adapter.ready.wait(), 10)
    assert urls == [adapter.url] and adapter.url and adapter.url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession() as http, http.get(adapter.url) as r:
        assert r.status == 200
    stop.set()
    await asyncio.wait_for(task, 10)
    await engine.close()
