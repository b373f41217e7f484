"""The migrations build exactly the schema the models declare, on every backend (a model change without
its migration fails here). A backend that is not reachable fails loudly; it never skips."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from engine.store.db import make_engine
from engine.store.migrate import upgrade_async
from engine.store.models import Base
from tests.pg import PG_URL


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
