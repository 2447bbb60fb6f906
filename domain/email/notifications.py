"""Mail about events in the rest of the domain, queued in the transaction of the event.

Each dedupe key names one occurrence, so queueing it again (a retried transaction or
job) is a no-op while a later occurrence of the same kind still gets its own mail.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.documents.models import WorkspaceDocument
from domain.email import messages
from domain.email.outbox import enqueue
from domain.users.models import User
from domain.workspaces.models import Workspace, WorkspaceMember


async def document_failed(
    session: AsyncSession, *, document_id: uuid.UUID, claim_token: uuid.UUID, reason: str
) -> bool:
    """Tells the uploader, if there still is one. Keyed by the claim that failed: a
    document reindexed and failing again (its attempts restart at 0) mails again."""
    row = (
        await session.execute(
            select(WorkspaceDocument.filename, Workspace.name, User.email)
            .join(Workspace, Workspace.id == WorkspaceDocument.workspace_id)
            .join(User, User.id == WorkspaceDocument.uploaded_by_id)
            .where(WorkspaceDocument.id == document_id)
        )
    ).first()
    if row is None:
        return False
    filename, workspace_name, email = row
    mail = messages.document_failed(filename=filename, workspace_name=workspace_name, reason=reason)
    return await enqueue(
        session, email, mail.subject, mail.body, f"document-failed:{document_id}:{claim_token}"
    )


async def member_added(
    session: AsyncSession, *, member: WorkspaceMember, workspace: Workspace, added_by: uuid.UUID
) -> bool:
    """Tells the new member who added them, where, and with which role. Keyed by the
    membership row: removed and added again later is a new membership and a new mail."""
    people = {
        user.id: user
        for user in await session.scalars(
            select(User).where(User.id.in_([member.user_id, added_by]))
        )
    }
    invitee, inviter = people.get(member.user_id), people.get(added_by)
    if invitee is None or inviter is None:
        return False
    mail = messages.member_added(
        workspace_name=workspace.name,
        role=member.role.value,
        added_by_name=inviter.display_name,
        added_by_email=inviter.email,
    )
    key = f"member-added:{workspace.id}:{member.user_id}:{member.id}"
    return await enqueue(session, invitee.email, mail.subject, mail.body, key)
