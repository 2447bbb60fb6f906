"""In-process message streams: the embedded default (one process, no broker)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from domain.streams.port import StreamBatch


@dataclass
class _Stream:
    deltas: list[str] = field(default_factory=list)
    finished_at: float | None = None
    # Made only when a reader waits: most appends happen while readers are busy or
    # pacing their frames, and then cost no allocation and no wake-up.
    changed: asyncio.Future[None] | None = None


class InProcessMessageStreams:
    """Finished streams are kept `retention_seconds` for late readers and reconnects,
    then evicted (the persisted message serves readers after that); at most
    `max_finished` finished streams are kept, so memory stays bounded."""

    def __init__(self, *, retention_seconds: float = 300.0, max_finished: int = 10_000) -> None:
        self.retention_seconds = retention_seconds
        self.max_finished = max_finished
        self._streams: dict[uuid.UUID, _Stream] = {}
        self._finished: OrderedDict[uuid.UUID, float] = OrderedDict()

    async def open(self, message_id: uuid.UUID) -> None:
        self._streams.setdefault(message_id, _Stream())

    async def append(self, message_id: uuid.UUID, delta: str) -> int:
        stream = self._streams.setdefault(message_id, _Stream())
        if stream.finished_at is not None:
            raise RuntimeError(f"stream {message_id} has finished")
        stream.deltas.append(delta)
        self._wake(stream)
        return len(stream.deltas)

    async def finish(self, message_id: uuid.UUID) -> None:
        stream = self._streams.setdefault(message_id, _Stream())
        if stream.finished_at is None:
            stream.finished_at = time.monotonic()
            self._finished[message_id] = stream.finished_at
            self._wake(stream)
        self._evict()

    def is_active(self, message_id: uuid.UUID) -> bool:
        stream = self._streams.get(message_id)
        return stream is not None and stream.finished_at is None

    async def read(self, message_id: uuid.UUID, after: int = 0) -> AsyncIterator[StreamBatch]:
        self._evict()
        stream = self._streams.get(message_id)
        if stream is None:
            return
        position = max(0, after)
        while True:
            available = len(stream.deltas)
            done = stream.finished_at is not None
            if available > position or done:
                text = "".join(stream.deltas[position:available])
                position = available
                yield StreamBatch(last_seq=available, text=text, done=done)
                if done:
                    return
                continue
            if stream.changed is None:
                stream.changed = asyncio.get_running_loop().create_future()
            # shield: one reader leaving must not cancel the future the others wait on
            await asyncio.shield(stream.changed)

    def _wake(self, stream: _Stream) -> None:
        if stream.changed is not None:
            stream.changed.set_result(None)
            stream.changed = None

    def _evict(self) -> None:
        horizon = time.monotonic() - self.retention_seconds
        while self._finished:
            message_id, finished_at = next(iter(self._finished.items()))
            if finished_at > horizon and len(self._finished) <= self.max_finished:
                break
            self._finished.popitem(last=False)
            self._streams.pop(message_id, None)
