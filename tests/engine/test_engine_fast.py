"""The engine end to end without a worker process: ack path, delivery, refine, replies, votes, failures,
resume, cancel, export, views. Seconds, not minutes."""

from __future__ import annotations

import zipfile

from sqlalchemy import select

from engine.emoji import NUMBER_EMOJI
from engine.jobs import JobState, RoundResult
from engine.store.models import Card, Outbox, Round
from tests.engine.conftest import Studio


async def _first_round(st: Studio, text: str = "smart watch for runners --variants 2 --seed 5") -> str:
    ack = await st.command(text)
    assert ack and "Working on it: campaign C1" in ack and "starting now" in ack
    await st.pump()
    await st.work()
    await st.pump()
    return st.thread()


async def test_a_command_is_acked_then_delivered_into_its_thread(studio: Studio) -> None:
    t = await _first_round(studio)
    root = studio.chat.roots()[0]
    assert '"smart watch for runners"' in root.text and "Alice" in root.text and "seed 5" in root.text
    cards = studio.chat.cards(t)
    assert [c.title for c in cards] == ["C1-R1-V1", "C1-R1-V2"]
    # images are named relative to the artifact store in the result; the adapter gets the real file
    assert all(c.file is not None and c.file.exists() for c in cards)
    (grid,) = studio.chat.grids(t)
    assert grid.reactions == NUMBER_EMOJI[:2] and grid.file is not None and grid.file.exists()
    status = next(m for m in studio.chat.thread(t) if m.text.startswith("⏳"))
    assert status.current == "✅ Round 1 is ready (2 s)"
    async with studio.engine.repo.sessions() as s:
        card_paths = [c.image_path for c in (await s.execute(select(Card))).scalars()]
        (rnd,) = (await s.execute(select(Round))).scalars()
    assert card_paths == ["images/C1/round-1/variant-1.png", "images/C1/round-1/variant-2.png"]
    assert rnd.state == "done" and RoundResult.from_dict(rnd.result or {}).variants[0].headline.startswith(
        "Headline 1"
    )
    assert all(j.handled for j in studio.queue.jobs.values())


async def test_a_round_is_running_while_its_job_runs(studio: Studio) -> None:
    await studio.command("smart watch")
    job = await studio.queue.claim("w1", 30)
    assert job is not None and await studio.queue.progress(job.id, "w1", "drawing", 50, 30)
    await studio.pump()
    rnd = await studio.engine.repo.round(1, 1)
    assert rnd is not None and rnd.state == "running"
    status = next(m for m in studio.chat.thread(studio.thread()) if m.text.startswith("⏳"))
    assert status.current == "⚙️ Round 1: drawing (50%)"
    # /campaign cancel finds a running round too
    assert "Cancelled 1 job(s) of C1" in (await studio.command("cancel C1") or "")


async def test_a_duplicate_event_is_ignored(studio: Studio) -> None:
    assert await studio.command("smart watch", event_id="E1")
    assert await studio.command("smart watch", event_id="E1") is None
    assert len(studio.queue.jobs) == 1


async def test_a_reaction_refines_the_chosen_variant_with_the_seed_rule(studio: Studio) -> None:
    t = await _first_round(studio)
    (grid,) = studio.chat.grids(t)
    await studio.react(grid, NUMBER_EMOJI[1])
    job = studio.queue.jobs["C1-R2"]
    assert job.spec.parent_variant == 2 and not job.spec.fresh
    assert job.spec.parent == {"round": 1, "seed": 5, "variants": [{"index": 1}, {"index": 2}]}
    from engine.brief import refine_seed

    assert job.spec.seed == refine_seed(5, 2)
    await studio.pump()
    assert any(m.text == "Round 2: refining C1-R1-V2." for m in studio.chat.thread(t))


async def test_a_reply_is_parsed_once_into_resolved_parameters(studio: Studio) -> None:
    t = await _first_round(studio, "smart watch for runners --variants 2 --tone friendly --length long")
    await studio.reply("much shorter, more playful, bluer, more like 2, cta: Try it free", thread=t)
    spec = studio.queue.jobs["C1-R2"].spec
    assert (spec.brief["tone"], spec.brief["length"]) == ("playful", "short")
    assert (spec.colour, spec.cta, spec.length_step, spec.parent_variant) == ("blue", "Try it free", -2, 2)
    assert spec.instruction and spec.instruction.startswith("much shorter")
    await studio.pump()
    echo = next(m.text for m in studio.chat.thread(t) if m.text.startswith("Got it:"))
    assert (
        "tone friendly -> playful" in echo and "colour blue" in echo and "Round 2: refining C1-R1-V2." in echo
    )


async def test_only_the_owner_steers_and_others_are_told_privately(studio: Studio) -> None:
    t = await _first_round(studio)
    await studio.reply("shorter", user="bob", thread=t)
    await studio.pump()
    assert "C1-R2" not in studio.queue.jobs
    assert (
        studio.chat.tells
        and studio.chat.tells[-1][2] == "bob"
        and "Only Alice can steer C1" in studio.chat.tells[-1][3]
    )


