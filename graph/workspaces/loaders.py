"""Per-operation loaders for workspace members."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from domain.pagination import Page, PageRequest
from domain.workspaces import repository as workspaces
from domain.workspaces.models import WorkspaceMember
from graph.loading import batch_method, load_pages

MembersKey = tuple[uuid.UUID, PageRequest]


class MembersByWorkspaceLoader(DataLoader[MembersKey, Page[WorkspaceMember]]):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        super().__init__(load_fn=batch_method(self._load))

    async def _load(self, keys: Sequence[MembersKey]) -> list[Page[WorkspaceMember]]:
        return await load_pages(self._sessionmaker, keys, workspaces.members_of_workspaces)
