"""Reading one workspace."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.workspaces.access import authorize
from graph.context import Info
from graph.ids import parse_id
from graph.workspaces.types import Workspace


@strawberry.type
class WorkspaceQueries:
    @strawberry.field(description="A workspace you are a member of.")
    async def workspace(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The workspace.")],
    ) -> Workspace | None:
        viewer_id = info.context.viewer_id()
        workspace_id = parse_id(id, "Workspace")
        async with info.context.container.sessionmaker() as session:
            access = await authorize(session, workspace_id, viewer_id)
        return Workspace.from_access(access)
