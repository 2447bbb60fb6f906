"""Chat messages: asking, and the bookkeeping of answers. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.chat.models import ChatMessage, ChatSession, MessageRole, MessageStatus
from domain.chat.sessions import DEFAULT_TITLE, get_own_session
from domain.errors import BadUserInput, NotFound
from domain.workspaces.models import WorkspaceMember

MAX_QUESTION_CHARS = 20_000
MAX_TITLE_CHARS = 80
MESSAGE_NOT_FOUND = "Message not found."
TERMINAL = (MessageStatus.COMPLETE, MessageStatus.CANCELLED, MessageStatus.FAILED)
OPEN = (MessageStatus.PENDING, MessageStatus.STREAMING)


def clean_question(content: str) -> str:
    cleaned = content.strip()
    if not cleaned:
        raise BadUserInput("The message is empty.", field="content")
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise BadUserInput(
            f"The message is longer than {MAX_QUESTION_CHARS} characters.", field="content"
        )
    return cleaned


def title_from_question(question: str) -> str:
    """The fallback session title: the first question, trimmed at a word boundary."""
    line = " ".join(question.split())
    if len(line) <= MAX_TITLE_CHARS:
        return line
    return line[:MAX_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


@dataclass(frozen=True, slots=True)
class Exchange:
    chat: ChatSession
    question: ChatMessage
    answer: ChatMessage
    first_question: bool = False


async def send_message(
    session: AsyncSession, *, session_id: uuid.UUID, user_id: uuid.UUID, content: str, model: str
) -> Exchange:
    """Stores the question and an empty STREAMING answer for the generator to fill."""
    chat = await get_own_session(session, session_id=session_id, user_id=user_id)
    question = ChatMessage(
        session_id=chat.id,
        role=MessageRole.USER,
        status=MessageStatus.COMPLETE,
        content=clean_question(content),
        sources=[],
    )
    session.add(question)
    await session.flush()
    answer = ChatMessage(
        session_id=chat.id,
        role=MessageRole.ASSISTANT,
        status=MessageStatus.STREAMING,
        content="",
        model=model,
        sources=[],
    )
    session.add(answer)
    first = chat.title == DEFAULT_TITLE
    if first:
        chat.title = title_from_question(question.content)
    await session.flush()
    return Exchange(chat, question, answer, first)


async def get_own_message(
    session: AsyncSession, *, message_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[ChatMessage, ChatSession]:
    """A message in one of the viewer's own sessions, in a workspace they still belong to."""
    row = (
        await session.execute(
            select(ChatMessage, ChatSession)
            .join(ChatSession, ChatSession.id == ChatMessage.session_id)
            .join(
                WorkspaceMember,
                (WorkspaceMember.workspace_id == ChatSession.workspace_id)
                & (WorkspaceMember.user_id == ChatSession.user_id),
            )
            .where(ChatMessage.id == message_id, ChatSession.user_id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return row[0], row[1]


async def prepare_regeneration(
    session: AsyncSession, *, message_id: uuid.UUID, user_id: uuid.UUID, model: str
) -> Exchange:
    """Replaces the session's latest answer with a new STREAMING one to the same question."""
    old, chat = await get_own_message(session, message_id=message_id, user_id=user_id)
    if old.role is not MessageRole.ASSISTANT:
        raise BadUserInput("Only an answer can be regenerated.", field="messageId")
    if old.status in OPEN:
        raise BadUserInput("This answer is still being written.", field="messageId")
    latest = await session.scalar(
        select(ChatMessage.id)
        .where(ChatMessage.session_id == chat.id)
        .order_by(ChatMessage.id.desc())
        .limit(1)
    )
    if latest != old.id:
        raise BadUserInput("Only the latest answer can be regenerated.", field="messageId")
    question = await session.scalar(
        select(ChatMessage)
        .where(
            ChatMessage.session_id == chat.id,
            ChatMessage.id < old.id,
            ChatMessage.role == MessageRole.USER,
        )
        .order_by(ChatMessage.id.desc())
        .limit(1)
    )
    if question is None:
        raise BadUserInput("There is no question to answer again.", field="messageId")
    await session.delete(old)
    answer = ChatMessage(
        session_id=chat.id,
        role=MessageRole.ASSISTANT,
        status=MessageStatus.STREAMING,
        content="",
        model=model,
        sources=[],
    )
    session.add(answer)
    await session.flush()
    return Exchange(chat, question, answer)


async def history_before(
    session: AsyncSession, session_id: uuid.UUID, message_id: uuid.UUID, limit: int = 50
) -> Sequence[ChatMessage]:
    """Finished turns before `message_id`, newest first (the prompt keeps what fits)."""
    return (
        await session.scalars(
            select(ChatMessage)
            .where(
                ChatMessage.session_id == session_id,
                ChatMessage.id < message_id,
                ChatMessage.status == MessageStatus.COMPLETE,
            )
            .order_by(ChatMessage.id.desc())
            .limit(limit)
        )
    ).all()


async def mark_cancelled(session: AsyncSession, message_id: uuid.UUID) -> None:
    await session.execute(
        update(ChatMessage)
        .where(ChatMessage.id == message_id, ChatMessage.status.in_(OPEN))
        .values(status=MessageStatus.CANCELLED)
    )
