"""Reading one chat session."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.chat.sessions import get_own_session
from graph.chat.types import ChatSession
from graph.context import Info
from graph.ids import parse_id


@strawberry.type
class ChatQueries:
    @strawberry.field(description="One of your own chat sessions.")
    async def chat_session(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The session.")],
    ) -> ChatSession | None:
        viewer_id = info.context.viewer_id()
        session_id = parse_id(id, "Chat session")
        async with info.context.container.sessionmaker() as session:
            chat = await get_own_session(session, session_id=session_id, user_id=viewer_id)
        return ChatSession.from_model(chat)
