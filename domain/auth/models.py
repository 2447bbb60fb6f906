"""Refresh tokens, stored as hashes, grouped in rotation families."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from domain.db.base import Base, IdMixin, TimestampMixin, UTCDateTime


class RefreshToken(IdMixin, TimestampMixin, Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        # Reuse detection revokes a whole family at once.
        Index("ix_refresh_tokens_family_for_revocation", "family_id"),
        # The retention job deletes expired rows in expiry order.
        Index("ix_refresh_tokens_expiry_for_retention", "expires_at"),
        Index("ix_refresh_tokens_user_for_logout_everywhere", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # sha256 of the token: a database leak does not hand out working tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set when rotated: presenting a rotated token again is a reuse, revoking the family.
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
