"""Per-operation loaders for users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from domain.users import repository as users
from domain.users.models import User
from graph.loading import batch_method


class UserByIdLoader(DataLoader[uuid.UUID, User | None]):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        super().__init__(load_fn=batch_method(self._load))

    async def _load(self, ids: Sequence[uuid.UUID]) -> list[User | None]:
        async with self._sessionmaker() as session:
            found = {user.id: user for user in await users.list_by_ids(session, ids)}
        return [found.get(user_id) for user_id in ids]