async def test_a_reply_that_is_not_understood_gets_a_private_hint(studio: Studio) -> None:
    t = await _first_round(studio)
    await studio.reply("the weather is lovely", thread=t)
    await studio.pump()
    assert "C1-R2" not in studio.queue.jobs and studio.chat.tells


async def test_back_to_an_earlier_round_reposts_its_grid(studio: Studio) -> None:
    t = await _first_round(studio)
    (grid,) = studio.chat.grids(t)
    await studio.react(grid, NUMBER_EMOJI[0])
    await studio.work()
    await studio.pump()
    await studio.reply("back to round 1", thread=t)
    await studio.pump()
    assert any(m.text.startswith("↩️ Back to round 1") and m.reactions for m in studio.chat.thread(t))
    camp = await studio.engine.repo.campaign(1)
    assert camp is not None and camp.base_round == 1


async def test_a_team_vote_refines_the_winner(studio: Studio) -> None:
    t = await _first_round(studio, "smart watch --variants 3 --vote 1m")
    (grid,) = studio.chat.grids(t)
    for user, emoji in (("alice", NUMBER_EMOJI[2]), ("bob", NUMBER_EMOJI[2]), ("carol", NUMBER_EMOJI[0])):
        await studio.react(grid, emoji, user=user)
    assert "C1-R2" not in studio.queue.jobs  # votes are counted, not acted on
    async with studio.engine.repo.sessions() as s, s.begin():
        rnd = (await s.execute(select(Round).where(Round.number == 1))).scalar_one()
        rnd.vote_deadline = 0.0  # the vote is over
    await studio.pump()
    assert studio.queue.jobs["C1-R2"].spec.parent_variant == 3
    assert any("Vote on round 1 closed (1: 1, 3: 2). Variant 3 wins" in m.text for m in studio.chat.thread(t))


async def test_a_failed_round_says_why_and_resume_queues_it_again(studio: Studio) -> None:
    await studio.command("smart watch --variants 2")
    await studio.pump()
    await studio.work(fail="the copy model is missing")
    await studio.pump()
    t = studio.thread()
    assert any("could not be made: the copy model is missing" in m.text for m in studio.chat.thread(t))
    assert "queued again" in (await studio.command("resume C1") or "")
    again = [j for j in studio.queue.jobs.values() if j.state == JobState.QUEUED]
    assert len(again) == 1 and again[0].id.startswith("C1-R1-again")
    await studio.work()
    await studio.pump()
    assert len(studio.chat.cards(t)) == 2


async def test_cancel_stops_queued_rounds_and_only_for_the_owner(studio: Studio) -> None:
    await studio.command("smart watch")
    assert "Only Alice can cancel it" in (await studio.command("cancel C1", user="bob") or "")
    assert "Cancelled 1 job(s) of C1" in (await studio.command("cancel C1") or "")
    await studio.pump()
    assert any(m.text == "❌ Round 1 was cancelled." for m in studio.chat.thread(studio.thread()))


async def test_limits_are_friendly(studio: Studio) -> None:
    studio.engine.settings.max_jobs_per_user = 1
    await studio.command("smart watch")
    assert "You already have 1 rounds being made" in (await studio.command("green tea") or "")


async def test_export_zips_every_finished_round(studio: Studio) -> None:
    t = await _first_round(studio)
    assert "Exporting C1" in (await studio.command("export C1") or "")
    await studio.pump()
    note = next(m for m in studio.chat.thread(t) if m.text.startswith("📦 Export of C1"))
    assert note.file is not None
    with zipfile.ZipFile(note.file) as z:
        assert "C1/round-1/variant-2.png" in z.namelist() and "C1/round-1/copy.md" in z.namelist()


async def test_status_and_history_views(studio: Studio) -> None:
    await _first_round(studio)
    await studio.queue.heartbeat("w1", "ready", device="cpu", pid=1)
    status = await studio.command("status")
    assert status and "Queue: 0 round(s)" in status and "ready on cpu" in status
    history = await studio.command("history C1")
    assert history and 'C1-R1-V1 "Headline 1 of C1-R1"' in history and "image seed 6" in history


async def test_posts_keep_artifact_names_not_host_paths(studio: Studio) -> None:
    await _first_round(studio)
    async with studio.engine.repo.sessions() as s:
        files = [o.message["file"] for o in (await s.execute(select(Outbox))).scalars() if o.message["file"]]
    assert files and all(not f.startswith("/") for f in files), files


async def test_two_exports_at_once_both_finish(studio: Studio) -> None:
    import asyncio

    t = await _first_round(studio)
    camp = await studio.engine.repo.campaign(1)
    assert camp is not None
    a, b = await asyncio.gather(studio.engine._export(camp), studio.engine._export(camp))
    assert a == b and a.exists() and not list(a.parent.glob("*.tmp"))
    await studio.pump()
    assert any(m.text.startswith("📦 Export of C1") for m in studio.chat.thread(t))


