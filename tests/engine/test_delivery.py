"""Delivery tells a platform failure (retried with back-off) from a programming error (logged with its
traceback, given up after a few tries). No worker process: the campaign's root and status lines are
what the outbox delivers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app import open_engine
from engine.adapter import OutMessage
from engine.engine import Engine
from engine.errors import PermanentPlatformError, PlatformError
from engine.events import CommandEvent, Where
from engine.outbox import BUG_ATTEMPTS, is_platform_error
from engine.settings import Settings
from engine.store import Outbox
from engine.store.repo import Repo
from tests.engine.conftest import Studio
from tests.fakes.recording import RecordingAdapter

HERE = Where("test", "W1", "C-general")


class FlakyAdapter(RecordingAdapter):
    """Posts into threads fail with ``error`` while it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.error: BaseException | None = None
        self.tries = 0

    async def post(self, channel: str, thread: str | None, message: OutMessage) -> str:
        if self.error is not None:
            self.tries += 1
            raise self.error
        return await super().post(channel, thread, message)


@pytest.fixture
async def engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Engine, FlakyAdapter]]:
    monkeypatch.setenv("CAMPAIGNBOT_DATA_DIR", str(tmp_path))
    chat = FlakyAdapter()
    eng = await open_engine(Settings(), [chat])
    yield eng, chat
    await eng.close()


async def _rows(eng: Engine) -> list[Outbox]:
    async with eng.repo.sessions() as s:
        return list((await s.execute(select(Outbox).order_by(Outbox.seq))).scalars().all())


async def _pump(eng: Engine, times: int) -> None:
    for _ in range(times):
        async with eng.repo.sessions() as s, s.begin():  # the test does not wait out the back-off
            await s.execute(update(Outbox).values(claimed_until=0.0, claimed_by=None))
        await eng.outbox.send_pending()


def test_classification() -> None:
    assert is_platform_error(PlatformError("rate limited", retry_after=3))
    assert is_platform_error(ConnectionError("reset"))
    assert is_platform_error(TimeoutError())
    assert not is_platform_error(TypeError("post() got an unexpected keyword argument"))
    assert not is_platform_error(KeyError("ts"))
    import aiohttp

    assert is_platform_error(aiohttp.ClientConnectionError("down"))


