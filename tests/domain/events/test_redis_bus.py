"""The Redis event bus across processes, and when its connection breaks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.events.redis_bus import RedisEventBus
from tests.domain.events.redis_support import (
    DOWN_URL,
    HANG_GUARD,
    REDIS_URL,
    admin,
    clients_named,
    eventually,
    kill_clients,
)


@pytest.fixture
async def replicas(prefix: str) -> AsyncIterator[tuple[RedisEventBus, RedisEventBus]]:
    """Two processes' buses: separate connections, the same prefix."""
    a = RedisEventBus(REDIS_URL, prefix=prefix, client_name=f"{prefix}-a")
    b = RedisEventBus(REDIS_URL, prefix=prefix, client_name=f"{prefix}-b")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def receive(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    async with asyncio.timeout(HANG_GUARD):
        return await anext(events)


async def subscribers(prefix: str, topic: str) -> int:
    client = admin()
    try:
        counts = await client.pubsub_numsub(f"{prefix}:events:{topic}")
    finally:
        await client.aclose()
    return int(counts[0][1])


async def test_an_event_published_on_one_replica_reaches_subscribers_on_both(
    replicas: tuple[RedisEventBus, RedisEventBus],
) -> None:
    # given a subscriber on each replica
    a, b = replicas
    on_a, on_b = a.subscribe("news"), b.subscribe("news")
    first_a, first_b = asyncio.ensure_future(anext(on_a)), asyncio.ensure_future(anext(on_b))
    await eventually(lambda: a.subscriber_count("news") == b.subscriber_count("news") == 1, "subs")
    # when replica A publishes
    await a.publish("news", {"document_id": "d1"})
    # then both receive it
    async with asyncio.timeout(HANG_GUARD):
        assert await first_a == {"document_id": "d1"}
        assert await first_b == {"document_id": "d1"}
    await on_a.aclose()  # type: ignore[attr-defined]
    await on_b.aclose()  # type: ignore[attr-defined]


async def test_one_connection_per_process_subscribes_each_topic_while_it_has_subscribers(
    replicas: tuple[RedisEventBus, RedisEventBus], prefix: str
) -> None:
    # given three local subscribers on two topics in one process
    a, _ = replicas
    streams = [a.subscribe("one"), a.subscribe("one"), a.subscribe("two")]
    pending = [asyncio.ensure_future(anext(events)) for events in streams]
    await eventually(
        lambda: a.subscriber_count("one") == 2 and a.subscriber_count("two") == 1, "subscribed"
    )
    # then the process holds one pub/sub connection, subscribed once to each channel
    pubsub = [c for c in await clients_named(f"{prefix}-a") if int(c["sub"]) > 0]
    assert [int(c["sub"]) for c in pubsub] == [2]
    assert await subscribers(prefix, "one") == 1
    # when every subscriber of "one" leaves
    for task in pending[:2]:
        task.cancel()
    await asyncio.gather(*pending[:2], return_exceptions=True)
    for events in streams[:2]:
        await events.aclose()  # type: ignore[attr-defined]

    # then its channel is unsubscribed, and "two" still works
    async def unsubscribed() -> bool:
        return await subscribers(prefix, "one") == 0

    await eventually(unsubscribed, "channel one unsubscribed")
    await a.publish("two", {"n": 2})
    async with asyncio.timeout(HANG_GUARD):
        assert await pending[2] == {"n": 2}
    await streams[2].aclose()  # type: ignore[attr-defined]


async def test_subscribers_survive_a_lost_connection_and_receive_again_after(
    replicas: tuple[RedisEventBus, RedisEventBus], prefix: str
) -> None:
    # given a subscriber on replica A, and replica B publishing
    a, b = replicas
    events = a.subscribe("news")
    first = asyncio.ensure_future(anext(events))
    await eventually(lambda: a.subscriber_count("news") == 1, "subscribed")
    # when Redis drops every connection of replica A
    assert await kill_clients(f"{prefix}-a") >= 1
    # then A's reader reconnects and subscribes again (events published meanwhile are lost)
    await eventually(lambda: a.subscriber_count("news") == 0, "the loss noticed")
    await eventually(lambda: a.subscriber_count("news") == 1, "subscribed again")
    # and the subscriber, still waiting, receives what is published afterwards
    assert not first.done()
    await b.publish("news", {"n": 1})
    async with asyncio.timeout(HANG_GUARD):
        assert await first == {"n": 1}
    # and A can publish again too
    await a.publish("news", {"n": 2})
    assert await receive(events) == {"n": 2}
    await events.aclose()  # type: ignore[attr-defined]


async def test_an_unreachable_redis_neither_raises_nor_hangs(prefix: str) -> None:
    # given a bus whose Redis is down
    bus = RedisEventBus(DOWN_URL, prefix=prefix, reconnect_max_seconds=0.1)
    events = bus.subscribe("news")
    waiting = asyncio.ensure_future(anext(events))
    async with asyncio.timeout(HANG_GUARD):
        # then publishing drops the event without raising, and ping says so
        await bus.publish("news", {"n": 1})
        assert await bus.ping() is False
        # and closing the bus ends its subscribers
        await bus.close()
        with pytest.raises(StopAsyncIteration):
            await waiting


async def test_closing_the_bus_ends_its_subscribers(prefix: str) -> None:
    # given a subscriber
    bus = RedisEventBus(REDIS_URL, prefix=prefix)
    events = bus.subscribe("news")
    waiting = asyncio.ensure_future(anext(events))
    await eventually(lambda: bus.subscriber_count("news") == 1, "subscribed")
    # when the bus closes, then the subscriber ends instead of waiting forever
    await bus.close()
    async with asyncio.timeout(HANG_GUARD):
        with pytest.raises(StopAsyncIteration):
            await waiting
    # and a later subscriber ends at once
    async with asyncio.timeout(HANG_GUARD):
        assert [event async for event in bus.subscribe("news")] == []
