"""Background upkeep of documents' vectors, files and ingestion leases (DESIGN section 7).

Every function opens its own sessions and is safe to run twice, or in two replicas at
once: each only removes what no document refers to, or moves a row the way a worker
would (an update guarded by the state it expects).

Ordering makes the removals safe against uploads in flight: the vector store (or the
file store) is listed first and the database read afterwards. A document's row is
committed before its first chunk is written, so a chunk listed here whose row is absent
afterwards belongs to a deleted document. Files, though, are stored before their row
exists, so an unreferenced file is only removed once it is older than a grace period.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.events.port import EventBus, document_topic
from domain.files.port import FileStore
from domain.vectors.port import VectorStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class VectorMaintenanceReport:
    orphan_documents: int
    optimized: bool


async def remove_orphan_vectors(
    sessionmaker: async_sessionmaker[AsyncSession], vectors: VectorStore
) -> int:
    """Deletes the chunks of documents that no longer exist (deleted documents whose
    vector cleanup failed, documents of deleted workspaces). Returns how many documents'
    chunks went."""
    listed = {
        workspace_id: await vectors.document_ids(workspace_id)
        for workspace_id in await vectors.workspace_ids()
    }
    removed = 0
    for workspace_id, document_ids in listed.items():
        if not document_ids:
            continue
        async with sessionmaker() as session:
            existing = set(
                await session.scalars(
                    select(WorkspaceDocument.id).where(
                        WorkspaceDocument.workspace_id == workspace_id
                    )
                )
            )
        for document_id in sorted(document_ids - existing):
            await vectors.delete_document(workspace_id, document_id)
            removed += 1
    if removed:
        logger.info("removed the vectors of %d deleted documents", removed)
    return removed


async def maintain_vectors(
    sessionmaker: async_sessionmaker[AsyncSession], vectors: VectorStore
) -> VectorMaintenanceReport:
    """Orphans out, then compaction and old-version cleanup (LanceDB keeps versions for
    LANCEDB_CLEANUP_OLDER_THAN_SECONDS, so a concurrent reader's version stays)."""
    removed = await remove_orphan_vectors(sessionmaker, vectors)
    await vectors.optimize()
    return VectorMaintenanceReport(orphan_documents=removed, optimized=True)


async def reclaim_expired_leases(
    sessionmaker: async_sessionmaker[AsyncSession], bus: EventBus
) -> list[uuid.UUID]:
    """Documents PROCESSING under a lease that ran out (their worker died) go back to
    PENDING for any worker to take. Clearing the claim token fences the old worker, if
    it is in fact alive, out of every later write. Returns the documents moved."""
    now = datetime.now(UTC)
    async with sessionmaker.begin() as session:
        rows = (
            await session.execute(
                update(WorkspaceDocument)
                .where(
                    WorkspaceDocument.status == DocumentStatus.PROCESSING,
                    WorkspaceDocument.lease_expires_at <= now,
                )
                .values(status=DocumentStatus.PENDING, lease_expires_at=None, claim_token=None)
                .returning(WorkspaceDocument.id, WorkspaceDocument.workspace_id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    for document_id, workspace_id in rows:
        try:
            await bus.publish(document_topic(workspace_id), {"document_id": str(document_id)})
        except Exception:
            logger.warning("could not announce reclaimed document %s", document_id, exc_info=True)
    if rows:
        logger.info("reclaimed %d documents whose ingestion lease expired", len(rows))
    return [document_id for document_id, _ in rows]


async def remove_orphan_files(
    sessionmaker: async_sessionmaker[AsyncSession], files: FileStore, *, grace: timedelta
) -> int:
    """Deletes stored files no document refers to (their document was deleted, with its
    workspace, or the upload was refused after the bytes were stored) once they are
    older than `grace`. Returns how many went."""
    keys = await files.keys()
    if not keys:
        return 0
    async with sessionmaker() as session:
        referenced = keys.intersection(await session.scalars(select(WorkspaceDocument.storage_key)))
    cutoff = time.time() - grace.total_seconds()
    removed = 0
    for key in sorted(keys - referenced):
        try:
            modified = (await asyncio.to_thread(files.local_path(key).stat)).st_mtime
        except FileNotFoundError:
            continue  # removed meanwhile
        if modified > cutoff:
            continue  # perhaps an upload whose row is not committed yet
        await files.delete(key)
        removed += 1
    if removed:
        logger.info("removed %d stored files no document refers to", removed)
    return removed
