"""The Slack adapter against a wire-level fake Slack: the real slack-bolt AsyncApp in Socket Mode and in
HTTP mode, the real engine, and (in the end-to-end scenario) the real worker with tiny real models."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest
from PIL import Image
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.app import open_engine
from bot.runner import serve
from bot.slack_adapter import SlackAdapter, SlackSettings
from bot.slack_blocks import emoji_name, escape, message_blocks, split_text
from bot.supervisor import WorkerSupervisor
from engine.adapter import Button, OutMessage
from engine.engine import Engine
from engine.settings import Settings
from engine.store import JobRow, Round
from tests.fakes.slack import FakeSlack, Message

ALICE, BOB = "U0ALICE", "U0BOB"
FAST = {
    "SLACK_EDIT_INTERVAL": "0.3",
    "SLACK_PING_INTERVAL": "0.5",
    "SLACK_HOST": "127.0.0.1",
    "SLACK_PORT": "0",
}


async def until(pred: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or pred}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    f = await FakeSlack().start()
    yield f
    await f.close()
    assert f.problems == [], f.problems


@dataclass
class Stack:
    fake: FakeSlack
    adapter: SlackAdapter
    engine: Engine
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def jobs(self) -> dict[str, JobRow]:
        async with self.engine.repo.sessions() as s:
            return {j.id: j for j in (await s.execute(select(JobRow))).scalars().all()}

    def root(self) -> Message:
        roots = self.fake.roots()
        assert len(roots) == 1, roots
        return roots[0]


def _data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAMPAIGNBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAMPAIGNBOT_STATUS_EDIT_INTERVAL", "0")


async def _start(fake: FakeSlack, mode: str) -> Stack:
    adapter = SlackAdapter.from_env(fake.env(mode, **FAST))
    assert adapter is not None
    engine = await open_engine(Settings(), [adapter])
    stop = asyncio.Event()
    st = Stack(fake, adapter, engine, stop)
    st.tasks = [
        asyncio.create_task(engine.run(stop, interval=0.1)),
        asyncio.create_task(adapter.run(engine, stop)),
    ]
    await asyncio.wait_for(adapter.ready.wait(), 20)
    if mode == "http":
        fake.app_url = f"http://127.0.0.1:{adapter.http_port}/slack/events"
    else:
        await fake.wait_connected()
    return st


async def _stop(st: Stack) -> None:
    st.stop.set()
    await asyncio.gather(*st.tasks)
    await st.engine.close()


@pytest.fixture
async def socket_stack(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    _data_env(monkeypatch, tmp_path)
    st = await _start(fake, "socket")
    yield st
    await _stop(st)


def _png(path: Path) -> Path:
    Image.new("RGB", (8, 8), (200, 30, 30)).save(path)
    return path


# -- rendering and settings (no network) ---------------------------------------------------------------------
def test_blocks_escape_split_and_emoji_names() -> None:
    msg = OutMessage(
        text="<!channel> 50% off & more",
        fields=[("Headline", "<@U123> wins"), ("Body", "x" * 7000)],
        buttons=[Button("Refine 2", "refine", "C1-R1-V2"), Button("Export", "export", "C1-R1-V2")],
    )
    blocks = message_blocks(msg)
    dump = json.dumps(blocks)
    assert "<!channel>" not in dump and "<@U123>" not in dump
    assert blocks[0]["text"]["text"] == "&lt;!channel&gt; 50% off &amp; more"
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert sum(b["text"]["text"].count("x") for b in blocks if b["type"] == "section") == 7000
    actions = blocks[-1]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("refine", "C1-R1-V2"),
        ("export", "C1-R1-V2"),
    ]
    # a split never cuts an entity in half
    pieces = split_text(escape("<" * 2000), 3000)
    assert all(p.count("&") == p.count(";") for p in pieces) and "".join(pieces) == "&lt;" * 2000
    assert [emoji_name(e) for e in ["1️⃣", "2\u20e3", "❌", "⭐", "two"]] == ["one", "two", "x", "star", "two"]


def test_settings_pick_the_mode_and_hide_secrets(caplog: pytest.LogCaptureFixture) -> None:
    assert SlackSettings.from_mapping({}) is None
    s = SlackSettings.from_mapping({"SLACK_BOT_TOKEN": "xoxb-secret-1", "SLACK_APP_TOKEN": "xapp-secret-2"})
    assert s is not None and s.mode == "socket" and s.api_url == "https://slack.com/api/"
    h = SlackSettings.from_mapping(
        {"SLACK_BOT_TOKEN": "xoxb-secret-1", "SLACK_SIGNING_SECRET": "sig-secret-3", "SLACK_PORT": "3100"}
    )
    assert h is not None and h.mode == "http" and h.port == 3100
    for shown in (repr(s), str(s.model_dump()), s.describe(), h.describe(), repr(h)):
        assert "secret-" not in shown
    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET"):
        SlackSettings.from_mapping({"SLACK_BOT_TOKEN": "x", "SLACK_MODE": "http"})
    with pytest.raises(ValueError, match="SLACK_APP_TOKEN"):
        SlackSettings.from_mapping({"SLACK_BOT_TOKEN": "x", "SLACK_MODE": "socket"})


def test_manifest_asks_for_exactly_what_the_adapter_uses() -> None:
    import yaml

    m = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy/slack/manifest.yml").read_text())
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/campaign"]
    assert set(m["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "files:write", "reactions:read", "reactions:write",
        "channels:history", "groups:history",
    }  # fmt: skip
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) == {
        "reaction_added", "reaction_removed", "message.channels", "message.groups",
    }  # fmt: skip
    assert m["settings"]["socket_mode_enabled"] is True and m["settings"]["interactivity"]["is_enabled"]


# -- Socket Mode --------------------------------------------------------------------------------------------
async def test_run_with_slack_settings_connects_and_acks_commands(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What ``campaignbot run`` does with Slack settings: serve() with the adapter, Socket Mode."""
    _data_env(monkeypatch, tmp_path)
    caplog.set_level(logging.INFO)
    adapter = SlackAdapter.from_env(fake.env("socket", **FAST))
    assert adapter is not None
    seen: dict[str, object] = {}

    async def scenario(engine: Engine, stop: asyncio.Event) -> None:
        try:
            await fake.wait_connected()
            ok = await fake.slash(ALICE, "<!channel> smart watch for runners --variants 1 --tone playful")
            seen["ok"] = ok
            await until(lambda: len(fake.roots()) == 1, what="root message")
            root = fake.roots()[0]
            await until(lambda: any("queued" in m.text for m in fake.thread(root)), what="status line")
            bad = await fake.slash(ALICE, "watch --tone sassy")
            seen["bad"] = bad
            async with engine.repo.sessions() as s:
                seen["jobs"] = len((await s.execute(select(JobRow))).scalars().all())
            # a reply before the first round exists gets a polite note, not a job
            await fake.reply(ALICE, root, "shorter please")
            await until(lambda: any("still being made" in e.text for e in fake.notes_for(ALICE)), what="note")
            await until(lambda: not fake._echoes, what="echo events acked")
        finally:
            stop.set()

    assert await serve(Settings(), [adapter], front=scenario, start_worker=False) == 0
    ok, bad = seen["ok"], seen["bad"]
    assert ok.ack == {"response_type": "ephemeral", "text": ok.ack["text"]}  # type: ignore[attr-defined]
    assert ok.ack["text"].startswith("Working on it") and ok.latency < 3.0  # type: ignore[attr-defined]
    assert "tone" in bad.ack["text"].lower() and bad.latency < 3.0  # type: ignore[attr-defined]
    assert seen["jobs"] == 1  # the bad command queued nothing
    root = fake.roots()[0]
    assert "smart watch for runners" in root.text and "alice" in root.text.lower()
    status = [m for m in fake.thread(root) if "queued" in m.text][0]
    assert status.thread_ts == root.ts and status.bot
    # nothing the bot showed can ping the channel; the bot never answered its own echoes
    for text in [m.all_text() for m in fake.bot_posts()] + [e.text for e in fake.ephemerals]:
        assert "<!" not in text and "<@" not in text, text
    assert not fake.notes_for(fake.BOT_USER)
    assert (
        "Socket Mode" in caplog.text
        and fake.BOT_TOKEN not in caplog.text
        and fake.APP_TOKEN not in caplog.text
    )


