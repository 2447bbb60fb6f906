"""Workspaces and who may do what in them."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from domain.db.base import Base, IdMixin, TimestampMixin
from domain.users.models import User


class WorkspaceRole(StrEnum):
    VIEWER = "VIEWER"
    EDITOR = "EDITOR"
    OWNER = "OWNER"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: WorkspaceRole) -> bool:
        return self.rank >= other.rank


_RANKS = {WorkspaceRole.VIEWER: 0, WorkspaceRole.EDITOR: 1, WorkspaceRole.OWNER: 2}


class Workspace(IdMixin, TimestampMixin, Base):
    __tablename__ = "workspaces"

    name: Mapped[str] = mapped_column(String(100), nullable=False)
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    top_k: Mapped[int] = mapped_column(Integer, nullable=False, default=5, server_default="5")
    similarity_threshold: Mapped[float] = mapped_column(
        Float, nullable=False, default=0.0, server_default="0"
    )
    chat_model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    temperature: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Query-only: answer strictly from the documents; with nothing relevant retrieved,
    # reply with `refusal_text` and do not call the model at all.
    query_only: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    refusal_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Which embedder made this workspace's vectors (null until its first document is
    # indexed). When the server's EMBEDDER changes, search keeps using this one until
    # the background re-embedding has rebuilt every document with the new one.
    embedder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    embedding_dimension: Mapped[int | None] = mapped_column(Integer, nullable=True)

    members: Mapped[list[WorkspaceMember]] = relationship(
        back_populates="workspace", lazy="raise", passive_deletes=True
    )


class WorkspaceMember(IdMixin, TimestampMixin, Base):
    __tablename__ = "workspace_members"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id"),
        # "Which workspaces can this user see": the viewer's workspace list and every auth check.
        Index("ix_workspace_members_user_for_workspace_list", "user_id", "workspace_id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[WorkspaceRole] = mapped_column(
        Enum(
            WorkspaceRole,
            native_enum=False,
            length=16,
            create_constraint=True,
            name="workspace_role",
        ),
        nullable=False,
    )

    workspace: Mapped[Workspace] = relationship(back_populates="members", lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")
