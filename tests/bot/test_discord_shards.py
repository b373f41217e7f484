"""Issue 15, Discord on several bot replicas: one gateway connection per shard (``DISCORD_SHARD_COUNT``,
``DISCORD_SHARD_IDS``), each shard held by one process.

- the settings: what is accepted, and every mistake as one line (never a traceback);
- the fake Discord at the wire speaks sharding as Discord does (raw gateway clients, no discord.py);
- two bot replicas, separate OS processes running ``campaignbot run`` on PostgreSQL + Redis, holding shard 0
  and shard 1 of 2: each guild's campaign is answered by the replica holding its shard, the other never sees
  the guild's events, the slash commands are synced once, every card reaches its thread exactly once, and
  while the replica of shard 0 is down its guild gets no events but its cards still go out (REST, from the
  other replica); back up, it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import discord
import pytest
import redis.asyncio as aioredis

from bot import cli
from bot.app import open_worker_artifacts, open_worker_queue
from bot.discord_adapter import DiscordAdapter, DiscordSettings, configured
from engine.errors import CampaignbotError
from engine.settings import Settings
from tests.engine.conftest import _fresh_postgres
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.server import DIRECT_MESSAGES, shard_of
from tests.redis_keys import REDIS_URL, drop_prefix

ROOT = Path(__file__).resolve().parents[2]


async def until(pred: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or pred}")


# -- settings ------------------------------------------------------------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no .env, no DISCORD_* or SLACK_* from outside; a token set."""
    monkeypatch.chdir(tmp_path)
    for k in list(os.environ):
        if k.startswith(("DISCORD_", "SLACK_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("DISCORD_TOKEN", "fake-bot-token")
    return monkeypatch


@pytest.mark.parametrize(
    ("count", "ids", "held", "syncs"),
    [
        (None, None, None, True),  # today's single unsharded connection
        ("", "", None, True),  # empty is unset
        ("2", None, [0, 1], True),  # a count alone: every shard in this process
        ("2", "1", [1], False),
        ("4", " 0, 3", [0, 3], True),
        ("8", "4-7", [4, 5, 6, 7], False),
        ("8", "0,2-3", [0, 2, 3], True),
        ("auto", None, None, True),  # Discord's recommended count, every shard here
    ],
)
def test_shard_settings_accepted(
    env: pytest.MonkeyPatch, count: str | None, ids: str | None, held: list[int] | None, syncs: bool
) -> None:
    if count is not None:
        env.setenv("DISCORD_SHARD_COUNT", count)
    if ids is not None:
        env.setenv("DISCORD_SHARD_IDS", ids)
    adapter = configured()
    assert adapter is not None
    s = adapter.settings
    assert s.shard_ids == held and s.syncs_commands is syncs
    client = adapter.client
    if count in (None, ""):
        assert not s.sharded and not isinstance(client, discord.AutoShardedClient)
    else:
        assert isinstance(client, discord.AutoShardedClient)
        assert client.shard_count == (None if count == "auto" else int(count))  # None: ask /gateway/bot
        assert client.shard_ids == held
    assert "fake-bot-token" not in adapter.describe()


@pytest.mark.parametrize(
    ("count", "ids", "says"),
    [
        (None, "0", "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT"),
        ("2", "2", "DISCORD_SHARD_IDS: shard 2 is out of range for DISCORD_SHARD_COUNT=2 (shards are 0-1)"),
        ("2", "-1", "shard -1 is out of range"),
        ("4", "1,3,1", "DISCORD_SHARD_IDS names shard 1 more than once"),
        ("4", "0-2,2", "names shard 2 more than once"),
        ("4", "3-1", "the range 3-1 runs backwards"),
        ("4", "0-99999999999", "the range 0-99999999999 is too long for one process"),
        ("2", "one", "DISCORD_SHARD_IDS must be shard numbers separated by commas"),
        ("2", "0;1", "separated by commas"),
        ("two", None, "DISCORD_SHARD_COUNT must be a whole number of shards (1 or more) or auto; got 'two'"),
        ("0", None, "DISCORD_SHARD_COUNT must be a whole number"),
        ("1.5", "0", "DISCORD_SHARD_COUNT must be a whole number"),
        ("auto", "0", "DISCORD_SHARD_IDS needs a fixed DISCORD_SHARD_COUNT, not auto"),
    ],
)
def test_bad_shard_settings_are_one_clear_line(
    env: pytest.MonkeyPatch, count: str | None, ids: str | None, says: str
) -> None:
    if count is not None:
        env.setenv("DISCORD_SHARD_COUNT", count)
    if ids is not None:
        env.setenv("DISCORD_SHARD_IDS", ids)
    with pytest.raises(CampaignbotError) as got:
        configured()
    text = str(got.value)
    assert text.startswith("Discord settings are invalid: ") and says in text, text
    assert "\n" not in text and "pydantic" not in text and "type=" not in text


def test_without_a_token_the_shard_settings_are_not_read(env: pytest.MonkeyPatch) -> None:
    """A Slack-only replica may share the Discord replicas' ConfigMap: no token, no Discord, no error."""
    env.delenv("DISCORD_TOKEN")
    env.setenv("DISCORD_SHARD_COUNT", "2")
    env.setenv("DISCORD_SHARD_IDS", "7")
    assert configured() is None


def test_campaignbot_run_with_bad_shard_settings_exits_with_one_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("DISCORD_SHARD_COUNT", "2")
    env.setenv("DISCORD_SHARD_IDS", "0,2")
    assert cli.main(["run"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "campaignbot: Discord settings are invalid: DISCORD_SHARD_IDS: shard 2 is out of range for "
        "DISCORD_SHARD_COUNT=2 (shards are 0-1)"
    ]


def test_settings_take_the_same_values_in_code() -> None:
    s = DiscordSettings(token="t", shard_count=3, shard_ids="2", _env_file=None)  # type: ignore[arg-type,call-arg]
    assert s.shard_ids == [2] and not s.syncs_commands
    assert "shard(s) 2 of 3" in DiscordAdapter(s).describe()


# -- the fake speaks sharding --------------------------------------------------------------------------------


async def _identify(
    http: aiohttp.ClientSession, fake: FakeDiscord, shard: list[int] | None, intents: int = 0
) -> tuple[aiohttp.ClientWebSocketResponse, list[dict[str, Any]]]:
    """A raw gateway client: HELLO, IDENTIFY (with ``shard``), then READY and its GUILD_CREATEs."""
    ws = await http.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    hello = await ws.receive_json(timeout=5)
    assert hello["op"] == 10
    d: dict[str, Any] = {"token": fake.token, "intents": intents, "properties": {}}
    if shard is not None:
        d["shard"] = shard
    await ws.send_json({"op": 2, "d": d})
    got: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        while True:
            msg = await ws.receive(timeout=0.3)
            if msg.type != aiohttp.WSMsgType.TEXT:
                got.append({"closed": ws.close_code})
                break
            got.append(json.loads(msg.data))
    return ws, got


async def test_the_fake_routes_each_guild_to_its_shard_and_dms_to_shard_0() -> None:
    fake = FakeDiscord()
    g0, c0 = fake.add_guild("Zero", shard=0, shard_count=2)
    g1, c1 = fake.add_guild("One", shard=1, shard_count=2)
    await fake.start()
    fake.recommended_shards = 2
    try:
        async with aiohttp.ClientSession() as http:
            auth = {"Authorization": f"Bot {fake.token}"}
            async with http.get(fake.api_url + "/gateway/bot", headers=auth) as r:
                gw = await r.json()
            assert gw["shards"] == 2 and gw["url"] == fake.gateway_url
            assert gw["session_start_limit"]["max_concurrency"] == 1

            ws0, first = await _identify(http, fake, [0, 2], intents=DIRECT_MESSAGES)
            ws1, second = await _identify(http, fake, [1, 2])
            for events, shard in ((first, 0), (second, 1)):
                ready, *creates = events
                assert ready["t"] == "READY" and ready["d"]["shard"] == [shard, 2]
                mine = {g for g in fake.guilds if shard_of(g, 2) == shard}
                assert {g["id"] for g in ready["d"]["guilds"]} == mine
                assert {e["d"]["id"] for e in creates if e["t"] == "GUILD_CREATE"} == mine

            s0, s1 = fake.live_sessions((0, 2))[0], fake.live_sessions((1, 2))[0]
            await fake.say("alice", c0, "hello zero")
            await fake.say("bob", c1, "hello one")
            await fake.dm("alice", "a direct message")
            guild_events = {
                s.shard[0]: [(e["t"], e["d"].get("guild_id")) for e in s.events if e["t"] == "MESSAGE_CREATE"]
                for s in (s0, s1)
            }
            assert guild_events == {
                0: [("MESSAGE_CREATE", g0), ("MESSAGE_CREATE", None)],
                1: [("MESSAGE_CREATE", g1)],
            }

            # bad shards are refused as Discord does: 4010 Invalid shard, 4011 Sharding required
            _, bad = await _identify(http, fake, [2, 2])
            assert bad == [{"closed": 4010}]
            fake.required_shards = 2
            _, unsharded = await _identify(http, fake, None)
            assert unsharded == [{"closed": 4011}]

            # a clean close ends the session: shard 0's guild then has nobody to send its events to
            await ws0.close(code=1000)
            await until(lambda: s0.ended, what="session end")
            await fake.say("alice", c0, "anyone?")
            assert fake.dropped[-1]["guild_id"] == g0 and not fake.live_sessions((0, 2))
            await ws1.close()
    finally:
        await fake.close()
    assert fake.problems == []


# -- two replicas, separate processes ------------------------------------------------------------------------

SHARDS = 2
VARIANTS = 2


@dataclass
class Replicas:
    tmp: Path
    common: dict[str, str]
    fake: FakeDiscord
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)
    starts: Counter[str] = field(default_factory=Counter)  # how often each replica was started

    async def start(self, name: str, shard_ids: str) -> None:
        self.starts[name] += 1
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child writes it; closed in stop_all()
        self.logs.append(log)
        env = self.common | {
            "DISCORD_TOKEN": self.fake.token,
            "DISCORD_API_URL": self.fake.api_url_for(name),
            "DISCORD_GATEWAY_URL": self.fake.gateway_url_for(name),
            "DISCORD_SHARD_COUNT": str(SHARDS),
            "DISCORD_SHARD_IDS": shard_ids,
            "CAMPAIGNBOT_DATA_DIR": str(self.tmp / name),
        }
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, stdout=log, stderr=log, cwd=self.tmp
        )

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def ready(self, name: str, shard_ids: str, timeout: float = 60.0) -> None:
        """The replica's latest start logged its shards ready (after their GUILD_CREATEs: it serves their
        events)."""
        line = f"discord: shard(s) {shard_ids} of {SHARDS} ready"
        end = time.monotonic() + timeout
        while True:
            runs = self.log(name).split("campaignbot: serving")[1:]  # the log of each start, in order
            if len(runs) == self.starts[name] and line in runs[-1]:
                return
            proc = self.procs[name]
            if proc.returncode is not None:
                raise AssertionError(f"{name} exited {proc.returncode}:\n{self.log(name)[-3000:]}")
            if time.monotonic() > end:
                raise AssertionError(f"{name} not ready:\n{self.log(name)[-3000:]}")
            await asyncio.sleep(0.1)

    async def stop(self, name: str) -> int:
        proc = self.procs[name]
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
            return await proc.wait()

    async def stop_all(self) -> None:
        for name in self.procs:
            await self.stop(name)
        for f in self.logs:
            f.close()


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[Replicas]:
    import engine.inference.worker  # noqa: F401, PLC0415 - torch, for worker(): imported before any clock starts

    fake = FakeDiscord()
    await fake.start()
    prefix = f"{{cbshards-{uuid.uuid4().hex[:10]}}}:"
    common = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "CAMPAIGNBOT_DATABASE_URL": await _fresh_postgres(),
        "CAMPAIGNBOT_QUEUE_URL": REDIS_URL,
        "CAMPAIGNBOT_QUEUE_PREFIX": prefix,
        "CAMPAIGNBOT_ARTIFACT_STORE": "database",
        "CAMPAIGNBOT_RUN_WORKER": "false",
        "CAMPAIGNBOT_JOB_LEASE_SECONDS": "3",
        "CAMPAIGNBOT_OUTBOX_LEASE_SECONDS": "3",  # what a stopped replica held is taken over soon
        "CAMPAIGNBOT_STATUS_EDIT_INTERVAL": "0",
    }
    r = Replicas(tmp_path, common, fake)
    try:
        yield r
    finally:
        await r.stop_all()
        redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        await drop_prefix(redis, prefix)
        await redis.aclose()
        await fake.close()


