"""The mails the domain queues, on real SQLite and PostgreSQL, delivered through a real
SMTP server: a document that fails to ingest (through the real queue and its claims)
and a member added to a workspace (through the real service)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from domain.documents import queue
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.documents.service import reindex_document
from domain.email.drain import DrainReport, drain_outbox
from domain.email.smtp import SmtpSender
from domain.errors import Conflict
from domain.users.models import User
from domain.workspaces import service as workspaces
from domain.workspaces.models import Workspace, WorkspaceMember, WorkspaceRole
from tests.domain.email.helpers import (
    Database,
    SmtpServer,
    add_user,
    add_workspace,
    outbox_rows,
)

FROM = "ragql <noreply@example.com>"
LEASE = timedelta(seconds=60)
REASON = "The PDF is damaged: no cross-reference table."


async def add_document(
    db: Database, workspace: Workspace, uploader: User | None, filename: str
) -> uuid.UUID:
    async with db.sessionmaker.begin() as session:
        document = WorkspaceDocument(
            workspace_id=workspace.id,
            uploaded_by_id=uploader.id if uploader else None,
            filename=filename,
            content_type="application/pdf",
            size_bytes=10,
            sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            storage_key=uuid.uuid4().hex,
        )
        session.add(document)
    return document.id


async def claim(db: Database, document_id: uuid.UUID) -> queue.Claim:
    async with db.sessionmaker.begin() as session:
        held = await queue.claim_next(session, lease=LEASE)
    assert held is not None and held.document_id == document_id
    return held


async def fail(db: Database, held: queue.Claim, error: str = REASON) -> bool:
    async with db.sessionmaker.begin() as session:
        return await queue.fail(session, held, error=error)


async def drain(db: Database, smtp: SmtpServer) -> DrainReport:
    sender = SmtpSender(smtp.url, FROM, timeout_seconds=10)
    return await drain_outbox(db.sessionmaker, sender, send_timeout_seconds=10)


@pytest.fixture
async def people(db: Database) -> tuple[User, User, Workspace]:
    """An owner, another person, and the owner's workspace; the ingestion queue empty."""
    async with db.sessionmaker.begin() as session:
        await session.execute(delete(WorkspaceDocument))
    owner = await add_user(db, "Olga Owner")
    other = await add_user(db, "Ann")
    return owner, other, await add_workspace(db, owner, "Research")


async def test_a_failed_document_mails_its_uploader_once(
    db: Database, smtp: SmtpServer, people: tuple[User, User, Workspace]
) -> None:
    # given a document uploaded by Ann, claimed by the ingestion worker
    _, ann, workspace = people
    document_id = await add_document(db, workspace, ann, "report.pdf")
    held = await claim(db, document_id)

    # when ingestion fails it
    assert await fail(db, held)

    # then exactly one mail is queued, to Ann
    (row,) = await outbox_rows(db)
    assert row.to_address == ann.email
    assert row.dedupe_key == f"document-failed:{document_id}:{held.token}"

    # and the drain delivers it once, with the subject, body, sender and Message-ID
    assert await drain(db, smtp) == DrainReport(sent=1)
    assert await drain(db, smtp) == DrainReport()
    (delivered,) = smtp.delivered
    message = delivered.message
    assert delivered.rcpt_tos == [ann.email]
    assert message["Subject"] == "Your document report.pdf could not be ingested"
    assert message["From"] == FROM
    assert message["Message-ID"] == row.message_id
    body = message.get_content()
    assert '"report.pdf"' in body and '"Research"' in body
    assert f"Reason: {REASON}" in body


async def test_a_stale_claim_or_a_document_without_uploader_mails_nobody(
    db: Database, people: tuple[User, User, Workspace]
) -> None:
    _, ann, workspace = people
    # given a claim that lost its document to a second claim (its lease ran out)
    contested = await add_document(db, workspace, ann, "contested.pdf")
    async with db.sessionmaker.begin() as session:
        stale = await queue.claim_next(session, lease=-LEASE)
    current = await claim(db, contested)
    assert stale is not None

    # when the stale holder fails it: refused, and nothing is queued
    assert await fail(db, stale) is False
    assert await outbox_rows(db) == []

    # when the current holder fails it: one mail
    assert await fail(db, current)
    assert len(await outbox_rows(db)) == 1

    # given a document whose uploader's account is gone (uploaded_by_id is null)
    orphan = await add_document(db, workspace, None, "orphan.pdf")
    # when it fails: it is FAILED, and nobody is mailed
    assert await fail(db, await claim(db, orphan))
    async with db.sessionmaker() as session:
        document = await queue.current(session, orphan)
    assert document is not None and document.status is DocumentStatus.FAILED
    assert len(await outbox_rows(db)) == 1


async def test_a_document_reindexed_and_failing_again_mails_again(
    db: Database, people: tuple[User, User, Workspace]
) -> None:
    # given a document that failed once
    owner, _, workspace = people
    document_id = await add_document(db, workspace, owner, "twice.pdf")
    assert await fail(db, await claim(db, document_id))

    # when it is reindexed (its attempts start again at 0) and fails again
    async with db.sessionmaker.begin() as session:
        await reindex_document(session, document_id=document_id, user_id=owner.id)
    again = await claim(db, document_id)
    assert again.attempts == 1
    assert await fail(db, again, "Still damaged.")

    # then there are two mails, one per failure
    rows = await outbox_rows(db)
    assert len(rows) == 2
    assert ["Still damaged." in row.body_text for row in rows] == [False, True]


