"""Batched reads of documents, for the per-request loaders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.pagination import Page, PageRequest, paginate_per_parent


async def documents_of_workspaces(
    session: AsyncSession,
    workspace_ids: Sequence[uuid.UUID],
    request: PageRequest,
    status: DocumentStatus | None = None,
) -> dict[uuid.UUID, Page[WorkspaceDocument]]:
    where = [WorkspaceDocument.status == status] if status is not None else []
    return await paginate_per_parent(
        session,
        WorkspaceDocument,
        WorkspaceDocument.workspace_id,
        workspace_ids,
        request,
        where=where,
        descending=True,
    )


async def list_by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> Sequence[WorkspaceDocument]:
    return (
        await session.scalars(select(WorkspaceDocument).where(WorkspaceDocument.id.in_(ids)))
    ).all()
