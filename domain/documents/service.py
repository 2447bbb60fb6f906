"""Documents as members see and change them; every read goes through a membership."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.errors import Conflict, NotFound
from domain.files.port import StoredFile
from domain.workspaces.access import authorize
from domain.workspaces.models import WorkspaceMember, WorkspaceRole

DOCUMENT_NOT_FOUND = "Document not found."
MAX_FILENAME = 255


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


async def register_upload(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    filename: str,
    media_type: str,
    stored: StoredFile,
) -> WorkspaceDocument:
    """Adds the PENDING row for stored bytes; the same bytes twice in a workspace conflict."""
    access = await authorize(session, workspace_id, user_id, WorkspaceRole.EDITOR)
    existing = await session.scalar(
        select(WorkspaceDocument).where(
            WorkspaceDocument.workspace_id == access.workspace_id,
            WorkspaceDocument.sha256 == stored.sha256,
        )
    )
    if existing is not None:
        raise _duplicate(existing)
    document = WorkspaceDocument(
        workspace_id=access.workspace_id,
        uploaded_by_id=user_id,
        filename=clean_filename(filename),
        content_type=media_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        storage_key=stored.key,
        status=DocumentStatus.PENDING,
    )
    session.add(document)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent upload of the same bytes won the race
        raise Conflict("This file is already in the workspace.", field="file") from error
    return document


def _duplicate(existing: WorkspaceDocument) -> Conflict:
    return Conflict(
        f'This file is already in the workspace as "{existing.filename}" (id {existing.id}).',
        field="file",
    )


def clean_filename(filename: str) -> str:
    # Keep the base name only and drop control characters; it is shown, never used as a path.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return (name or "upload")[:MAX_FILENAME]


async def delete_document(
    session: AsyncSession, *, document_id: uuid.UUID, user_id: uuid.UUID
) -> WorkspaceDocument:
    """Deletes the row; the caller removes file and vectors once this has committed."""
    document = await get_visible_document(session, document_id=document_id, user_id=user_id)
    await authorize(session, document.workspace_id, user_id, WorkspaceRole.EDITOR)
    await session.execute(delete(WorkspaceDocument).where(WorkspaceDocument.id == document.id))
    return document


async def reindex_document(
    session: AsyncSession, *, document_id: uuid.UUID, user_id: uuid.UUID
) -> WorkspaceDocument:
    document = await get_visible_document(session, document_id=document_id, user_id=user_id)
    await authorize(session, document.workspace_id, user_id, WorkspaceRole.EDITOR)
    document.status = DocumentStatus.PENDING
    document.error = None
    document.chunk_count = 0
    document.attempts = 0
    document.lease_expires_at = None
    document.claim_token = None  # a worker still busy with the old run can no longer finish it
    await session.flush()
    return document
