"""The email outbox: mail written with the change it reports, sent later by a job."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from domain.db.base import Base, IdMixin, UTCDateTime, utcnow

# RFC 5321 caps an address at 254 octets in practice; users.email allows 320, so do we.
MAX_ADDRESS = 320
# RFC 5322's hard line limit; rendered subjects are far shorter (messages.MAX_SUBJECT).
MAX_SUBJECT = 998


class EmailOutbox(IdMixin, Base):
    """One mail. Pending while `sent_at` is null and `attempts` is below the drain's
    limit; a drain holds it while `locked_until` is in the future (its lease), and
    `claim_token` tells that drain's writes from those of a later one."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        # What makes enqueueing idempotent: a retried transaction or job queues nothing new.
        UniqueConstraint("dedupe_key"),
        # The drain's claim: unsent rows whose next attempt is due, oldest first.
        Index("ix_email_outbox_due_for_drain", "sent_at", "next_attempt_at"),
    )

    to_address: Mapped[str] = mapped_column(String(MAX_ADDRESS), nullable=False)
    subject: Mapped[str] = mapped_column(String(MAX_SUBJECT), nullable=False)
    body_text: Mapped[str] = mapped_column(Text, nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(255), nullable=False)
    # Generated at enqueue and sent unchanged on every attempt, so a mail delivered twice
    # (a crash after the server accepted it) carries the same Message-ID both times.
    message_id: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    # Counted when a drain claims the row, so a mail whose sending kills the process
    # also runs out of attempts instead of being retried forever.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claim_token: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The latest failure; kept after giving up (and after a later success) for operators.
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
