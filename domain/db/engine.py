"""Engine and sessionmaker for the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        # A file database gets the same pool as PostgreSQL. Each DataLoader batch of a GraphQL
        # operation has its own session, so with SQLAlchemy's default of 5 a few concurrent
        # operations opened and closed connections (a thread and four PRAGMAs each) all the
        # time. An in-memory database keeps the dialect's single shared connection.
        sizing = {"pool_size": pool_size, "max_overflow": pool_size} if _pooled(url) else {}
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **sizing)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _pooled(url: str) -> bool:
    # The pool class the dialect picks itself: a queue for files, static for memory.
    parsed = make_url(url)
    dialect: Any = parsed.get_dialect()
    return issubclass(dialect.get_pool_class(parsed), QueuePool)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers work while a writer commits; foreign keys are off by default in SQLite.
    cursor: Any = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects returned by a committed mutation are still readable.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
