"""Cards as they are ready (issue 16): a round's cards are posted as each variant is finished (the worker's
``partial`` reports), the contact sheet when all are. Real engine and store (SQLite and PostgreSQL), the
in-memory queue, a recording chat; the tests play the worker through the queue's consumer side."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.engine import Engine
from engine.events import ButtonEvent, Where
from engine.jobs import Job, JobState, VariantResult
from engine.store.db import make_engine
from engine.store.models import Vote
from engine.store.repo import Repo
from tests.engine.conftest import HERE, Studio
from tests.fakes.recording import Posted


async def _running(st: Studio, args: str = "--variants 4 --seed 5") -> tuple[Job, list[VariantResult], str]:
    """A campaign whose first round's job a worker has taken; its variants made (not reported yet)."""
    await st.command(f"smart watch for runners {args}")
    await st.pump()
    job = await st.start()
    return job, st.make(job), st.thread()


def _titles(st: Studio, t: str) -> list[str]:
    return [c.title for c in st.chat.cards(t)]


def _status(st: Studio, t: str) -> Posted:
    return next(m for m in st.chat.thread(t) if m.key.endswith(":status"))


async def test_each_card_is_posted_as_its_variant_is_ready_and_the_sheet_when_all_are(studio: Studio) -> None:
    job, made, t = await _running(studio)
    assert await studio.queue.partial(job.id, "w1", made[0])
    await studio.pump(1)  # one delivery pass: stored and posted
    assert studio.queue.jobs[job.id].state == JobState.RUNNING  # the round is still being made
    assert _titles(studio, t) == ["C1-R1-V1"] and studio.chat.grids(t) == []
    (first,) = studio.chat.cards(t)
    assert first.key == f"{job.id}:v1" and first.file is not None and first.file.exists()
    assert [f[0] for f in first.fields] == ["Headline", "Body", "Call to action"]
    assert first.buttons == ["Refine 1", "Export"]
    assert not _status(studio, t).current.startswith("✅")
    assert await studio.queue.partial(job.id, "w1", made[1])
    await studio.pump(1)
    assert _titles(studio, t) == ["C1-R1-V1", "C1-R1-V2"]
    await studio.finish(job, made)
    await studio.pump()
    # the result adds only what was not posted: the other two cards, then the contact sheet
    assert _titles(studio, t) == ["C1-R1-V1", "C1-R1-V2", "C1-R1-V3", "C1-R1-V4"]
    (grid,) = studio.chat.grids(t)
    assert studio.chat.posted[-1] == grid.id  # the sheet comes last
    keys = [m.key for m in studio.chat.messages.values()]
    assert len(keys) == len(set(keys))
    assert _status(studio, t).current.startswith("✅ Round 1 is ready")
    cards = await studio.engine.repo.cards(1)
    assert [c.id for c in cards] == ["C1-R1-V1", "C1-R1-V2", "C1-R1-V3", "C1-R1-V4"]
    assert all(c.data["models"] == {"copy": "tiny@1", "visual": "tiny@1"} for c in cards)  # the result's
    assert all(c.data["size"] == "square" and c.data["seed"] == 5 for c in cards)


async def test_a_delivery_that_forgot_what_it_posted_posts_no_card_twice(studio: Studio) -> None:
    """An engine restarted mid-round (its memory gone) sees the job's finished variants again."""
    job, made, t = await _running(studio)
    for v in made[:2]:
        assert await studio.queue.partial(job.id, "w1", v)
    await studio.pump(1)
    studio.engine.delivery._edits.clear()
    studio.engine.delivery._held.clear()
    await studio.pump()
    assert _titles(studio, t) == ["C1-R1-V1", "C1-R1-V2"]
    await studio.finish(job, made)
    studio.engine.delivery._edits.clear()
    await studio.pump()
    assert _titles(studio, t) == ["C1-R1-V1", "C1-R1-V2", "C1-R1-V3", "C1-R1-V4"]
    assert len(studio.chat.grids(t)) == 1


