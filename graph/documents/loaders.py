"""Per-operation loaders for documents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from domain.documents import repository as documents
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.pagination import Page, PageRequest
from graph.loading import batch_method, load_pages

DocumentsKey = tuple[uuid.UUID, tuple[PageRequest, DocumentStatus | None]]


class DocumentsByWorkspaceLoader(DataLoader[DocumentsKey, Page[WorkspaceDocument]]):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        super().__init__(load_fn=batch_method(self._load))

    async def _load(self, keys: Sequence[DocumentsKey]) -> list[Page[WorkspaceDocument]]:
        async def fetch(
            session: AsyncSession,
            ids: Sequence[uuid.UUID],
            arguments: tuple[PageRequest, DocumentStatus | None],
        ) -> dict[uuid.UUID, Page[WorkspaceDocument]]:
            request, status = arguments
            return await documents.documents_of_workspaces(session, ids, request, status)

        return await load_pages(self._sessionmaker, keys, fetch)


class DocumentByIdLoader(DataLoader[uuid.UUID, WorkspaceDocument | None]):
    """Only for ids that came from an authorised workspace (search hits, citations)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        super().__init__(load_fn=batch_method(self._load))

    async def _load(self, ids: Sequence[uuid.UUID]) -> list[WorkspaceDocument | None]:
        async with self._sessionmaker() as session:
            found = {doc.id: doc for doc in await documents.list_by_ids(session, ids)}
        return [found.get(document_id) for document_id in ids]
