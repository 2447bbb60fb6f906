"""WebSocket sign-in: the token travels in `connection_init`, a bad one closes with 4403."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types.unset import UnsetType

from domain.errors import RateLimited, Unauthenticated
from graph.context import Context


class TransportWsHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # Strawberry's own refusal past the per-socket cap carries no `extensions.code`;
        # every error does (DESIGN section 3), so refuse here first, with one.
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and message["id"] not in self.operations
            and limit is not None
            and len(self.operations) >= limit
        ):
            error = RateLimited(
                f"At most {limit} operations may run at once on one connection; complete one first."
            )
            await self.send_message(
                {
                    "id": message["id"],
                    "type": "error",
                    "payload": [{"message": error.message, "extensions": {"code": error.code}}],
                }
            )
            return
        await super().handle_subscribe(message)


class AuthenticatedGraphQLRouter(GraphQLRouter[Context, None]):
    graphql_transport_ws_handler_class = TransportWsHandler

    def parse_json(self, data: str | bytes) -> Any:
        # Strawberry assumes UTF-8 JSON holding an object (or a batch list): other bytes,
        # huge integers, nesting deep enough to exhaust the stack, or a bare scalar would
        # each escape as an HTTP 500 instead of a 400.
        try:
            parsed = self.decode_json(data)
        except (ValueError, RecursionError) as error:
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "Expected a JSON object.")
        return parsed

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
