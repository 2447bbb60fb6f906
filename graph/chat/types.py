"""ChatSession, ChatMessage, Citation and their enums."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry

from domain.chat.models import ChatMessage as ChatMessageModel
from domain.chat.models import ChatSession as ChatSessionModel
from graph.context import Info
from graph.enums import MessageRole, MessageStatus
from graph.relay import After, Before, Connection, First, Last, page_request


@strawberry.type(description="A retrieved passage an answer drew on.")
class Citation:
    document_id: strawberry.ID = strawberry.field(description="The cited document.")
    filename: str | None = strawberry.field(description="Its file name when cited.")
    chunk: int = strawberry.field(description="Ordinal of the passage in the document.")
    page: int | None = strawberry.field(description="Page number, where the format has pages.")
    score: float = strawberry.field(description="Retrieval score (higher is closer).")
    snippet: str = strawberry.field(description="The cited text.")

    @classmethod
    def from_source(cls, source: dict[str, Any]) -> Citation:
        return cls(
            document_id=strawberry.ID(str(source.get("document_id", ""))),
            filename=source.get("filename"),
            chunk=int(source.get("chunk", 0)),
            page=source.get("page"),
            score=float(source.get("score", 0.0)),
            snippet=str(source.get("snippet", "")),
        )


@strawberry.type(description="Tokens a model spent on one answer.")
class TokenUsage:
    prompt_tokens: int = strawberry.field(description="Tokens sent to the model.")
    completion_tokens: int = strawberry.field(description="Tokens the model produced.")
    total_tokens: int = strawberry.field(description="Sum of the two.")


@strawberry.type(description="One message of a chat session.")
class ChatMessage:
    id: strawberry.ID = strawberry.field(description="Stable identifier (a UUID).")
    session_id: strawberry.ID = strawberry.field(description="The session it belongs to.")
    role: MessageRole = strawberry.field(description="Who wrote it.")
    status: MessageStatus = strawberry.field(description="Where it is in its life.")
    content: str = strawberry.field(description="Text so far (final once COMPLETE).")
    error: str | None = strawberry.field(description="Why generation failed, when FAILED.")
    model: str | None = strawberry.field(description="Model that wrote an assistant message.")
    sources: list[Citation] = strawberry.field(description="Passages the answer drew on.")
    usage: TokenUsage | None = strawberry.field(description="Token usage, when known.")
    created_at: datetime = strawberry.field(description="When it was written.")

    @classmethod
    def from_model(cls, message: ChatMessageModel) -> ChatMessage:
        usage = message.usage or None
        return cls(
            id=strawberry.ID(str(message.id)),
            session_id=strawberry.ID(str(message.session_id)),
            role=message.role,
            status=message.status,
            content=message.content,
            error=message.error,
            model=message.model,
            sources=[Citation.from_source(source) for source in message.sources or []],
            usage=TokenUsage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                total_tokens=int(usage.get("total_tokens", 0)),
            )
            if usage
            else None,
            created_at=message.created_at,
        )


@strawberry.type(description="A conversation, private to the member who started it.")
class ChatSession:
    id: strawberry.ID = strawberry.field(description="Stable identifier (a UUID).")
    workspace_id: strawberry.ID = strawberry.field(description="The workspace it belongs to.")
    title: str = strawberry.field(description="Title shown in session lists.")
    created_at: datetime = strawberry.field(description="When it was started.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, chat: ChatSessionModel) -> ChatSession:
        return cls(
            id=strawberry.ID(str(chat.id)),
            workspace_id=strawberry.ID(str(chat.workspace_id)),
            title=chat.title,
            created_at=chat.created_at,
            updated_at=chat.updated_at,
            pk=chat.id,
        )

    @strawberry.field(
        description="Messages oldest first; use `last`/`before` to page back from the newest."
    )
    async def messages(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ChatMessage]:
        request = page_request(
            info.context.container.settings.graphql_max_page_size, first, after, last, before
        )
        page = await info.context.loaders.messages_by_session.load((self.pk, request))
        return Connection.from_page(page, ChatMessage.from_model, lambda m: m.id)
