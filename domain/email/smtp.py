"""Sending one outbox mail over SMTP with aiosmtplib, configured by SMTP_URL.

smtp://host[:port]                  plain SMTP, upgraded with STARTTLS if the server
                                    offers it (aiosmtplib's default; port 25)
smtp://host:587?starttls=true       STARTTLS required (port 587 if omitted)
smtp://host:25?starttls=false       never STARTTLS (a local relay without TLS)
smtps://host[:port]                 implicit TLS from the first byte (port 465)
smtp://user:pass@host               AUTH with these credentials (percent-decoded)
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from domain.email.messages import subject_line
from domain.email.outbox import OutgoingMail

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class MailSender(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Returns once the server accepted the mail; raises otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    hostname: str
    port: int | None
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None

    def __repr__(self) -> str:  # keeps the password out of logs and tracebacks
        return (
            f"SmtpConfig(hostname={self.hostname!r}, port={self.port!r}, "
            f"username={self.username!r}, use_tls={self.use_tls}, start_tls={self.start_tls})"
        )


def parse_smtp_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"smtp", "smtps"}:
        raise ValueError("SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("SMTP_URL has no host")
    query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    start_tls: bool | None = None
    if "starttls" in query:
        flag = query["starttls"].strip().lower()
        if flag not in _TRUE | _FALSE:
            raise ValueError("SMTP_URL: starttls must be true or false")
        start_tls = flag in _TRUE
    if scheme == "smtps":
        if start_tls:
            raise ValueError("SMTP_URL: smtps:// is already TLS; drop ?starttls=true")
        start_tls = False
    return SmtpConfig(
        hostname=parts.hostname,
        port=parts.port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        use_tls=scheme == "smtps",
        start_tls=start_tls,
    )


class SmtpSender:
    """One connection per mail: notifications are few, and a fresh connection has no
    state left over from a failure."""

    def __init__(self, url: str, from_address: str, *, timeout_seconds: float = 30.0) -> None:
        self.config = parse_smtp_url(url)
        self.from_address = from_address
        self.timeout_seconds = timeout_seconds
        name, address = parseaddr(from_address)
        if "@" not in address:
            raise ValueError(f"EMAIL_FROM has no address: {from_address!r}")
        self._from = Address(display_name=subject_line(name), addr_spec=address)

    def compose(self, mail: OutgoingMail) -> EmailMessage:
        message = EmailMessage()  # policy.default: a header value with CR or LF raises
        message["From"] = self._from
        message["To"] = mail.to_address
        message["Subject"] = subject_line(mail.subject)
        message["Date"] = format_datetime(mail.created_at)
        message["Message-ID"] = mail.message_id
        # RFC 3834: tells vacation responders and the like not to answer.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(mail.body_text)
        return message

    async def send(self, mail: OutgoingMail) -> None:
        config = self.config
        await aiosmtplib.send(
            self.compose(mail),
            hostname=config.hostname,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=self.timeout_seconds,
        )
