"""The User type."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from domain.pagination import Page
from domain.users.models import User as UserModel
from domain.workspaces import repository as workspaces
from domain.workspaces.access import WorkspaceAccess
from graph.context import Info
from graph.relay import After, Connection, First, page_request

if TYPE_CHECKING:
    from graph.workspaces.types import Workspace

LazyWorkspace = Annotated["Workspace", strawberry.lazy("graph.workspaces.types")]


@strawberry.type(description="A person with an account.")
class User:
    id: strawberry.ID = strawberry.field(description="Stable identifier (a UUID).")
    email: str = strawberry.field(description="Sign-in email address, lower-cased.")
    display_name: str = strawberry.field(description="Name shown to other members.")
    created_at: datetime = strawberry.field(description="When the account was created.")

    @classmethod
    def from_model(cls, user: UserModel) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            display_name=user.display_name,
            created_at=user.created_at,
        )

    @strawberry.field(description="Workspaces this user is a member of, oldest first.")
    async def workspaces(
        self, info: Info, first: First = None, after: After = None
    ) -> Connection[LazyWorkspace]:
        from graph.workspaces.ahead import load_pages_ahead
        from graph.workspaces.types import Workspace

        viewer_id = info.context.viewer_id()
        request = page_request(info.context.container.settings.graphql_max_page_size, first, after)
        # Only the viewer's own list is readable: a member's User is not a way into theirs.
        if str(viewer_id) != str(self.id):
            page = Page[WorkspaceAccess]()
        else:
            async with info.context.container.sessionmaker() as session:
                page = await workspaces.workspaces_of_user(session, viewer_id, request)
            await load_pages_ahead(info, [access.workspace_id for access in page.items])
        return Connection.from_page(page, Workspace.from_access, lambda a: a.workspace_id)