async def test_hostile_names_cannot_inject_headers_into_the_failure_mail(
    db: Database, smtp: SmtpServer, people: tuple[User, User, Workspace]
) -> None:
    # given names with line breaks (written past the upload's own cleaning, as an older
    # version or a direct database write could have left them)
    _, ann, workspace = people
    async with db.sessionmaker.begin() as session:
        hostile = await session.get(Workspace, workspace.id)
        assert hostile is not None
        hostile.name = "Research\r\nBcc: everyone@example.com"
    filename = "x.pdf\r\nBcc: victim@example.com\r\nX-Evil: 1\r\n\r\nclick here"
    document_id = await add_document(db, workspace, ann, filename)

    # when it fails and the mail goes out
    assert await fail(db, await claim(db, document_id))
    assert await drain(db, smtp) == DrainReport(sent=1)

    # then the server saw one recipient and no injected header; the subject is one line
    (delivered,) = smtp.delivered
    message = delivered.message
    assert delivered.rcpt_tos == [ann.email]
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == (
        "Your document x.pdf Bcc: victim@example.com X-Evil: 1 click here could not be ingested"
    )
    lines = message.get_content().splitlines()
    assert not any(line.startswith(("Bcc:", "X-Evil:", "click here")) for line in lines)


async def test_adding_a_member_mails_them_who_added_them_where_and_as_what(
    db: Database, smtp: SmtpServer, people: tuple[User, User, Workspace]
) -> None:
    # when the owner adds Ann as EDITOR
    owner, ann, workspace = people
    async with db.sessionmaker.begin() as session:
        member = await workspaces.add_member(
            session,
            workspace_id=workspace.id,
            user_id=owner.id,
            email=ann.email.upper(),
            role=WorkspaceRole.EDITOR,
        )

    # then one invitation is queued for Ann
    (row,) = await outbox_rows(db)
    assert row.to_address == ann.email
    assert row.dedupe_key == f"member-added:{workspace.id}:{ann.id}:{member.id}"

    # and delivered once, naming the workspace, the role and who added her
    assert await drain(db, smtp) == DrainReport(sent=1)
    (delivered,) = smtp.delivered
    assert delivered.rcpt_tos == [ann.email]
    assert delivered.message["Subject"] == "You were added to workspace Research as EDITOR"
    assert delivered.message["Message-ID"] == row.message_id
    assert delivered.message.get_content().startswith(
        f'Olga Owner ({owner.email}) added you to the workspace "Research" as EDITOR.'
    )


async def add_and_roll_back(db: Database, owner: User, ann: User, workspace: Workspace) -> int:
    """Adds Ann in a transaction that is then rolled back (a later step of the request
    failed); returns how many memberships she has afterwards."""
    async with db.sessionmaker() as session, session.begin() as transaction:
        await workspaces.add_member(
            session,
            workspace_id=workspace.id,
            user_id=owner.id,
            email=ann.email,
            role=WorkspaceRole.VIEWER,
        )
        await transaction.rollback()
    async with db.sessionmaker() as session:
        found = await session.scalars(
            select(WorkspaceMember.id).where(WorkspaceMember.user_id == ann.id)
        )
        return len(found.all())


async def test_the_invitation_exists_exactly_when_the_membership_does(
    db: Database, people: tuple[User, User, Workspace]
) -> None:
    owner, ann, workspace = people
    memberships = await add_and_roll_back(db, owner, ann, workspace)
    assert len(await outbox_rows(db)) == memberships


async def test_an_add_that_is_rolled_back_leaves_neither_membership_nor_mail(
    db: Database, people: tuple[User, User, Workspace]
) -> None:
    owner, ann, workspace = people
    assert await add_and_roll_back(db, owner, ann, workspace) == 0
    assert await outbox_rows(db) == []


async def test_one_invitation_per_membership(
    db: Database, people: tuple[User, User, Workspace]
) -> None:
    owner, ann, workspace = people

    async def add(role: WorkspaceRole) -> None:
        async with db.sessionmaker.begin() as session:
            await workspaces.add_member(
                session, workspace_id=workspace.id, user_id=owner.id, email=ann.email, role=role
            )

    # given Ann added, then added again (CONFLICT)
    await add(WorkspaceRole.VIEWER)
    with pytest.raises(Conflict):
        await add(WorkspaceRole.OWNER)
    # then one invitation, for the membership that exists
    assert len(await outbox_rows(db)) == 1

    # when she is removed, then added again later: a new membership, a new invitation
    async with db.sessionmaker.begin() as session:
        await workspaces.remove_member(
            session, workspace_id=workspace.id, user_id=owner.id, member_user_id=ann.id
        )
    await add(WorkspaceRole.EDITOR)
    rows = await outbox_rows(db)
    assert [row.subject for row in rows] == [
        "You were added to workspace Research as VIEWER",
        "You were added to workspace Research as EDITOR",
    ]
