"""Chat session mutations."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from domain.chat import messages, sessions
from domain.chat.generation import GenerationRequest
from graph.chat.types import ChatMessage, ChatSession
from graph.context import Info
from graph.ids import parse_id

SessionIdArg = Annotated[strawberry.ID, strawberry.argument(description="The session.")]


@strawberry.type
class ChatMutations:
    @strawberry.mutation(description="Start a chat session in a workspace (any member).")
    async def create_chat_session(
        self,
        info: Info,
        workspace_id: Annotated[strawberry.ID, strawberry.argument(description="The workspace.")],
        title: Annotated[
            str | None, strawberry.argument(description="Title; defaults to 'New chat'.")
        ] = None,
    ) -> ChatSession:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(workspace_id, "Workspace", "workspaceId")
        async with info.context.container.sessionmaker.begin() as session:
            chat = await sessions.create_session(
                session, workspace_id=parsed, user_id=viewer_id, title=title
            )
        return ChatSession.from_model(chat)

    @strawberry.mutation(description="Rename one of your chat sessions.")
    async def rename_chat_session(
        self,
        info: Info,
        id: SessionIdArg,
        title: Annotated[str, strawberry.argument(description="The new title.")],
    ) -> ChatSession:
        viewer_id = info.context.viewer_id()
        session_id = parse_id(id, "Chat session")
        async with info.context.container.sessionmaker.begin() as session:
            chat = await sessions.rename_session(
                session, session_id=session_id, user_id=viewer_id, title=title
            )
        return ChatSession.from_model(chat)

    @strawberry.mutation(description="Delete one of your chat sessions. Returns its id.")
    async def delete_chat_session(self, info: Info, id: SessionIdArg) -> strawberry.ID:
        viewer_id = info.context.viewer_id()
        session_id = parse_id(id, "Chat session")
        async with info.context.container.sessionmaker.begin() as session:
            deleted = await sessions.delete_session(
                session, session_id=session_id, user_id=viewer_id
            )
        return strawberry.ID(str(deleted))


@strawberry.type(description="A question and the answer being written to it.")
class SendMessagePayload:
    user_message: ChatMessage = strawberry.field(description="The stored question.")
    assistant_message: ChatMessage = strawberry.field(
        description="The answer, STREAMING: follow it with `messageStream`."
    )


MessageIdArg = Annotated[strawberry.ID, strawberry.argument(description="The answer.")]


@strawberry.type
class MessageMutations:
    @strawberry.mutation(
        description="Ask a question in one of your sessions. Both messages are stored at "
        "once; the answer is written in the background (follow it with `messageStream`)."
    )
    async def send_message(
        self,
        info: Info,
        session_id: SessionIdArg,
        content: Annotated[str, strawberry.argument(description="The question.")],
    ) -> SendMessagePayload:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(session_id, "Chat session", "sessionId")
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            exchange = await messages.send_message(
                session,
                session_id=parsed,
                user_id=viewer_id,
                content=content,
                model=container.generator.model_name,
            )
            await container.streams.open(exchange.answer.id)
        _start(info, exchange, viewer_id)
        return SendMessagePayload(
            user_message=ChatMessage.from_model(exchange.question),
            assistant_message=ChatMessage.from_model(exchange.answer),
        )

    @strawberry.mutation(
        description="Stop an answer being written: the model request is closed and the "
        "message becomes CANCELLED with the text so far. A finished answer is returned as is."
    )
    async def cancel_generation(self, info: Info, message_id: MessageIdArg) -> ChatMessage:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(message_id, "Message", "messageId")
        container = info.context.container
        async with container.sessionmaker() as session:
            message, _ = await messages.get_own_message(
                session, message_id=parsed, user_id=viewer_id
            )
        # Whichever replica is writing it stops; the request reaches it over the bus.
        if message.status in messages.OPEN and not await container.cancels.request(parsed):
            # Nobody here is writing it (its process is gone): settle it directly.
            async with container.sessionmaker.begin() as session:
                await messages.mark_cancelled(session, parsed)
            await container.streams.finish(parsed)
        async with container.sessionmaker() as session:
            message, _ = await messages.get_own_message(
                session, message_id=parsed, user_id=viewer_id
            )
        return ChatMessage.from_model(message)

    @strawberry.mutation(
        description="Write the session's latest answer again; it is replaced by a new one."
    )
    async def regenerate_message(self, info: Info, message_id: MessageIdArg) -> SendMessagePayload:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(message_id, "Message", "messageId")
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            exchange = await messages.prepare_regeneration(
                session, message_id=parsed, user_id=viewer_id, model=container.generator.model_name
            )
            await container.streams.open(exchange.answer.id)
        _start(info, exchange, viewer_id)
        return SendMessagePayload(
            user_message=ChatMessage.from_model(exchange.question),
            assistant_message=ChatMessage.from_model(exchange.answer),
        )


def _start(info: Info, exchange: messages.Exchange, viewer_id: uuid.UUID) -> None:
    info.context.container.generator.start(
        GenerationRequest(
            message_id=exchange.answer.id,
            question_id=exchange.question.id,
            session_id=exchange.chat.id,
            workspace_id=exchange.chat.workspace_id,
            user_id=viewer_id,
            question=exchange.question.content,
            first_question=exchange.first_question,
        )
    )
