"""Chat sessions: private to the member who started them. Never commits."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.chat.models import ChatSession
from domain.errors import BadUserInput, NotFound
from domain.workspaces.access import WorkspaceAccess, authorize
from domain.workspaces.models import WorkspaceMember

MAX_TITLE = 200
DEFAULT_TITLE = "New chat"
SESSION_NOT_FOUND = "Chat session not found."


def clean_title(title: str | None) -> str:
    if title is None:
        return DEFAULT_TITLE
    cleaned = " ".join(title.split())
    if not cleaned:
        raise BadUserInput("Title must not be empty.", field="title")
    if len(cleaned) > MAX_TITLE:
        raise BadUserInput(f"Title must be at most {MAX_TITLE} characters.", field="title")
    return cleaned


async def create_session(
    session: AsyncSession, *, workspace_id: uuid.UUID, user_id: uuid.UUID, title: str | None
) -> ChatSession:
    access: WorkspaceAccess = await authorize(session, workspace_id, user_id)
    chat = ChatSession(workspace_id=access.workspace_id, user_id=user_id, title=clean_title(title))
    session.add(chat)
    await session.flush()
    return chat


async def get_own_session(
    session: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID
) -> ChatSession:
    """The viewer's own session in a workspace they still belong to; else NOT_FOUND."""
    chat = await session.scalar(
        select(ChatSession)
        .join(
            WorkspaceMember,
            (WorkspaceMember.workspace_id == ChatSession.workspace_id)
            & (WorkspaceMember.user_id == ChatSession.user_id),
        )
        .where(ChatSession.id == session_id, ChatSession.user_id == user_id)
    )
    if chat is None:
        raise NotFound(SESSION_NOT_FOUND)
    return chat


async def rename_session(
    session: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID, title: str
) -> ChatSession:
    chat = await get_own_session(session, session_id=session_id, user_id=user_id)
    chat.title = clean_title(title)
    await session.flush()
    return chat


async def delete_session(
    session: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID:
    chat = await get_own_session(session, session_id=session_id, user_id=user_id)
    await session.execute(delete(ChatSession).where(ChatSession.id == chat.id))
    return chat.id
