"""Chat session mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.chat import sessions
from graph.chat.types import ChatSession
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
