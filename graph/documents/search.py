"""Workspace.search: retrieval without the model."""

from __future__ import annotations

import uuid

import strawberry

from domain.retrieval.search import Passage
from graph.context import Info
from graph.documents.types import WorkspaceDocument


@strawberry.type(description="A passage retrieved for a query.")
class SearchHit:
    document_id: strawberry.ID = strawberry.field(description="The document it comes from.")
    chunk: int = strawberry.field(description="Ordinal of the passage in its document.")
    page: int | None = strawberry.field(description="Page number, where the format has pages.")
    heading: str | None = strawberry.field(description="Heading path above the passage.")
    score: float = strawberry.field(description="Fused rank score (higher is better).")
    similarity: float | None = strawberry.field(
        description="Cosine similarity to the query, when the vector ranker found it."
    )
    snippet: str = strawberry.field(description="The passage text.")
    document_pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_passage(cls, passage: Passage) -> SearchHit:
        hit = passage.hit
        return cls(
            document_id=strawberry.ID(str(hit.document_id)),
            chunk=hit.ordinal,
            page=hit.page,
            heading=hit.heading or None,
            score=passage.score,
            similarity=passage.similarity,
            snippet=hit.text,
            document_pk=hit.document_id,
        )

    @strawberry.field(description="The document, unless it was deleted meanwhile.")
    async def document(self, info: Info) -> WorkspaceDocument | None:
        document = await info.context.loaders.document_by_id.load(self.document_pk)
        return WorkspaceDocument.from_model(document) if document else None
