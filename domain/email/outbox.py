"""Writes to and claims from the outbox table. Never commits: the caller's transaction
decides, so a mail exists exactly when the change it reports does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Insert, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.db.base import new_id, utcnow
from domain.email.messages import subject_line
from domain.email.models import EmailOutbox

# The right-hand side of every Message-ID (RFC 5322 3.6.4). Uniqueness comes from the
# left-hand side, the row's UUID; this is dotted like a host name (some filters score a
# bare word) under the reserved .invalid TLD, so it never speaks for a real domain.
MESSAGE_ID_DOMAIN = "ragql.invalid"


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """A claimed row, as the sender needs it."""

    id: uuid.UUID
    to_address: str
    subject: str
    body_text: str
    message_id: str
    created_at: datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class Claim:
    token: uuid.UUID
    locked_until: datetime
    mails: list[OutgoingMail]


async def enqueue(session: AsyncSession, to: str, subject: str, body: str, dedupe_key: str) -> bool:
    """Queues a mail in the caller's transaction; False when `dedupe_key` was queued
    before (the insert is skipped by ON CONFLICT DO NOTHING, with no error to undo)."""
    row_id = new_id()
    now = utcnow()
    values = {
        "id": row_id,
        "to_address": to.strip(),
        "subject": subject_line(subject),
        "body_text": body,
        "dedupe_key": dedupe_key,
        "message_id": f"<{row_id}@{MESSAGE_ID_DOMAIN}>",
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
    }
    # Both dialects spell it INSERT ... ON CONFLICT (dedupe_key) DO NOTHING.
    dialect = session.get_bind().dialect.name
    insert: Insert
    if dialect == "postgresql":
        insert = postgresql.insert(EmailOutbox).on_conflict_do_nothing(
            index_elements=[EmailOutbox.dedupe_key]
        )
    elif dialect == "sqlite":
        insert = sqlite.insert(EmailOutbox).on_conflict_do_nothing(
            index_elements=[EmailOutbox.dedupe_key]
        )
    else:  # pragma: no cover - ragql runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no outbox insert for {dialect}")
    inserted = await session.scalar(insert.values(values).returning(EmailOutbox.id))
    return inserted is not None


def _due(now: datetime, max_attempts: int) -> ColumnElement[bool]:
    return (
        EmailOutbox.sent_at.is_(None)
        & (EmailOutbox.attempts < max_attempts)
        & (EmailOutbox.next_attempt_at <= now)
        & (EmailOutbox.locked_until.is_(None) | (EmailOutbox.locked_until < now))
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, lease: timedelta, batch: int, max_attempts: int
) -> Claim:
    """Leases up to `batch` due mails to one token and counts an attempt on each.

    One statement: WITH chosen AS MATERIALIZED (due rows) UPDATE ... WHERE id IN chosen
    AND still due RETURNING. On PostgreSQL the CTE locks its rows with SKIP LOCKED, so
    concurrent drains take different rows without waiting. It must be materialized: as
    a plain IN (subquery) the planner may rescan the subquery once per outer row, and
    each rescan skips the rows this statement already updated and locks the next ones,
    claiming far more than `batch`. SQLite has a single writer, so the statement itself
    is the lock. The repeated condition rejects rows another drain took meanwhile.
    """
    candidates = (
        select(EmailOutbox.id)
        .where(_due(now, max_attempts))
        .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    chosen = candidates.cte("chosen").prefix_with("MATERIALIZED")
    token = uuid.uuid4()
    locked_until = now + lease
    result = await session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.id.in_(select(chosen.c.id)), _due(now, max_attempts))
        .values(locked_until=locked_until, claim_token=token, attempts=EmailOutbox.attempts + 1)
        .returning(
            EmailOutbox.id,
            EmailOutbox.to_address,
            EmailOutbox.subject,
            EmailOutbox.body_text,
            EmailOutbox.message_id,
            EmailOutbox.created_at,
            EmailOutbox.attempts,
        )
    )
    mails = [OutgoingMail(*row) for row in result.all()]
    # RETURNING has no order of its own; send in the order the rows were chosen.
    mails.sort(key=lambda mail: mail.id)
    return Claim(token, locked_until, mails)


async def mark_sent(session: AsyncSession, mail_id: uuid.UUID, *, now: datetime) -> bool:
    """Not fenced by the claim token: once any drain got it accepted, it is sent."""
    result = await session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.id == mail_id, EmailOutbox.sent_at.is_(None))
        .values(sent_at=now, locked_until=None, claim_token=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_failed(
    session: AsyncSession, mail_id: uuid.UUID, token: uuid.UUID, *, error: str, retry_at: datetime
) -> bool:
    """Records the failure and when to try again; refused if another drain took the row."""
    result = await session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.id == mail_id, EmailOutbox.claim_token == token)
        .values(last_error=error, next_attempt_at=retry_at, locked_until=None, claim_token=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release(session: AsyncSession, mail_ids: Sequence[uuid.UUID], token: uuid.UUID) -> int:
    """Hands back claimed mails that were not tried, uncounting their attempt."""
    if not mail_ids:
        return 0
    result = await session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.id.in_(mail_ids), EmailOutbox.claim_token == token)
        .values(locked_until=None, claim_token=None, attempts=EmailOutbox.attempts - 1)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_sent(session: AsyncSession, *, sent_before: datetime) -> int:
    """Deletes mail sent before `sent_before` (for the retention job). Unsent mail, given
    up on or not, stays for operators. Dedupe keys name one occurrence each (a claim, a
    membership), so nothing pruned can be queued again by a late retry."""
    result = await session.execute(delete(EmailOutbox).where(EmailOutbox.sent_at < sent_before))
    return int(result.rowcount)  # type: ignore[attr-defined]
