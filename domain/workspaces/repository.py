"""Batched reads of workspaces and members, for the per-request loaders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.pagination import Page, PageRequest, paginate, paginate_per_parent
from domain.workspaces.access import WorkspaceAccess
from domain.workspaces.models import Workspace, WorkspaceMember


async def workspaces_of_user(
    session: AsyncSession, user_id: uuid.UUID, request: PageRequest
) -> Page[WorkspaceAccess]:
    stmt = (
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user_id)
    )
    page = await paginate(session, stmt, Workspace.id, request)
    return Page(
        [WorkspaceAccess(workspace=w, user_id=user_id, role=role) for w, role in page.items],
        page.has_next_page,
        page.has_previous_page,
    )


async def members_of_workspaces(
    session: AsyncSession, workspace_ids: Sequence[uuid.UUID], request: PageRequest
) -> dict[uuid.UUID, Page[WorkspaceMember]]:
    return await paginate_per_parent(
        session,
        WorkspaceMember,
        WorkspaceMember.workspace_id,
        workspace_ids,
        request,
    )
