"""WebSocket sign-in: the token travels in `connection_init`, a bad one closes with 4403."""

from __future__ import annotations

from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UnsetType

from domain.errors import Unauthenticated
from graph.context import Context


class AuthenticatedGraphQLRouter(GraphQLRouter[Context, None]):
    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, Any] | None:
        try:
            viewer_id = context.viewer_id_or_none
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from error
        if viewer_id is None:
            raise ConnectionRejectionError(
                {"message": 'Send connection_init with {"authorization": "Bearer <access token>"}.'}
            )
        return {"viewerId": str(viewer_id)}
