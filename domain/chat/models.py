"""Chat sessions (private to their creator) and their messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from domain.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class MessageRole(StrEnum):
    USER = "USER"
    ASSISTANT = "ASSISTANT"
    SYSTEM = "SYSTEM"


class MessageStatus(StrEnum):
    PENDING = "PENDING"
    STREAMING = "STREAMING"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


class ChatSession(IdMixin, TimestampMixin, Base):
    __tablename__ = "chat_sessions"
    __table_args__ = (
        # A user's sessions in one workspace, newest first (Workspace.sessions).
        Index("ix_chat_sessions_owner_for_session_list", "workspace_id", "user_id", "id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)


class ChatMessage(IdMixin, TimestampMixin, Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        # Message history of a session in order (ChatSession.messages).
        Index("ix_chat_messages_session_for_history", "session_id", "id"),
        # Recovery job: messages left STREAMING by a dead process.
        Index("ix_chat_messages_status_for_recovery", "status"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_sessions.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[MessageRole] = mapped_column(
        Enum(
            MessageRole, native_enum=False, length=16, create_constraint=True, name="message_role"
        ),
        nullable=False,
    )
    status: Mapped[MessageStatus] = mapped_column(
        Enum(
            MessageStatus,
            native_enum=False,
            length=16,
            create_constraint=True,
            name="message_status",
        ),
        nullable=False,
    )
    content: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Renewed by the process writing the answer; when it stops (that process died) the
    # recovery job settles the message FAILED. Null until the first beat (created_at counts).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
