"""Issue 14, reaction storms: reactions and Refine buttons are debounced (a durable pending choice per
campaign, settled by the delivery loop when its deadline passes) and at most one reaction/button round is
in flight per campaign. Real engine and store (SQLite and PostgreSQL), in-memory queue, recording chat.

- 30 users reacting in one second -> one refinement (of the latest choice);
- an owner toggling a number reaction 20 times -> no round (it ends taken back), or, with no debounce,
  one round and one "please wait" note;
- while a round of the campaign is being made, a reaction or button is told to wait; replies still queue;
- an engine restart before the deadline -> the choice still starts one refinement afterwards, once, even
  with two engines settling at once.

Deadlines are moved into the past in the store (as the vote tests do) instead of waiting for a clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from engine.artifacts import LocalArtifacts
from engine.emoji import NUMBER_EMOJI
from engine.engine import Engine
from engine.events import ButtonEvent, ReactionEvent, Where
from engine.settings import Settings
from engine.store.db import database_url, make_engine
from engine.store.migrate import upgrade_async
from engine.store.models import PendingChoice
from engine.store.repo import Repo
from tests.engine.conftest import HERE, Studio, _fresh_postgres
from tests.fakes.queue import FakeQueue
from tests.fakes.recording import Posted, RecordingAdapter

WAIT = "A round of C1 is already being made"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = database_url(tmp_path, None) if request.param == "sqlite" else await _fresh_postgres()
    await upgrade_async(url)
    return url


def _engine(url: str, tmp_path: Path, queue: FakeQueue, chat: RecordingAdapter) -> Engine:
    settings = Settings(
        data_dir=tmp_path,
        status_edit_interval=0,
        reaction_debounce_seconds=60,  # nothing settles by the clock during a test: deadlines are moved
        who_can_choose="anyone",
        max_jobs_per_user=50,
        _env_file=None,  # type: ignore[call-arg]
    )
    return Engine(settings, Repo(make_engine(url)), queue, LocalArtifacts(tmp_path), [chat])


@pytest.fixture
async def studio(store_url: str, tmp_path: Path) -> AsyncIterator[Studio]:
    engine = _engine(store_url, tmp_path, FakeQueue(), RecordingAdapter())
    await engine.start()
    yield Studio(engine, engine.queue, engine.adapters["test"], engine.artifacts)  # type: ignore[arg-type]
    await engine.close()


async def _first_round(st: Studio, variants: int = 4) -> tuple[str, Posted]:
    await st.command(f"smart watch for runners --variants {variants} --seed 5")
    await st.pump()
    await st.work()
    await st.pump()
    t = st.thread()
    (grid,) = st.chat.grids(t)
    return t, grid


def _reaction(grid: Posted, user: str, emoji: str, n: int, *, removed: bool = False) -> ReactionEvent:
    where = Where(HERE.platform, HERE.workspace, HERE.channel, grid.thread)
    return ReactionEvent(where, user, grid.id, emoji, event_id=f"ev-{n}", removed=removed)


async def _deadline_passes(engine: Engine) -> None:
    async with engine.repo.sessions() as s, s.begin():
        await s.execute(update(PendingChoice).values(due_at=0.0))


def _rounds(st: Studio) -> list[str]:
    return sorted(st.queue.jobs)


def _tells(st: Studio, user: str, text: str) -> int:
    return sum(1 for _, _, who, said in st.chat.tells if who == user and text in said)


async def test_a_storm_of_thirty_reactions_in_one_second_makes_one_refinement(studio: Studio) -> None:
    _, grid = await _first_round(studio)
    storm = [_reaction(grid, f"user{i}", NUMBER_EMOJI[i % 4], i) for i in range(30)]
    await asyncio.gather(*(studio.engine.handle(e) for e in storm))
    assert _rounds(studio) == ["C1-R1"]  # debounced: nothing started yet
    pending = await studio.engine.repo.pending_choice(1)
    assert pending is not None and pending.round_number == 1
    await studio.pump()
    assert _rounds(studio) == ["C1-R1"]  # the deadline has not passed
    await _deadline_passes(studio.engine)
    await studio.pump()
    assert _rounds(studio) == ["C1-R1", "C1-R2"]
    spec = studio.queue.jobs["C1-R2"].spec
    assert (spec.user, spec.parent_variant) == (pending.user, pending.variant)  # the latest choice
    assert await studio.engine.repo.pending_choice(1) is None
    # a second storm while round 2 is being made: each person is told once to wait, nothing queued
    again = [_reaction(grid, f"user{i}", NUMBER_EMOJI[1], 100 + i + k) for i in range(10) for k in (0, 50)]
    await asyncio.gather(*(studio.engine.handle(e) for e in again))
    await _deadline_passes(studio.engine)
    await studio.pump()
    assert _rounds(studio) == ["C1-R1", "C1-R2"]
    assert all(_tells(studio, f"user{i}", WAIT) == 1 for i in range(10))


async def test_an_owner_toggling_a_reaction_twenty_times_makes_at_most_one_round(studio: Studio) -> None:
    _, grid = await _first_round(studio)
    for n in range(20):  # on, off, on, off ... ending taken back
        await studio.engine.handle(_reaction(grid, "alice", NUMBER_EMOJI[1], n, removed=n % 2 == 1))
    assert await studio.engine.repo.pending_choice(1) is None
    await _deadline_passes(studio.engine)
    await studio.pump()
    assert _rounds(studio) == ["C1-R1"]
    # twenty more, ending on: one refinement of that variant
    for n in range(20, 41):
        await studio.engine.handle(_reaction(grid, "alice", NUMBER_EMOJI[2], n, removed=n % 2 == 1))
    await _deadline_passes(studio.engine)
    await studio.pump()
    assert _rounds(studio) == ["C1-R1", "C1-R2"]
    assert studio.queue.jobs["C1-R2"].spec.parent_variant == 3


async def test_with_no_debounce_toggling_starts_one_round_and_tells_the_owner_once(studio: Studio) -> None:
    _, grid = await _first_round(studio)
    studio.engine.settings.reaction_debounce_seconds = 0
    for n in range(20):
        await studio.engine.handle(_reaction(grid, "alice", NUMBER_EMOJI[0], n, removed=n % 2 == 1))
    await studio.pump()
    assert _rounds(studio) == ["C1-R1", "C1-R2"]
    assert _tells(studio, "alice", WAIT) == 1, studio.chat.tells


async def test_one_reaction_or_button_round_in_flight_per_campaign_but_replies_still_queue(
    studio: Studio,
) -> None:
    t, grid = await _first_round(studio, variants=2)
    await studio.engine.handle(_reaction(grid, "alice", NUMBER_EMOJI[0], 1))
    await _deadline_passes(studio.engine)
    await studio.pump()
    assert _rounds(studio) == ["C1-R1", "C1-R2"]
    where = Where(HERE.platform, HERE.workspace, HERE.channel, t)
    button = await studio.engine.handle(ButtonEvent(where, "alice", "refine", "C1-R1-V2", event_id="b1"))
    assert button is not None and WAIT in button.text
    await studio.engine.handle(_reaction(grid, "bob", NUMBER_EMOJI[1], 2))
    assert await studio.engine.repo.pending_choice(1) is None
    # a thread reply is not a choice: it still makes its round
    await studio.reply("shorter", thread=t)
    assert _rounds(studio) == ["C1-R1", "C1-R2", "C1-R3"]
    await studio.pump()
    assert _tells(studio, "bob", WAIT) == 1
    # when the campaign's rounds are made, a button choice is taken again (after its debounce)
    await studio.work()
    await studio.work()
    await studio.pump()
    button = await studio.engine.handle(ButtonEvent(where, "alice", "refine", "C1-R1-V2", event_id="b2"))
    assert button is not None and button.text == "Refining C1-R1-V2."
    await _deadline_passes(studio.engine)
    await studio.pump()
    assert _rounds(studio) == ["C1-R1", "C1-R2", "C1-R3", "C1-R4"]


async def test_a_choice_settling_while_a_reply_round_is_made_is_refused_once_and_dropped(
    studio: Studio,
) -> None:
    t, grid = await _first_round(studio, variants=2)
    await studio.engine.handle(_reaction(grid, "bob", NUMBER_EMOJI[1], 1))
    await studio.reply("bolder", thread=t)  # round 2 comes from the reply before the choice settles
    await _deadline_passes(studio.engine)
    await studio.pump()
    await studio.pump()
    assert _rounds(studio) == ["C1-R1", "C1-R2"]
    assert await studio.engine.repo.pending_choice(1) is None
    assert _tells(studio, "bob", WAIT) == 1


async def test_a_restart_before_the_deadline_still_starts_one_refinement(
    store_url: str, tmp_path: Path
) -> None:
    queue, chat = FakeQueue(), RecordingAdapter()
    first = _engine(store_url, tmp_path, queue, chat)
    await first.start()
    st = Studio(first, queue, chat, first.artifacts)
    _, grid = await _first_round(st)
    await first.handle(_reaction(grid, "alice", NUMBER_EMOJI[3], 1))
    await first.close()  # the engine stops before the deadline
    engines = [_engine(store_url, tmp_path, queue, chat) for _ in range(2)]
    for e in engines:
        await e.start()
    try:
        await engines[0].pump()
        assert sorted(queue.jobs) == ["C1-R1"]  # still waiting out its deadline
        await _deadline_passes(engines[0])
        await asyncio.gather(*(e.pump() for e in engines))  # two engines settle at once: one round
        await asyncio.gather(*(e.pump() for e in engines))
        assert sorted(queue.jobs) == ["C1-R1", "C1-R2"]
        assert queue.jobs["C1-R2"].spec.parent_variant == 4
        assert [r.number for r in await engines[0].repo.rounds(1)] == [1, 2]
    finally:
        for e in engines:
            await e.close()
