"""Event buses under test: the in-process one and Redis (a unique prefix per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from domain.events.memory import InProcessEventBus
from domain.events.redis_bus import RedisEventBus
from tests.domain.events.redis_support import REDIS_URL, prefix_fixture

QUEUE_SIZE = 5


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async for value in prefix_fixture():
        yield value


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[InProcessEventBus | RedisEventBus]:
    if request.param == "memory":
        yield InProcessEventBus(queue_size=QUEUE_SIZE)
        return
    async for prefix in prefix_fixture():
        redis_bus = RedisEventBus(REDIS_URL, prefix=prefix, queue_size=QUEUE_SIZE)
        try:
            yield redis_bus
        finally:
            await redis_bus.close()
