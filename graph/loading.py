"""Helpers for the per-operation DataLoaders: batch functions, pages per parent."""

from __future__ import annotations

import uuid
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from domain.pagination import Page

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")
# (parent id, arguments): parents asked for with the same arguments share one query.
PageKey = tuple[uuid.UUID, Hashable]
PageFetcher = Callable[
    [AsyncSession, Sequence[uuid.UUID], Any], Awaitable[dict[uuid.UUID, Page[T]]]
]


def batch_method(
    method: Callable[[Sequence[K]], Awaitable[list[V]]],
) -> Callable[[Sequence[K]], Awaitable[list[V]]]:
    """A loader's own batch method, for `DataLoader(load_fn=...)`, held without a cycle.

    DataLoader keeps its batch function on the loader, and a bound method kept there is a
    reference cycle (loader, method, loader): every loader, with its cache of everything the
    operation loaded (pages, ORM rows and their states), then outlived the operation until
    a full garbage collection. A weak reference leaves reference counting to free it all
    when the operation ends. The loader is alive while it dispatches a batch (the dispatch
    holds it), so the reference is never dead when called.
    """
    weak = weakref.WeakMethod(method)

    async def load(keys: Sequence[K]) -> list[V]:
        bound = weak()
        if bound is None:  # pragma: no cover - see above
            raise RuntimeError("a DataLoader was collected while dispatching")
        return await bound(keys)

    return load


async def load_pages(
    sessionmaker: async_sessionmaker[AsyncSession],
    keys: Sequence[PageKey],
    fetch: PageFetcher[T],
) -> list[Page[T]]:
    by_arguments: dict[Hashable, list[uuid.UUID]] = defaultdict(list)
    for parent_id, arguments in keys:
        by_arguments[arguments].append(parent_id)
    results: dict[PageKey, Page[T]] = {}
    async with sessionmaker() as session:
        for arguments, parent_ids in by_arguments.items():
            pages = await fetch(session, list(dict.fromkeys(parent_ids)), arguments)
            for parent_id, page in pages.items():
                results[(parent_id, arguments)] = page
    return [results[key] for key in keys]


def loaded(loader: DataLoader[Any, Any], key: Hashable) -> Any | None:
    """The value this operation has already loaded for `key`, or None: a resolver can then
    answer synchronously (graph/workspaces/ahead.py)."""
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception():
        return None
    return future.result()
