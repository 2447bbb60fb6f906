"""Fixtures: each test runs against SQLite and PostgreSQL, through a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from domain.container import Container
from domain.db.migrate import migrate
from domain.settings import Settings
from graph.app import create_app
from tests.support.client import GraphQLClient
from tests.support.postgres import create_database, drop_database
from tests.support.server import running_server

TEST_SECRET = "test-secret-0123456789-0123456789-0123456789"


def make_settings(data_dir: Path, database_url: str | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        # Cheap hashing keeps the suite fast; production uses the OWASP defaults.
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "enable_background_jobs": False,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@dataclass
class Backend:
    name: str
    database_url: str
    container: Container
    address: str


@asynccontextmanager
async def served_backend(dialect: str, data_dir: Path) -> AsyncIterator[Backend]:
    """A migrated database of `dialect` and a real server on it, torn down after."""
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'ragql.sqlite3'}"
    else:
        url = await create_database()
    try:
        await migrate(url)
        container = Container.build(make_settings(data_dir, url))
        try:
            async with running_server(create_app(container=container)) as address:
                yield Backend(dialect, url, container, address)
        finally:
            await container.close()
    finally:
        if dialect == "postgres":
            await drop_database(url)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    data_dir = tmp_path_factory.mktemp(f"data-{request.param}")
    async with served_backend(request.param, data_dir) as served:
        yield served


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[GraphQLClient]:
    graphql = GraphQLClient(backend.address)
    yield graphql
    await graphql.close()
