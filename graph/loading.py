"""Helpers for DataLoaders that page a child list per parent."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.pagination import Page

T = TypeVar("T")
# (parent id, arguments): parents asked for with the same arguments share one query.
PageKey = tuple[uuid.UUID, Hashable]
PageFetcher = Callable[
    [AsyncSession, Sequence[uuid.UUID], Any], Awaitable[dict[uuid.UUID, Page[T]]]
]


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
