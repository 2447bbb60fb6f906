"""Workspace and membership mutations. Each one is a single transaction."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.workspaces import service
from graph.context import Info
from graph.enums import WorkspaceRole
from graph.ids import parse_id
from graph.workspaces.inputs import CreateWorkspaceInput, UpdateWorkspaceInput
from graph.workspaces.types import Workspace, WorkspaceMember

WorkspaceIdArg = Annotated[strawberry.ID, strawberry.argument(description="The workspace.")]
UserIdArg = Annotated[strawberry.ID, strawberry.argument(description="The member's user id.")]


@strawberry.type
class WorkspaceMutations:
    @strawberry.mutation(description="Create a workspace; you become its OWNER.")
    async def create_workspace(
        self,
        info: Info,
        input: Annotated[
            CreateWorkspaceInput, strawberry.argument(description="The new workspace.")
        ],
    ) -> Workspace:
        viewer_id = info.context.viewer_id()
        async with info.context.container.sessionmaker.begin() as session:
            access = await service.create_workspace(session, owner_id=viewer_id, name=input.name)
        return Workspace.from_access(access)

    @strawberry.mutation(description="Change a workspace's settings (OWNER).")
    async def update_workspace(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The workspace.")],
        input: Annotated[UpdateWorkspaceInput, strawberry.argument(description="What to change.")],
    ) -> Workspace:
        viewer_id = info.context.viewer_id()
        workspace_id = parse_id(id, "Workspace")
        async with info.context.container.sessionmaker.begin() as session:
            access = await service.update_workspace(
                session, workspace_id=workspace_id, user_id=viewer_id, changes=input.to_changes()
            )
        return Workspace.from_access(access)

    @strawberry.mutation(
        description="Delete a workspace with its documents and chats (OWNER). Returns its id."
    )
    async def delete_workspace(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The workspace.")],
    ) -> strawberry.ID:
        viewer_id = info.context.viewer_id()
        workspace_id = parse_id(id, "Workspace")
        async with info.context.container.sessionmaker.begin() as session:
            deleted = await service.delete_workspace(
                session, workspace_id=workspace_id, user_id=viewer_id
            )
        return strawberry.ID(str(deleted))

    @strawberry.mutation(description="Add an existing account to a workspace (OWNER).")
    async def add_workspace_member(
        self,
        info: Info,
        workspace_id: WorkspaceIdArg,
        email: Annotated[str, strawberry.argument(description="Email of the account to add.")],
        role: Annotated[WorkspaceRole, strawberry.argument(description="Role to give.")],
    ) -> WorkspaceMember:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(workspace_id, "Workspace", "workspaceId")
        async with info.context.container.sessionmaker.begin() as session:
            member = await service.add_member(
                session,
                workspace_id=parsed,
                user_id=viewer_id,
                email=email,
                role=role,
            )
        return WorkspaceMember.from_model(member)

    @strawberry.mutation(description="Change a member's role (OWNER). One OWNER always stays.")
    async def update_workspace_member_role(
        self,
        info: Info,
        workspace_id: WorkspaceIdArg,
        user_id: UserIdArg,
        role: Annotated[WorkspaceRole, strawberry.argument(description="The new role.")],
    ) -> WorkspaceMember:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(workspace_id, "Workspace", "workspaceId")
        member_id = parse_id(user_id, "Member", "userId")
        async with info.context.container.sessionmaker.begin() as session:
            member = await service.change_member_role(
                session,
                workspace_id=parsed,
                user_id=viewer_id,
                member_user_id=member_id,
                role=role,
            )
        return WorkspaceMember.from_model(member)

    @strawberry.mutation(
        description="Remove a member (OWNER), or leave by passing your own id. Returns the "
        "removed user's id."
    )
    async def remove_workspace_member(
        self, info: Info, workspace_id: WorkspaceIdArg, user_id: UserIdArg
    ) -> strawberry.ID:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(workspace_id, "Workspace", "workspaceId")
        member_id = parse_id(user_id, "Member", "userId")
        async with info.context.container.sessionmaker.begin() as session:
            removed = await service.remove_member(
                session, workspace_id=parsed, user_id=viewer_id, member_user_id=member_id
            )
        return strawberry.ID(str(removed))