@contextlib.asynccontextmanager
async def worker(r: Replicas) -> AsyncIterator[None]:
    """The inference worker on the replicas' queue and artifact store, with the stand-in studio (no
    models): every round is made at once. In this process: the worker is not what is tested here."""
    from engine.inference.worker import InferenceWorker  # noqa: PLC0415 - torch
    from tests.fakes.studio import StandInStudio  # noqa: PLC0415

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=r.tmp / "worker",
        database_url=r.common["CAMPAIGNBOT_DATABASE_URL"],
        queue_url=REDIS_URL,
        queue_prefix=r.common["CAMPAIGNBOT_QUEUE_PREFIX"],
        artifact_store="database",
        job_lease_seconds=3,
    )
    queue = await open_worker_queue(settings)
    artifacts, close_artifacts = await open_worker_artifacts(settings)
    w = InferenceWorker(settings, queue, artifacts, name="w1", poll_s=0.05, studio=StandInStudio())  # type: ignore[arg-type]
    task = asyncio.create_task(w.run())
    try:
        yield
    finally:
        w.stop.set()
        await asyncio.wait_for(task, 20)  # the worker closes its queue
        await close_artifacts()


def _answered(it: dict[str, Any]) -> str:
    return str(it["original"]["content"]) if it.get("original") else ""


