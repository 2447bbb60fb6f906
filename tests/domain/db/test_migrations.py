"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from domain.db.engine import create_engine
from domain.db.migrate import current_revision, head_revision, migrate
from domain.db.models import Base
from tests.support.postgres import create_database, drop_database


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _migrated_diff(url: str) -> list[object]:
    await migrate(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_diff)
    finally:
        await engine.dispose()


async def test_sqlite_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'drift.sqlite3'}"
    assert await _migrated_diff(url) == []
    assert await current_revision(url) == head_revision()


async def test_postgres_migrations_match_the_models() -> None:
    url = await create_database()
    try:
        assert await _migrated_diff(url) == []
        assert await current_revision(url) == head_revision()
    finally:
        await drop_database(url)


async def test_concurrent_migrations_on_postgres_apply_once() -> None:
    # given two replicas starting at the same moment against an empty database
    url = await create_database()
    try:
        # when both migrate at once
        await asyncio.gather(migrate(url), migrate(url), migrate(url))
        # then the schema is complete and at head (no duplicate-table failure)
        assert await _migrated_diff(url) == []
        assert await current_revision(url) == head_revision()
    finally:
        await drop_database(url)


async def test_concurrent_migrations_on_sqlite_apply_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'race.sqlite3'}"
    await asyncio.gather(migrate(url), migrate(url), migrate(url))
    assert await _migrated_diff(url) == []
