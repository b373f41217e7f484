"""Issue 14, admission and effects under real concurrency: many ``engine.handle`` calls at once
(asyncio.gather), each on its own database connection from the pool, on SQLite and PostgreSQL.

- six concurrent commands from one user, limit 2 -> exactly 2 accepted, 4 told the limit;
- 50 concurrent commands from 50 users, cap 20 -> 20 accepted, with distinct queue positions;
- two concurrent replies -> both applied, as rounds 2 and 3 in order;
- an exception after the (old) seen mark but before the effect -> the redelivered event is handled.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.artifacts import LocalArtifacts
from engine.engine import Engine
from engine.events import CommandEvent, ReplyEvent, Where
from engine.settings import Settings
from engine.store.db import database_url, make_engine
from engine.store.migrate import upgrade_async
from engine.store.models import Campaign, Round, SeenEvent
from engine.store.repo import Repo
from tests.engine.conftest import HERE, Studio, _fresh_postgres
from tests.fakes.queue import FakeQueue
from tests.fakes.recording import RecordingAdapter


@pytest.fixture(params=["sqlite", "postgresql"])
async def studio(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Studio]:
    """The fast suite's studio (a real engine and store, an in-memory queue), with the default limits:
    2 rounds being made per user, 20 in all."""
    settings = Settings(data_dir=tmp_path, status_edit_interval=0, _env_file=None)  # type: ignore[call-arg]
    assert (settings.max_jobs_per_user, settings.queue_cap) == (2, 20)
    url = database_url(settings.data_dir, None) if request.param == "sqlite" else await _fresh_postgres()
    await upgrade_async(url)
    chat = RecordingAdapter()
    engine = Engine(settings, Repo(make_engine(url)), FakeQueue(), LocalArtifacts(tmp_path), [chat])
    await engine.start()
    yield Studio(engine, engine.queue, chat, engine.artifacts)  # type: ignore[arg-type]
    await engine.close()


def command(user: str, text: str, event_id: str) -> CommandEvent:
    return CommandEvent(HERE, user, text, event_id=event_id, user_name=user.title())


async def _count(st: Studio, model: type[Campaign] | type[Round]) -> int:
    async with st.engine.repo.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_six_concurrent_commands_from_one_user_keep_the_limit_of_two(studio: Studio) -> None:
    """Scenario "six concurrent commands -> the limit holds": exactly 2 accepted, 4 told the limit, and a
    refused command writes nothing (no campaign, no round, no job)."""
    events = [command("alice", f"smart watch {i} --variants 1", f"E{i}") for i in range(6)]
    replies = await asyncio.gather(*(studio.engine.handle(e) for e in events))
    texts = [r.text if r else "" for r in replies]
    accepted = [t for t in texts if t.startswith("Working on it")]
    refused = [t for t in texts if "You already have 2 rounds being made (the limit is 2)" in t]
    assert (len(accepted), len(refused)) == (2, 4), texts
    assert await _count(studio, Campaign) == 2 and await _count(studio, Round) == 2
    assert len(studio.queue.jobs) == 2


async def test_fifty_users_at_once_against_a_cap_of_twenty_get_twenty_distinct_positions(
    studio: Studio,
) -> None:
    """Scenario "50 concurrent commands from 50 users, cap 20": 20 accepted, 30 told the studio is busy,
    and the 20 accepted are told the queue positions 1..20, each once."""
    events = [command(f"user{i}", f"smart lamp {i} --variants 1", f"E{i}") for i in range(50)]
    replies = await asyncio.gather(*(studio.engine.handle(e) for e in events))
    texts = [r.text if r else "" for r in replies]
    accepted = [t for t in texts if t.startswith("Working on it")]
    busy = [t for t in texts if t.startswith("The studio is busy: 20 rounds are waiting")]
    assert (len(accepted), len(busy)) == (20, 30), texts
    positions = []
    for t in accepted:
        m = re.search(r"you are number (\d+) in the queue", t)
        positions.append(int(m.group(1)) if m else 1 if "starting now" in t else 0)
    assert sorted(positions) == list(range(1, 21)), positions
    assert await _count(studio, Round) == 20 and len(studio.queue.jobs) == 20


async def test_two_concurrent_replies_are_both_applied_in_order(studio: Studio) -> None:
    """Scenario "two concurrent replies -> both applied in order": each reply takes the next round number
    (serialised admission, compare-and-set on the number): rounds 2 and 3 both exist, built on round 1,
    queued in number order, echoed in the thread in number order, and both are delivered."""
    await studio.command("smart watch for runners --variants 2 --seed 5")
    await studio.pump()
    await studio.work()
    await studio.pump()
    t = studio.thread()
    where = Where(HERE.platform, HERE.workspace, HERE.channel, t)
    replies = [
        ReplyEvent(where, "alice", w, message_id=f"m-{w}", event_id=f"R-{w}") for w in ("shorter", "bolder")
    ]
    await asyncio.gather(*(studio.engine.handle(r) for r in replies))
    rounds = {r.number: r for r in await studio.engine.repo.rounds(1)}
    assert sorted(rounds) == [1, 2, 3]
    assert {rounds[2].instruction, rounds[3].instruction} == {"shorter", "bolder"}
    assert rounds[2].parent_round == rounds[3].parent_round == 1
    assert [j.spec.round_number for j in studio.queue.jobs.values()] == [1, 2, 3]
    await studio.pump()
    echoes = [m.text for m in studio.chat.thread(t) if m.text.startswith("Got it:")]
    assert [e.split("Round ")[1][0] for e in echoes] == ["2", "3"], echoes
    await studio.work()
    await studio.work()
    await studio.pump()
    assert [g.title for g in studio.chat.grids(t)] == ["C1 round 1", "C1 round 2", "C1 round 3"]


async def test_an_error_before_the_effect_leaves_the_event_to_its_redelivery(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scenario "exception after the seen mark, before the effect -> the redelivered event is handled":
    the seen mark commits with the effect, so an error while the campaign is being written leaves the
    event unseen and the platform's redelivery of it makes the campaign (once)."""
    import engine.rounds

    real = engine.rounds.planning.first_spec
    calls = 0

    def broken_once(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the process died here")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.rounds.planning, "first_spec", broken_once)
    event = command("alice", "smart watch --variants 1", "Ev1")
    with pytest.raises(RuntimeError):
        await studio.engine.handle(event)
    assert await _count(studio, Campaign) == 0 and not studio.queue.jobs
    again = await studio.engine.handle(event)
    assert again and again.text.startswith("Working on it: campaign C")
    assert await studio.engine.handle(event) is None  # once handled, a third delivery is a duplicate
    async with studio.engine.repo.sessions() as s:
        assert [e.key for e in (await s.execute(select(SeenEvent))).scalars()] == ["test:Ev1"]
    assert await _count(studio, Campaign) == 1 and len(studio.queue.jobs) == 1