async def test_a_broken_character_gets_a_friendly_answer(studio: Studio) -> None:
    reply = await studio.command("smart watch \ud800 for runners")
    assert reply and "broken character" in reply and not studio.queue.jobs
    t = await _first_round(studio)
    await studio.reply("shorter \udc00", thread=t)
    await studio.pump()
    assert "C1-R2" not in studio.queue.jobs


async def test_a_deleted_status_line_does_not_keep_the_job_unhandled(studio: Studio) -> None:
    """Editing a status message that was deleted fails for good: the round is still delivered and its
    job handled, instead of an edit retried every few seconds forever."""
    from engine.errors import PermanentPlatformError

    async def gone(channel: str, thread: str | None, message_id: str, text: str) -> None:
        raise PermanentPlatformError("Slack refused: message_not_found")

    studio.chat.edit = gone  # type: ignore[method-assign]
    t = await _first_round(studio)
    assert len(studio.chat.cards(t)) == 2
    assert all(j.handled for j in studio.queue.jobs.values())


async def test_a_busy_database_gets_an_answer_and_the_redelivery_is_handled(studio: Studio) -> None:
    from sqlalchemy.exc import OperationalError

    real = studio.engine.repo.create_campaign
    calls = 0

    async def locked(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        raise OperationalError("INSERT INTO campaigns ...", {}, Exception("database is locked"))

    studio.engine.repo.create_campaign = locked  # type: ignore[method-assign]
    reply = await studio.command("smart watch", event_id="E9")
    assert reply and "busy" in reply and calls == 1 and not studio.queue.jobs
    studio.engine.repo.create_campaign = real  # type: ignore[method-assign]
    # the platform delivers the same event again: it is not ignored as a duplicate
    reply = await studio.command("smart watch", event_id="E9")
    assert reply and "Working on it" in reply and len(studio.queue.jobs) == 1


async def test_one_event_delivered_twice_at_once_has_one_effect(studio: Studio) -> None:
    """The seen mark is written in the effect's transaction under a unique key: two deliveries of one
    reply at the same time make one round; the second is told nothing."""
    import asyncio

    from engine.events import ReplyEvent, Where

    t = await _first_round(studio)
    where = Where("test", "W1", "C-general", t)
    ev = ReplyEvent(where, "alice", "shorter", message_id="m1", event_id="Ev7")
    got = await asyncio.gather(*(studio.engine.handle(ev) for _ in range(4)))
    assert got == [None] * 4
    assert sorted(j.spec.round_number for j in studio.queue.jobs.values()) == [1, 2]
    assert await studio.engine.repo.max_round(1) == 2


async def test_a_round_that_ends_in_any_way_frees_its_users_slot(studio: Studio) -> None:
    """The limits count rounds being made in the store: a round leaves queued/running when its job is
    cancelled, fails or is dropped, so its user may start another one (never locked out)."""
    assert "Working on it" in (await studio.command("watch one --variants 1") or "")
    assert "Working on it" in (await studio.command("watch two --variants 1") or "")
    refused = await studio.command("watch three --variants 1")
    assert refused and "You already have 2 rounds being made" in refused
    assert "Cancelled 1 job(s) of C1" in (await studio.command("cancel C1") or "")
    await studio.pump()
    assert "Working on it: campaign C" in (await studio.command("watch four --variants 1") or "")
    await studio.work(fail="the studio broke")  # C2's job fails
    await studio.pump()
    assert "Working on it: campaign C" in (await studio.command("watch five --variants 1") or "")
    studio.queue.jobs["C3-R1"].created_at -= 10 * studio.engine.settings.job_ttl_seconds
    studio.engine.delivery._last_housekeeping = 0.0
    await studio.pump()
    assert studio.queue.jobs["C3-R1"].state == JobState.DROPPED
    assert "Working on it: campaign C" in (await studio.command("watch six --variants 1") or "")
    states = {r.campaign_id: r.state for c in range(1, 6) for r in await studio.engine.repo.rounds(c)}
    assert states == {1: "cancelled", 2: "failed", 3: "dropped", 4: "queued", 5: "queued"}


async def test_a_queue_error_after_the_round_is_written_is_recovered_not_doubled(studio: Studio) -> None:
    """The round row (written with the event's seen mark) is the promise: when the queue fails right
    after, the user's answer stands, the delivery loop's recovery enqueues the job, and the platform's
    redelivery of the event makes no second campaign."""
    from sqlalchemy.exc import OperationalError

    real = studio.queue.enqueue

    async def down(*args: object, **kwargs: object) -> bool:
        raise OperationalError("INSERT INTO jobs ...", {}, Exception("database is locked"))

    studio.queue.enqueue = down  # type: ignore[method-assign]
    reply = await studio.command("smart watch --variants 1", event_id="E5")
    assert reply and reply.startswith("Working on it: campaign C1") and not studio.queue.jobs
    studio.queue.enqueue = real  # type: ignore[method-assign]
    assert await studio.command("smart watch --variants 1", event_id="E5") is None
    studio.engine.delivery._last_housekeeping = 0.0
    await studio.pump()
    assert list(studio.queue.jobs) == ["C1-R1"]
    await studio.work()
    await studio.pump()
    assert len(studio.chat.cards(studio.thread())) == 1
