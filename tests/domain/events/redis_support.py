"""The Redis of this machine, shared safely: a unique key prefix per test, connections
found by name. Never FLUSHALL, never shut the server down."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as redis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("RAGQL_TEST_REDIS", "redis://127.0.0.1:6379/0")
# Nothing listens there: an adapter pointed at it meets a Redis that is down.
DOWN_URL = "redis://127.0.0.1:1/0"
HANG_GUARD = 15.0  # seconds: only ever a guard against hanging, never a measurement


async def require_redis() -> str:
    """The URL; fails under CI=true, skips loudly elsewhere, when Redis is unreachable."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        message = f"Redis at {REDIS_URL} is unreachable ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI requires it", pytrace=False)
        pytest.skip(f"SKIPPING REDIS TESTS: {message}")
    finally:
        await client.aclose()
    return REDIS_URL


def new_prefix() -> str:
    return f"ragql-test-{uuid.uuid4().hex[:12]}"


def admin() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL, decode_responses=True, protocol=2)


async def remove_keys(prefix: str) -> None:
    client = admin()
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def clients_named(name: str) -> list[dict[str, str]]:
    client = admin()
    try:
        listed = await client.client_list()
    finally:
        await client.aclose()
    return [entry for entry in listed if entry.get("name") == name]


async def kill_clients(name: str) -> int:
    """CLIENT KILL every connection named `name`; returns how many."""
    client = admin()
    try:
        killed = 0
        for entry in await client.client_list():
            if entry.get("name") == name:
                killed += int(await client.execute_command("CLIENT", "KILL", "ID", entry["id"]))
        return killed
    finally:
        await client.aclose()


async def eventually(check: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Polls `check` until it holds; fails (rather than hangs) after HANG_GUARD."""
    try:
        async with asyncio.timeout(HANG_GUARD):
            while True:
                result = check()
                if not isinstance(result, bool):
                    result = await result
                if result:
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"never happened: {what}")


async def prefix_fixture() -> AsyncIterator[str]:
    """Body of the `prefix` fixtures: a fresh prefix, its keys removed afterwards."""
    await require_redis()
    prefix = new_prefix()
    try:
        yield prefix
    finally:
        await remove_keys(prefix)
