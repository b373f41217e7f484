"""The database: its URL from the settings, an async SQLAlchemy engine (SQLite pragmas for the embedded file).

How long a transaction waits for a lock held by someone else is :data:`LOCK_WAIT_S` (10 s), or less inside
:func:`lock_wait`: the ack path answers within the platforms' 3 s, so it waits briefly and says "busy"
rather than waiting out a long lock (SQLite: ``PRAGMA busy_timeout``; PostgreSQL: ``SET LOCAL
lock_timeout`` in that transaction)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

LOCK_WAIT_S = 10.0  # the delivery loop and the worker wait this long for a lock, then retry with back-off
_LOCK_WAIT: contextvars.ContextVar[float | None] = contextvars.ContextVar("lock_wait", default=None)


@contextmanager
def lock_wait(seconds: float) -> Iterator[None]:
    """Transactions begun inside wait at most ``seconds`` for a lock (then the database raises an
    OperationalError, a :class:`~sqlalchemy.exc.DBAPIError`)."""
    token = _LOCK_WAIT.set(max(0.0, seconds))
    try:
        yield
    finally:
        _LOCK_WAIT.reset(token)


def current_lock_wait() -> float:
    """How long a transaction begun now may wait for a lock (:func:`lock_wait`, else :data:`LOCK_WAIT_S`)."""
    wait = _LOCK_WAIT.get()
    return LOCK_WAIT_S if wait is None else wait


def database_url(data_dir: Path, url: str | None) -> str:
    if url:
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{(data_dir / 'campaignbot.sqlite3').resolve()}"


def make_engine(url: str) -> AsyncEngine:
    eng = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if url.startswith("sqlite"):

        @event.listens_for(eng.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_S * 1000)}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            record.info["busy_ms"] = int(LOCK_WAIT_S * 1000)

        @event.listens_for(eng.sync_engine, "begin")
        def _sqlite_lock_wait(conn: Connection) -> None:
            wait = _LOCK_WAIT.get()
            want = int((LOCK_WAIT_S if wait is None else wait) * 1000)
            info = conn.connection.info  # the pooled DBAPI connection's: the pragma stays set on it
            if info.get("busy_ms") != want:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={want}")
                info["busy_ms"] = want

    elif url.startswith("postgresql"):

        @event.listens_for(eng.sync_engine, "begin")
        def _pg_lock_wait(conn: Connection) -> None:
            wait = _LOCK_WAIT.get()
            if wait is not None:  # for this transaction only
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(wait * 1000))}")

    return eng


def sessionmaker(eng: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(eng, expire_on_commit=False)
