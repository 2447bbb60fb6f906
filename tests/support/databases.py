"""A freshly migrated database for a test module: a SQLite file, or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.db.engine import create_engine, create_sessionmaker
from domain.db.migrate import migrate
from tests.support.postgres import create_database, drop_database

BACKENDS = ["sqlite", "postgres"]


@dataclass(frozen=True)
class Migrated:
    dialect: str
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def migrated_database(
    dialect: str, tmp_path_factory: pytest.TempPathFactory, name: str
) -> AsyncIterator[Migrated]:
    """Created, migrated to head, and dropped (PostgreSQL) or left in a temp dir after."""
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp(name) / f'{name}.sqlite3'}"
    else:
        url = await create_database()
    try:
        await migrate(url)
        engine = create_engine(url)
        try:
            yield Migrated(dialect, url, engine, create_sessionmaker(engine))
        finally:
            await engine.dispose()
    finally:
        if dialect == "postgres":
            await drop_database(url)
