"""Imports every model so `Base.metadata` is complete (Alembic and the drift test use it)."""

from domain.auth.models import RefreshToken
from domain.chat.models import ChatMessage, ChatSession
from domain.db.base import Base
from domain.documents.models import WorkspaceDocument
from domain.email.models import EmailOutbox
from domain.jobs.models import JobRun
from domain.users.models import User
from domain.workspaces.models import Workspace, WorkspaceMember

__all__ = [
    "Base",
    "ChatMessage",
    "ChatSession",
    "EmailOutbox",
    "JobRun",
    "RefreshToken",
    "User",
    "Workspace",
    "WorkspaceDocument",
    "WorkspaceMember",
]
