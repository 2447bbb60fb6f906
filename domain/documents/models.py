"""Documents uploaded into a workspace; the table doubles as the ingestion queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class DocumentStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"


class WorkspaceDocument(IdMixin, TimestampMixin, Base):
    __tablename__ = "workspace_documents"
    __table_args__ = (
        # Same bytes twice in one workspace is a CONFLICT naming the first upload.
        UniqueConstraint("workspace_id", "sha256"),
        # Workspace.documents, optionally filtered by status.
        Index("ix_workspace_documents_workspace_for_listing", "workspace_id", "status", "id"),
        # The ingestion worker's claim: pending rows and expired leases.
        Index("ix_workspace_documents_status_for_claim", "status", "lease_expires_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[DocumentStatus] = mapped_column(
        Enum(
            DocumentStatus,
            native_enum=False,
            length=16,
            create_constraint=True,
            name="document_status",
        ),
        nullable=False,
        default=DocumentStatus.PENDING,
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    chunk_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Changes at every claim and reindex: a worker whose token no longer matches has lost
    # the document (lease expired and reclaimed, reindexed, deleted) and must not write.
    claim_token: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
