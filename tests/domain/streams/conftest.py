"""Message streams under test: the in-process one and Redis (a unique prefix per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.streams.memory import InProcessMessageStreams
from domain.streams.redis_streams import RedisMessageStreams
from tests.domain.events.redis_support import REDIS_URL, prefix_fixture


def redis_streams(prefix: str, name: str = "", **options: object) -> RedisMessageStreams:
    """Quick to notice lost streams, so tests that wait for it stay short."""
    values: dict[str, object] = {"block_ms": 200, "check_seconds": 0.2, **options}
    return RedisMessageStreams(
        REDIS_URL,
        prefix=prefix,
        client_name=f"{prefix}-streams{name}",
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async for value in prefix_fixture():
        yield value


@pytest.fixture(params=["memory", "redis"])
async def streams(
    request: pytest.FixtureRequest,
) -> AsyncIterator[InProcessMessageStreams | RedisMessageStreams]:
    if request.param == "memory":
        yield InProcessMessageStreams()
        return
    async for prefix in prefix_fixture():
        adapter = redis_streams(prefix)
        try:
            yield adapter
        finally:
            await adapter.close()
