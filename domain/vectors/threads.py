"""Blocking library calls, run in a worker thread, one at a time where needed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Serial:
    """Runs calls off the event loop; those that share the lock never overlap.

    A thread lock, not an asyncio one, so the store may be used from any event loop
    (the lock is taken inside the worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        def locked() -> T:
            with self._lock:
                return function(*args, **kwargs)

        return await asyncio.to_thread(locked)


async def concurrent(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs a thread-safe call off the event loop without the lock."""
    return await asyncio.to_thread(function, *args, **kwargs)
