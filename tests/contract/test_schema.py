"""The migrations build exactly the schema the models declare, on every backend (a model change without
its migration fails here). A backend that is not reachable fails loudly; it never skips."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from engine.store.db import make_engine
from engine.store.migrate import upgrade, upgrade_async
from engine.store.models import Base
from tests.pg import PG_URL

ROOT = Path(__file__).resolve().parents[2]


async def _diff(url: str) -> list[object]:
    eng = make_engine(url)
    async with eng.connect() as c:
        diffs = await c.run_sync(lambda sc: compare_metadata(MigrationContext.configure(sc), Base.metadata))
    await eng.dispose()
    return list(diffs)


async def test_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}"
    await upgrade_async(url)
    assert await _diff(url) == []


async def test_postgresql_schema_matches_the_models() -> None:
    eng = make_engine(PG_URL)
    async with eng.begin() as c:
        await c.execute(text("DROP SCHEMA public CASCADE"))
        await c.execute(text("CREATE SCHEMA public"))
    await eng.dispose()
    await upgrade_async(PG_URL)
    assert await _diff(PG_URL) == []


async def _fresh(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 's.sqlite3'}"
    eng = make_engine(PG_URL)
    async with eng.begin() as c:
        await c.execute(text("DROP SCHEMA public CASCADE"))
        await c.execute(text("CREATE SCHEMA public"))
    await eng.dispose()
    return PG_URL


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_rounds_made_before_the_user_column_get_their_user(backend: str, tmp_path: Path) -> None:
    """Migration 0004 names who asked for each existing round (from its job spec), so the limits count
    the rounds being made at upgrade time too."""
    url = await _fresh(backend, tmp_path)
    await asyncio.to_thread(upgrade, url, "0003")
    eng = make_engine(url)
    async with eng.begin() as c:
        await c.execute(
            text(
                "INSERT INTO campaigns (id, platform, workspace, channel, owner, owner_name, brief, base_round,"
                " created_at) VALUES (1, 'test', 'W', 'C', 'alice', 'Alice', '{}', 1, 0)"
            )
        )
        await c.execute(
            text(
                "INSERT INTO rounds (campaign_id, number, spec, job_id, state, vote_closed, created_at)"
                " VALUES (1, 1, :spec, 'C1-R1', 'queued', false, 0)"
            ),
            {"spec": json.dumps({"job": {"id": "C1-R1", "user": "U42"}})},
        )
    await eng.dispose()
    await upgrade_async(url)
    eng = make_engine(url)
    async with eng.connect() as c:
        got = (await c.execute(text('SELECT "user", state FROM rounds'))).all()
    await eng.dispose()
    assert [tuple(r) for r in got] == [("U42", "queued")]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_outbox_rows_made_before_claims_are_claimable(backend: str, tmp_path: Path) -> None:
    """Migration 0005 adds the claim, the attempt marker and the steps: a row owed at upgrade time is
    unclaimed, has no attempt marker (it is sent, not looked up) and is claimed by the next sender."""
    from engine.store.repo import Repo  # noqa: PLC0415

    url = await _fresh(backend, tmp_path)
    await asyncio.to_thread(upgrade, url, "0004")
    eng = make_engine(url)
    async with eng.begin() as c:
        await c.execute(
            text(
                "INSERT INTO outbox (key, campaign_id, kind, platform, channel, in_thread, message,"
                " reactions, reactions_done, attempts, gave_up, created_at)"
                " VALUES ('C1:root', 1, 'root', 'test', 'C', false, '{}', '[]', false, 0, false, 0)"
            )
        )
    await eng.dispose()
    await upgrade_async(url)
    repo = Repo(make_engine(url))
    try:
        (row,) = await repo.outbox_claim("engine-a", ["test"], 60.0)
        assert (row.key, row.sending_at, row.steps, row.claimed_by) == ("C1:root", None, None, "engine-a")
        assert await repo.outbox_claim("engine-b", ["test"], 60.0) == []  # held by engine-a
    finally:
        await repo.close()


async def test_replicas_migrating_one_new_postgresql_database_at_once_all_succeed() -> None:
    """Several bot replicas (and workers) start at once on an empty database: the migration runs once, the
    others wait for it and find the schema at head."""
    url = await _fresh("postgresql", Path("."))
    # separate processes, as replicas are (Alembic's context is global to a process)
    # all start migrating at one moment (after their imports), as replicas started together would
    code = (
        "import sys, time; from engine.store.migrate import upgrade; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); upgrade(sys.argv[1])"
    )
    start = str(time.time() + 4.0)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            url,
            start,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for _ in range(4)
    ]
    results = [(await p.wait(), (await p.stderr.read()).decode()) for p in procs if p.stderr is not None]
    assert [rc for rc, _ in results] == [0, 0, 0, 0], [err[-800:] for _, err in results]
    eng = make_engine(url)
    async with eng.connect() as c:
        heads = (await c.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    await eng.dispose()
    assert len(heads) == 1