def _guild_of_event(ev: dict[str, Any]) -> str | None:
    d = ev["d"]
    return d.get("id") if ev["t"].startswith("GUILD_") else d.get("guild_id")


@pytest.mark.timeout(150)
async def test_two_replicas_each_hold_one_shard_and_every_card_lands_once(replicas: Replicas) -> None:
    r, fake = replicas, replicas.fake
    t0 = time.monotonic()
    ga, ca = fake.add_guild("Shard Zero Inc", shard=0, shard_count=SHARDS)
    gb, cb = fake.add_guild("Shard One Ltd", shard=1, shard_count=SHARDS)
    await asyncio.gather(r.start("a", "0"), r.start("b", "1"))
    await asyncio.gather(r.ready("a", "0"), r.ready("b", "1"))
    started = time.monotonic() - t0
    # the sync runs in shard 0's setup hook and is recorded (its hash stored) just after: wait for both,
    # or a replica stopped in between would sync again when it comes back
    await until(lambda: "slash commands synced" in r.log("a"), what="shard 0's command sync recorded")

    # one gateway connection per shard, identified as [id, count]; the commands synced once, by shard 0's
    assert sorted((s.client, s.shard) for s in fake.live_sessions()) == [("a", (0, 2)), ("b", (1, 2))]
    syncs = [c for c, m, p in fake.requests_by if m == "PUT" and p.endswith("/commands")]
    assert syncs == ["a"] and fake.command_syncs == 1
    assert "slash commands are synced by the replica holding shard 0" in r.log("b")

    # a campaign in each guild: answered by the replica holding the guild's shard
    it_a = await fake.slash("alice", "new", channel_id=ca, brief="trail shoes", variants=VARIANTS, seed=1)
    it_b = await fake.slash("bob", "new", channel_id=cb, brief="rain jackets", variants=VARIANTS, seed=2)
    await until(
        lambda: "Working on it" in _answered(it_a) and "Working on it" in _answered(it_b), what="acks"
    )
    assert (it_a["answered_by"], it_b["answered_by"]) == ("a", "b")

    def thread_of(gid: str) -> str | None:
        threads = fake.threads(gid)
        return threads[0]["id"] if threads and fake.bot_messages(threads[0]["id"]) else None

    await until(lambda: thread_of(ga) is not None and thread_of(gb) is not None, what="threads")
    ta, tb = thread_of(ga), thread_of(gb)
    assert ta is not None and tb is not None

    # the replica of shard 0 goes away: its guild gets no gateway events meanwhile (Discord drops them)...
    assert await r.stop("a") == 0
    await until(lambda: not fake.live_sessions((0, 2)), what="shard 0's session ended by its clean close")
    dropped = len(fake.dropped)
    lost = await fake.slash("alice", "status", channel_id=ca)
    assert any(d["t"] == "INTERACTION_CREATE" and d["d"]["id"] == lost["id"] for d in fake.dropped[dropped:])
    assert all(d["guild_id"] == ga for d in fake.dropped)  # only shard 0's guild ever lacked a holder
    # ... but what its campaign is owed still goes out, over REST, from the replica of shard 1
    since = len(fake.sent)
    async with worker(r):

        def cards(thread: str) -> list[dict[str, Any]]:
            return [m for m in fake.bot_messages(thread) if m["embeds"]]

        def done(thread: str) -> bool:
            return len(cards(thread)) == VARIANTS and fake.bot_messages(thread)[0]["content"].startswith("✅")

        await until(lambda: done(ta) and done(tb), timeout=60, what="cards and final status lines")
        delivered = time.monotonic() - t0
        into_a = [s for s in fake.sent[since:] if s.route == f"/channels/{ta}/messages"]
        assert len(into_a) >= VARIANTS + 1 and {s.client for s in into_a} == {"b"}  # grid + cards, by b
        assert lost["callback"] is None  # nobody held shard 0: the interaction was never answered

        # shard 0's replica back: it identifies again, answers its guild, does not sync the commands again
        await r.start("a", "0")
        await r.ready("a", "0")
        back = await fake.slash("alice", "status", channel_id=ca)
        await until(lambda: bool(_answered(back)), what="status after the restart")
        assert back["answered_by"] == "a" and fake.command_syncs == 1
        await asyncio.sleep(1.0)  # anything posted twice would show up meanwhile

    # every card in its own thread, exactly once
    campaigns = []
    for thread in (ta, tb):
        titles = [m["embeds"][0]["title"] for m in cards(thread)]
        (campaign,) = {t.split("-")[0] for t in titles}  # every card of this thread is its campaign's
        assert sorted(titles) == [f"{campaign}-R1-V{k}" for k in range(1, VARIANTS + 1)]
        campaigns.append(campaign)
    assert sorted(campaigns) == ["C1", "C2"]
    nonces = Counter(m.get("nonce") for m in fake.messages.values() if m.get("nonce"))
    assert max(nonces.values()) == 1 and fake.deduplicated == 0

    # a replica never saw an event of a guild whose shard it does not hold
    for client, shard in (("a", 0), ("b", 1)):
        seen = {_guild_of_event(ev) for ev in fake.events_seen(client) if ev["t"] not in ("READY", "RESUMED")}
        assert seen and all(g is not None and shard_of(g, SHARDS) == shard for g in seen), (client, seen)
    for name in ("a", "b"):
        assert "Traceback" not in r.log(name), r.log(name)[-3000:]
    assert fake.problems == [], (fake.problems, [r for r in fake.requests_by if "/messages" in r[2]][-40:])
    print(
        "discord shards:",
        json.dumps(
            {
                "start_s": round(started, 1),
                "delivered_s": round(delivered, 1),
                "total_s": round(time.monotonic() - t0, 1),
            }
        ),
    )
