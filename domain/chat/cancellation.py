"""Cancel requests, delivered to the process that writes the answer.

`cancelGeneration` can reach any replica, while an answer is written by exactly one
(`ChatGenerator.cancel` stops only generations of its own process). A `CancelSignals`
carries the request there: every process `listen`s with its generator's `cancel`, and
`request` returns True once the writing process has stopped the answer (the message is
CANCELLED and its stream finished), False when no process claims it: nobody is writing
it, so the caller settles the message itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from domain.events.redis_bus import UNAVAILABLE, RedisEventBus, redis_client

logger = logging.getLogger(__name__)

# Stops the generation of a message if this process runs it; True when it did.
CancelHandler = Callable[[uuid.UUID], Awaitable[bool]]
CANCEL_TOPIC = "control:cancel"


class CancelSignals(Protocol):
    def listen(self, handler: CancelHandler) -> None:
        """Routes every request, from any process, to `handler` (this process's
        `ChatGenerator.cancel`). Call once, from the running event loop."""

    async def request(self, message_id: uuid.UUID) -> bool:
        """Asks whichever process writes `message_id` to stop it; True once it has."""

    async def close(self) -> None:
        """Stops listening."""


class InProcessCancelSignals:
    """One process: the request goes straight to the local generator."""

    def __init__(self) -> None:
        self._handler: CancelHandler | None = None

    def listen(self, handler: CancelHandler) -> None:
        self._handler = handler

    async def request(self, message_id: uuid.UUID) -> bool:
        return self._handler is not None and await self._handler(message_id)

    async def close(self) -> None:
        self._handler = None


class RedisCancelSignals:
    """Requests go out on a pub/sub channel that every replica listens to (through its
    event bus, so reconnection is the bus's); each replies on the list the request
    names, `<prefix>:cancel-ack:<message_id>:<nonce>`: "1" from the replica that stopped
    the answer, "0" from the others. The requester BLPOPs the replies until one says
    "1", all of the replicas that received the request (PUBLISH counts them) said "0",
    or `timeout_seconds` pass. A replica that is down or cut off from Redis does not
    hear the request: its answers cannot be cancelled until it is back (the recovery
    job settles them if it died)."""

    def __init__(
        self,
        bus: RedisEventBus,
        url: str,
        *,
        timeout_seconds: float = 5.0,
        reply_ttl_seconds: int = 60,
        client_name: str | None = None,
    ) -> None:
        self._bus = bus
        self._timeout = timeout_seconds
        self._reply_ttl = reply_ttl_seconds
        self._replies = f"{bus.prefix}:cancel-ack:"
        name = client_name or f"{bus.prefix}-cancel"
        self._redis = redis_client(url, name, socket_timeout=timeout_seconds + 5)
        self._handler: CancelHandler | None = None
        self._listener: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    def listen(self, handler: CancelHandler) -> None:
        self._handler = handler
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="redis-cancel-listener")

    @property
    def listening(self) -> bool:
        """True once Redis has confirmed this process's subscription to requests."""
        return self._bus.subscriber_count(CANCEL_TOPIC) > 0

    async def request(self, message_id: uuid.UUID) -> bool:
        handler = self._handler
        if handler is not None and await handler(message_id):
            return True  # written here: no need to ask the others
        reply_to = f"{self._replies}{message_id}:{uuid.uuid4().hex}"
        event = {"message_id": str(message_id), "reply_to": reply_to}
        try:
            receivers = await self._bus.publish_counted(CANCEL_TOPIC, event)
            return await self._await_replies(reply_to, receivers)
        except UNAVAILABLE as error:
            logger.warning("could not ask the other replicas to cancel %s: %s", message_id, error)
            return False
        finally:
            with contextlib.suppress(*UNAVAILABLE):
                await self._redis.delete(reply_to)

    async def _await_replies(self, reply_to: str, receivers: int) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        for _ in range(receivers):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            # BLPOP's timeout 0 waits forever: never send it.
            popped: Any = await self._redis.blpop([reply_to], timeout=max(remaining, 0.01))
            if popped is None:
                return False
            if popped[1] == "1":
                return True
        return False

    async def _listen(self) -> None:
        events = self._bus.subscribe(CANCEL_TOPIC)
        try:
            async for event in events:
                task = asyncio.create_task(self._handle(event))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def _handle(self, event: dict[str, Any]) -> None:
        try:
            message_id = uuid.UUID(str(event["message_id"]))
            reply_to = str(event["reply_to"])
        except (KeyError, ValueError):
            logger.warning("ignored a malformed cancel request: %r", event)
            return
        if not reply_to.startswith(self._replies):
            logger.warning("ignored a cancel request with a foreign reply key: %r", event)
            return
        stopped = False
        handler = self._handler
        if handler is not None:
            try:
                stopped = await handler(message_id)
            except Exception:
                logger.exception("cancelling %s failed", message_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.lpush(reply_to, "1" if stopped else "0")
                pipe.expire(reply_to, self._reply_ttl)
                await pipe.execute()
        except UNAVAILABLE as error:
            logger.warning("could not answer the cancel request for %s: %s", message_id, error)

    async def close(self) -> None:
        tasks = [task for task in (self._listener, *self._handling) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listener = None
        self._handler = None
        await self._redis.aclose()
