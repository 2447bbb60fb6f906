"""Batched reads of sessions and messages, for the per-request loaders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from domain.chat.models import ChatMessage, ChatSession
from domain.pagination import Page, PageRequest, paginate_per_parent


async def sessions_of_workspaces(
    session: AsyncSession,
    workspace_ids: Sequence[uuid.UUID],
    user_id: uuid.UUID,
    request: PageRequest,
) -> dict[uuid.UUID, Page[ChatSession]]:
    """Only `user_id`'s own sessions: a chat session is private to its creator."""
    return await paginate_per_parent(
        session,
        ChatSession,
        ChatSession.workspace_id,
        workspace_ids,
        request,
        where=[ChatSession.user_id == user_id],
        descending=True,
    )


async def messages_of_sessions(
    session: AsyncSession, session_ids: Sequence[uuid.UUID], request: PageRequest
) -> dict[uuid.UUID, Page[ChatMessage]]:
    return await paginate_per_parent(
        session,
        ChatMessage,
        ChatMessage.session_id,
        session_ids,
        request,
    )
