"""The EventBus contract, run against the in-process bus and the Redis one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from domain.events.memory import InProcessEventBus
from domain.events.redis_bus import RedisEventBus
from tests.domain.events.conftest import QUEUE_SIZE
from tests.domain.events.redis_support import HANG_GUARD, eventually

Bus = InProcessEventBus | RedisEventBus


async def collect(
    bus: Bus, topic: str, count: int, until: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """`count` events, or (with `until`) events up to the first that satisfies it."""
    events = bus.subscribe(topic)
    received = []
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for event in events:
            received.append(event)
            if until(event) if until else len(received) == count:
                break
    return received


@contextlib.asynccontextmanager
async def subscribed(
    bus: Bus,
    topic: str,
    count: int,
    readers: int,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> AsyncIterator[list[asyncio.Task[list[dict[str, Any]]]]]:
    """`readers` subscribers, each collecting `count` events, once they are subscribed."""
    before = bus.subscriber_count(topic)
    tasks = [asyncio.create_task(collect(bus, topic, count, until)) for _ in range(readers)]
    try:
        await eventually(
            lambda: bus.subscriber_count(topic) == before + readers, f"{readers} more subscribers"
        )
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_every_subscriber_of_a_topic_receives_every_event_in_order(bus: Bus) -> None:
    # given two subscribers of a topic and one of another topic
    async with (
        subscribed(bus, "news", 3, readers=2) as readers,
        subscribed(bus, "other", 1, readers=1) as bystander,
    ):
        # when three events are published on the topic
        for number in range(3):
            await bus.publish("news", {"n": number, "text": "é"})
        async with asyncio.timeout(HANG_GUARD):
            results = [await task for task in readers]
        # then both subscribers receive all three, in order, as sent
        expected = [{"n": 0, "text": "é"}, {"n": 1, "text": "é"}, {"n": 2, "text": "é"}]
        assert results == [expected, expected]
        # and the subscriber of the other topic received nothing
        assert not bystander[0].done()


async def test_a_subscriber_that_leaves_is_forgotten(bus: Bus) -> None:
    # given a subscriber
    async with subscribed(bus, "news", 1, readers=1) as readers:
        await bus.publish("news", {"n": 1})
        async with asyncio.timeout(HANG_GUARD):
            assert await readers[0] == [{"n": 1}]
    # when it has left, then the topic has no subscriber and publishing still works
    assert bus.subscriber_count("news") == 0
    await bus.publish("news", {"n": 2})


async def test_events_published_before_subscribing_are_not_delivered(bus: Bus) -> None:
    # given an event published to nobody
    await bus.publish("news", {"n": 0})
    # when a subscriber arrives and another event is published
    async with subscribed(bus, "news", 1, readers=1) as readers:
        await bus.publish("news", {"n": 1})
        async with asyncio.timeout(HANG_GUARD):
            # then it receives only the later one
            assert await readers[0] == [{"n": 1}]


async def test_a_subscriber_that_falls_behind_loses_its_oldest_events(bus: Bus) -> None:
    # given a subscriber that stops reading after a first event, and one that reads all
    slow = bus.subscribe("news")
    first = asyncio.ensure_future(anext(slow))
    await eventually(lambda: bus.subscriber_count("news") == 1, "the slow one subscribed")
    await bus.publish("news", {"n": -1})
    async with asyncio.timeout(HANG_GUARD):
        assert await first == {"n": -1}
    last = QUEUE_SIZE + 9
    async with subscribed(
        bus, "news", 1, readers=1, until=lambda event: event["n"] == last
    ) as fast:
        # when more events than its queue holds are published
        for number in range(last + 1):
            await bus.publish("news", {"n": number})
        async with asyncio.timeout(HANG_GUARD):
            await fast[0]  # the last event has been fanned out to every subscriber by now
            # then the publisher never waited, and the slow one kept the newest events
            got = [(await anext(slow))["n"] for _ in range(QUEUE_SIZE)]
    await slow.aclose()  # type: ignore[attr-defined]
    assert got == list(range(10, QUEUE_SIZE + 10))


async def test_ping_answers(bus: Bus) -> None:
    assert await bus.ping() is True
