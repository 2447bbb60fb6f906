"""Settling answers whose writer died (DESIGN section 7).

The process generating an answer renews the message's `heartbeat_at` every few seconds
(`ChatGenerator`). A message still PENDING or STREAMING whose heartbeat (or, before the
first beat, its creation) is older than the stale limit was left by a process that is
gone: it becomes FAILED, keeping the text saved so far, and its stream is finished so
every subscriber receives the final event. Safe to run twice or in two replicas at once:
the update re-checks the state, and finishing a finished stream changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.chat.messages import OPEN
from domain.chat.models import ChatMessage, MessageRole, MessageStatus
from domain.streams.port import MessageStreams

logger = logging.getLogger(__name__)
WRITER_STOPPED = "The server writing this answer stopped."


async def fail_abandoned_messages(
    sessionmaker: async_sessionmaker[AsyncSession],
    streams: MessageStreams,
    *,
    stale_after: timedelta,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Returns the messages settled FAILED."""
    cutoff = (now or datetime.now(UTC)) - stale_after
    async with sessionmaker.begin() as session:
        settled = list(
            (
                await session.execute(
                    update(ChatMessage)
                    .where(
                        ChatMessage.role == MessageRole.ASSISTANT,
                        ChatMessage.status.in_(OPEN),
                        or_(
                            ChatMessage.heartbeat_at < cutoff,
                            ChatMessage.heartbeat_at.is_(None) & (ChatMessage.created_at < cutoff),
                        ),
                    )
                    .values(status=MessageStatus.FAILED, error=WRITER_STOPPED)
                    .returning(ChatMessage.id)
                    .execution_options(synchronize_session=False)
                )
            ).scalars()
        )
    failures = 0
    for message_id in settled:
        try:
            await streams.finish(message_id)
        except Exception:
            failures += 1
            logger.warning("could not finish the stream of %s", message_id, exc_info=True)
    if settled:
        logger.warning(
            "settled %d answers FAILED whose writing process stopped: %s",
            len(settled),
            ", ".join(map(str, settled)),
        )
    if failures:
        raise RuntimeError(f"{failures} of {len(settled)} streams could not be finished")
    return settled
