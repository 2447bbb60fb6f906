"""Redis message streams across replicas, their bounds, and their failures."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from domain.streams.port import StreamBatch
from domain.streams.redis_streams import RedisMessageStreams
from tests.domain.events.redis_support import (
    DOWN_URL,
    HANG_GUARD,
    admin,
    clients_named,
    eventually,
    kill_clients,
)
from tests.domain.streams.conftest import redis_streams
from tests.domain.streams.test_contract import check_batches, read_all


@pytest.fixture
async def replicas(prefix: str) -> AsyncIterator[tuple[RedisMessageStreams, RedisMessageStreams]]:
    """Two processes' streams: separate connections, the same prefix."""
    a, b = redis_streams(prefix, "-a"), redis_streams(prefix, "-b")
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def collect(stream: AsyncIterator[StreamBatch], into: list[StreamBatch]) -> None:
    async for batch in stream:
        into.append(batch)


async def test_an_answer_written_on_one_replica_is_replayed_and_followed_on_another(
    replicas: tuple[RedisMessageStreams, RedisMessageStreams],
) -> None:
    # given replica A writing an answer, three deltas in
    a, b = replicas
    message = uuid.uuid4()
    await a.open(message)
    for delta in ["The ", "answer ", "is "]:
        await a.append(message, delta)
    # when readers on replica B join, one from the start and one resuming after seq 2
    whole: list[StreamBatch] = []
    resumed: list[StreamBatch] = []
    tasks = [
        asyncio.create_task(collect(b.read(message), whole)),
        asyncio.create_task(collect(b.read(message, after=2), resumed)),
    ]
    await eventually(lambda: b.reader_count(message) == 2, "B's readers follow")
    # and A writes the rest
    for delta in ["forty", "-two."]:
        await a.append(message, delta)
    await a.finish(message)
    async with asyncio.timeout(HANG_GUARD):
        await asyncio.gather(*tasks)
    # then B's readers got exactly their parts, in order, then done
    check_batches(whole, "The answer is forty-two.", 5)
    check_batches(resumed, "is forty-two.", 5)
    # and only the writer counts the stream as its own
    assert not a.is_active(message) and not b.is_active(message)
    assert await b.exists(message)


async def test_one_reader_connection_per_process_serves_every_local_reader(
    replicas: tuple[RedisMessageStreams, RedisMessageStreams], prefix: str
) -> None:
    # given three answers being written on A and six readers of them on B
    a, b = replicas
    messages = [uuid.uuid4() for _ in range(3)]
    results: list[list[StreamBatch]] = [[] for _ in range(6)]
    for message in messages:
        await a.open(message)
    tasks = [asyncio.create_task(collect(b.read(messages[i % 3]), results[i])) for i in range(6)]
    await eventually(lambda: all(b.reader_count(m) == 2 for m in messages), "readers follow")
    # then B reads them all over a single connection
    assert len(await clients_named(f"{prefix}-streams-b-reader")) == 1
    # and every reader gets its answer
    for message in messages:
        await a.append(message, str(message))
        await a.finish(message)
    async with asyncio.timeout(HANG_GUARD):
        await asyncio.gather(*tasks)
    for i, batches in enumerate(results):
        check_batches(batches, str(messages[i % 3]), 1)


async def test_a_stream_is_bounded_in_length_and_in_time(prefix: str) -> None:
    # given a stream kept to about 100 deltas, expiring an hour after its last write
    streams = redis_streams(prefix, max_len=100, active_ttl_seconds=3600, retention_seconds=30)
    message = uuid.uuid4()
    client = admin()
    try:
        await streams.open(message)
        key = f"{prefix}:stream:{message}"
        assert 3500 < await client.ttl(key) <= 3600
        # when a thousand deltas are written
        for number in range(1000):
            await streams.append(message, f"{number} ")
        # then the oldest were trimmed away, and it still expires
        assert await client.xlen(key) < 300
        assert 3500 < await client.ttl(key) <= 3600
        # and a reader from the start, whose deltas are gone, gets nothing rather than a
        # wrong text (the caller falls back to the stored message)
        assert await read_all(streams, message) == []
        # and one resuming after what is still kept reads on as usual
        await streams.finish(message)
        batches = await read_all(streams, message, after=990)
        check_batches(batches, "".join(f"{n} " for n in range(990, 1000)), 1000)
        # and once finished it is kept for the retention time only
        assert 0 < await client.ttl(key) <= 30
    finally:
        await client.aclose()
        await streams.close()


