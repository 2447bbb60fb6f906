"""GraphQL enums, registered on the domain's own enum classes.

Registering (rather than copying) keeps one source of truth for the values; annotations
use the domain classes directly. Import this module before the types that use them.
"""

from __future__ import annotations

import strawberry

from domain.chat.models import MessageRole, MessageStatus
from domain.documents.models import DocumentStatus
from domain.retrieval.search import SearchMode
from domain.workspaces.models import WorkspaceRole

strawberry.enum(
    WorkspaceRole,
    name="WorkspaceRole",
    description="What a member may do: VIEWER reads and chats, EDITOR also manages documents, "
    "OWNER also edits the workspace and its members.",
)
strawberry.enum(
    DocumentStatus,
    name="DocumentStatus",
    description="Where a document is in ingestion: PENDING, PROCESSING, then READY or FAILED.",
)
strawberry.enum(MessageRole, name="MessageRole", description="Who wrote a message.")
strawberry.enum(
    MessageStatus,
    name="MessageStatus",
    description="Life of a message: PENDING, STREAMING, then COMPLETE, CANCELLED or FAILED.",
)

strawberry.enum(
    SearchMode,
    name="SearchMode",
    description="How to rank passages: HYBRID fuses VECTOR similarity with TEXT (BM25).",
)

__all__ = ["DocumentStatus", "MessageRole", "MessageStatus", "SearchMode", "WorkspaceRole"]
