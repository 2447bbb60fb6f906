"""Reading documents, only through a membership of their workspace."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.models import WorkspaceDocument
from domain.errors import NotFound
from domain.workspaces.models import WorkspaceMember

DOCUMENT_NOT_FOUND = "Document not found."


async def get_visible_document(
    session: AsyncSession, *, document_id: uuid.UUID, user_id: uuid.UUID
) -> WorkspaceDocument:
    document = await session.scalar(
        select(WorkspaceDocument)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == WorkspaceDocument.workspace_id)
        .where(WorkspaceDocument.id == document_id, WorkspaceMember.user_id == user_id)
    )
    if document is None:
        raise NotFound(DOCUMENT_NOT_FOUND)
    return document
