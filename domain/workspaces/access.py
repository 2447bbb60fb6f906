"""The one place that decides whether a user may act in a workspace."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import Forbidden, NotFound
from domain.workspaces.models import Workspace, WorkspaceMember, WorkspaceRole

WORKSPACE_NOT_FOUND = "Workspace not found."


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    """Proof that `user_id` is a member of `workspace` with `role`; scoped reads take this."""

    workspace: Workspace
    user_id: uuid.UUID
    role: WorkspaceRole

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.workspace.id


async def authorize(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    needs: WorkspaceRole = WorkspaceRole.VIEWER,
    *,
    for_update: bool = False,
) -> WorkspaceAccess:
    """NOT_FOUND for non-members (no hint the workspace exists), FORBIDDEN for too low a role."""
    stmt = (
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(Workspace.id == workspace_id, WorkspaceMember.user_id == user_id)
    )
    if for_update:
        stmt = stmt.with_for_update(of=Workspace)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(WORKSPACE_NOT_FOUND)
    workspace, role = row
    if not role.at_least(needs):
        raise Forbidden(
            f"This needs the {needs.value} role in the workspace; you are {role.value}."
        )
    return WorkspaceAccess(workspace=workspace, user_id=user_id, role=role)
