"""The MessageStreams contract, run against the in-process streams and the Redis ones."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from domain.streams.memory import InProcessMessageStreams
from domain.streams.port import StreamBatch
from domain.streams.redis_streams import RedisMessageStreams
from tests.domain.events.redis_support import HANG_GUARD, eventually

Streams = InProcessMessageStreams | RedisMessageStreams


async def read_all(streams: Streams, message_id: uuid.UUID, after: int = 0) -> list[StreamBatch]:
    async with asyncio.timeout(HANG_GUARD):
        return [batch async for batch in streams.read(message_id, after=after)]


async def following(streams: Streams, message_id: uuid.UUID, readers: int = 1) -> None:
    """Returns once `readers` readers wait for what comes next."""
    if isinstance(streams, RedisMessageStreams):
        await eventually(lambda: streams.reader_count(message_id) == readers, "readers follow")
    else:
        for _ in range(5):
            await asyncio.sleep(0)


def check_batches(batches: list[StreamBatch], text: str, last_seq: int) -> None:
    """Exactly `text`, seqs rising, one `done` at the end with `last_seq`."""
    assert "".join(batch.text for batch in batches) == text
    assert [batch.done for batch in batches] == [False] * (len(batches) - 1) + [True]
    seqs = [batch.last_seq for batch in batches]
    assert seqs == sorted(seqs)
    assert seqs[-1] == last_seq


async def test_a_reader_replays_from_any_seq(streams: Streams) -> None:
    # given a finished stream of five deltas
    message = uuid.uuid4()
    await streams.open(message)
    assert [await streams.append(message, delta) for delta in "abcde"] == [1, 2, 3, 4, 5]
    await streams.finish(message)
    for after in range(6):
        # when a reader asks for what follows `after`
        batches = await read_all(streams, message, after)
        # then it gets exactly the rest, then done
        check_batches(batches, "abcde"[after:], 5)


async def test_a_reader_after_the_end_gets_done_and_nothing_else(streams: Streams) -> None:
    message = uuid.uuid4()
    await streams.open(message)
    for delta in "abc":
        await streams.append(message, delta)
    await streams.finish(message)
    assert await read_all(streams, message, after=10) == [StreamBatch(3, "", True)]


async def test_a_reader_follows_live_deltas_until_done(streams: Streams) -> None:
    # given a reader of an open stream that has one delta
    message = uuid.uuid4()
    await streams.open(message)
    await streams.append(message, "one ")
    seen: list[StreamBatch] = []

    async def reader() -> None:
        async for batch in streams.read(message):
            seen.append(batch)

    task = asyncio.create_task(reader())
    await eventually(lambda: len(seen) == 1, "the replay")
    # when more deltas arrive, one at a time, then the stream finishes
    for number, delta in enumerate(["two ", "three"], start=2):
        await streams.append(message, delta)
        await eventually(lambda n=number: seen[-1].last_seq == n, f"delta {number}")  # type: ignore[misc]
    await streams.finish(message)
    async with asyncio.timeout(HANG_GUARD):
        await task
    # then the reader got each as it came, and done last
    check_batches(seen, "one two three", 3)
    assert [batch.text for batch in seen] == ["one ", "two ", "three", ""]


async def test_a_reader_arriving_before_the_first_delta_waits_for_it(streams: Streams) -> None:
    # given an opened stream without deltas, and a reader
    message = uuid.uuid4()
    await streams.open(message)
    task = asyncio.create_task(read_all(streams, message))
    await following(streams, message)
    # then the reader waits rather than ending
    assert not task.done()
    # when the answer is written
    await streams.append(message, "hello")
    await streams.finish(message)
    # then the reader has all of it
    check_batches(await task, "hello", 1)


async def test_a_slow_reader_gets_few_large_batches_and_the_exact_text(streams: Streams) -> None:
    # given a reader that sleeps after its first batch
    message = uuid.uuid4()
    await streams.open(message)
    await streams.append(message, "start ")
    awake = asyncio.Event()
    batches: list[StreamBatch] = []

    async def slow_reader() -> None:
        async for batch in streams.read(message):
            batches.append(batch)
            await awake.wait()

    task = asyncio.create_task(slow_reader())
    await eventually(lambda: len(batches) == 1, "the first batch")
    # when a thousand deltas are appended quickly while it sleeps, then it wakes up
    deltas = [f"{number} " for number in range(1000)]
    for delta in deltas:
        await streams.append(message, delta)
    await streams.finish(message)
    awake.set()
    async with asyncio.timeout(HANG_GUARD):
        await task
    # then it received far fewer batches than deltas, holding exactly the text
    check_batches(batches, "start " + "".join(deltas), 1001)
    assert len(batches) <= 20


async def test_an_unknown_stream_yields_nothing(streams: Streams) -> None:
    assert await read_all(streams, uuid.uuid4()) == []


async def test_a_finished_stream_takes_no_more_deltas(streams: Streams) -> None:
    message = uuid.uuid4()
    await streams.open(message)
    await streams.append(message, "done")
    await streams.finish(message)
    await streams.finish(message)  # finishing twice is harmless
    with pytest.raises(RuntimeError):
        await streams.append(message, "late")
    check_batches(await read_all(streams, message), "done", 1)


async def test_a_stream_is_active_from_open_to_finish(streams: Streams) -> None:
    message = uuid.uuid4()
    assert not streams.is_active(message)
    await streams.open(message)
    assert streams.is_active(message)
    await streams.append(message, "x")
    assert streams.is_active(message)
    await streams.finish(message)
    assert not streams.is_active(message)


async def test_a_reader_leaving_early_changes_nothing_for_the_others(streams: Streams) -> None:
    # given two readers of an open stream
    message = uuid.uuid4()
    await streams.open(message)
    await streams.append(message, "a")
    leaving = streams.read(message)
    async with asyncio.timeout(HANG_GUARD):
        assert (await anext(leaving)).text == "a"
    staying = asyncio.create_task(read_all(streams, message))
    await following(streams, message, readers=2)
    # when one leaves and the answer goes on
    with contextlib.suppress(RuntimeError):
        await leaving.aclose()  # type: ignore[attr-defined]
    await streams.append(message, "b")
    await streams.finish(message)
    # then the other gets all of it
    check_batches(await staying, "ab", 2)
