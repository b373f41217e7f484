"""The Discord adapter end to end: the real discord.py client against a fake Discord at the wire."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import open_engine
from bot.discord_adapter import DiscordAdapter, DiscordSettings, configured
from bot.discord_commands import command_text
from bot.runner import serve
from bot.supervisor import WorkerSupervisor
from engine.commands import parse_command
from engine.emoji import NUMBER_EMOJI
from engine.engine import Engine
from engine.events import CommandEvent, Where
from engine.settings import Settings
from engine.store import JobRow
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.server import shard_of

PNG = b"\x89PNG\r\n\x1a\n"


async def until(pred: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or pred}")


class Bot:
    """The engine's delivery loop + the Discord adapter's gateway connection, started and stopped by tests."""

    def __init__(
        self, fake: FakeDiscord, engine: Engine, *, message_content: bool = True, **options: Any
    ) -> None:
        self.fake = fake
        self.engine = engine
        self.message_content = message_content
        self.options = options  # more DiscordSettings, e.g. shard_count
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.adapter: DiscordAdapter | None = None

    async def start(self) -> DiscordAdapter:
        adapter = self.launch()
        await asyncio.wait_for(adapter.ready.wait(), 20)
        return adapter

    def launch(self) -> DiscordAdapter:
        """Start the adapter and the delivery loop; do not wait for the gateway."""
        self.stop = asyncio.Event()
        settings = DiscordSettings(
            token=self.fake.token,  # type: ignore[arg-type]
            api_url=self.fake.api_url,
            gateway_url=self.fake.gateway_url,
            message_content=self.message_content,
            _env_file=None,  # type: ignore[call-arg]
            **self.options,
        )
        self.adapter = adapter = DiscordAdapter(settings)
        self.engine.add_adapter(adapter)
        self.tasks = [
            asyncio.create_task(adapter.run(self.engine, self.stop)),
            asyncio.create_task(self.engine.run(self.stop, interval=0.05)),
        ]
        return adapter

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 20)

    async def jobs(self) -> dict[str, str]:
        async with self.engine.repo.sessions() as s:
            return {j.id: j.state for j in (await s.execute(select(JobRow))).scalars().all()}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    f = await FakeDiscord().start()
    yield f
    await f.close()
    assert f.problems == [], f.problems  # strict: nothing unexpected reached the fake


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = await open_engine(Settings(data_dir=tmp_path, status_edit_interval=0, _env_file=None))  # type: ignore[call-arg]
    yield e
    await e.close()


def answered(it: dict[str, Any]) -> str:
    """What the user saw for an interaction in the end (the deferred reply edited in place)."""
    return str(it["original"]["content"]) if it.get("original") and it["seen"][-1:] != [""] else ""


def test_typed_options_become_the_same_grammar() -> None:
    text = command_text('"vegan" bakery', {"variants": 3, "avoid": 'cheap, "free"', "tone": None})
    cmd = parse_command(text)
    assert cmd.variants == 3 and cmd.brief.product == "vegan bakery"  # type: ignore[union-attr]
    assert cmd.brief.avoid[0] == "cheap"  # type: ignore[union-attr]
    assert cmd.brief.tone == "friendly"  # type: ignore[union-attr]
    # a brief that starts with a command word or looks like an option stays a brief
    cmd = parse_command(command_text("resume builder --tone bold", {}))
    assert cmd.brief.product.startswith("resume builder")  # type: ignore[union-attr]


async def test_command_thread_errors_mentions_and_restart(fake: FakeDiscord, engine: Engine) -> None:
    bot = Bot(fake, engine)
    await bot.start()
    assert fake.command_syncs == 1 and fake.identifies == 1
    names = {o["name"] for o in fake.commands[0]["options"]}
    assert names == {"new", "help", "status", "history", "export", "resume", "cancel"}

    # /campaign new: deferred (ephemeral, thinking) well within 3 s, then answered in place
    it = await fake.slash(
        "alice", "new", brief="@everyone smart watch for runners", variants=2, tone="playful", seed=5
    )
    await until(lambda: "Working on it" in answered(it), what="ack")
    assert it["callback"]["type"] == 5 and it["callback"]["data"]["flags"] & 64
    assert it["callback_after"] < 3.0
    # root message in the channel, a thread on it, the status line inside
    await until(
        lambda: bool(fake.threads()) and bool(fake.bot_messages(fake.threads()[0]["id"])), what="thread"
    )
    thread = fake.threads()[0]
    root = fake.messages[thread["id"]]
    assert root["channel_id"] == fake.channel_id and "smart watch for runners" in root["content"]
    status = fake.bot_messages(thread["id"])[0]
    assert status["content"].startswith("⏳ Round 1 is queued")

    # a bad option: an ephemeral error, nothing queued
    jobs = await bot.jobs()
    bad = await fake.slash("alice", "new", brief="smart lamp", vote="forever")
    await until(lambda: "--vote" in answered(bad), what="error")
    assert "30m" in answered(bad) and bad["callback"]["data"]["flags"] & 64
    assert await bot.jobs() == jobs == {"C1-R1": "queued"}
    helped = await fake.slash("bob", "help", topic="flags")
    await until(lambda: "--variants" in answered(helped), what="help")
    assert "**Options**" in answered(helped)

    # no send ever lets a mention through (the fake also checks every send as it arrives)
    assert fake.sent and all(s.payload["allowed_mentions"]["parse"] == [] for s in fake.sent)
    assert all(it2["callback"]["data"].get("allowed_mentions", {"parse": []})["parse"] == [] for it2 in
               fake.interactions.values())  # fmt: skip

    # restart the bot: no second command sync; a reaction on a message the new client never saw still counts
    await bot.halt()
    await bot.start()
    assert fake.identifies == 2 and fake.command_syncs == 1
    await fake.react("alice", status["id"], "❌")
    await until(lambda: fake.messages[status["id"]]["content"].startswith("❌"), what="cancelled status")
    assert (await bot.jobs())["C1-R1"] == "cancelled"
    await bot.halt()


async def test_rate_limit_reconnect_and_mention_fallback(fake: FakeDiscord, engine: Engine) -> None:
    bot = Bot(fake, engine, message_content=False)
    await bot.start()
    # 429 on the first post: discord.py waits retry_after, then posts exactly once
    fake.rate_limit_next("POST", r"/channels/\d+/messages", retry_after=0.6)
    it = await fake.slash("alice", "new", brief="organic coffee subscription", variants=1)
    await until(lambda: bool(fake.threads()), what="thread after 429")
    assert len(fake.rate_limited) == 1
    roots = fake.bot_messages(fake.channel_id)
    assert len(roots) == 1
    retried = [s for s in fake.sent if s.route == f"/channels/{fake.channel_id}/messages"]
    assert len(retried) == 1 and retried[0].at - fake.rate_limited[0][2] >= 0.55
    assert "Working on it" in answered(it)
    thread = fake.threads()[0]["id"]
    await until(lambda: len(fake.bot_messages(thread)) == 1, what="status line")

    # without MESSAGE_CONTENT a plain reply arrives blank and is ignored; one that mentions the bot works
    await fake.say("alice", thread, "help")
    await asyncio.sleep(0.5)
    assert len(fake.bot_messages(thread)) == 1

    # op 7 RECONNECT: an event sent while the socket is down is replayed on RESUME, not lost
    await fake.reconnect()
    await fake.say("alice", thread, "help", mention_bot=True)
    await until(lambda: fake.resumes == 1, what="RESUME")
    await until(
        lambda: any("Replies in the thread" in m["content"] for m in fake.bot_messages(thread)), what="help"
    )
    # a dropped socket: the client resumes again
    await fake.drop_socket()
    await fake.react("alice", fake.bot_messages(thread)[0]["id"], "❌")
    await until(lambda: fake.resumes == 2, timeout=30, what="second RESUME")
    await until(lambda: fake.bot_messages(thread)[0]["content"].startswith("❌"), what="cancel after drop")
    assert fake.identifies == 1
    await bot.halt()


async def test_bad_token_is_one_clear_line(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    fake = await FakeDiscord(token="the-real-token").start()
    try:
        settings = DiscordSettings(
            token="not-the-token",  # type: ignore[arg-type]
            api_url=fake.api_url,
            gateway_url=fake.gateway_url,
            _env_file=None,  # type: ignore[call-arg]
        )
        stop = asyncio.Event()
        with caplog.at_level(logging.INFO):
            await asyncio.wait_for(DiscordAdapter(settings).run(engine, stop), 20)
        assert stop.is_set()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "DISCORD_TOKEN" in errors[0].getMessage()
        assert errors[0].exc_info is None
        assert "not-the-token" not in caplog.text
        assert fake.identifies == 0
    finally:
        await fake.close()


async def test_serve_connects_with_discord_settings_from_env(
    fake: FakeDiscord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``campaignbot run`` does with Discord settings: serve() with the adapter from the environment."""
    monkeypatch.chdir(tmp_path)  # no .env from the repository
    monkeypatch.setenv("CAMPAIGNBOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert configured() is None
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    monkeypatch.setenv("DISCORD_API_URL", fake.api_url)
    monkeypatch.setenv("DISCORD_GATEWAY_URL", fake.gateway_url)
    adapter = configured()
    assert adapter is not None and fake.token not in repr(adapter.settings)

    async def front(engine: Engine, stop: asyncio.Event) -> None:
        await asyncio.wait_for(adapter.ready.wait(), 20)
        stop.set()

    assert await asyncio.wait_for(serve(Settings(), [adapter], front=front, start_worker=False), 30) == 0
    assert fake.identifies == 1 and fake.command_syncs == 1


async def test_a_token_reset_while_connected_is_one_clear_line(
    fake: FakeDiscord, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Resetting the token in the Developer Portal ends the gateway session: the RESUME is refused, the new
    IDENTIFY with the old token is closed with 4004. One line, and the service stops (to be restarted with
    the new token), no traceback, no reconnect loop."""
    bot = Bot(fake, engine)
    await bot.start()
    fake.token = "the-new-token"
    with caplog.at_level(logging.INFO):
        await fake.drop_socket()
        await asyncio.wait_for(asyncio.gather(*bot.tasks), 30)  # the adapter sets stop: both end
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "4004" in errors[0].getMessage() and "DISCORD_TOKEN" in errors[0].getMessage()
    assert errors[0].exc_info is None and bot.stop.is_set()


# -- sharding in one process (several processes: test_discord_shards.py) -------------------------------------


async def test_auto_sharding_holds_every_recommended_shard_and_posts_before_the_gateway_is_ready(
    fake: FakeDiscord, engine: Engine
) -> None:
    """DISCORD_SHARD_COUNT=auto: discord.py asks GET /gateway/bot for the count and this process holds
    shards 0..count-1 (one gateway connection each; shard 1 identifies 5 s after shard 0, Discord's pace).
    Posts go over REST: a campaign in a guild whose shard is not connected yet is posted all the same."""
    fake.recommended_shards = 2
    g0, c0 = fake.add_guild("Zero", shard=0, shard_count=2)
    g1, c1 = fake.add_guild("One", shard=1, shard_count=2)
    bot = Bot(fake, engine, shard_count="auto")
    adapter = bot.launch()
    await until(adapter.logged_in.is_set, what="login")
    reply = await engine.handle(
        CommandEvent(Where("discord", g1, c1), fake.users["alice"]["id"], "smart lamp", event_id="early")
    )
    assert reply is not None and "Working on it" in reply.text
    await until(
        lambda: bool(fake.threads(g1)) and bool(fake.bot_messages(fake.threads(g1)[0]["id"])), what="posts"
    )
    assert not fake.live_sessions((1, 2)) and not adapter.ready.is_set()  # guild One's shard is not connected

    await asyncio.wait_for(adapter.ready.wait(), 30)
    assert sorted(s.shard for s in fake.live_sessions()) == [(0, 2), (1, 2)]
    assert fake.command_syncs == 1 and ("GET", "/gateway/bot") in fake.requests
    readies = [ev["d"] for s in fake.live_sessions() for ev in s.events if ev["t"] == "READY"]
    for gid, cid in ((g0, c0), (g1, c1)):
        (ready,) = [r for r in readies if gid in {g["id"] for g in r["guilds"]}]
        assert ready["shard"] == [shard_of(gid, 2), 2]
        it = await fake.slash("bob", "help", channel_id=cid)
        await until(lambda it=it: bool(answered(it)), what=f"help in {gid}")
    await bot.halt()


async def test_a_bot_that_needs_sharding_says_so_in_one_line(
    fake: FakeDiscord, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord closes an unsharded connection with 4011 once the bot is in too many servers."""
    fake.required_shards = 2
    settings = DiscordSettings(
        token=fake.token,  # type: ignore[arg-type]
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(DiscordAdapter(settings).run(engine, stop), 20)
    assert stop.is_set()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "DISCORD_SHARD_COUNT" in errors[0].getMessage()
    assert errors[0].exc_info is None and fake.identifies == 0


# -- with the real worker process and tiny real models -------------------------------------------------------


@pytest.mark.slow
async def test_round_refine_by_reaction_button_and_reply(
    fake: FakeDiscord,
    tmp_path: Path,
    tiny_copy_model_dir: Path,
    tiny_visual_checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "CAMPAIGNBOT_COPY_MODEL": str(tiny_copy_model_dir),
        "CAMPAIGNBOT_VISUAL_MODEL": str(tiny_visual_checkpoint),
        "CAMPAIGNBOT_DATA_DIR": str(tmp_path),
        "CAMPAIGNBOT_JOB_LEASE_SECONDS": "3",
        "CAMPAIGNBOT_STATUS_EDIT_INTERVAL": "0",
        "CAMPAIGNBOT_MAX_JOBS_PER_USER": "5",
        "OMP_NUM_THREADS": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    engine = await open_engine(Settings())
    worker = WorkerSupervisor(tmp_path, env=env, stop_timeout=10)
    await worker.start()
    bot = Bot(fake, engine)
    try:
        await bot.start()
        await fake.slash("alice", "new", brief="smart watch for runners", variants=2, seed=5)
        await until(lambda: bool(fake.threads()), what="thread")
        thread = fake.threads()[0]["id"]

        def cards() -> list[dict[str, Any]]:
            return [m for m in fake.bot_messages(thread) if m["embeds"]]

        def grids() -> list[dict[str, Any]]:
            return [
                m for m in fake.bot_messages(thread) if m["content"].startswith("Round ") and m["attachments"]
            ]

        await until(lambda: len(cards()) == 2 and len(grids()) == 1, timeout=120, what="two cards, the sheet")
        (grid,) = grids()
        assert fake.files[grid["id"]][0][1].startswith(PNG)
        await until(lambda: len(fake.reactions.get(grid["id"], [])) == 2, what="number reactions")
        assert [e for e, _ in fake.reactions[grid["id"]]] == NUMBER_EMOJI[:2]
        for card in cards():
            (name, data) = fake.files[card["id"]][0]
            assert data.startswith(PNG) and card["embeds"][0]["image"]["url"] == f"attachment://{name}"
            assert [f["name"] for f in card["embeds"][0]["fields"]] == ["Headline", "Body", "Call to action"]
        status = fake.bot_messages(thread)[0]
        # the final edit follows the cards in the same delivery pass: wait for it
        await until(lambda: fake.bot_messages(thread)[0]["content"].startswith("✅"), what="final status")
        assert any("%" in e for e in fake.edits[status["id"]])

        # a number reaction on the grid refines variant 2
        await fake.react("alice", grid["id"], NUMBER_EMOJI[1])
        await until(lambda: "Round 2: refining C1-R1-V2" in fake_texts(fake, thread), what="round 2 queued")
        # the Refine button on card 1 while round 2 is being made: one choice in flight per campaign
        card1 = next(c for c in cards() if c["embeds"][0]["title"] == "C1-R1-V1")
        clicked = await fake.click("alice", card1["id"], "campaignbot:refine:C1-R1-V1")
        await until(lambda: "already being made" in answered(clicked), what="button ack")
        # a thread reply is not a choice: it steers a new round at once
        await fake.say("alice", thread, "shorter and bolder")
        await until(lambda: "Got it" in fake_texts(fake, thread), what="reply echo")
        assert set(await bot.jobs()) == {"C1-R1", "C1-R2", "C1-R3"}
        await until(lambda: len(grids()) >= 2, timeout=150, what="round 2 delivered")
        await bot.halt()
    finally:
        await worker.stop()
        await engine.close()


def fake_texts(fake: FakeDiscord, thread: str) -> str:
    return "\n".join(m["content"] for m in fake.bot_messages(thread))
