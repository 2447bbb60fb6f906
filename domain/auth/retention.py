"""Retention of sign-in records (DESIGN section 7): refresh tokens that can no longer be
used are kept a while (a late reuse is still recognised and refused) and then deleted.
Safe to run twice."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.auth.models import RefreshToken

logger = logging.getLogger(__name__)


async def delete_old_refresh_tokens(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    keep_for: timedelta,
    now: datetime | None = None,
) -> int:
    """Deletes tokens expired, or revoked, more than `keep_for` ago. Rotated tokens of a
    live family stay until they expire: presenting one again is how reuse is detected.
    Returns how many went."""
    cutoff = (now or datetime.now(UTC)) - keep_for
    async with sessionmaker.begin() as session:
        result = await session.execute(
            delete(RefreshToken).where(
                or_(RefreshToken.expires_at < cutoff, RefreshToken.revoked_at < cutoff)
            )
        )
    removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if removed:
        logger.info("deleted %d expired or revoked refresh tokens", removed)
    return removed
