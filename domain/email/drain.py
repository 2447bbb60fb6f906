"""The outbox drain: claims due mails, sends them, records the outcome.

Delivery is at least once, not exactly once. A mail is marked sent in a transaction
after the SMTP server accepted it. If the server accepted it but we never learn so or
never record it (the process dies or the database fails before the commit; the
server's final 250 is lost to a timeout or a dropped connection), the mail is sent
again later. Nothing is lost, and the copy carries the same Message-ID, Date and body
as the first, so it can be recognised as a duplicate: some mailbox providers and
clients collapse mails sharing a Message-ID, but SMTP itself promises nothing, so a
recipient may see it twice. Every other failure (a refusal, an outage, a crash or
timeout before the message was handed over) leads to exactly one delivery later.

Each claimed mail also costs an attempt when it is claimed, so a mail whose sending
kills the process runs out of attempts like one the server keeps refusing. A mail that
used all `max_attempts` stays in the table with `sent_at` null and its `last_error` for
operators; raising the limit (or resetting `attempts`) puts it back in the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.db.base import utcnow
from domain.email import outbox
from domain.email.outbox import OutgoingMail
from domain.email.smtp import MailSender, SmtpSender
from domain.settings import Settings

logger = logging.getLogger(__name__)
MAX_ERROR = 2_000
_unconfigured_logged = False


@dataclass
class DrainReport:
    sent: int = 0
    failed: int = 0  # refused or errored, to be retried
    gave_up: int = 0  # failed on their last attempt
    released: int = 0  # claimed but handed back untried: not enough lease left


def backoff(attempts: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """The pause after the `attempts`-th failure: base, 2 x base, 4 x base... capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempts - 1)))


async def drain_outbox(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: MailSender | None,
    *,
    batch: int = 20,
    lease_seconds: float = 60.0,
    max_attempts: int = 8,
    send_timeout_seconds: float = 30.0,
    retry_base_seconds: float = 60.0,
    retry_max_seconds: float = 3600.0,
    clock: Callable[[], datetime] = utcnow,
) -> DrainReport:
    """Sends due mails, `batch` per claim, until none is due. Safe to run concurrently
    (several replicas, overlapping runs): a mail is held by one drain at a time.

    A send is given `send_timeout_seconds`; one is started only while that much lease
    is left, so a slow server cannot make the lease run out under a send in progress
    (which would let another drain send the same mail). With no sender (SMTP_URL
    unset) nothing happens: mail stays queued until one is configured."""
    if sender is None:
        _log_unconfigured()
        return DrainReport()
    if lease_seconds <= send_timeout_seconds:
        raise ValueError("the lease must be longer than the send timeout")
    report = DrainReport()
    lease = timedelta(seconds=lease_seconds)
    send_timeout = timedelta(seconds=send_timeout_seconds)
    while True:
        async with sessionmaker.begin() as session:
            claim = await outbox.claim_due(
                session, now=clock(), lease=lease, batch=batch, max_attempts=max_attempts
            )
        for index, mail in enumerate(claim.mails):
            if clock() + send_timeout >= claim.locked_until:
                rest = [untried.id for untried in claim.mails[index:]]
                async with sessionmaker.begin() as session:
                    report.released += await outbox.release(session, rest, claim.token)
                return report
            error = await _send(sender, mail, send_timeout_seconds)
            delay = backoff(
                mail.attempts, base_seconds=retry_base_seconds, max_seconds=retry_max_seconds
            )
            async with sessionmaker.begin() as session:
                if error is None:
                    await outbox.mark_sent(session, mail.id, now=clock())
                else:
                    await outbox.mark_failed(
                        session, mail.id, claim.token, error=error, retry_at=clock() + delay
                    )
            if error is None:
                report.sent += 1
            elif mail.attempts >= max_attempts:
                report.gave_up += 1
                logger.error(
                    "gave up on mail %s after %d attempts: %s", mail.id, mail.attempts, error
                )
            else:
                report.failed += 1
                logger.warning(
                    "mail %s not sent (attempt %d of %d; next in %s): %s",
                    mail.id,
                    mail.attempts,
                    max_attempts,
                    delay,
                    error,
                )
        if len(claim.mails) < batch:
            return report


async def _send(sender: MailSender, mail: OutgoingMail, timeout_seconds: float) -> str | None:
    """None once the server accepted the mail, else what went wrong."""
    try:
        async with asyncio.timeout(timeout_seconds):
            await sender.send(mail)
    except TimeoutError:
        return f"no answer from the mail server within {timeout_seconds:g} s"
    except Exception as error:
        return f"{type(error).__name__}: {error}"[:MAX_ERROR]
    return None


def _log_unconfigured() -> None:
    global _unconfigured_logged
    if not _unconfigured_logged:
        _unconfigured_logged = True
        logger.warning("SMTP_URL is not set: outgoing mail stays queued in email_outbox")


def sender_from_settings(settings: Settings) -> SmtpSender | None:
    if not settings.smtp_url:
        return None
    return SmtpSender(
        settings.smtp_url, settings.email_from, timeout_seconds=settings.smtp_timeout_seconds
    )


def drain_job(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> Callable[[], Awaitable[DrainReport]]:
    """The scheduler's job: one drain with the configured limits. Built once at start-up,
    so a malformed SMTP_URL or EMAIL_FROM fails there rather than at every tick."""
    sender = sender_from_settings(settings)
    if settings.email_lease_seconds <= settings.smtp_timeout_seconds:
        raise ValueError("EMAIL_LEASE_SECONDS must be longer than SMTP_TIMEOUT_SECONDS")

    async def drain() -> DrainReport:
        return await drain_outbox(
            sessionmaker,
            sender,
            batch=settings.email_batch_size,
            lease_seconds=settings.email_lease_seconds,
            max_attempts=settings.email_max_attempts,
            send_timeout_seconds=settings.smtp_timeout_seconds,
            retry_base_seconds=settings.email_retry_base_seconds,
            retry_max_seconds=settings.email_retry_max_seconds,
        )

    return drain
