"""Retention: campaigns, images and exports older than the settings allow are deleted (rows and files),
never those of a campaign with a job still active; late events on an expired campaign get a clear answer;
the delivery loop prunes on its own, at most once per interval. Both stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine.artifacts import DatabaseArtifacts
from engine.emoji import NUMBER_EMOJI
from engine.errors import CampaignExpiredError
from engine.events import ButtonEvent
from engine.store.models import Campaign, Card, JobRow, MessageRef, Outbox, Round, SeenEvent
from engine.store.repo import EXPIRED_REF
from tests.engine.conftest import HERE, Studio

DAY = 86400.0


async def _round(st: Studio, text: str = "smart watch --variants 2") -> None:
    assert await st.command(text)
    await st.pump()
    await st.work()
    await st.pump()


async def _age(st: Studio, campaign_id: int, days: float) -> None:
    """Make a campaign (its rows and its files) look ``days`` old."""
    async with st.engine.repo.sessions() as s, s.begin():
        await s.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(created_at=Campaign.created_at - days * DAY)
        )
        await s.execute(
            update(Round)
            .where(Round.campaign_id == campaign_id)
            .values(created_at=Round.created_at - days * DAY)
        )
        await s.execute(
            update(Outbox)
            .where(Outbox.campaign_id == campaign_id)
            .values(created_at=Outbox.created_at - days * DAY)
        )
    for f in st.artifacts.root.rglob(f"C{campaign_id}*"):
        for g in [f, *f.rglob("*")]:
            t = g.stat().st_mtime - days * DAY
            os.utime(g, (t, t))


async def _count(st: Studio, model: type, *where: object) -> int:
    async with st.engine.repo.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def test_an_old_campaign_expires_its_rows_and_files_go_a_new_one_stays(studio: Studio) -> None:
    await _round(studio)  # C1
    assert await studio.command("export C1")
    await studio.pump()
    await _round(studio, "espresso machine --variants 2")  # C2, made now
    await _age(studio, 1, 31)
    root = studio.artifacts.root
    assert (root / "images/C1/round-1").is_dir() and list((root / "exports").glob("C1-*.zip"))

    dry = await studio.engine.prune(dry_run=True)
    assert dry.campaigns == [1] and dry.rows["rounds"] == 1 and dry.rows["cards"] == 2
    assert "images/C1" in dry.files and any(f.startswith("exports/C1-") for f in dry.files)
    assert dry.lines()[0].startswith("would remove 1 expired campaigns (C1)")
    assert (root / "images/C1/round-1").is_dir() and await _count(studio, Round) == 2  # a dry run keeps all

    report = await studio.engine.prune()
    assert report.campaigns == [1] and report.rows == {**dry.rows, "seen_events": 0}
    assert report.rows["outbox"] >= 5 and report.rows["message_refs"] >= 3
    assert not (root / "images/C1").exists() and not list((root / "exports").glob("C1-*"))
    assert (root / "images/C2/round-1").is_dir()
    assert await _count(studio, Round, Round.campaign_id == 1) == 0
    assert await _count(studio, Card, Card.campaign_id == 1) == 0
    assert await _count(studio, Outbox, Outbox.campaign_id == 1) == 0
    assert await _count(studio, MessageRef, MessageRef.campaign_id == 1, MessageRef.kind != EXPIRED_REF) == 0
    assert await _count(studio, Round, Round.campaign_id == 2) == 1
    c1 = await studio.engine.repo.campaign(1)
    assert c1 is not None and c1.expired_at is not None and c1.brief == {}
    # a second pass finds nothing more
    assert (await studio.engine.prune()).empty


async def test_a_campaign_with_a_job_still_active_is_never_touched(studio: Studio) -> None:
    await _round(studio)
    await studio.reply("shorter")  # round 2 queued, its job not taken yet
    await _age(studio, 1, 40)
    report = await studio.engine.prune()
    assert report.campaigns == [] and report.files == []
    assert await _count(studio, Round, Round.campaign_id == 1) == 2
    assert (studio.artifacts.root / "images/C1/round-1").is_dir()


async def test_late_reactions_replies_buttons_and_commands_hear_the_campaign_expired(studio: Studio) -> None:
    await _round(studio)
    thread = studio.thread()
    (grid,) = studio.chat.grids(thread)
    await _age(studio, 1, 31)
    assert (await studio.engine.prune()).campaigns == [1]
    expired = "Campaign C1 has expired (older than 30 days)"

    await studio.react(grid, NUMBER_EMOJI[1])
    await studio.react(grid, "thumbsup")  # not a choice: no answer
    assert await studio.reply("shorter", thread=thread) is None
    await studio.pump()
    told = [text for _, _, _, text in studio.chat.tells]
    assert len(told) == 2 and all(t.startswith(expired) and "/campaign" in t for t in told)
    assert not studio.queue.jobs.get("C1-R2")  # nothing was started

    ans = await studio.engine.handle(ButtonEvent(HERE, "alice", "refine", "C1-R1-V2"))
    assert ans is not None and ans.text.startswith(expired)
    assert (await studio.command("history C1") or "").startswith(expired)
    # the notes sent to an expired campaign are pruned by the next pass
    await studio.engine.prune()
    assert await _count(studio, Outbox, Outbox.campaign_id == 1) == 0


async def test_images_and_exports_have_their_own_retention(studio: Studio) -> None:
    settings = studio.engine.settings
    settings.retention_days, settings.image_retention_days, settings.export_retention_days = 0, 10, 3
    await _round(studio)
    assert await studio.command("export C1")
    await studio.pump()
    root = studio.artifacts.root
    await _age(studio, 1, 5)  # exports past 3 days, images not past 10
    report = await studio.engine.prune()
    assert report.campaigns == [] and [f for f in report.files if f.startswith("exports/")] == report.files
    assert report.files and (root / "images/C1/round-1").is_dir()
    await _age(studio, 1, 6)
    report = await studio.engine.prune()
    assert report.files == ["images/C1/round-1"] and not (root / "images/C1/round-1").exists()
    assert await _count(studio, Card, Card.campaign_id == 1) == 2  # rows are kept (retention_days = 0)
    assert (await studio.command("history C1") or "").startswith("C1")
    # what needs the images says so; choosing from the round still works
    assert "images of C1 have expired" in (await studio.command("export C1") or "")
    await studio.reply("back to round 1")
    await studio.pump()
    grid = next(m for m in studio.chat.thread(studio.thread()) if m.text.startswith("↩️ Back to round 1"))
    assert grid.file is None and "images have expired" in grid.text
    await studio.react(grid, NUMBER_EMOJI[0])
    assert "C1-R2" in studio.queue.jobs


async def test_zero_days_keeps_everything_forever(studio: Studio) -> None:
    settings = studio.engine.settings
    settings.retention_days = settings.image_retention_days = settings.export_retention_days = 0
    await _round(studio)
    assert await studio.command("export C1")
    await studio.pump()
    await _age(studio, 1, 3650)
    report = await studio.engine.prune()
    assert report.campaigns == [] and report.files == []


async def test_the_delivery_loop_prunes_at_most_once_per_interval(studio: Studio) -> None:
    await _round(studio)  # the first pass of the loop pruned (nothing was old)
    await _age(studio, 1, 31)
    await studio.pump()
    assert await _count(studio, Round, Round.campaign_id == 1) == 1  # within the interval: not yet
    studio.engine.delivery._last_prune -= studio.engine.settings.prune_interval_seconds
    await studio.pump()
    assert await _count(studio, Round, Round.campaign_id == 1) == 0
    assert not (studio.artifacts.root / "images/C1").exists()


async def test_seen_event_ids_older_than_a_day_are_forgotten(studio: Studio) -> None:
    assert await studio.command("smart watch", event_id="E1")
    async with studio.engine.repo.sessions() as s, s.begin():
        await s.execute(update(SeenEvent).values(seen_at=SeenEvent.seen_at - 2 * DAY))
    assert (await studio.engine.prune(dry_run=True)).rows["seen_events"] == 1
    assert (await studio.engine.prune()).rows["seen_events"] == 1
    assert await _count(studio, SeenEvent) == 0


def test_the_prune_command_prints_what_it_removes(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from bot.cli import main

    monkeypatch.setenv("CAMPAIGNBOT_DATA_DIR", str(tmp_path))
    old = tmp_path / "exports" / "C9-1rounds.zip"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"zip")
    os.utime(old, (1.0, 1.0))
    assert main(["prune", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would remove" in out and "exports/C9-1rounds.zip" in out and old.exists()
    assert main(["prune"]) == 0
    assert "removed" in capsys.readouterr().out and not old.exists()


async def test_handled_jobs_go_with_their_campaign_an_unhandled_one_keeps_it(studio: Studio) -> None:
    """The SQL queue's rows: a handled job (and a retry's) goes; a job not handled yet keeps the campaign."""
    await _round(studio)  # C1
    await _round(studio, "espresso machine --variants 2")  # C2
    async with studio.engine.repo.sessions() as s, s.begin():
        for job_id, handled in [("C1-R1", True), ("C1-R1-again7", True), ("C2-R1", False), ("C12-R1", True)]:
            s.add(JobRow(id=job_id, kind="round", payload={}, state="done", handled=handled))
    await _age(studio, 1, 31)
    await _age(studio, 2, 31)
    report = await studio.engine.prune()
    assert report.campaigns == [1] and report.rows["jobs"] == 2
    async with studio.engine.repo.sessions() as s:
        assert sorted((await s.scalars(select(JobRow.id))).all()) == ["C12-R1", "C2-R1"]
    assert await _count(studio, Round, Round.campaign_id == 2) == 1


async def test_the_delivery_loop_expires_a_batch_per_pass_and_goes_on(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.delivery.PRUNE_BATCH", 1)
    await _round(studio)
    await _round(studio, "espresso machine --variants 2")
    await _age(studio, 1, 31)
    await _age(studio, 2, 31)
    studio.engine.delivery._last_prune = 0.0
    await studio.engine.pump()
    assert await _count(studio, Campaign, Campaign.expired_at.is_not(None)) == 1
    await studio.engine.pump()  # a full batch: the next pass does not wait for the interval
    assert await _count(studio, Campaign, Campaign.expired_at.is_not(None)) == 2


async def test_a_round_asked_of_a_campaign_that_expired_meanwhile_is_refused(studio: Studio) -> None:
    """The event read the campaign before retention expired it: adding its round is refused in the
    round's own transaction, so no round (and no job) is added to an expired campaign."""
    await _round(studio)
    camp = await studio.engine.repo.campaign(1)
    rnd = await studio.engine.repo.round(1, 1)
    assert camp is not None and rnd is not None
    await _age(studio, 1, 31)
    assert (await studio.engine.prune()).campaigns == [1]
    with pytest.raises(CampaignExpiredError):
        await studio.engine.rounds.start(camp, "alice", base=rnd, choice=1, edits=None, note="")
    assert await _count(studio, Round, Round.campaign_id == 1) == 0 and "C1-R2" not in studio.queue.jobs