async def test_socket_drop_and_refresh_lose_no_event_and_retries_are_deduped(socket_stack: Stack) -> None:
    st, fake = socket_stack, socket_stack.fake
    await fake.slash(ALICE, "yoga studio membership --variants 1")
    await until(lambda: len(fake.roots()) == 1, what="root")
    root = st.root()
    await until(
        lambda: any(m.text.startswith("⏳") for m in fake.thread(root)), what="status"
    )  # thread known
    await fake.drop_socket()
    # sent while the socket is down: Slack holds it and delivers on the new connection
    eid, d = await fake.reply(ALICE, root, "bolder")
    assert d.ack is None and fake.connections == 2
    notes = lambda u: [e for e in fake.notes_for(u) if e.via == "api"]  # noqa: E731
    await until(lambda: len(notes(ALICE)) == 1, what="note after reconnect")
    await fake.send_disconnect("refresh_requested")
    await fake.wait_connected(connections=3)
    # Slack retries an event it thinks was not acked: same event_id, handled once
    await fake.redeliver(eid)
    await fake.reply(BOB, root, "more playful")
    await until(lambda: len(notes(BOB)) == 1, what="bob's note after refresh")
    await asyncio.sleep(0.5)
    assert len(notes(ALICE)) == 1
    assert "C1-R1" in await st.jobs() and len(await st.jobs()) == 1
    # a message outside any thread, and a reaction on a message the engine does not know: nothing
    await fake.send_event(
        {"type": "message", "channel": "C0GENERAL", "user": ALICE, "text": "hi", "ts": "1.1"}
    )
    await fake.react(BOB, root, "tada")
    await asyncio.sleep(0.3)
    assert len(fake.ephemerals) == 3 and len(await st.jobs()) == 1


