"""The vector store port: what ingestion, retrieval and maintenance need from a store.

Tenant isolation is the adapter's job: every read takes the workspace and filters on
it inside the engine, before ranking, so another tenant's rows can neither appear in
nor crowd out a workspace's results. Ids are validated before they reach any filter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True, eq=False)
class ChunkRecord:
    chunk_id: str  # unique within its workspace; re-adding an id replaces the chunk
    workspace_id: uuid.UUID
    document_id: uuid.UUID
    ordinal: int
    page: int | None
    heading: str
    text: str
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class VectorHit:
    chunk_id: str
    document_id: uuid.UUID
    ordinal: int
    page: int | None
    heading: str
    text: str
    score: float  # vector_search: cosine similarity; text_search: the engine's BM25


class VectorStore(Protocol):
    async def add(self, records: Sequence[ChunkRecord]) -> None:
        """Writes the chunks; an id already stored in that workspace is replaced, so a
        retried batch never duplicates. New chunks are searchable when this returns."""
        ...

    async def delete_document(self, workspace_id: uuid.UUID, document_id: uuid.UUID) -> None:
        """Removes every chunk of the document, and nothing else."""
        ...

    async def vector_search(
        self, workspace_id: uuid.UUID, vector: np.ndarray, limit: int
    ) -> list[VectorHit]:
        """The workspace's chunks nearest to `vector`, by cosine similarity, best first."""
        ...

    async def text_search(self, workspace_id: uuid.UUID, query: str, limit: int) -> list[VectorHit]:
        """The workspace's chunks matching the words of `query` (BM25), best first."""
        ...

    async def document_ids(self, workspace_id: uuid.UUID | None = None) -> set[uuid.UUID]:
        """Documents that have chunks (in one workspace, or anywhere): for maintenance."""
        ...

    async def workspace_ids(self) -> set[uuid.UUID]:
        """Workspaces that have chunks: for maintenance (a deleted workspace's leftovers)."""
        ...

    async def count(self, workspace_id: uuid.UUID, document_id: uuid.UUID | None = None) -> int: ...

    async def optimize(self) -> None:
        """Compacts storage and brings indexes up to date; safe to run while serving."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
