"""A fresh, migrated database per test module, on SQLite and on PostgreSQL, with a user
and a workspace to hang rows on."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.chat.models import ChatMessage, ChatSession, MessageRole, MessageStatus
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.users.models import User
from domain.workspaces.models import Workspace, WorkspaceMember, WorkspaceRole
from tests.support.databases import migrated_database

# A guard against a hang, never an assertion about speed.
PATIENCE = 10.0


@dataclass
class Database:
    dialect: str
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    user_id: uuid.UUID
    workspace_id: uuid.UUID


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path_factory, "jobs") as db:
        async with db.sessionmaker.begin() as session:
            user = User(email="jobs@example.com", display_name="Jobs", password_hash="x")
            workspace = Workspace(name="Jobs")
            session.add_all([user, workspace])
            await session.flush()
            session.add(
                WorkspaceMember(
                    workspace_id=workspace.id, user_id=user.id, role=WorkspaceRole.OWNER
                )
            )
        yield Database(db.dialect, db.url, db.engine, db.sessionmaker, user.id, workspace.id)


async def add_document(
    db: Database,
    name: str,
    *,
    status: DocumentStatus = DocumentStatus.READY,
    storage_key: str | None = None,
    lease_expires_at: datetime | None = None,
    claim_token: uuid.UUID | None = None,
    workspace_id: uuid.UUID | None = None,
) -> WorkspaceDocument:
    async with db.sessionmaker.begin() as session:
        document = WorkspaceDocument(
            workspace_id=workspace_id or db.workspace_id,
            filename=name,
            content_type="text/plain",
            size_bytes=10,
            sha256=hashlib.sha256(f"{name}{uuid.uuid4()}".encode()).hexdigest(),
            storage_key=storage_key or uuid.uuid4().hex,
            status=status,
            lease_expires_at=lease_expires_at,
            claim_token=claim_token,
        )
        session.add(document)
    return document


async def add_chat(db: Database) -> uuid.UUID:
    async with db.sessionmaker.begin() as session:
        chat = ChatSession(workspace_id=db.workspace_id, user_id=db.user_id, title="New chat")
        session.add(chat)
    return chat.id


async def add_message(
    db: Database,
    session_id: uuid.UUID,
    *,
    role: MessageRole = MessageRole.ASSISTANT,
    status: MessageStatus = MessageStatus.STREAMING,
    content: str = "",
    created_at: datetime | None = None,
    heartbeat_at: datetime | None = None,
) -> uuid.UUID:
    async with db.sessionmaker.begin() as session:
        message = ChatMessage(
            session_id=session_id,
            role=role,
            status=status,
            content=content,
            sources=[],
            heartbeat_at=heartbeat_at,
        )
        if created_at is not None:
            message.created_at = created_at
        session.add(message)
    return message.id


async def message(db: Database, message_id: uuid.UUID) -> ChatMessage:
    async with db.sessionmaker() as session:
        found = await session.get(ChatMessage, message_id, populate_existing=True)
    assert found is not None
    return found


async def document(db: Database, document_id: uuid.UUID) -> WorkspaceDocument | None:
    async with db.sessionmaker() as session:
        return await session.get(WorkspaceDocument, document_id, populate_existing=True)
