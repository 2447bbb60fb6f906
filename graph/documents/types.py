"""The WorkspaceDocument type and its status enum."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from domain.documents.models import WorkspaceDocument as WorkspaceDocumentModel
from graph.enums import DocumentStatus


@strawberry.type(description="A file uploaded into a workspace and its ingestion state.")
class WorkspaceDocument:
    id: strawberry.ID = strawberry.field(description="Stable identifier (a UUID).")
    workspace_id: strawberry.ID = strawberry.field(description="The workspace it belongs to.")
    filename: str = strawberry.field(description="Name of the uploaded file.")
    content_type: str = strawberry.field(description="Media type detected from the bytes.")
    size_bytes: float = strawberry.field(description="Size of the upload in bytes.")
    sha256: str = strawberry.field(description="SHA-256 of the bytes, hex.")
    status: DocumentStatus = strawberry.field(description="Ingestion state.")
    error: str | None = strawberry.field(description="Why ingestion failed, when FAILED.")
    chunk_count: int = strawberry.field(description="Passages indexed, when READY.")
    created_at: datetime = strawberry.field(description="When it was uploaded.")
    updated_at: datetime = strawberry.field(description="When its state last changed.")
    pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, document: WorkspaceDocumentModel) -> WorkspaceDocument:
        return cls(
            id=strawberry.ID(str(document.id)),
            workspace_id=strawberry.ID(str(document.workspace_id)),
            filename=document.filename,
            content_type=document.content_type,
            size_bytes=document.size_bytes,
            sha256=document.sha256,
            status=document.status,
            error=document.error,
            chunk_count=document.chunk_count,
            created_at=document.created_at,
            updated_at=document.updated_at,
            pk=document.id,
        )