async def test_adapter_posts_uploads_edits_and_survives_429s(fake: FakeSlack) -> None:
    adapter = SlackAdapter.from_env(fake.env("socket", **FAST))
    assert adapter is not None
    root_id, thread = await adapter.open_thread("C0GENERAL", OutMessage(text="📣 Campaign C1 by <!here>"))
    assert root_id == thread
    # 429 on the upload URL and on posting the card: each is retried after Retry-After, posted once
    fake.fail_next("upload", retry_after=1)
    fake.fail_next("chat.postMessage", retry_after=1)
    png = _png(Path(fake.__class__.__module__.replace(".", "_") + ".png").absolute())
    try:
        t0 = time.monotonic()
        mid = await adapter.post(
            "C0GENERAL",
            thread,
            OutMessage(
                text="1. <!channel> Run & win",
                file=png,
                title="C1-R1-V1",
                fields=[("Headline", "Run & win"), ("Body", "<@U0BOB> go"), ("Call to action", "Buy")],
                buttons=[Button("Refine 1", "refine", "C1-R1-V1"), Button("Export", "export", "C1-R1-V1")],
            ),
        )
        elapsed = time.monotonic() - t0
    finally:
        png.unlink()
    assert elapsed >= 2.0 and [m for _, m in fake.rate_limited] == ["upload", "chat.postMessage"]
    root = fake.roots()[0]
    posts = fake.thread(root)
    assert len(posts) == 2 and posts[1].ts == mid  # the image, then its card: once each
    (f,) = fake.files.values()
    assert posts[0].files == [f.id] and f.thread_ts == thread and f.data and f.data.startswith(b"\x89PNG")
    assert fake.cards(root) == [posts[1]]
    # a non-429 failure of the card after its image went up: the engine retries the post; the image is
    # not uploaded twice
    fake.fail_next("chat.postMessage", status=500)
    png2 = _png(Path("second_card.png").absolute())
    card = OutMessage(text="2. Second", file=png2, title="C1-R1-V2")
    try:
        with pytest.raises(SlackApiError):
            await adapter.post("C0GENERAL", thread, card)
        mid2 = await adapter.post("C0GENERAL", thread, card)
    finally:
        png2.unlink()
    assert len(fake.files) == 2 and len(fake.thread(root)) == 4 and fake.thread(root)[3].ts == mid2
    await adapter.add_reactions("C0GENERAL", thread, mid, ["1️⃣", "2️⃣"])
    await adapter.add_reactions("C0GENERAL", thread, mid, ["1️⃣"])  # a retry after partial success
    assert posts[1].reactions == {"one": [fake.BOT_USER], "two": [fake.BOT_USER]}
    # status edits: one chat.update each; the engine spaces them by the adapter's min_edit_interval
    # (tests/engine/test_delivery.py shows the pacing)
    assert adapter.min_edit_interval == adapter.settings.edit_interval > 0
    for pct in (50, 100):
        await adapter.edit("C0GENERAL", thread, mid, f"⚙️ Round 1: copy ({pct}%)")
    assert posts[1].current.endswith("(100%)") and fake.count("chat.update") == 2
    await adapter.tell("C0GENERAL", thread, BOB, "Only <!channel> can choose")
    assert fake.ephemerals[-1].thread_ts == thread and fake.ephemerals[-1].user == BOB
    for text in [m.all_text() for m in fake.bot_posts()] + [e.text for e in fake.ephemerals]:
        assert "<!" not in text and "<@" not in text, text
    await adapter.aclose()


