"""Re-embedding workspaces whose vectors were made by another embedder.

Search keeps answering from the old vectors (see `Container.search_backend`) while
every READY document is indexed again with the current embedder; then the workspace
switches over in one update and the old vectors are removed. Chunk ids are
deterministic, so a run interrupted half-way and started again (here or on another
replica) overwrites rather than duplicates.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.documents.indexing import IngestionLimits, StoredDocument, index_document
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.embeddings.port import Embedder
from domain.files.port import FileStore
from domain.ingestion.errors import ParseError
from domain.vectors.port import VectorStore
from domain.workspaces.models import Workspace

logger = logging.getLogger(__name__)
OpenStore = Callable[[str, int], VectorStore]


class Reembedder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        files: FileStore,
        embedder: Embedder,
        vectors: VectorStore,
        open_store: OpenStore,
        limits: IngestionLimits,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._files = files
        self._embedder = embedder
        self._vectors = vectors
        self._open_store = open_store
        self._limits = limits

    async def run_once(self) -> int:
        """Re-embeds every out-of-date workspace; returns how many switched over."""
        async with self._sessionmaker() as session:
            stale = (
                await session.execute(
                    select(Workspace.id, Workspace.embedder, Workspace.embedding_dimension).where(
                        Workspace.embedder.is_not(None), Workspace.embedder != self._embedder.name
                    )
                )
            ).all()
        switched = 0
        for workspace_id, old_name, old_dimension in stale:
            if old_name and await self._reembed(workspace_id, old_name, old_dimension or 0):
                switched += 1
        return switched

    async def _reembed(self, workspace_id: uuid.UUID, old_name: str, old_dimension: int) -> bool:
        documents = await self._ready_documents(workspace_id)
        for document in documents:
            try:
                await index_document(
                    document,
                    files=self._files,
                    embedder=self._embedder,
                    vectors=self._vectors,
                    limits=self._limits,
                )
            except ParseError as error:  # it parsed before; keep going, the log says why
                logger.warning("re-embedding skipped %s: %s", document.document_id, error)
        async with self._sessionmaker.begin() as session:
            result = await session.execute(
                update(Workspace)
                .where(Workspace.id == workspace_id, Workspace.embedder == old_name)
                .values(embedder=self._embedder.name, embedding_dimension=self._embedder.dimension)
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False  # another replica switched it first
        old_store = self._open_store(old_name, old_dimension)
        for document_id in await old_store.document_ids(workspace_id):
            await old_store.delete_document(workspace_id, document_id)
        logger.info("workspace %s re-embedded with %s", workspace_id, self._embedder.name)
        return True

    async def _ready_documents(self, workspace_id: uuid.UUID) -> list[StoredDocument]:
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        WorkspaceDocument.id,
                        WorkspaceDocument.storage_key,
                        WorkspaceDocument.content_type,
                    ).where(
                        WorkspaceDocument.workspace_id == workspace_id,
                        WorkspaceDocument.status == DocumentStatus.READY,
                    )
                )
            ).all()
        return [StoredDocument(workspace_id, doc_id, key, media) for doc_id, key, media in rows]
