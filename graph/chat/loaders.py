"""Per-operation loaders for chat sessions and messages."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from domain.chat import repository as chats
from domain.chat.models import ChatMessage, ChatSession
from domain.pagination import Page, PageRequest
from graph.loading import batch_method, load_pages

PageKey = tuple[uuid.UUID, PageRequest]


class SessionsByWorkspaceLoader(DataLoader[PageKey, Page[ChatSession]]):
    """The viewer's own sessions only: sessions are private to their creator."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], viewer_id: Callable[[], uuid.UUID]
    ) -> None:
        self._sessionmaker = sessionmaker
        self._viewer_id = viewer_id
        super().__init__(load_fn=batch_method(self._load))

    async def _load(self, keys: Sequence[PageKey]) -> list[Page[ChatSession]]:
        viewer_id = self._viewer_id()

        async def fetch(
            session: AsyncSession, ids: Sequence[uuid.UUID], request: PageRequest
        ) -> dict[uuid.UUID, Page[ChatSession]]:
            return await chats.sessions_of_workspaces(session, ids, viewer_id, request)

        return await load_pages(self._sessionmaker, keys, fetch)


class MessagesBySessionLoader(DataLoader[PageKey, Page[ChatMessage]]):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        super().__init__(load_fn=batch_method(self._load))

    async def _load(self, keys: Sequence[PageKey]) -> list[Page[ChatMessage]]:
        return await load_pages(self._sessionmaker, keys, chats.messages_of_sessions)