# -- HTTP mode ------------------------------------------------------------------------------------------------
async def test_http_mode_verifies_signatures(
    fake: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _data_env(monkeypatch, tmp_path)
    fake.mode = "http"
    st = await _start(fake, "http")
    try:
        form = {
            "team_id": fake.TEAM, "channel_id": "C0GENERAL", "user_id": ALICE, "user_name": "alice",
            "command": "/campaign", "text": "vegan bakery --variants 1", "trigger_id": "1.bad",
        }  # fmt: skip
        body = urlencode(form).encode()
        ctype = "application/x-www-form-urlencoded"
        assert fake.http is not None
        async with fake.http.get(f"http://127.0.0.1:{st.adapter.http_port}/healthz") as resp:
            assert resp.status == 200
        status, _, _ = await fake.post_to_app(body, ctype, secret="not-the-secret")
        assert status == 401
        status, _, _ = await fake.post_to_app(body, ctype, timestamp=int(time.time()) - 600)
        assert status == 401
        assert await st.jobs() == {}
        ok = await fake.slash(ALICE, "vegan bakery --variants 1")
        assert ok.status == 200 and ok.ack and ok.ack["text"].startswith("Working on it") and ok.latency < 3
        await until(lambda: len(fake.roots()) == 1, what="root")
        # the status line is posted into the thread once the engine has recorded the thread: a reply
        # before that would be in a thread the engine does not know yet
        await until(lambda: any(m.text.startswith("⏳") for m in fake.thread(st.root())), what="status")
        eid, d = await fake.reply(ALICE, st.root(), "shorter")
        assert d.status == 200
        await fake.redeliver(eid)  # X-Slack-Retry-Num: 1
        await until(lambda: len(fake.notes_for(ALICE)) == 2, what="note")  # the ack + one note
        await asyncio.sleep(0.3)
        assert len(fake.notes_for(ALICE)) == 2 and list(await st.jobs()) == ["C1-R1"]
        await until(lambda: not fake._echoes, what="echo events acked")
    finally:
        await _stop(st)


# -- end to end with the real worker ------------------------------------------------------------------------
@pytest.mark.slow
async def test_campaign_round_trip_in_a_slack_thread(
    fake: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_copy_model_dir: Path,
    tiny_visual_checkpoint: Path,
) -> None:
    env = {
        "CAMPAIGNBOT_COPY_MODEL": str(tiny_copy_model_dir),
        "CAMPAIGNBOT_VISUAL_MODEL": str(tiny_visual_checkpoint),
        "CAMPAIGNBOT_DATA_DIR": str(tmp_path),
        "CAMPAIGNBOT_JOB_LEASE_SECONDS": "5",
        "CAMPAIGNBOT_STATUS_EDIT_INTERVAL": "0",
        "OMP_NUM_THREADS": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    st = await _start(fake, "socket")
    worker = WorkerSupervisor(tmp_path, env=env, stop_timeout=10)
    await worker.start()
    try:
        ok = await fake.slash(
            ALICE, "<!channel> smart watch for runners --variants 1 --seed 5 --tone playful"
        )
        assert ok.latency < 3 and ok.ack and "Working on it" in ok.ack["text"]
        await until(lambda: len(fake.roots()) == 1, what="root")
        root = st.root()
        await until(lambda: len(fake.grids(root)) == 1, timeout=120, what="round 1: its card, then its sheet")
        (grid,) = fake.grids(root)
        (card,) = fake.cards(root)
        # the sheet's number reactions are added by a call of their own, right after the sheet is posted
        await until(lambda: bool(grid.reactions), what="the sheet's reactions")
        assert grid.reactions == {"one": [fake.BOT_USER]}
        files = [m for m in fake.thread(root) if m.files]
        assert len(files) == 2 and all(fake.files[m.files[0]].data for m in files)  # sheet + creative
        sections = [b["text"]["text"] for b in card.blocks if b["type"] == "section"]
        assert [s.split("\n")[0] for s in sections[1:]] == ["*Headline*", "*Body*", "*Call to action*"]
        status = [m for m in fake.thread(root) if m.text.startswith("⏳")][0]
        await until(lambda: status.current.startswith("✅"), what="final status")
        assert any("%" in e for e in status.edits), status.edits
        # bob may not choose: a polite note, no job
        await fake.react(BOB, grid, "one")
        await until(lambda: any("Only" in e.text for e in fake.notes_for(BOB)), what="note to bob")
        # alice chooses; Slack retries the event: one refine round
        eid, _ = await fake.react(ALICE, grid, "one")
        await fake.redeliver(eid)
        await until(lambda: len(fake.cards(root)) == 2, timeout=120, what="round 2 card")
        assert sorted(await st.jobs()) == ["C1-R1", "C1-R2"]
        # a thread reply steers the next round (echoed, queued with the edit)
        await fake.reply(ALICE, root, "shorter")
        await until(lambda: any(m.text.startswith("Got it") for m in fake.thread(root)), what="echo")
        async with st.engine.repo.sessions() as s:
            r3 = (await s.execute(select(Round).where(Round.number == 3))).scalar_one()
        assert r3.spec["job"]["brief"]["length"] == "short"
        # the Export button posts the zip into the thread
        await fake.click(ALICE, fake.cards(root)[0], "export")
        await until(lambda: any(fake.files[f].filename.endswith(".zip") for m in fake.thread(root) for f in m.files),
                    timeout=30, what="export zip")  # fmt: skip
        for text in [m.all_text() for m in fake.bot_posts()] + [e.text for e in fake.ephemerals]:
            assert "<!" not in text and "<@" not in text, text
        await until(lambda: not fake._echoes, what="echo events acked")
    finally:
        await worker.stop()
        await _stop(st)


async def test_slow_engine_still_acks_in_time_and_answers_later(socket_stack: Stack) -> None:
    st, fake = socket_stack, socket_stack.fake
    st.adapter.settings.ack_timeout = 0.0  # as if the database were slow: ack first, answer after
    d = await fake.slash(ALICE, "running shoes --variants 1")
    assert d.ack and d.ack["text"] == "Working on it…" and d.latency < 3
    await until(
        lambda: any(e.via == "api" and "C1" in e.text for e in fake.notes_for(ALICE)), what="late answer"
    )
    await until(lambda: len(fake.roots()) == 1, what="root")
    await until(lambda: not fake._echoes, what="echo events acked")
