"""Apply Alembic migrations, once, even when several replicas start together."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from domain.db.engine import create_engine, is_sqlite

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Arbitrary but fixed: every ragql process contends for the same PostgreSQL advisory lock.
ADVISORY_LOCK_KEY = 0x7261_6771


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision`, serialised across processes."""
    async with _sqlite_file_lock(url):
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                if not is_sqlite(url):
                    # Held until commit: a second replica waits here, then finds nothing to do.
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                await connection.run_sync(_upgrade, revision)
                await connection.commit()
        finally:
            await engine.dispose()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


@asynccontextmanager
async def _sqlite_file_lock(url: str) -> AsyncIterator[None]:
    if not is_sqlite(url):
        yield
        return
    database = make_url(url).database
    if not database or database == ":memory:":
        yield
        return
    # Waited for in a thread: the holder may be a coroutine of this very event loop.
    lock = await asyncio.to_thread(_acquire, Path(database))
    try:
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def _acquire(database: Path) -> IO[str]:
    path = database.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path.with_name(path.name + ".migrate.lock"), "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    return lock
