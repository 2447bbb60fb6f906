"""Workspace, WorkspaceMember and the role enum."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated

import strawberry

from domain.pagination import Page, PageRequest
from domain.retrieval.search import search
from domain.users.models import User as UserModel
from domain.workspaces.access import WorkspaceAccess, authorize
from domain.workspaces.models import Workspace as WorkspaceModel
from domain.workspaces.models import WorkspaceMember as WorkspaceMemberModel
from graph.chat.types import ChatSession
from graph.context import Info
from graph.documents.search import SearchHit
from graph.documents.types import WorkspaceDocument
from graph.enums import DocumentStatus, SearchMode, WorkspaceRole
from graph.loading import loaded
from graph.relay import After, Connection, First, page_request
from graph.selection import selects
from graph.users.types import User


@strawberry.type(description="A person's membership of a workspace.")
class WorkspaceMember:
    id: strawberry.ID = strawberry.field(description="Identifier of the membership.")
    role: WorkspaceRole = strawberry.field(description="What the member may do.")
    created_at: datetime = strawberry.field(description="When the member joined.")
    user_id: strawberry.Private[uuid.UUID]
    # The member's user, when Workspace.members loaded it with the rest of the page.
    preloaded_user: strawberry.Private[UserModel | None] = None

    @classmethod
    def from_model(
        cls, member: WorkspaceMemberModel, users: Mapping[uuid.UUID, UserModel] | None = None
    ) -> WorkspaceMember:
        return cls(
            id=strawberry.ID(str(member.id)),
            role=member.role,
            created_at=member.created_at,
            user_id=member.user_id,
            preloaded_user=users.get(member.user_id) if users else None,
        )

    @strawberry.field(description="The member.")
    def user(self, info: Info) -> User:
        # Synchronous when preloaded: an async resolver here cost every member of a list a
        # coroutine, a task and a gather, a large part of a workspace list's execution time.
        if self.preloaded_user is not None:
            return User.from_model(self.preloaded_user)
        # Otherwise (a mutation's payload) an awaitable, which graphql-core awaits.
        return self._load_user(info)  # type: ignore[return-value]

    async def _load_user(self, info: Info) -> User:
        user = await info.context.loaders.user_by_id.load(self.user_id)
        if user is None:  # deleted between the two reads; the membership went with it
            raise RuntimeError("member without a user")
        return User.from_model(user)


@strawberry.type(description="A space of documents and chats shared by its members.")
class Workspace:
    id: strawberry.ID = strawberry.field(description="Stable identifier (a UUID).")
    name: str = strawberry.field(description="Display name.")
    system_prompt: str | None = strawberry.field(
        description="Instructions given to the model before every answer."
    )
    top_k: int = strawberry.field(description="How many passages retrieval hands the model.")
    similarity_threshold: float = strawberry.field(
        description="Passages scoring below this (0 to 1) are not used."
    )
    chat_model: str | None = strawberry.field(
        description="Model name for answers; null uses the server's CHAT_MODEL."
    )
    temperature: float | None = strawberry.field(
        description="Sampling temperature for answers; null uses the model's default."
    )
    max_tokens: int | None = strawberry.field(
        description="Longest answer in tokens; null uses the model's default."
    )
    query_only: bool = strawberry.field(
        description="Answers come only from documents; with nothing relevant retrieved, "
        "the reply is refusalText and the model is not called."
    )
    refusal_text: str | None = strawberry.field(
        description="Reply in query-only mode when nothing relevant is found."
    )
    viewer_role: WorkspaceRole = strawberry.field(description="The signed-in user's role.")
    created_at: datetime = strawberry.field(description="When the workspace was created.")
    updated_at: datetime = strawberry.field(description="When its settings last changed.")
    embedder: str | None = strawberry.field(
        description="Embedder that made the workspace's vectors; null before the first "
        "document is indexed. Differs from the server's while re-embedding runs."
    )
    pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_access(cls, access: WorkspaceAccess) -> Workspace:
        workspace: WorkspaceModel = access.workspace
        return cls(
            id=strawberry.ID(str(workspace.id)),
            name=workspace.name,
            system_prompt=workspace.system_prompt,
            top_k=workspace.top_k,
            similarity_threshold=workspace.similarity_threshold,
            chat_model=workspace.chat_model,
            temperature=workspace.temperature,
            max_tokens=workspace.max_tokens,
            query_only=workspace.query_only,
            refusal_text=workspace.refusal_text,
            viewer_role=access.role,
            created_at=workspace.created_at,
            updated_at=workspace.updated_at,
            embedder=workspace.embedder,
            pk=workspace.id,
        )

    @strawberry.field(description="Members of the workspace, in the order they joined.")
    def members(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[WorkspaceMember]:
        request = page_request(info.context.container.settings.graphql_max_page_size, first, after)
        loaders = info.context.loaders
        # Synchronous when User.workspaces loaded the page (and its users) ahead.
        page = loaded(loaders.members_by_workspace, (self.pk, request))
        if page is not None:
            users = _loaded_users(info, page) if _selects_user(info, page) else {}
            if users is not None:
                return _members_connection(page, users)
        return self._members(info, request)  # type: ignore[return-value]

    async def _members(self, info: Info, request: PageRequest) -> Connection[WorkspaceMember]:
        loaders = info.context.loaders
        page = await loaders.members_by_workspace.load((self.pk, request))
        users: dict[uuid.UUID, UserModel] = {}
        if _selects_user(info, page):
            # The members of every workspace in a list arrive together, so all their
            # lookups still make one batch: the same query the `user` resolvers would make.
            found = await loaders.user_by_id.load_many([m.user_id for m in page.items])
            users = {user.id: user for user in found if user is not None}
        return _members_connection(page, users)

    @strawberry.field(description="The signed-in user's own chat sessions here, newest first.")
    def sessions(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[ChatSession]:
        request = page_request(info.context.container.settings.graphql_max_page_size, first, after)
        page = loaded(info.context.loaders.sessions_by_workspace, (self.pk, request))
        if page is not None:  # loaded ahead by User.workspaces
            return Connection.from_page(page, ChatSession.from_model, lambda s: s.id)
        return self._sessions(info, request)  # type: ignore[return-value]

    async def _sessions(self, info: Info, request: PageRequest) -> Connection[ChatSession]:
        page = await info.context.loaders.sessions_by_workspace.load((self.pk, request))
        return Connection.from_page(page, ChatSession.from_model, lambda s: s.id)

    @strawberry.field(
        description="Passages of READY documents that answer `query`: vector similarity "
        "fused by reciprocal rank with BM25 full-text matches on the query's literal terms "
        "(codes, numbers, names, quoted words). Retrieval without the model."
    )
    async def search(
        self,
        info: Info,
        query: Annotated[str, strawberry.argument(description="What to look for.")],
        limit: Annotated[
            int | None,
            strawberry.argument(description="How many passages; defaults to the workspace topK."),
        ] = None,
        mode: Annotated[
            SearchMode,
            strawberry.argument(description="HYBRID (default), VECTOR or TEXT ranking only."),
        ] = SearchMode.HYBRID,
    ) -> list[SearchHit]:
        container = info.context.container
        async with container.sessionmaker() as session:
            # Re-checked: the workspace id that filters the vectors is an authorised one.
            access = await authorize(session, self.pk, info.context.viewer_id())
        embedder, vectors = container.search_backend(access.workspace)
        passages = await search(
            access,
            query,
            embedder=embedder,
            vectors=vectors,
            limit=limit,
            mode=mode,
        )
        return [SearchHit.from_passage(passage) for passage in passages]

    @strawberry.field(description="Documents uploaded here, newest first.")
    async def documents(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        status: Annotated[
            DocumentStatus | None,
            strawberry.argument(description="Only documents in this status."),
        ] = None,
    ) -> Connection[WorkspaceDocument]:
        request = page_request(info.context.container.settings.graphql_max_page_size, first, after)
        key = (self.pk, (request, status))
        page = await info.context.loaders.documents_by_workspace.load(key)
        return Connection.from_page(page, WorkspaceDocument.from_model, lambda d: d.id)


def _selects_user(info: Info, page: Page[WorkspaceMemberModel]) -> bool:
    return bool(page.items) and selects(info, "edges", "node", "user")


def _loaded_users(
    info: Info, page: Page[WorkspaceMemberModel]
) -> dict[uuid.UUID, UserModel] | None:
    """The page's users if all are loaded already, else None."""
    users: dict[uuid.UUID, UserModel] = {}
    for member in page.items:
        user = loaded(info.context.loaders.user_by_id, member.user_id)
        if user is None:
            return None
        users[user.id] = user
    return users


def _members_connection(
    page: Page[WorkspaceMemberModel], users: dict[uuid.UUID, UserModel]
) -> Connection[WorkspaceMember]:
    return Connection.from_page(
        page, lambda member: WorkspaceMember.from_model(member, users), lambda m: m.id
    )
