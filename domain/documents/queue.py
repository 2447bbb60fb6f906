"""The documents table as the ingestion queue: claims with leases, fenced completion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.email import notifications
from domain.embeddings.port import Embedder
from domain.workspaces.models import Workspace


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's hold on one document; `token` fences every later write."""

    document_id: uuid.UUID
    workspace_id: uuid.UUID
    token: uuid.UUID
    storage_key: str
    media_type: str
    filename: str
    attempts: int


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        (WorkspaceDocument.status == DocumentStatus.PENDING)
        & (
            WorkspaceDocument.lease_expires_at.is_(None)
            | (WorkspaceDocument.lease_expires_at <= now)
        ),
        (WorkspaceDocument.status == DocumentStatus.PROCESSING)
        & (WorkspaceDocument.lease_expires_at <= now),
    )


async def claim_next(session: AsyncSession, *, lease: timedelta) -> Claim | None:
    """Takes the oldest claimable document. On PostgreSQL concurrent claimers skip each
    other's locked rows; SQLite has a single writer, so the update itself is the lock."""
    now = datetime.now(UTC)
    candidate = (
        select(WorkspaceDocument.id).where(_claimable(now)).order_by(WorkspaceDocument.id).limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    document_id = await session.scalar(candidate)
    if document_id is None:
        return None
    token = uuid.uuid4()
    claimed = await session.execute(
        update(WorkspaceDocument)
        .where(WorkspaceDocument.id == document_id, _claimable(now))
        .values(
            status=DocumentStatus.PROCESSING,
            lease_expires_at=now + lease,
            claim_token=token,
            attempts=WorkspaceDocument.attempts + 1,
        )
        .returning(
            WorkspaceDocument.workspace_id,
            WorkspaceDocument.storage_key,
            WorkspaceDocument.content_type,
            WorkspaceDocument.filename,
            WorkspaceDocument.attempts,
        )
    )
    row = claimed.first()
    if row is None:
        return None
    return Claim(document_id, row[0], token, row[1], row[2], row[3], row[4])


def _held(claim: Claim) -> ColumnElement[bool]:
    return (WorkspaceDocument.id == claim.document_id) & (
        WorkspaceDocument.claim_token == claim.token
    )


async def renew(session: AsyncSession, claim: Claim, *, lease: timedelta) -> bool:
    result = await session.execute(
        update(WorkspaceDocument)
        .where(_held(claim))
        .values(lease_expires_at=datetime.now(UTC) + lease)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def complete(
    session: AsyncSession, claim: Claim, *, chunk_count: int, embedder: Embedder
) -> bool:
    """READY, and a workspace's first indexed document records the embedder it used."""
    result = await session.execute(
        update(WorkspaceDocument)
        .where(_held(claim))
        .values(
            status=DocumentStatus.READY,
            chunk_count=chunk_count,
            error=None,
            lease_expires_at=None,
            claim_token=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(Workspace)
        .where(Workspace.id == claim.workspace_id, Workspace.embedder.is_(None))
        .values(embedder=embedder.name, embedding_dimension=embedder.dimension)
    )
    return True


async def fail(session: AsyncSession, claim: Claim, *, error: str) -> bool:
    """FAILED, and the uploader's notification queued in the same transaction."""
    result = await session.execute(
        update(WorkspaceDocument)
        .where(_held(claim))
        .values(
            status=DocumentStatus.FAILED,
            error=error,
            chunk_count=0,
            lease_expires_at=None,
            claim_token=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await notifications.document_failed(
        session, document_id=claim.document_id, claim_token=claim.token, reason=error
    )
    return True


async def retry_later(session: AsyncSession, claim: Claim, *, delay: timedelta) -> bool:
    """Back to PENDING, not claimable before `delay` has passed (transient failures)."""
    result = await session.execute(
        update(WorkspaceDocument)
        .where(_held(claim))
        .values(
            status=DocumentStatus.PENDING,
            lease_expires_at=datetime.now(UTC) + delay,
            claim_token=None,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def current(session: AsyncSession, document_id: uuid.UUID) -> WorkspaceDocument | None:
    return await session.get(WorkspaceDocument, document_id, populate_existing=True)