async def test_readers_end_when_the_stream_disappears_and_writers_carry_on(
    replicas: tuple[RedisMessageStreams, RedisMessageStreams], prefix: str
) -> None:
    # given an answer being written on A and read on B
    a, b = replicas
    message = uuid.uuid4()
    await a.open(message)
    await a.append(message, "partial ")
    seen: list[StreamBatch] = []
    task = asyncio.create_task(collect(b.read(message), seen))
    await eventually(lambda: b.reader_count(message) == 1 and len(seen) == 1, "B follows")
    # when Redis loses the stream (as a restart without persistence does)
    client = admin()
    try:
        assert await client.delete(f"{prefix}:stream:{message}") == 1
        # then B's reader ends, without done: its caller falls back to the stored message
        async with asyncio.timeout(HANG_GUARD):
            await task
        assert [batch.done for batch in seen] == [False]
        # and the writer neither raises nor brings the stream back
        assert await a.append(message, "more") == 0
        assert not a.is_active(message)
        await a.finish(message)
        assert await client.exists(f"{prefix}:stream:{message}") == 0
    finally:
        await client.aclose()
    # and a reader arriving now finds nothing
    assert await read_all(b, message) == []


async def test_a_reader_resumes_when_its_connection_is_killed(
    replicas: tuple[RedisMessageStreams, RedisMessageStreams], prefix: str
) -> None:
    # given a reader on B following an answer written on A
    a, b = replicas
    message = uuid.uuid4()
    await a.open(message)
    await a.append(message, "before ")
    seen: list[StreamBatch] = []
    task = asyncio.create_task(collect(b.read(message), seen))
    await eventually(lambda: b.reader_count(message) == 1 and len(seen) == 1, "B follows")
    # when Redis drops B's reader connection, while the answer goes on
    assert await kill_clients(f"{prefix}-streams-b-reader") == 1
    await a.append(message, "during ")

    async def reconnected() -> bool:
        return len(await clients_named(f"{prefix}-streams-b-reader")) == 1

    await eventually(reconnected, "B's reader reconnected")
    await a.append(message, "after")
    await a.finish(message)
    # then the reader reconnects and resumes where it was: nothing lost, nothing twice
    async with asyncio.timeout(HANG_GUARD):
        await task
    check_batches(seen, "before during after", 3)


async def test_killing_every_connection_mid_answer_never_hangs_nor_breaks_the_writer(
    replicas: tuple[RedisMessageStreams, RedisMessageStreams], prefix: str
) -> None:
    # given an answer written on A and followed on B
    a, b = replicas
    message = uuid.uuid4()
    await a.open(message)
    seen: list[StreamBatch] = []
    task = asyncio.create_task(collect(b.read(message), seen))
    await eventually(lambda: b.reader_count(message) == 1, "B follows")
    # when every connection of both replicas is killed, again and again, mid-answer
    writing = True

    async def killer() -> int:
        kills = 0
        while writing:
            for name in ("a", "b", "b-reader"):
                kills += await kill_clients(f"{prefix}-streams-{name}")
            await asyncio.sleep(0.002)
        return kills

    killing = asyncio.create_task(killer())
    deltas = [f"{number} " for number in range(300)]
    for delta in deltas:
        await a.append(message, delta)  # never raises
    writing = False
    await a.finish(message)
    assert await killing > 0
    # then the reader ends: with the whole answer, or early with a prefix of it
    async with asyncio.timeout(HANG_GUARD):
        await task
    whole = "".join(deltas)
    text = "".join(batch.text for batch in seen)
    if seen and seen[-1].done:
        check_batches(seen, whole, 300)
    else:
        assert whole.startswith(text)
    # and what Redis kept is the exact answer, or nothing (abandoned, so readers fall back)
    again = await read_all(b, message)
    assert again == [] or "".join(batch.text for batch in again) == whole


async def test_an_unreachable_redis_costs_the_live_stream_and_nothing_else(prefix: str) -> None:
    # given streams whose Redis is down
    streams = RedisMessageStreams(DOWN_URL, prefix=prefix)
    message = uuid.uuid4()
    try:
        async with asyncio.timeout(HANG_GUARD):
            # then writing goes on without raising
            await streams.open(message)
            assert await streams.append(message, "text") == 0
            await streams.finish(message)
            # and reading ends at once, so the caller falls back to the stored message
            assert [batch async for batch in streams.read(message)] == []
    finally:
        await streams.close()


async def test_readers_end_when_redis_stays_unreachable(prefix: str) -> None:
    # given a reader following an answer, in a process that gives up after 0.3 s of outage
    streams = redis_streams(prefix, "-lonely", outage_seconds=0.3)
    message = uuid.uuid4()
    try:
        await streams.open(message)
        await streams.append(message, "partial")
        seen: list[StreamBatch] = []
        task = asyncio.create_task(collect(streams.read(message), seen))
        await eventually(lambda: streams.reader_count(message) == 1 and len(seen) == 1, "follows")
        # when its reader connection breaks and Redis cannot be reached again (the
        # process's reader is pointed at a port where nothing listens)
        streams._url = DOWN_URL
        assert await kill_clients(f"{prefix}-streams-lonely-reader") == 1
        # then the reader ends, without done, instead of waiting forever
        async with asyncio.timeout(HANG_GUARD):
            await task
        assert [batch.text for batch in seen] == ["partial"]
        assert not seen[-1].done
    finally:
        await streams.close()