async def test_the_database_artifact_store_is_pruned_by_the_same_rules(
    studio: Studio, tmp_path: Path
) -> None:
    """With CAMPAIGNBOT_ARTIFACT_STORE=database a replica prunes what the store holds, not only its own disk:
    here the replica pruning has no local copy at all (the round was made on a worker host)."""
    await _round(studio)  # C1
    assert await studio.command("export C1")
    await studio.pump()
    await _round(studio, "espresso machine --variants 2")  # C2, made now
    maker = DatabaseArtifacts(studio.artifacts.root, studio.engine.repo.sessions)  # the host that made them
    for name in ("images/C1", "images/C2", "exports"):
        await maker.publish(name)
    replica = DatabaseArtifacts(tmp_path / "other-replica", studio.engine.repo.sessions)
    studio.engine.retention.artifacts = replica
    await _age(studio, 1, 31)
    assert any(n.startswith("images/C1/") for n in await replica.stored("images"))

    report = await studio.engine.prune()
    assert report.campaigns == [1]
    assert "images/C1" in report.files and any(f.startswith("exports/C1-") for f in report.files)
    left = await replica.stored("images")
    assert left and all(n.startswith("images/C2/") for n in left)
    assert not [n for n in await replica.stored("exports") if n.startswith("exports/C1-")]
    assert (await replica.fetch("images/C2/round-1")).is_dir()  # the kept campaign is still there
