"""With the embedded queue (the jobs table of the store's database) a command's round and its job commit in one
transaction: no separate enqueue on the ack path, and no moment where a round is written without its job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import open_engine
from engine.engine import Engine
from engine.events import CommandEvent, Where
from engine.jobs import JobSpec
from engine.queue.sql import JobRow, SqlJobQueue
from engine.settings import Settings
from engine.store import Round

HERE = Where("test", "W1", "C-general")


@pytest.fixture
async def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Engine]:
    monkeypatch.setenv("CAMPAIGNBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAMPAIGNBOT_MAX_JOBS_PER_USER", "1")
    eng = await open_engine(Settings(), [])
    yield eng
    await eng.close()


async def _command(eng: Engine, text: str, user: str = "alice", event: str = "") -> str:
    reply = await eng.handle(CommandEvent(HERE, user, text, event_id=event, user_name=user))
    assert reply is not None
    return reply.text


async def _counts(eng: Engine) -> tuple[int, int]:
    async with eng.repo.sessions() as s:
        rounds = await s.scalar(select(func.count()).select_from(Round))
        jobs = await s.scalar(select(func.count()).select_from(JobRow))
    return int(rounds or 0), int(jobs or 0)


async def test_the_job_is_written_with_its_round_not_enqueued_after(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(engine.queue, SqlJobQueue)

    async def no_enqueue(spec: JobSpec, *, max_attempts: int = 3) -> bool:
        raise AssertionError("the embedded queue's job goes into the round's transaction")

    monkeypatch.setattr(engine.queue, "enqueue", no_enqueue)
    text = await _command(engine, "smart watch for runners --variants 2", event="e1")
    assert "Working on it" in text
    async with engine.repo.sessions() as s:
        rnd = (await s.execute(select(Round))).scalar_one()
    job = await engine.queue.get(rnd.job_id)
    assert job is not None and job.state == "queued"
    assert job.spec.variants == 2 and job.spec.user == "alice"
    assert job.max_attempts == engine.settings.job_max_attempts
    assert await engine.queue.position(rnd.job_id) == 1


async def test_a_refused_command_writes_neither_round_nor_job(engine: Engine) -> None:
    await _command(engine, "oat milk latte", event="e1")
    text = await _command(engine, "green tea", event="e2")  # over the limit of one round being made
    assert "Working on it" not in text
    assert await _counts(engine) == (1, 1)
    await _command(engine, "green tea", user="bob", event="e3")
    assert await _counts(engine) == (2, 2)


async def test_a_queue_of_another_database_is_enqueued_after_the_write(engine: Engine) -> None:
    other = SqlJobQueue(engine.repo.sessions)
    spec = JobSpec("C1-R1", "round", 1, 1, "alice", {"product": "green tea"})
    assert other.job_row(spec, engine.repo.sessions) is not None
    assert other.job_row(spec, object()) is None  # not its database: the engine enqueues it after writing
