"""Issue 14, exactly-once effect of every post: the outbox under lost responses, crashes between the post
and its record, several engines on one database, and a Discord thread that cannot be created.

- a post the platform made whose answer was lost -> one message (the recording platform, Slack's wire fake
  with the real slack_sdk, Discord's wire fake with the real discord.py);
- the engine dies after the post, before it is recorded -> a new engine on the same database finds it,
  one message;
- the upload of a Slack card survives a restart: the file is not uploaded twice;
- two engines (separate database engines) sending one outbox at once -> one message per key, in order
  per campaign (SQLite and PostgreSQL);
- Discord refuses the thread (403) -> one root message, a dead letter with the reason, bounded API calls,
  and a later campaign is still delivered.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, update

from bot.app import open_engine
from bot.discord_adapter import DiscordAdapter, DiscordSettings
from bot.slack_adapter import SlackAdapter
from engine.adapter import OutMessage
from engine.artifacts import LocalArtifacts
from engine.engine import Engine
from engine.errors import PermanentPlatformError
from engine.events import CommandEvent, Where
from engine.settings import Settings
from engine.store.db import database_url, make_engine
from engine.store.migrate import upgrade_async
from engine.store.models import Campaign, Outbox
from engine.store.repo import Repo
from tests.engine.conftest import HERE, Studio, _fresh_postgres
from tests.fakes.discord import FakeDiscord
from tests.fakes.queue import FakeQueue
from tests.fakes.recording import RecordingAdapter
from tests.fakes.slack import FakeSlack


class Killed(BaseException):
    """The engine process dies here (nothing in the engine catches a BaseException of its own)."""


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, status_edit_interval=0, _env_file=None)  # type: ignore[call-arg]


async def _rows(eng: Engine) -> list[Outbox]:
    async with eng.repo.sessions() as s:
        return list((await s.execute(select(Outbox).order_by(Outbox.seq))).scalars().all())


async def _retry_now(eng: Engine) -> None:
    """The test does not wait out back-offs: every row may be tried again now (claims of a live sender
    are left alone)."""
    async with eng.repo.sessions() as s, s.begin():
        await s.execute(update(Outbox).where(Outbox.claimed_by.is_(None)).values(claimed_until=0.0))


async def _send(eng: Engine, passes: int = 4) -> None:
    for _ in range(passes):
        await _retry_now(eng)
        await eng.outbox.send_pending()


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The repository's clock runs ``seconds`` ahead: leases taken before have run out."""
    import engine.store.repo as repo_mod
    from engine.store import models

    monkeypatch.setattr(repo_mod, "now", lambda: models.now() + seconds)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = database_url(tmp_path, None) if request.param == "sqlite" else await _fresh_postgres()
    await upgrade_async(url)
    return url


def _engine(url: str, tmp_path: Path, chat: RecordingAdapter, name: str) -> Engine:
    """One engine process: its own database engine (connection pool) on the shared database."""
    eng = Engine(_settings(tmp_path), Repo(make_engine(url)), FakeQueue(), LocalArtifacts(tmp_path), [chat])
    eng.outbox.name = name
    return eng


async def _campaign(eng: Engine, user: str = "alice", event: str = "E1") -> None:
    reply = await eng.handle(
        CommandEvent(HERE, user, "smart watch for runners", event_id=event, user_name=user)
    )
    assert reply is not None and reply.text.startswith("Working on it"), reply


# -- the recording platform ---------------------------------------------------------------------------------
async def test_a_post_made_whose_answer_is_lost_is_found_not_posted_again(
    db_url: str, tmp_path: Path
) -> None:
    chat = RecordingAdapter()
    eng = _engine(db_url, tmp_path, chat, "engine-a")
    try:
        await _campaign(eng)
        chat.lose_next_answers = 2  # the root message and the status line: made, answers lost
        await _send(eng, passes=4)
        assert len(chat.roots()) == 1 and len(chat.messages) == 2, chat.messages
        assert [m.key for m in chat.messages.values()] == ["C1:root", "C1-R1:status"]
        rows = await _rows(eng)
        assert all(r.message_id and r.attempts == 1 for r in rows), [(r.key, r.error) for r in rows]
        assert chat.lookups == 2  # each lost answer was looked up once
        camp = await eng.repo.campaign(1)
        assert camp is not None and camp.thread == rows[0].message_id
    finally:
        await eng.close()


