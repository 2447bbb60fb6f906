"""Per-operation state (DataLoaders), kept in a context variable set by an extension.

Each GraphQL operation, including every subscription on a shared WebSocket, runs in its
own task, so a context variable gives each one its own loaders and caches.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from strawberry.extensions import SchemaExtension

from graph.chat.loaders import MessagesBySessionLoader, SessionsByWorkspaceLoader
from graph.documents.loaders import DocumentByIdLoader, DocumentsByWorkspaceLoader
from graph.users.loaders import UserByIdLoader
from graph.workspaces.loaders import MembersByWorkspaceLoader

if TYPE_CHECKING:
    from domain.container import Container

_loaders: ContextVar[Loaders | None] = ContextVar("ragql_loaders", default=None)


class Loaders:
    """The DataLoaders of one operation; each batch opens its own short session."""

    def __init__(self, container: Container, viewer_id: Callable[[], uuid.UUID]) -> None:
        sessionmaker = container.sessionmaker
        self.user_by_id = UserByIdLoader(sessionmaker)
        self.members_by_workspace = MembersByWorkspaceLoader(sessionmaker)
        self.sessions_by_workspace = SessionsByWorkspaceLoader(sessionmaker, viewer_id)
        self.messages_by_session = MessagesBySessionLoader(sessionmaker)
        self.documents_by_workspace = DocumentsByWorkspaceLoader(sessionmaker)
        self.document_by_id = DocumentByIdLoader(sessionmaker)


def current_loaders() -> Loaders:
    loaders = _loaders.get()
    if loaders is None:
        raise RuntimeError("loaders are only available inside a GraphQL operation")
    return loaders


class OperationScope(SchemaExtension):
    """Gives every operation fresh loaders, so no cache outlives its operation.

    Created here, before execution, rather than on first use: sibling fields resolve in
    child tasks, and a variable set in one of them would not reach the others.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        _loaders.set(Loaders(context.container, context.viewer_id))
        yield
