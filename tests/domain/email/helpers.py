"""What the email tests share: a recording SMTP handler for aiosmtpd, the databases,
and rows to mail about."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.email.models import EmailOutbox
from domain.users.models import User
from domain.workspaces.models import Workspace, WorkspaceMember, WorkspaceRole

SMTP_LOGIN = "mailer"
SMTP_PASSWORD = "p@ss:w/rd"  # needs percent-encoding in a URL
# A guard against a hang, never an assertion about speed.
PATIENCE = 20


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class RecordingHandler:
    """Records every accepted message; refuses the next N with a 451 when told to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delivered: list[Delivered] = []
        self.refused = 0
        self._refuse_next = 0
        self.delay_seconds = 0.0

    def reset(self) -> None:
        with self._lock:
            self.delivered.clear()
            self.refused = 0
            self._refuse_next = 0
            self.delay_seconds = 0.0

    def refuse_next(self, count: int) -> None:
        with self._lock:
            self._refuse_next = count

    def to(self, address: str) -> list[Delivered]:
        with self._lock:
            return [mail for mail in self.delivered if address in mail.rcpt_tos]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        with self._lock:
            if self._refuse_next > 0:
                self._refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 try later"
            message = cast(
                EmailMessage,
                message_from_bytes(
                    # Wire line ends (CRLF) back to Python's, as a mail client would show them.
                    envelope.original_content.replace(b"\r\n", b"\n"),
                    policy=policy.default,
                ),
            )
            auth = session.auth_data if session.authenticated else None
            login = auth.login.decode() if isinstance(auth, LoginPassword) else None
            self.delivered.append(
                Delivered(envelope.mail_from, list(envelope.rcpt_tos), message, login)
            )
        return "250 2.0.0 OK"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (
        SMTP_LOGIN.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, auth_data=auth_data if ok else None)


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def delivered(self) -> list[Delivered]:
        return self.handler.delivered


@dataclass
class Database:
    dialect: str
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


async def add_user(db: Database, name: str) -> User:
    async with db.sessionmaker.begin() as session:
        user = User(
            email=f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com",
            display_name=name,
            password_hash="x",
        )
        session.add(user)
    return user


async def add_workspace(db: Database, owner: User, name: str = "Research") -> Workspace:
    async with db.sessionmaker.begin() as session:
        workspace = Workspace(name=name)
        session.add(workspace)
        await session.flush()
        session.add(
            WorkspaceMember(workspace_id=workspace.id, user_id=owner.id, role=WorkspaceRole.OWNER)
        )
    return workspace


async def outbox_rows(db: Database) -> list[EmailOutbox]:
    async with db.sessionmaker() as session:
        rows = await session.scalars(
            select(EmailOutbox).order_by(EmailOutbox.id).execution_options(populate_existing=True)
        )
        return list(rows)
