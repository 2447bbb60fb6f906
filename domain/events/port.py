"""The event bus port: fan-out of small notifications between producers and subscribers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class EventBus(Protocol):
    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver `event` to every current subscriber of `topic`; never blocks on them."""

    def subscribe(self, topic: str) -> AsyncIterator[dict[str, Any]]:
        """Events published on `topic` from now on, until the iterator is closed."""

    async def ping(self) -> bool:
        """True when the bus can deliver (for /readyz)."""


def document_topic(workspace_id: object) -> str:
    return f"workspace:{workspace_id}:documents"
