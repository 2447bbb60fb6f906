"""A real SMTP server on loopback (aiosmtpd) per test module, and a migrated SQLite and
PostgreSQL database per module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete

from domain.email.models import EmailOutbox
from tests.domain.email.helpers import Database, RecordingHandler, SmtpServer, authenticator
from tests.support.databases import migrated_database
from tests.support.server import free_port


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    # AUTH over plain text is fine on loopback; unauthenticated senders are accepted too.
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer) -> SmtpServer:
    """The module's SMTP server, with nothing recorded and nothing to refuse."""
    smtp_server.handler.reset()
    return smtp_server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path_factory, "email") as db:
        yield Database(db.dialect, db.url, db.engine, db.sessionmaker)


@pytest.fixture
async def db(database: Database) -> Database:
    """The module's database with an empty outbox."""
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(EmailOutbox))
    return database