async def test_an_engine_killed_between_post_and_record_is_resumed_by_another_with_one_message(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status line is posted, then the engine dies in ``outbox_sent``; a new engine on the same
    database takes the row once the dead engine's lease has run out, finds the post, and records it."""
    chat = RecordingAdapter()
    first = _engine(db_url, tmp_path, chat, "engine-a")
    await _campaign(first)
    real_sent = Repo.outbox_sent

    async def die(self: Repo, seq: int, message_id: str, ref: Any = None) -> None:
        raise Killed

    monkeypatch.setattr(Repo, "outbox_sent", die)
    with pytest.raises(Killed):
        await first.outbox.send_pending()
    await first.close()
    monkeypatch.setattr(Repo, "outbox_sent", real_sent)
    assert len(chat.messages) == 2

    second = _engine(db_url, tmp_path, chat, "engine-b")
    try:
        await second.outbox.send_pending()
        assert len(chat.messages) == 2  # the dead engine's lease still holds the row
        _later(monkeypatch, second.settings.outbox_lease_seconds + 1)
        await second.outbox.send_pending()
        assert len(chat.messages) == 2, chat.messages
        assert [m.key for m in chat.messages.values()] == ["C1:root", "C1-R1:status"]
        (status,) = [r for r in await _rows(second) if r.kind == "status"]
        assert status.message_id == "m2" and chat.lookups == 1
        ref = await second.repo.message_ref("test", HERE.channel, "m2")
        assert ref is not None and ref.kind == "status"
    finally:
        await second.close()


async def test_two_engines_on_one_database_send_each_post_once_in_order(db_url: str, tmp_path: Path) -> None:
    """Two engine processes (each its own connection pool, its own adapter on one shared platform) send one
    outbox at the same time, each in its own delivery loop: every post appears once, each campaign's
    posts appear in the order they were written, and both engines did part of the sending."""
    chat_a, chat_b = RecordingAdapter(), RecordingAdapter()
    chat_b.messages, chat_b._ids = chat_a.messages, chat_a._ids  # one platform, two connections to it
    chat_a.latency = chat_b.latency = 0.002  # a platform call takes a moment: the two senders interleave
    a = _engine(db_url, tmp_path, chat_a, "engine-a")
    b = _engine(db_url, tmp_path, chat_b, "engine-b")
    try:
        for i in range(4):
            await _campaign(a, user=f"user{i}", event=f"E{i}")
        camps = {}
        async with a.repo.sessions() as s:
            for c in (await s.execute(select(Campaign))).scalars().all():
                camps[c.id] = c
        notes = [
            a.rounds.posts.row(camps[cid], f"C{cid}:note{k}", "note", OutMessage(text=f"note {k} of C{cid}"))
            for k in range(5)
            for cid in camps
        ]
        assert await a.repo.add(notes)
        owed = len(await _rows(a))

        async def loop(eng: Engine) -> None:  # a delivery loop: pass after pass until nothing is owed
            for _ in range(400):
                await eng.outbox.send_pending()
                if not await eng.repo.outbox_pending():
                    return
                await asyncio.sleep(0.001)

        await asyncio.gather(loop(a), loop(b))
        seen = [(m.thread, m.text) for m in chat_a.messages.values()]
        assert len(seen) == len(set(seen)) == owed, seen
        keys = [m.key for m in chat_a.messages.values()]
        seqs = {r.key: r.seq for r in await _rows(a)}
        for cid in camps:
            mine = [k for k in keys if k.startswith(f"C{cid}:") or k.startswith(f"C{cid}-")]
            assert mine == sorted(mine, key=seqs.__getitem__), mine  # posted in the order written
            assert mine[0] == f"C{cid}:root"
        by = [sum(1 for r in await _rows(a) if r.message_id in c.posted) for c in (chat_a, chat_b)]
        assert sum(by) == owed and min(by) > 0, by
    finally:
        await a.close()
        await b.close()


# -- Slack at the wire: the real slack_sdk client against the fake Slack -------------------------------------
SLACK_HERE = Where("slack", FakeSlack.TEAM, "C0GENERAL")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    f = await FakeSlack().start()
    yield f
    await f.close()
    assert f.problems == [], f.problems


async def _slack_engine(fake: FakeSlack, tmp_path: Path) -> Engine:
    adapter = SlackAdapter.from_env(fake.env("socket"))
    assert adapter is not None
    return await open_engine(_settings(tmp_path), [adapter])


async def test_slack_posts_whose_answers_are_lost_appear_once(slack: FakeSlack, tmp_path: Path) -> None:
    """chat.postMessage takes effect and the connection drops before its answer, for the root message and
    then the status line: each is found by its metadata (conversations.history, conversations.replies)."""
    eng = await _slack_engine(slack, tmp_path)
    try:
        r = await eng.handle(CommandEvent(SLACK_HERE, "U0ALICE", "smart watch for runners", event_id="E1"))
        assert r is not None and r.text.startswith("Working on it")
        slack.lose_next("chat.postMessage", times=2)
        await _send(eng)
        (root,) = slack.roots()
        thread = slack.thread(root)
        assert [m.text.split(" ")[0] for m in thread] == ["⏳"], [m.text for m in thread]
        assert (root.metadata or {}).get("event_payload") == {"key": "C1:root"}
        assert slack.count("chat.postMessage") == 2  # never posted again
        assert slack.count("conversations.history") == 1 and slack.count("conversations.replies") == 1
        rows = await _rows(eng)
        assert [r.message_id for r in rows] == [root.ts, thread[0].ts]
    finally:
        await eng.close()


async def test_a_slack_upload_is_remembered_across_a_restart(slack: FakeSlack, tmp_path: Path) -> None:
    """A card with a file: the upload works, posting the card fails; after a restart (a new adapter and
    engine, no process memory) only the card is posted: the file is not uploaded twice."""
    eng = await _slack_engine(slack, tmp_path)
    await eng.handle(CommandEvent(SLACK_HERE, "U0ALICE", "smart watch for runners", event_id="E1"))
    await _send(eng)
    png = tmp_path / "card.png"
    Image.new("RGB", (8, 8), (200, 0, 0)).save(png)
    camp = await eng.repo.campaign(1)
    assert camp is not None and camp.thread
    card = OutMessage(text="1. A headline", file=png, title="C1-R1-V1", fields=[("Headline", "A headline")])
    assert await eng.repo.add([eng.rounds.posts.row(camp, "C1-R1:v1", "variant", card, round_number=1)])
    slack.fail_next("chat.postMessage", status=500)
    await eng.outbox.send_pending()
    assert slack.count("files.getUploadURLExternal") == 1 and len(slack.files) == 1
    await eng.close()

    eng = await _slack_engine(slack, tmp_path)  # the restarted service
    try:
        await _send(eng)
        assert slack.count("files.getUploadURLExternal") == 1 and len(slack.files) == 1
        cards = [m for m in slack.thread(slack.roots()[0]) if (m.metadata or {}).get("event_payload")]
        assert [(m.metadata or {})["event_payload"]["key"] for m in cards] == ["C1-R1:status", "C1-R1:v1"]
        (row,) = [r for r in await _rows(eng) if r.kind == "variant"]
        assert row.message_id == cards[1].ts and (row.steps or {}).get("upload") == next(iter(slack.files))
    finally:
        await eng.close()


# -- Discord at the wire: the real discord.py client against the fake Discord --------------------------------
@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    f = await FakeDiscord().start()
    yield f
    await f.close()
    assert f.problems == [], f.problems


@pytest.fixture
async def discord_engine(discord_fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine with the Discord adapter connected to the fake's gateway; the test drives the outbox."""
    adapter = DiscordAdapter(
        DiscordSettings(
            token=discord_fake.token,  # type: ignore[arg-type]
            api_url=discord_fake.api_url,
            gateway_url=discord_fake.gateway_url,
            _env_file=None,  # type: ignore[call-arg]
        )
    )
    eng = await open_engine(_settings(tmp_path), [adapter])
    stop = asyncio.Event()
    task = asyncio.create_task(adapter.run(eng, stop))
    await asyncio.wait_for(adapter.ready.wait(), 20)
    yield eng
    stop.set()
    await asyncio.wait_for(task, 20)
    await eng.close()


def _posts(fake: FakeDiscord, route: str) -> int:
    return sum(1 for m, p in fake.requests if m == "POST" and re.fullmatch(route, p))


async def _discord_campaign(fake: FakeDiscord, eng: Engine, event: str) -> None:
    where = Where("discord", fake.guild_id, fake.channel_id)
    r = await eng.handle(CommandEvent(where, fake.users["alice"]["id"], "smart watch", event_id=event))
    assert r is not None and r.text.startswith("Working on it"), r


async def test_discord_posts_whose_answers_are_lost_appear_once(
    discord_fake: FakeDiscord, discord_engine: Engine
) -> None:
    """The root message is made but its answer lost, then the thread likewise: the re-sent root carries the
    same nonce (Discord answers with the first message), and only the thread is asked for again."""
    fake, eng = discord_fake, discord_engine
    await _discord_campaign(fake, eng, "E1")
    fake.lose_next("POST", rf"/channels/{fake.channel_id}/messages")
    fake.lose_next("POST", rf"/channels/{fake.channel_id}/messages/\d+/threads")
    await _send(eng)
    (root,) = fake.bot_messages(fake.channel_id)
    (thread,) = fake.threads()
    assert thread["id"] == root["id"] and fake.deduplicated == 1
    assert [m["content"][:1] for m in fake.bot_messages(thread["id"])] == ["⏳"]
    assert _posts(fake, rf"/channels/{fake.channel_id}/messages") == 2  # the first try and its re-send
    assert _posts(fake, rf"/channels/{fake.channel_id}/messages/\d+/threads") == 2
    rows = await _rows(eng)
    assert all(r.message_id for r in rows) and rows[0].message_id == root["id"]


async def test_discord_thread_refused_posts_one_root_dead_letters_and_later_campaigns_flow(
    discord_fake: FakeDiscord, discord_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """No Create Public Threads (403): one root message, one thread request, the root given up with the
    reason (and the campaign's thread posts with it), however many passes follow; the next campaign,
    once the permission is granted, is delivered."""
    fake, eng = discord_fake, discord_engine
    fake.refuse_threads = 403
    await _discord_campaign(fake, eng, "E1")
    with caplog.at_level(logging.WARNING, logger="engine.outbox"):
        await _send(eng, passes=6)
    posted, note = fake.bot_messages(fake.channel_id)  # the root, and the owner's note
    assert fake.threads() == [] and "smart watch" in posted["content"]
    assert note["content"].startswith(f"<@{fake.users['alice']['id']}> ⚠️ Campaign C1 could not open")
    assert _posts(fake, rf"/channels/{fake.channel_id}/messages") == 2
    assert _posts(fake, rf"/channels/{fake.channel_id}/messages/\d+/threads") == 1
    root, status, told = await _rows(eng)
    assert root.gave_up and "403" in (root.error or "") and "Missing Permissions" in (root.error or "")
    assert status.gave_up and status.message_id is None and "thread" in (status.error or "")
    assert told.kind == "tell" and told.message_id and not told.gave_up
    assert sum("failed for good" in r.getMessage() for r in caplog.records) == 1

    fake.refuse_threads = None
    await _discord_campaign(fake, eng, "E2")
    await _send(eng, passes=3)
    (thread,) = fake.threads()
    assert [m["content"][:1] for m in fake.bot_messages(thread["id"])] == ["⏳"]
    assert _posts(fake, rf"/channels/{fake.channel_id}/messages/\d+/threads") == 2  # one per campaign
    assert _posts(fake, rf"/channels/{fake.channel_id}/messages") == 3  # and one root each, one note


async def test_a_claimed_row_holds_back_its_campaign_and_a_lapsed_lease_frees_it(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-campaign order across senders: while one sender holds a campaign's oldest owed row, another
    gets none of that campaign's rows (but does get other campaigns'); when the holder's lease runs out
    (a dead engine), the other takes the row."""
    chat = RecordingAdapter()
    a = _engine(db_url, tmp_path, chat, "engine-a")
    try:
        await _campaign(a, user="alice", event="E1")
        await _campaign(a, user="bob", event="E2")
        held = await a.repo.outbox_claim("engine-a", ["test"], 60.0, limit=1)
        assert [r.key for r in held] == ["C1:root"]
        got = await a.repo.outbox_claim("engine-b", ["test"], 60.0)
        assert [r.key for r in got] == ["C2:root"]  # not C1-R1:status: C1's root is owed and held
        assert await a.repo.outbox_claim("engine-b", ["test"], 60.0) == []
        _later(monkeypatch, 61)
        assert [r.key for r in await a.repo.outbox_claim("engine-b", ["test"], 60.0)] == [
            "C1:root",
            "C2:root",
        ]
    finally:
        await a.close()


class NoThreads(RecordingAdapter):
    """A platform that refuses every root post for good (e.g. the bot may not post in the channel)."""

    async def open_thread(self, channel: str, root: OutMessage) -> tuple[str, str]:
        self.refusals += 1
        raise PermanentPlatformError("refused: missing permission")

    refusals = 0


async def test_a_round_of_a_campaign_without_a_thread_is_handled_and_not_retried(
    db_url: str, tmp_path: Path
) -> None:
    """The root is refused once; the round the worker still makes is stored, its posts given up (not
    tried: there is no thread), and its job is handled (no final status edit waited for forever)."""
    chat = NoThreads()
    eng = _engine(db_url, tmp_path, chat, "engine-a")
    studio = Studio(eng, eng.queue, chat, eng.artifacts)  # type: ignore[arg-type]
    try:
        await _campaign(eng)
        await studio.pump()
        await studio.work()
        await studio.pump()
        assert chat.refusals == 1 and await eng.queue.unhandled() == []
        rows = await _rows(eng)
        assert {r.kind for r in rows if r.gave_up} == {"root", "status", "grid", "variant"}
        assert [r.kind for r in rows if not r.gave_up] == ["tell"] and chat.tells
        assert chat.tells[0][3].startswith("⚠️ Campaign C1 could not open its thread")
    finally:
        await eng.close()
