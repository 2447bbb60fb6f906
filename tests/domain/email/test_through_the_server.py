"""End to end through a real server (SQLite and PostgreSQL): adding a member over
GraphQL and uploading a PDF that cannot be ingested each queue one mail, and the drain
delivers them to a real SMTP server on loopback.

The server is this module's own, not the session's shared backend: closing it stops its
parsing children, which later tests count."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from domain.email.drain import drain_outbox
from domain.email.models import EmailOutbox
from domain.email.smtp import SmtpSender
from domain.ingestion.parsers.pdf import NO_TEXT
from tests.conftest import Backend as Server
from tests.conftest import served_backend
from tests.domain.email.helpers import SmtpServer
from tests.domain.ingestion.files import pdf_bytes
from tests.support.client import GraphQLClient, upload

DOCUMENT = "query D($id: ID!) { document(id: $id) { status error } }"
# Hang guards, never assertions about speed.
PATIENCE = 60.0
POLL = 0.05


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    data_dir = tmp_path_factory.mktemp(f"email-server-{request.param}")
    async with served_backend(request.param, data_dir) as served:
        yield served


@pytest.fixture
async def client(server: Server) -> AsyncIterator[GraphQLClient]:
    graphql = GraphQLClient(server.address)
    yield graphql
    await graphql.close()


async def mail_for(server: Server, address: str) -> list[EmailOutbox]:
    async with server.container.sessionmaker() as session:
        rows = await session.scalars(
            select(EmailOutbox).where(EmailOutbox.to_address == address).order_by(EmailOutbox.id)
        )
        return list(rows)


async def test_invitations_and_failed_uploads_are_mailed(
    server: Server, client: GraphQLClient, smtp: SmtpServer
) -> None:
    # given an owner's workspace, and Ann added to it as EDITOR over GraphQL
    owner = await client.register("owner")
    ann = await client.register("ann")
    name = f"Mail {uuid.uuid4().hex[:6]}"
    workspace_id = await client.create_workspace(owner, name)
    await client.add_member(owner, workspace_id, ann, "EDITOR")
    # then one invitation is queued for her
    assert len(await mail_for(server, ann.email)) == 1

    # when Ann uploads a PDF without a text layer and the ingestion worker fails it
    response = await upload(client, ann.access_token, workspace_id, "scan.pdf", pdf_bytes([[]]))
    document_id = response.json()["data"]["uploadDocument"]["id"]
    async with asyncio.timeout(PATIENCE):
        while True:
            data = await client.data(DOCUMENT, {"id": document_id}, ann.access_token)
            if data["document"]["status"] in {"READY", "FAILED"}:
                break
            await asyncio.sleep(POLL)
    assert data["document"] == {"status": "FAILED", "error": NO_TEXT}

    # then a second mail is queued for her; the owner gets none
    assert len(await mail_for(server, ann.email)) == 2
    assert await mail_for(server, owner.email) == []

    # when the outbox is drained
    sender = SmtpSender(smtp.url, "ragql <noreply@example.com>", timeout_seconds=10)
    await drain_outbox(server.container.sessionmaker, sender, send_timeout_seconds=10)

    # then Ann received both, once each
    subjects = sorted(str(mail.message["Subject"]) for mail in smtp.handler.to(ann.email))
    assert subjects == [
        f"You were added to workspace {name} as EDITOR",
        "Your document scan.pdf could not be ingested",
    ]
    (failure,) = [m for m in smtp.handler.to(ann.email) if "scan.pdf" in str(m.message["Subject"])]
    assert f"Reason: {NO_TEXT}" in failure.message.get_content()
