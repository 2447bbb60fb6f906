"""The Redis server of this machine, for tests that need it."""

from __future__ import annotations

import os

import pytest
import redis.asyncio as redis

REDIS_URL = os.environ.get("RAGQL_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def require_redis() -> None:
    """Fails under CI=true, skips loudly elsewhere, when Redis does not answer."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as error:
        message = f"Redis at {REDIS_URL} is unreachable ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI requires it", pytrace=False)
        pytest.skip(f"SKIPPING REDIS TESTS: {message}")
    finally:
        await client.aclose()