async def test_a_job_taken_again_posts_each_card_once_and_a_posted_card_stands(studio: Studio) -> None:
    """The worker died after two variants; another made the round again (the same seed). Posted cards
    are not posted again; had a variant come out differently, its post stands and the engine's records
    (card, round result) are the finished round's."""
    job, made, t = await _running(studio)
    for v in made[:2]:
        assert await studio.queue.partial(job.id, "w1", v)
    await studio.pump(1)
    j = studio.queue.jobs[job.id]  # w1's lease ran out; w2 took the job
    j.worker, j.attempts = "w2", 2
    assert not await studio.queue.partial(job.id, "w1", made[2])  # the dead worker's late report
    remade = studio.make(job, headline="Remade")
    for v in remade:
        assert await studio.queue.partial(job.id, "w2", v)
    await studio.pump(1)
    assert _titles(studio, t) == ["C1-R1-V1", "C1-R1-V2", "C1-R1-V3", "C1-R1-V4"]
    await studio.finish(job, remade, worker="w2")
    await studio.pump()
    cards = studio.chat.cards(t)
    assert [c.title for c in cards] == ["C1-R1-V1", "C1-R1-V2", "C1-R1-V3", "C1-R1-V4"]
    assert cards[0].text.endswith(f"Headline 1 of {job.id}")  # posted before the worker died: it stands
    assert cards[2].text.endswith(f"Remade 3 of {job.id}")
    assert len(studio.chat.grids(t)) == 1
    (v1, *_) = await studio.engine.repo.cards(1)
    assert v1.data["copy"]["headline"] == f"Remade 1 of {job.id}"  # the records are the result's


async def test_only_the_engine_that_follows_the_job_stores_its_early_cards(studio: Studio) -> None:
    """Two replicas on one database: the one holding the job's delivery lease stores its cards."""
    url = studio.engine.repo.db.url.render_as_string(hide_password=False)
    other = Engine(
        studio.engine.settings, Repo(make_engine(url)), studio.queue, studio.artifacts, [studio.chat]
    )
    await other.start()
    stored: list[str] = []
    real = other.repo.round_cards

    async def spy(job_id: str, *args: Any) -> int:
        stored.append(job_id)
        return await real(job_id, *args)

    other.repo.round_cards = spy  # type: ignore[method-assign]
    try:
        job, made, t = await _running(studio)  # the first engine follows the job already
        for v in made[:2]:
            assert await studio.queue.partial(job.id, "w1", v)
        await other.pump()
        assert stored == [] and _titles(studio, t) == []
        await studio.pump(1)
        await other.pump()
        assert stored == [] and _titles(studio, t) == ["C1-R1-V1", "C1-R1-V2"]
    finally:
        await other.close()


async def test_a_card_chosen_before_its_round_is_done_refines_once_the_round_is(studio: Studio) -> None:
    job, made, t = await _running(studio)
    assert await studio.queue.partial(job.id, "w1", made[1])
    await studio.pump(1)
    (card,) = studio.chat.cards(t)
    await studio.react(card, "⭐")
    await studio.pump()
    assert sorted(studio.queue.jobs) == ["C1-R1"]  # waits for its round
    pending = await studio.engine.repo.pending_choice(1)
    assert pending is not None and (pending.round_number, pending.variant) == (1, 2)
    assert not studio.chat.tells  # not told to wait for its own round
    await studio.finish(job, made)
    await studio.pump()
    assert sorted(studio.queue.jobs) == ["C1-R1", "C1-R2"]
    assert studio.queue.jobs["C1-R2"].spec.parent_variant == 2
    assert await studio.engine.repo.pending_choice(1) is None


async def test_the_refine_button_on_an_early_card_waits_for_its_round(studio: Studio) -> None:
    job, made, t = await _running(studio)
    assert await studio.queue.partial(job.id, "w1", made[0])
    await studio.pump(1)
    where = Where(HERE.platform, HERE.workspace, HERE.channel, t)
    got = await studio.engine.handle(ButtonEvent(where, "alice", "refine", "C1-R1-V1"))
    assert got is not None and got.text == "Refining C1-R1-V1 once round 1 is done."
    not_yet = await studio.engine.handle(ButtonEvent(where, "alice", "refine", "C1-R1-V3"))
    assert not_yet is not None and "not ready yet" in not_yet.text  # no card of it yet
    await studio.finish(job, made)
    await studio.pump()
    assert studio.queue.jobs["C1-R2"].spec.parent_variant == 1


async def test_a_reaction_on_an_early_card_of_a_team_vote_is_a_vote(studio: Studio) -> None:
    job, made, t = await _running(studio, "--variants 3 --vote 10m --seed 2")
    assert await studio.queue.partial(job.id, "w1", made[2])
    await studio.pump(1)
    (card,) = studio.chat.cards(t)
    await studio.react(card, "⭐", user="bob")
    await studio.finish(job, made)
    await studio.pump()
    async with studio.engine.repo.sessions() as s:
        votes = (await s.execute(select(Vote))).scalars().all()
    assert [(v.user, v.round_number, v.variant_index) for v in votes] == [("bob", 1, 3)]
    assert sorted(studio.queue.jobs) == ["C1-R1"]  # votes tally at the deadline
    rnd = await studio.engine.repo.round(1, 1)
    assert rnd is not None and rnd.vote_deadline is not None
