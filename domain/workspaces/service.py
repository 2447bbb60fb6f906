"""Creating, changing and deleting workspaces and their membership. Never commits."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.email import notifications
from domain.errors import BadUserInput, Conflict, Forbidden, NotFound
from domain.users import repository as users
from domain.users.validation import normalise_email
from domain.workspaces.access import WorkspaceAccess, authorize
from domain.workspaces.models import Workspace, WorkspaceMember, WorkspaceRole

MAX_NAME = 100
MAX_SYSTEM_PROMPT = 20_000
MAX_TOP_K = 50
MAX_TOKENS = 32_768
MAX_REFUSAL = 2_000
UNSET: object = object()


@dataclass(frozen=True, slots=True)
class WorkspaceChanges:
    """Fields left as UNSET are not touched; None clears the optional ones."""

    name: object = UNSET
    system_prompt: object = UNSET
    top_k: object = UNSET
    similarity_threshold: object = UNSET
    chat_model: object = UNSET
    temperature: object = UNSET
    max_tokens: object = UNSET
    query_only: object = UNSET
    refusal_text: object = UNSET


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise BadUserInput("Name must not be empty.", field="name")
    if len(cleaned) > MAX_NAME:
        raise BadUserInput(f"Name must be at most {MAX_NAME} characters.", field="name")
    return cleaned


async def create_workspace(
    session: AsyncSession, *, owner_id: uuid.UUID, name: str
) -> WorkspaceAccess:
    workspace = Workspace(name=clean_name(name))
    session.add(workspace)
    await session.flush()
    session.add(
        WorkspaceMember(workspace_id=workspace.id, user_id=owner_id, role=WorkspaceRole.OWNER)
    )
    await session.flush()
    return WorkspaceAccess(workspace=workspace, user_id=owner_id, role=WorkspaceRole.OWNER)


async def update_workspace(
    session: AsyncSession, *, workspace_id: uuid.UUID, user_id: uuid.UUID, changes: WorkspaceChanges
) -> WorkspaceAccess:
    access = await authorize(session, workspace_id, user_id, WorkspaceRole.OWNER)
    workspace = access.workspace
    if changes.name is not UNSET:
        if not isinstance(changes.name, str):
            raise BadUserInput("Name must not be empty.", field="name")
        workspace.name = clean_name(changes.name)
    if changes.system_prompt is not UNSET:
        prompt = changes.system_prompt
        if prompt is not None and len(str(prompt)) > MAX_SYSTEM_PROMPT:
            raise BadUserInput(
                f"System prompt must be at most {MAX_SYSTEM_PROMPT} characters.",
                field="systemPrompt",
            )
        workspace.system_prompt = str(prompt) if prompt else None
    if changes.top_k is not UNSET:
        top_k = changes.top_k
        if not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise BadUserInput(f"topK must be between 1 and {MAX_TOP_K}.", field="topK")
        workspace.top_k = top_k
    if changes.similarity_threshold is not UNSET:
        workspace.similarity_threshold = (
            _in_range(changes.similarity_threshold, 0.0, 1.0, "similarityThreshold", nullable=False)
            or 0.0
        )
    if changes.chat_model is not UNSET:
        model = changes.chat_model
        if model is not None and not 0 < len(str(model).strip()) <= 200:
            raise BadUserInput("chatModel must be 1 to 200 characters.", field="chatModel")
        workspace.chat_model = str(model).strip() if model is not None else None
    if changes.temperature is not UNSET:
        workspace.temperature = _in_range(changes.temperature, 0.0, 2.0, "temperature")
    if changes.max_tokens is not UNSET:
        tokens = changes.max_tokens
        if tokens is not None and (not isinstance(tokens, int) or not 1 <= tokens <= MAX_TOKENS):
            raise BadUserInput(f"maxTokens must be between 1 and {MAX_TOKENS}.", field="maxTokens")
        workspace.max_tokens = tokens
    if changes.query_only is not UNSET:
        if not isinstance(changes.query_only, bool):
            raise BadUserInput("queryOnly must be true or false.", field="queryOnly")
        workspace.query_only = changes.query_only
    if changes.refusal_text is not UNSET:
        text = changes.refusal_text
        if text is not None and len(str(text)) > MAX_REFUSAL:
            raise BadUserInput(
                f"refusalText must be at most {MAX_REFUSAL} characters.", field="refusalText"
            )
        workspace.refusal_text = str(text).strip() or None if text is not None else None
    await session.flush()
    return access


def _in_range(
    value: object, low: float, high: float, field: str, *, nullable: bool = True
) -> float | None:
    if value is None and nullable:
        return None
    if not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
        raise BadUserInput(f"{field} must be between {low} and {high}.", field=field)
    return float(value)


async def delete_workspace(
    session: AsyncSession, *, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID:
    access = await authorize(session, workspace_id, user_id, WorkspaceRole.OWNER)
    # Members, sessions, messages and documents go with it (ON DELETE CASCADE).
    await session.execute(delete(Workspace).where(Workspace.id == access.workspace_id))
    return access.workspace_id


async def add_member(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    email: str,
    role: WorkspaceRole,
) -> WorkspaceMember:
    access = await authorize(session, workspace_id, user_id, WorkspaceRole.OWNER)
    invitee = await users.get_by_email(session, normalise_email(email))
    if invitee is None:
        raise NotFound("No account uses this email address.", field="email")
    member = WorkspaceMember(workspace_id=access.workspace_id, user_id=invitee.id, role=role)
    session.add(member)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(
            "This person is already a member of the workspace.", field="email"
        ) from error
    # Same transaction: the invitation exists exactly when the membership does.
    await notifications.member_added(
        session, member=member, workspace=access.workspace, added_by=user_id
    )
    return member


async def change_member_role(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    member_user_id: uuid.UUID,
    role: WorkspaceRole,
) -> WorkspaceMember:
    access = await authorize(session, workspace_id, user_id, WorkspaceRole.OWNER, for_update=True)
    member = await _member(session, access.workspace_id, member_user_id)
    if member.role is WorkspaceRole.OWNER and role is not WorkspaceRole.OWNER:
        await _keep_an_owner(session, access.workspace_id)
    member.role = role
    await session.flush()
    return member


async def remove_member(
    session: AsyncSession, *, workspace_id: uuid.UUID, user_id: uuid.UUID, member_user_id: uuid.UUID
) -> uuid.UUID:
    """Owners remove anyone; anyone may remove themselves (leave). One owner always stays."""
    leaving = member_user_id == user_id
    needs = WorkspaceRole.VIEWER if leaving else WorkspaceRole.OWNER
    try:
        access = await authorize(session, workspace_id, user_id, needs, for_update=True)
    except Forbidden as error:
        raise Forbidden("Only an OWNER can remove other members.") from error
    member = await _member(session, access.workspace_id, member_user_id)
    if member.role is WorkspaceRole.OWNER:
        await _keep_an_owner(session, access.workspace_id)
    await session.delete(member)
    await session.flush()
    return member_user_id


async def _member(
    session: AsyncSession, workspace_id: uuid.UUID, member_user_id: uuid.UUID
) -> WorkspaceMember:
    member = await session.scalar(
        select(WorkspaceMember).where(
            WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == member_user_id
        )
    )
    if member is None:
        raise NotFound("This person is not a member of the workspace.", field="userId")
    return member


async def _keep_an_owner(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    owners = await session.scalar(
        select(func.count()).where(
            WorkspaceMember.workspace_id == workspace_id,
            WorkspaceMember.role == WorkspaceRole.OWNER,
        )
    )
    if (owners or 0) <= 1:
        raise Conflict("A workspace needs at least one OWNER; make someone else OWNER first.")
