"""Alembic environment: runs migrations on the async engine named by the ``sqlalchemy.url`` option."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from engine.store.db import make_engine
from engine.store.models import Base

config = context.config
target_metadata = Base.metadata


MIGRATION_LOCK = 0x63616D71  # PostgreSQL advisory lock key: one migration at a time ("camq")


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several replicas starting at once on a new database: one migrates, the others wait here and
            # then find the schema at head (the version is read after the lock, in the same transaction).
            connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        context.run_migrations()


async def _online() -> None:
    eng = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with eng.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await eng.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
