"""A throwaway PostgreSQL database per test run, on the server of this machine."""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest

ADMIN_DSN = os.environ.get("RAGQL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


async def create_database() -> str:
    """Returns a SQLAlchemy URL; fails under CI=true, skips loudly elsewhere, if unreachable."""
    name = f"ragql_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL at {ADMIN_DSN} is unreachable ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI requires it", pytrace=False)
        pytest.skip(f"SKIPPING POSTGRESQL TESTS: {message}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