async def test_a_bug_is_logged_with_traceback_and_given_up(
    engine: tuple[Engine, FlakyAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    eng, chat = engine
    chat.error = TypeError("adapter bug")
    await eng.handle(CommandEvent(HERE, "alice", "/campaign smart watch for runners", user_name="Alice"))
    with caplog.at_level(logging.ERROR, logger="engine.outbox"):
        await _pump(eng, BUG_ATTEMPTS + 3)
    assert chat.roots(), "the root is posted (open_thread works)"
    stuck = [r for r in await _rows(eng) if r.message_id is None]
    assert stuck and all(r.gave_up for r in stuck)
    assert all(r.attempts == BUG_ATTEMPTS for r in stuck)
    assert stuck[0].error and stuck[0].error.startswith("TypeError: adapter bug")
    bug_logs = [r for r in caplog.records if "programming error" in r.getMessage()]
    assert bug_logs and all(r.exc_info for r in bug_logs)  # with the traceback
    assert any("giving up" in r.getMessage() for r in bug_logs)
    tries = chat.tries
    await _pump(eng, 3)
    assert chat.tries == tries  # given up: no more tries


async def test_a_platform_failure_keeps_being_retried_and_then_lands(
    engine: tuple[Engine, FlakyAdapter],
) -> None:
    eng, chat = engine
    chat.error = PlatformError("service unavailable")
    await eng.handle(CommandEvent(HERE, "alice", "/campaign smart watch for runners", user_name="Alice"))
    await _pump(eng, BUG_ATTEMPTS + 4)
    stuck = [r for r in await _rows(eng) if r.message_id is None]
    assert stuck and not any(r.gave_up for r in stuck)
    assert max(r.attempts for r in stuck) > BUG_ATTEMPTS
    chat.error = None  # the platform is back
    await _pump(eng, 2)
    rows = await _rows(eng)
    assert all(r.message_id for r in rows), [(r.key, r.error) for r in rows]


async def test_status_edits_keep_to_the_platform_pace_and_the_last_text_lands(
    engine: tuple[Engine, FlakyAdapter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine is the one throttle: a burst of progress never edits one message faster than the
    adapter's ``min_edit_interval``, and the final edit (forced) lands on a later pass when it is early."""
    import engine.delivery as delivery

    eng, chat = engine
    chat.min_edit_interval = 1.5
    eng.settings.status_edit_interval = 0.0  # the platform's pace is the only one here
    clock = [1000.0]
    monkeypatch.setattr(delivery, "now", lambda: clock[0])
    await eng.handle(CommandEvent(HERE, "alice", "/campaign smart watch for runners", user_name="Alice"))
    await _pump(eng, 2)
    (job,) = await eng.queue.unhandled()
    status = next(m for m in chat.messages.values() if m.thread and m.text.startswith("⏳"))
    edits = []
    for i in range(30):  # 3 s of progress every 0.1 s
        clock[0] += 0.1
        job.progress_seq = i + 1
        if await eng.delivery._edit_status(job, f"⚙️ Round 1: copy ({i}%)"):
            edits.append(clock[0])
    assert len(edits) == 2 and edits[1] - edits[0] >= 1.5  # 30 progress steps, 2 edits
    assert not await eng.delivery._edit_status(
        job, "✅ Round 1 is ready", force=True
    )  # too soon after the last
    clock[0] += 1.5
    assert await eng.delivery._edit_status(job, "✅ Round 1 is ready", force=True)
    assert status.current == "✅ Round 1 is ready"


async def test_a_permanent_refusal_is_given_up_at_once_and_later_posts_still_flow(
    engine: tuple[Engine, FlakyAdapter], caplog: pytest.LogCaptureFixture
) -> None:
    """channel_not_found, a 403, a deleted file: one try, one log line, and the campaign goes on."""
    eng, chat = engine
    chat.error = PermanentPlatformError("Slack refused: not_in_channel")
    await eng.handle(CommandEvent(HERE, "alice", "/campaign smart watch for runners", user_name="Alice"))
    with caplog.at_level(logging.WARNING, logger="engine.outbox"):
        await _pump(eng, 1)
    (status,) = [r for r in await _rows(eng) if r.kind == "status"]
    assert status.gave_up and status.attempts == 1 and "not_in_channel" in (status.error or "")
    assert sum("failed for good" in r.getMessage() for r in caplog.records) == 1
    tries = chat.tries
    chat.error = None
    await _pump(eng, 3)
    assert chat.tries == tries  # never retried
    # the campaign is not blocked: a later message of it is posted
    camp = await eng.repo.campaign(1)
    assert camp is not None
    await eng.rounds.note(camp, "later", "a later note")
    await _pump(eng, 1)
    assert any(m.text == "a later note" for m in chat.messages.values())


def test_a_missing_file_is_permanent() -> None:
    from engine.outbox import is_permanent_error

    assert is_permanent_error(FileNotFoundError("images/C1/round-1/variant-1.png"))
    assert is_permanent_error(PermanentPlatformError("gone"))
    assert not is_permanent_error(PlatformError("rate limited", retry_after=1))
    assert not is_permanent_error(ConnectionError("reset"))


async def test_two_engines_follow_each_job_once_and_share_the_edit_budget(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several replicas on one database: a job's status line is followed (edited) by one engine at a time,
    and status edits of a workspace come out of one budget per minute that every engine shares (progress
    uses at most half; final lines the rest)."""
    repo = studio.engine.repo
    monkeypatch.setattr("engine.store.repo.now", lambda: 1_000_005.0)  # one clock: one ten-second window
    assert await repo.hold_job("C1-R1", "engine-a", 30)
    assert not await repo.hold_job("C1-R1", "engine-b", 30)  # followed by a
    assert await repo.hold_job("C1-R1", "engine-a", 30)  # renewed
    await repo.drop_job_lease("C1-R1")
    assert await repo.hold_job("C1-R1", "engine-b", 30)  # handled and dropped: free again
    assert await repo.hold_job("C2-R1", "engine-a", -1)  # a lease that has already run out ...
    assert await repo.hold_job("C2-R1", "engine-b", 30)  # ... is taken over

    # 60 a minute: 10 per ten-second window (any sixty seconds then hold at most 70), progress 5 of them
    progress = [await repo.take_edit("slack:T1", 60) for _ in range(8)]
    assert progress == [True] * 5 + [False] * 3
    finals = [await repo.take_edit("slack:T1", 60, force=True) for _ in range(7)]
    assert finals == [True] * 5 + [False] * 2
    assert await repo.take_edit("slack:T2", 60)  # another workspace has its own budget


async def test_a_replica_without_the_campaigns_platform_leaves_its_job_to_one_that_has_it(
    studio: Studio,
) -> None:
    """Issue 15: a replica without the campaign's platform (a Slack-only replica beside the Discord ones, on
    one database) neither follows the job (its lease) nor claims the posts: the replica with the platform
    edits the status line, delivers the cards and finishes the job, whichever replica passes first."""
    other = RecordingAdapter()
    other.platform = "other"  # the campaigns below are on "test"
    e = studio.engine
    slack_only = Engine(e.settings, Repo(e.repo.db), studio.queue, studio.artifacts, [other])
    await studio.command("smart watch for runners --variants 2 --seed 5")

    async def passes(n: int) -> None:
        for _ in range(n):
            await slack_only.pump()  # always first: before the fix it took the job's lease every time
            await e.pump()

    await passes(2)
    await studio.work()
    await passes(3)
    t = studio.thread()
    assert [c.title for c in studio.chat.cards(t)] == ["C1-R1-V1", "C1-R1-V2"]
    status = next(m for m in studio.chat.thread(t) if m.text.startswith("⏳"))
    assert status.current.startswith("✅ Round 1 is ready")
    assert all(j.handled for j in studio.queue.jobs.values())
    assert other.messages == {} and other.posted == []
