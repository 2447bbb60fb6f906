"""What every resolver sees: the container, who is asking, and this operation's loaders.

Strawberry builds the context once per WebSocket, so nothing here may be per operation:
no database session and no DataLoader. Loaders live in `graph.scope` instead.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request, WebSocket
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from domain.auth.tokens import TokenType
from domain.container import Container
from domain.errors import Unauthenticated
from graph.scope import Loaders, current_loaders

_UNSET: Any = object()


class Context(BaseContext):
    def __init__(self, container: Container) -> None:
        super().__init__()
        self.container = container
        self._viewer_id: uuid.UUID | Any | None = _UNSET

    @property
    def loaders(self) -> Loaders:
        return current_loaders()

    def authorization(self) -> str | None:
        if isinstance(self.request, WebSocket):
            params = self.connection_params if isinstance(self.connection_params, dict) else {}
            value = params.get("authorization") or params.get("Authorization")
            return value if isinstance(value, str) else None
        if isinstance(self.request, Request):
            return self.request.headers.get("authorization")
        return None

    @property
    def viewer_id_or_none(self) -> uuid.UUID | None:
        """Signed-in user's id, None when anonymous; a bad token is UNAUTHENTICATED."""
        if self._viewer_id is _UNSET:
            self._viewer_id = self._decode_viewer()
        return self._viewer_id

    def viewer_id(self) -> uuid.UUID:
        viewer_id = self.viewer_id_or_none
        if viewer_id is None:
            raise Unauthenticated("Sign in to do this.")
        return viewer_id

    def _decode_viewer(self) -> uuid.UUID | None:
        header = self.authorization()
        if header is None or not header.strip():
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Use the header `Authorization: Bearer <access token>`.")
        return self.container.tokens.decode(token.strip(), TokenType.ACCESS).user_id


Info = StrawberryInfo[Context, None]
