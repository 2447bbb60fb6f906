"""Redis message streams: one Redis Stream per answer, readable from every replica.

Key `<prefix>:stream:<message_id>`, one entry per event (domain/streams/redis_entries.py:
the entry ids carry the seqs; Lua scripts write them). Streams are trimmed (MAXLEN ~
`max_len`) and expire: `active_ttl_seconds` while written, `retention_seconds` once done.

Readers: a `read` replays what is there (XRANGE, in the same MULTI as a look at the last
entry), then follows live through ONE reader task per process, which XREADs (BLOCK
`block_ms`, re-issued, woken early with CLIENT UNBLOCK when a reader joins) every stream
that has a local reader and fans the entries out; each reader gets everything that
arrived since its previous batch.

Failures never hang a reader nor crash a writer:
- a stream whose key disappears (expired, or Redis restarted without persistence) ends
  its readers without `done`: the caller falls back to the stored message;
- a reader further behind than `max_len` deltas (they were trimmed) ends the same way;
- when this process cannot reach Redis, readers wait while it reconnects with backoff
  and resume where they were; after `outage_seconds` of failures they end;
- a write that fails is logged and the stream is abandoned (deleted when possible, so
  its readers end rather than miss a delta); generation goes on and persists the text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from domain.events.redis_bus import UNAVAILABLE, Backoff, redis_client
from domain.streams.port import StreamBatch
from domain.streams.redis_entries import APPEND, FINISH, OPEN, EntryId, Follower, parse_entry_id

logger = logging.getLogger(__name__)

# Worth one more try: the command may not have reached Redis (each script is idempotent).
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisMessageStreams:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ragql",
        retention_seconds: float = 300.0,
        active_ttl_seconds: int = 3600,
        max_len: int = 10_000,
        block_ms: int = 1000,
        check_seconds: float = 2.0,
        outage_seconds: float = 15.0,
        client_name: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.retention_seconds = retention_seconds
        self._url = url
        self._name = client_name or f"{prefix}-streams"
        self._retention = max(1, math.ceil(retention_seconds))
        self._active_ttl = max(1, int(active_ttl_seconds))
        self._max_len = max_len
        self._block_ms = block_ms
        self._check_seconds = check_seconds
        self._outage_seconds = outage_seconds
        self._redis = redis_client(url, self._name, encoding_errors="surrogatepass")
        self._open = self._script(OPEN)
        self._append = self._script(APPEND)
        self._finish = self._script(FINISH)
        self._written: dict[uuid.UUID, int] = {}  # streams this process writes: last seq
        self._broken: set[uuid.UUID] = set()
        self._followers: dict[str, set[Follower]] = {}
        self._keys_changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._reader_id: int | None = None  # CLIENT ID of the reader's connection
        self._blocking = False
        self._backoff = Backoff()
        self._nudges: set[asyncio.Task[None]] = set()
        self._closed = False

    def _script(self, source: str) -> AsyncScript:
        return self._redis.register_script(source)

    def key(self, message_id: uuid.UUID) -> str:
        return f"{self.prefix}:stream:{message_id}"

    # Writing ---------------------------------------------------------------------------

    async def open(self, message_id: uuid.UUID) -> None:
        self._broken.discard(message_id)
        try:
            last = await self._run(self._open, message_id, [self._active_ttl], retry=True)
        except UNAVAILABLE as error:
            # Generation still runs and saves the answer; readers find no stream and
            # fall back to the stored message.
            await self._abandon(message_id, f"could not open it ({error})")
            return
        if last >= 0:
            self._written[message_id] = last

    async def append(self, message_id: uuid.UUID, delta: str) -> int:
        """The delta's seq; 0 when the stream was abandoned (see the module docstring)."""
        if message_id in self._broken:
            return 0
        expected = self._written[message_id] + 1 if message_id in self._written else 0
        args = [delta, self._max_len, self._active_ttl, expected]
        try:
            # Retrying is safe only when the script can tell a repeat by its seq.
            seq = await self._run(self._append, message_id, args, retry=expected > 0)
        except UNAVAILABLE as error:
            await self._abandon(message_id, f"a delta could not be written ({error})")
            return 0
        if seq == -1:
            raise RuntimeError(f"stream {message_id} has finished")
        if seq < 0:
            reason = "it is gone from Redis" if seq == -2 else "its seqs are out of step"
            await self._abandon(message_id, reason)
            return 0
        self._written[message_id] = seq
        return seq

    async def finish(self, message_id: uuid.UUID) -> None:
        self._written.pop(message_id, None)
        if message_id in self._broken:
            self._broken.discard(message_id)
            await self._delete(message_id)  # again: Redis may be back
            return
        try:
            await self._run(self._finish, message_id, [self._max_len, self._retention], retry=True)
        except UNAVAILABLE as error:
            logger.warning("could not finish stream %s: %s", message_id, error)
            await self._delete(message_id)

    def is_active(self, message_id: uuid.UUID) -> bool:
        """True while THIS process writes the stream (opened or appended here, not yet
        finished): the port is synchronous, so other replicas' streams are not seen."""
        return message_id in self._written and message_id not in self._broken

    async def exists(self, message_id: uuid.UUID) -> bool:
        """Whether Redis holds the stream (written by any replica, finished or not)."""
        return bool(await self._redis.exists(self.key(message_id)))

    async def _run(
        self, script: AsyncScript, message_id: uuid.UUID, args: list[Any], *, retry: bool
    ) -> int:
        keys = [self.key(message_id)]
        try:
            return int(await script(keys=keys, args=args))
        except TRANSIENT as error:
            if not retry:
                raise
            logger.debug("retrying a write to stream %s after: %s", message_id, error)
            return int(await script(keys=keys, args=args))

    async def _abandon(self, message_id: uuid.UUID, reason: str) -> None:
        logger.warning(
            "answer stream %s abandoned, %s; its readers fall back to the stored message",
            message_id,
            reason,
        )
        self._broken.add(message_id)
        self._written.pop(message_id, None)
        await self._delete(message_id)

    async def _delete(self, message_id: uuid.UUID) -> None:
        try:
            await self._redis.delete(self.key(message_id))
        except UNAVAILABLE as error:
            logger.debug("could not delete stream %s: %s", message_id, error)

    # Reading ---------------------------------------------------------------------------

    async def read(self, message_id: uuid.UUID, after: int = 0) -> AsyncIterator[StreamBatch]:
        if self._closed:
            return
        key = self.key(message_id)
        follower = Follower(position=max(0, after), cursor=(max(0, after), 0))
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xrange(key, min=f"({follower.position}-0")
                pipe.xrevrange(key, count=1)
                replay, last = await pipe.execute()
        except UNAVAILABLE as error:
            logger.warning("could not read stream %s: %s", message_id, error)
            return
        if not last:
            return  # unknown here: the stored message has the answer
        last_id, last_fields = last[0]
        if parse_entry_id(last_id) <= follower.cursor:
            # Asked from beyond the end: follow on from the last entry (it may be done).
            replay = [(last_id, last_fields)]
        for entry_id, fields in replay:
            follower.accept(parse_entry_id(entry_id), fields)
            if follower.finished:
                break
        following = not follower.finished
        if following:
            self._followers.setdefault(key, set()).add(follower)
            self._wake_reader()
        try:
            while True:
                if follower.parts or follower.done_seq is not None:
                    text = "".join(follower.parts)
                    follower.parts.clear()
                    done = follower.done_seq
                    last_seq = follower.position if done is None else done
                    yield StreamBatch(last_seq=last_seq, text=text, done=done is not None)
                    if done is not None:
                        return
                    continue
                if follower.lost:
                    return
                follower.changed.clear()
                await follower.changed.wait()
        finally:
            if following:
                followers = self._followers.get(key)
                if followers is not None:
                    followers.discard(follower)
                    if not followers:
                        del self._followers[key]

    def reader_count(self, message_id: uuid.UUID) -> int:
        """Local readers following the stream live (for tests and metrics)."""
        return len(self._followers.get(self.key(message_id), ()))

    def _wake_reader(self) -> None:
        self._keys_changed.set()
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._follow_forever(), name="redis-streams")
        elif self._blocking and self._reader_id is not None:
            # Stop the XREAD in flight so the next one includes the new reader.
            task = asyncio.create_task(self._unblock(self._reader_id))
            self._nudges.add(task)
            task.add_done_callback(self._nudges.discard)

    async def _unblock(self, client_id: int) -> None:
        with contextlib.suppress(*UNAVAILABLE):
            await self._redis.client_unblock(client_id)

    def _wanted(self) -> dict[str, EntryId]:
        """Each followed stream, from the oldest cursor among its unfinished readers."""
        wanted = {}
        for key, followers in self._followers.items():
            cursors = [f.cursor for f in followers if not f.finished]
            if cursors:
                wanted[key] = min(cursors)
        return wanted

    async def _follow_forever(self) -> None:
        client: Redis | None = None
        failing_since: float | None = None
        checked = 0.0
        try:
            while not self._closed:
                wanted = self._wanted()
                if not wanted:
                    self._keys_changed.clear()
                    await self._keys_changed.wait()
                    continue
                try:
                    if client is None:
                        client = redis_client(
                            self._url,
                            f"{self._name}-reader",
                            socket_timeout=self._block_ms / 1000 + 5,
                            encoding_errors="surrogatepass",
                            single_connection_client=True,
                        )
                        self._reader_id = int(await client.client_id())
                        checked = 0.0  # after (re)connecting, look for lost streams first
                    if time.monotonic() - checked >= self._check_seconds:
                        await self._check_exists(list(wanted))
                        checked = time.monotonic()
                        wanted = self._wanted()
                        if not wanted:
                            continue
                    self._blocking = True
                    try:
                        reply: Any = await client.xread(
                            {key: f"{ms}-{sq}" for key, (ms, sq) in wanted.items()},
                            count=1000,
                            block=self._block_ms,
                        )
                    finally:
                        self._blocking = False
                except Exception as error:
                    now = time.monotonic()
                    if not isinstance(error, UNAVAILABLE):
                        logger.exception("stream reader failed; starting it again")
                    if failing_since is None:
                        failing_since = now
                        logger.warning("stream reader lost Redis (%s); reconnecting", error)
                    elif now - failing_since > self._outage_seconds:
                        self._end_all()
                    self._reader_id = None
                    if client is not None:
                        with contextlib.suppress(*UNAVAILABLE):
                            await client.aclose()
                        client = None
                    await self._backoff.wait()
                    continue
                if failing_since is not None:
                    logger.info("stream reader reconnected to Redis")
                    failing_since = None
                self._backoff.reset()
                for key, entries in reply or []:
                    self._dispatch(key, wanted.get(key), entries)
        finally:
            self._reader_id = None
            if client is not None:
                with contextlib.suppress(*UNAVAILABLE):
                    await client.aclose()

    async def _check_exists(self, keys: list[str]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            found = await pipe.execute()
        for key, exists in zip(keys, found, strict=True):
            if not exists:
                for follower in self._followers.get(key, ()):
                    follower.lost = True
                    follower.changed.set()

    def _dispatch(
        self, key: str, requested: EntryId | None, entries: list[tuple[str, dict[str, str]]]
    ) -> None:
        parsed = [(parse_entry_id(entry_id), fields) for entry_id, fields in entries]
        for follower in list(self._followers.get(key, ())):
            # A reader that joined during this XREAD, further back, is served by the next.
            if follower.finished or requested is None or follower.cursor < requested:
                continue
            for entry, fields in parsed:
                if entry > follower.cursor:
                    follower.accept(entry, fields)
                    if follower.finished:
                        break
            follower.changed.set()

    def _end_all(self) -> None:
        for followers in self._followers.values():
            for follower in followers:
                follower.lost = True
                follower.changed.set()

    async def close(self) -> None:
        self._closed = True
        self._end_all()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        for task in list(self._nudges):
            task.cancel()
        await self._redis.aclose()
