"""Cancel requests reach the process that writes the answer: in-process and over Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from domain.chat.cancellation import InProcessCancelSignals, RedisCancelSignals
from domain.events.redis_bus import RedisEventBus
from tests.domain.events.redis_support import (
    DOWN_URL,
    HANG_GUARD,
    REDIS_URL,
    admin,
    eventually,
    kill_clients,
    prefix_fixture,
)


@dataclass
class Writer:
    """Stands in for a process's ChatGenerator: answers run as tasks until cancelled."""

    tasks: dict[uuid.UUID, asyncio.Task[None]] = field(default_factory=dict)
    cancelled: list[uuid.UUID] = field(default_factory=list)

    def start(self) -> uuid.UUID:
        message_id = uuid.uuid4()
        self.tasks[message_id] = asyncio.create_task(asyncio.sleep(3600))
        return message_id

    async def cancel(self, message_id: uuid.UUID) -> bool:
        task = self.tasks.pop(message_id, None)
        if task is None:
            return False
        task.cancel()
        await asyncio.wait([task])
        self.cancelled.append(message_id)
        return True

    def stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()


@dataclass
class Replica:
    bus: RedisEventBus
    signals: RedisCancelSignals
    writer: Writer


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    async for value in prefix_fixture():
        yield value


@pytest.fixture
async def replicas(prefix: str) -> AsyncIterator[tuple[Replica, Replica]]:
    """Two processes, each with its bus, its cancel signals and its writer, listening."""
    made = []
    for name in ("a", "b"):
        bus = RedisEventBus(REDIS_URL, prefix=prefix, client_name=f"{prefix}-bus-{name}")
        signals = RedisCancelSignals(
            bus, REDIS_URL, timeout_seconds=2.0, client_name=f"{prefix}-cancel-{name}"
        )
        writer = Writer()
        signals.listen(writer.cancel)
        made.append(Replica(bus, signals, writer))
    a, b = made
    await eventually(lambda: a.signals.listening and b.signals.listening, "both listen")
    try:
        yield a, b
    finally:
        for replica in made:
            replica.writer.stop()
            await replica.signals.close()
            await replica.bus.close()


async def reply_keys(prefix: str) -> list[str]:
    client = admin()
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}:cancel-ack:*")]
    finally:
        await client.aclose()


async def test_in_process_a_request_goes_to_the_local_generator() -> None:
    # given a process writing one answer
    writer = Writer()
    signals = InProcessCancelSignals()
    assert await signals.request(uuid.uuid4()) is False  # nobody listens yet
    signals.listen(writer.cancel)
    message = writer.start()
    # then cancelling it stops it, and an answer it does not write is refused
    assert await signals.request(message) is True
    assert writer.cancelled == [message]
    assert await signals.request(uuid.uuid4()) is False
    await signals.close()


async def test_a_cancel_requested_on_one_replica_stops_the_answer_on_another(
    replicas: tuple[Replica, Replica], prefix: str
) -> None:
    # given replica A writing an answer
    a, b = replicas
    message = a.writer.start()
    task = a.writer.tasks[message]
    # when replica B is asked to cancel it
    async with asyncio.timeout(HANG_GUARD):
        stopped = await b.signals.request(message)
    # then A stopped it before B answered, and said so
    assert stopped is True
    assert a.writer.cancelled == [message] and task.cancelled()
    assert b.writer.cancelled == []
    # and no reply list is left behind
    assert await reply_keys(prefix) == []


async def test_a_cancel_requested_where_the_answer_is_written_needs_no_round_trip(
    replicas: tuple[Replica, Replica],
) -> None:
    a, _ = replicas
    message = a.writer.start()
    assert await a.signals.request(message) is True
    assert a.writer.cancelled == [message]


async def test_a_cancel_nobody_owns_is_refused(replicas: tuple[Replica, Replica]) -> None:
    # given two replicas, neither writing the message
    _, b = replicas
    # when it is cancelled, then every replica says no, and the request is refused
    async with asyncio.timeout(HANG_GUARD):
        assert await b.signals.request(uuid.uuid4()) is False


async def test_a_cancel_is_refused_after_the_timeout_when_a_replica_never_answers(
    replicas: tuple[Replica, Replica], prefix: str
) -> None:
    # given a third replica that hears requests but is stuck and never answers
    stuck_bus = RedisEventBus(REDIS_URL, prefix=prefix, client_name=f"{prefix}-bus-stuck")
    stuck = RedisCancelSignals(stuck_bus, REDIS_URL, timeout_seconds=0.5)
    never = asyncio.Event()

    async def hang(message_id: uuid.UUID) -> bool:
        await never.wait()
        return False

    stuck.listen(hang)
    try:
        await eventually(lambda: stuck.listening, "the stuck replica listens")
        _, b = replicas
        # when a message nobody writes is cancelled
        async with asyncio.timeout(HANG_GUARD):
            # then the requester gives up after its timeout and refuses
            assert await b.signals.request(uuid.uuid4()) is False
    finally:
        await stuck.close()
        await stuck_bus.close()


async def test_cancels_still_arrive_after_the_writer_lost_its_connections(
    replicas: tuple[Replica, Replica], prefix: str
) -> None:
    # given replica A writing an answer, and Redis dropping A's connections
    a, b = replicas
    message = a.writer.start()
    assert await kill_clients(f"{prefix}-bus-a") >= 1
    await kill_clients(f"{prefix}-cancel-a")
    # when A's bus has subscribed again
    await eventually(lambda: not a.signals.listening, "the loss noticed")
    await eventually(lambda: a.signals.listening, "listening again")
    # then a cancel from B still reaches it and is acknowledged
    async with asyncio.timeout(HANG_GUARD):
        assert await b.signals.request(message) is True
    assert a.writer.cancelled == [message]


async def test_an_unreachable_redis_refuses_without_raising(prefix: str) -> None:
    bus = RedisEventBus(DOWN_URL, prefix=prefix)
    signals = RedisCancelSignals(bus, DOWN_URL, timeout_seconds=0.5)
    writer = Writer()
    signals.listen(writer.cancel)
    try:
        async with asyncio.timeout(HANG_GUARD):
            # an answer written here is still stopped: the request never leaves the process
            message = writer.start()
            assert await signals.request(message) is True
            # and one written elsewhere cannot be reached
            assert await signals.request(uuid.uuid4()) is False
    finally:
        writer.stop()
        await signals.close()
        await bus.close()
