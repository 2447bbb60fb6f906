"""The message stream port: per assistant message, an ordered log of deltas.

Readers replay from any `seq` and then follow live until the terminal event, so a
client that subscribes late, or reconnects to another replica, misses nothing and sees
nothing twice. Each read hands over everything that arrived since the previous read,
which is how a slow reader gets fewer, larger frames instead of a growing backlog.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """Deltas `first_seq..last_seq` joined; `done` when the terminal event is included."""

    last_seq: int
    text: str
    done: bool


class MessageStreams(Protocol):
    async def open(self, message_id: uuid.UUID) -> None:
        """Creates the stream before anyone writes, so a reader arriving before the
        first delta waits for it instead of finding nothing."""

    async def append(self, message_id: uuid.UUID, delta: str) -> int:
        """Adds a delta; returns its seq (1, 2, 3...)."""

    async def finish(self, message_id: uuid.UUID) -> None:
        """Ends the stream; readers receive `done` after the last delta."""

    def read(self, message_id: uuid.UUID, after: int = 0) -> AsyncIterator[StreamBatch]:
        """Batches after `after` until `done`. Ends at once, yielding nothing, when the
        stream is unknown here (never started, or finished and evicted): the stored
        message then has the whole answer."""

    def is_active(self, message_id: uuid.UUID) -> bool:
        """True while the stream exists and has not finished."""
