"""Issue 14, scenario: a 12 s database lock (longer than SQLite's 10 s busy timeout). The worker survives it
and finishes its round afterwards; a user who types a command meanwhile hears "busy" within 3 s (the ack
path waits at most ``ack_lock_wait_seconds`` for a lock); once the lock is gone, commands are taken again.

The lock is real: another connection holds SQLite's write lock (``BEGIN IMMEDIATE``) or, on PostgreSQL,
an exclusive lock on the tables a command and a claim touch, as a long migration or a stuck admin session
would."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from engine import messages as say
from engine.artifacts import LocalArtifacts
from engine.engine import Engine
from engine.events import CommandEvent, Where
from engine.inference.worker import InferenceWorker
from engine.jobs import JobState
from engine.queue.sql import SqlJobQueue
from engine.settings import Settings
from engine.store.db import database_url, make_engine, sessionmaker
from engine.store.migrate import upgrade_async
from engine.store.repo import Repo
from tests.engine.conftest import _fresh_postgres
from tests.fakes.recording import RecordingAdapter
from tests.fakes.studio import StandInStudio

HERE = Where("test", "W1", "C-general")
LOCK_S = 12.0

pytestmark = pytest.mark.timeout(90)


@asynccontextmanager
async def _sqlite_lock(path: Path) -> AsyncIterator[Callable[[], None]]:
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")  # the write lock, until the commit
    try:
        yield con.commit
    finally:
        con.commit()
        con.close()


@asynccontextmanager
async def _pg_lock(url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    con = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    await con.execute("BEGIN; LOCK TABLE seen_events, campaigns, rounds, jobs IN ACCESS EXCLUSIVE MODE")

    async def release() -> None:
        if con.is_in_transaction():
            await con.execute("COMMIT")

    try:
        yield release
    finally:
        await release()
        await con.close()


def _command(n: int) -> CommandEvent:
    return CommandEvent(HERE, f"user{n}", f"smart watch {n} --variants 2", event_id=f"E{n}", user_name="U")


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_a_12s_lock_the_worker_survives_and_the_user_hears_busy_within_3s(
    store: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, status_edit_interval=0, _env_file=None)  # type: ignore[call-arg]
    url = database_url(tmp_path, None) if store == "sqlite" else await _fresh_postgres()
    await upgrade_async(url)
    repo = Repo(make_engine(url))
    chat = RecordingAdapter()
    engine = Engine(settings, repo, SqlJobQueue(repo.sessions), LocalArtifacts(tmp_path), [chat])
    await engine.start()
    worker_db = make_engine(url)  # the worker is another process: its own connections
    worker = InferenceWorker(
        settings,
        SqlJobQueue(sessionmaker(worker_db)),
        LocalArtifacts(tmp_path),
        poll_s=0.1,
        studio=StandInStudio(),
    )
    try:
        first = await engine.handle(_command(1))
        assert first is not None and say.BUSY not in first.text
        await engine.pump()  # the campaign's thread and status line

        loop = asyncio.get_running_loop()
        lock = _sqlite_lock(tmp_path / "campaignbot.sqlite3") if store == "sqlite" else _pg_lock(url)
        async with lock as release:
            released_at = loop.time() + LOCK_S
            if store == "sqlite":
                loop.call_later(LOCK_S, release)  # type: ignore[arg-type]
            else:
                loop.call_later(LOCK_S, lambda: asyncio.ensure_future(release()))  # type: ignore[arg-type,return-value]
            work = asyncio.ensure_future(worker.run(burst=True))  # meets the lock when it takes the job

            t = time.perf_counter()
            busy = await engine.handle(_command(2))
            answered_in = time.perf_counter() - t
            assert busy is not None and busy.text == say.BUSY
            assert answered_in < 3.0, f"the busy answer took {answered_in:.1f} s"

            assert await asyncio.wait_for(work, LOCK_S + 30) == 0  # it survived the lock (exit code 0)
            assert worker.jobs_done == 1  # and made the round
            assert loop.time() >= released_at - 0.5  # (it could not have before the lock was gone)
        job = await engine.queue.get("C1-R1")
        assert job is not None and job.state == JobState.DONE

        again = await engine.handle(_command(2))  # the platform's redelivery of the refused command
        assert again is not None and say.BUSY not in again.text
        for _ in range(20):
            await engine.pump()
        assert len(chat.roots()) == 2 and len(chat.cards(chat.roots()[0].id)) == 2
    finally:
        await worker.queue.close()
        await worker_db.dispose()
        await engine.close()
