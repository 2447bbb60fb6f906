"""Redis event bus: pub/sub channels, one reader per process fanning out locally.

Each process holds ONE pub/sub connection. A topic's channel is subscribed when its
first local subscriber arrives and unsubscribed when its last one leaves; every message
is copied into the bounded queue of each local subscriber (a subscriber that falls
`queue_size` events behind loses its oldest ones, as with the in-process bus).

Pub/sub is fire-and-forget. What is lost, and only that: events published while this
process is disconnected from Redis (a restart, a network cut) or while the channel is
being re-subscribed. The reader reconnects with backoff and re-subscribes every topic
that still has local subscribers; subscribers keep waiting through an outage, see
nothing from it, and receive events again afterwards. `publish` never raises: an event
that cannot be sent is logged and dropped. Events travel as JSON, so values arrive as
JSON types (non-JSON values are sent as their `str`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2.0
# Errors that mean "Redis is unreachable or the connection broke": worth a retry later.
UNAVAILABLE = (RedisError, OSError)


def redis_client(url: str, name: str, *, socket_timeout: float = 5.0, **options: Any) -> Redis:
    """A client whose connections are named `name` (CLIENT LIST shows it) and that never
    retries on its own: each caller decides whether a command is safe to repeat. RESP2
    is pinned so replies look the same under every supported redis-py."""
    return Redis.from_url(
        url,
        client_name=name,
        decode_responses=True,
        protocol=2,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=socket_timeout,
        socket_keepalive=True,
        **options,
    )


class Backoff:
    """Exponential delays between reconnection attempts."""

    def __init__(self, first: float = 0.05, most: float = 5.0) -> None:
        self.first = first
        self.most = most
        self.next = first

    def reset(self) -> None:
        self.next = self.first

    async def wait(self) -> None:
        delay = self.next
        self.next = min(self.next * 2, self.most)
        await asyncio.sleep(delay)


_CLOSED: dict[str, Any] = {}  # sentinel put in queues when the bus closes


class RedisEventBus:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ragql",
        queue_size: int = 1000,
        client_name: str | None = None,
        liveness_seconds: float = 15.0,
        reconnect_max_seconds: float = 5.0,
    ) -> None:
        self.prefix = prefix
        self._queue_size = queue_size
        self._redis = redis_client(url, client_name or f"{prefix}-bus")
        self._liveness = liveness_seconds
        self._backoff = Backoff(most=reconnect_max_seconds)
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        self._confirmed: set[str] = set()  # topics Redis confirmed on the live connection
        self._sent: set[str] = set()  # topics asked for on the live connection
        self._live: PubSub | None = None  # the reader's connection, once usable
        self._lock = asyncio.Lock()  # one (un)subscribe at a time, decided on current state
        self._wanted = asyncio.Event()  # wakes an idle reader
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    def channel(self, topic: str) -> str:
        return f"{self.prefix}:events:{topic}"

    def _topic(self, channel: str) -> str:
        return channel.removeprefix(f"{self.prefix}:events:")

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        try:
            await self.publish_counted(topic, event)
        except UNAVAILABLE as error:
            logger.warning("could not publish to %s, event dropped: %s", topic, error)

    async def publish_counted(self, topic: str, event: dict[str, Any]) -> int:
        """Publishes and returns how many pub/sub connections (processes) received it;
        raises when Redis is unavailable."""
        payload = json.dumps(event, default=str, separators=(",", ":"))
        return int(await self._redis.publish(self.channel(topic), payload))

    async def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        if self._closed:
            return
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(self._queue_size)
        local = self._subscribers.setdefault(topic, set())
        local.add(queue)
        self._ensure_reader()
        await self._sync(topic)
        try:
            while True:
                event = await queue.get()
                if event is _CLOSED:
                    return
                yield event
        finally:
            local.discard(queue)
            if not local and self._subscribers.get(topic) is local:
                del self._subscribers[topic]
                await self._sync(topic)

    def subscriber_count(self, topic: str) -> int:
        """Local subscribers of `topic`, counted once Redis has confirmed the channel (so
        an event published after this is non-zero reaches them)."""
        if topic not in self._confirmed:
            return 0
        return len(self._subscribers.get(topic, ()))

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except UNAVAILABLE:
            return False

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        for queues in self._subscribers.values():
            for queue in queues:
                _put(queue, _CLOSED)
        await self._redis.aclose()

    # The reader -----------------------------------------------------------------------

    def _ensure_reader(self) -> None:
        self._wanted.set()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_forever(), name="redis-event-bus")

    async def _sync(self, topic: str) -> None:
        """Subscribes or unsubscribes `topic` on the live connection, from a subscriber's
        task, as its local subscribers now require (the reader reads the confirmation).
        Without a live connection, or when the command fails, the reader subscribes
        whatever is needed when it (re)connects."""
        async with self._lock:
            live = self._live
            wanted = topic in self._subscribers
            if live is None or wanted == (topic in self._sent):
                return
            try:
                if wanted:
                    self._sent.add(topic)
                    await live.subscribe(self.channel(topic))
                else:
                    self._sent.discard(topic)
                    self._confirmed.discard(topic)
                    await live.unsubscribe(self.channel(topic))
            except UNAVAILABLE as error:
                logger.debug("(un)subscribing %s failed (the reader recovers): %s", topic, error)

    async def _read_forever(self) -> None:
        while not self._closed:
            if not self._subscribers:
                self._wanted.clear()
                await self._wanted.wait()
                continue
            pubsub = self._redis.pubsub()
            try:
                await pubsub.connect()
                async with self._lock:
                    self._live = pubsub
                    self._sent = set(self._subscribers)
                    if self._sent:
                        await pubsub.subscribe(*(self.channel(topic) for topic in self._sent))
                await self._pump(pubsub)
            except UNAVAILABLE as error:
                logger.warning("event bus lost Redis (%s); reconnecting", error)
            except Exception:
                logger.exception("event bus reader failed; starting it again")
            finally:
                self._live = None
                self._sent.clear()
                self._confirmed.clear()
                with contextlib.suppress(*UNAVAILABLE):
                    await pubsub.aclose()
            if not self._closed:
                await self._backoff.wait()

    async def _pump(self, pubsub: PubSub) -> None:
        heard = time.monotonic()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=self._liveness / 3)
            now = time.monotonic()
            if message is None:
                if now - heard > self._liveness:
                    raise ConnectionError("no answer to PING from Redis")
                if not pinged and now - heard > self._liveness / 3:
                    pinged = True
                    await pubsub.ping()  # a silent connection may be dead: make it talk
                continue
            heard, pinged = now, False
            kind = message["type"]
            if kind == "message":
                self._deliver(self._topic(message["channel"]), message["data"])
            elif kind == "subscribe":
                self._confirmed.add(self._topic(message["channel"]))
                self._backoff.reset()
            elif kind == "unsubscribe":
                self._confirmed.discard(self._topic(message["channel"]))

    def _deliver(self, topic: str, data: str) -> None:
        queues = self._subscribers.get(topic)
        if not queues:
            return
        try:
            event = json.loads(data)
        except ValueError:
            logger.warning("ignored a malformed event on %s", topic)
            return
        for queue in list(queues):
            if _put(queue, event):
                logger.warning("subscriber to %s fell behind; dropped its oldest event", topic)


def _put(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> bool:
    """Puts without waiting; True when the oldest event had to make room."""
    dropped = False
    if queue.full():
        queue.get_nowait()
        dropped = True
    queue.put_nowait(event)
    return dropped
