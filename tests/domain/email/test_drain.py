"""The outbox and its drain against a real SMTP server on loopback and real SQLite and
PostgreSQL: delivery, outages, give-up, concurrent drains, crashes, no SMTP_URL.

Time is a clock the test moves (the drain takes `clock=`): leases and retry delays are
crossed by moving it, never by waiting, and no assertion is about how long anything took.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from domain.db.base import utcnow
from domain.email import outbox
from domain.email.drain import DrainReport, drain_job, drain_outbox
from domain.email.outbox import OutgoingMail, enqueue
from domain.email.smtp import SmtpSender
from tests.conftest import make_settings
from tests.domain.email.helpers import (
    PATIENCE,
    SMTP_LOGIN,
    SMTP_PASSWORD,
    Database,
    SmtpServer,
    outbox_rows,
)

FROM = "ragql <noreply@example.com>"
LEASE = 60.0
SEND_TIMEOUT = 10.0


class Clock:
    """Starts at the real time (mail queued just before is due) and moves when told."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> Clock:
        self.now += timedelta(seconds=seconds)
        return self


class Crash(BaseException):
    """What a killed process looks like from inside: not an Exception the drain handles."""


class CrashingSender:
    """Dies before the mail leaves, or (after_accept) once the server has accepted it."""

    def __init__(self, real: SmtpSender, *, after_accept: bool) -> None:
        self.real = real
        self.after_accept = after_accept

    async def send(self, mail: OutgoingMail) -> None:
        if self.after_accept:
            await self.real.send(mail)
        raise Crash


async def queue_mail(
    db: Database, to: str = "ann@example.com", subject: str = "Hello", key: str | None = None
) -> bool:
    async with db.sessionmaker.begin() as session:
        return await enqueue(session, to, subject, "Body line\n", key or uuid.uuid4().hex)


def sender_for(smtp: SmtpServer, url: str | None = None) -> SmtpSender:
    return SmtpSender(url or smtp.url, FROM, timeout_seconds=SEND_TIMEOUT)


async def drain(db: Database, sender: object, clock: Clock, **limits: object) -> DrainReport:
    options: dict[str, object] = {"lease_seconds": LEASE, "send_timeout_seconds": SEND_TIMEOUT}
    options.update(limits)
    async with asyncio.timeout(PATIENCE):
        return await drain_outbox(db.sessionmaker, sender, clock=clock, **options)  # type: ignore[arg-type]


async def test_a_duplicate_dedupe_key_is_queued_once(db: Database) -> None:
    # when the same key is queued twice, in two transactions (a retried job)
    assert await queue_mail(db, key="member-added:w:u:m") is True
    assert await queue_mail(db, key="member-added:w:u:m", subject="Other") is False
    # then there is one row, the first
    rows = await outbox_rows(db)
    assert [(row.dedupe_key, row.subject) for row in rows] == [("member-added:w:u:m", "Hello")]


async def test_mail_queued_in_a_rolled_back_transaction_does_not_exist(db: Database) -> None:
    async with db.sessionmaker() as session, session.begin() as transaction:
        assert await enqueue(session, "ann@example.com", "S", "B", "rolled-back")
        await transaction.rollback()
    assert await outbox_rows(db) == []


async def test_drain_delivers_each_mail_once_with_its_headers(
    db: Database, smtp: SmtpServer
) -> None:
    # given two queued mails
    await queue_mail(db, "ann@example.com", "First")
    await queue_mail(db, "bob@example.com", "Second")
    rows = {row.to_address: row for row in await outbox_rows(db)}
    clock = Clock()

    # when the outbox is drained, twice
    first = await drain(db, sender_for(smtp), clock)
    second = await drain(db, sender_for(smtp), clock)

    # then each mail was delivered once, and the second drain had nothing to do
    assert (first, second) == (DrainReport(sent=2), DrainReport())
    assert sorted(tuple(mail.rcpt_tos) for mail in smtp.delivered) == [
        ("ann@example.com",),
        ("bob@example.com",),
    ]
    for delivered in smtp.delivered:
        row = rows[delivered.rcpt_tos[0]]
        message = delivered.message
        assert delivered.mail_from == "noreply@example.com"
        assert message["From"] == FROM
        assert message["To"] == row.to_address
        assert message["Subject"] == row.subject
        assert message["Message-ID"] == row.message_id
        assert parsedate_to_datetime(message["Date"]) == row.created_at.replace(microsecond=0)
        assert message.get_content() == "Body line\n"
    # and the rows are marked sent, lease released, one attempt each
    for row in await outbox_rows(db):
        assert row.sent_at is not None
        assert (row.attempts, row.locked_until, row.claim_token, row.last_error) == (
            1,
            None,
            None,
            None,
        )


async def test_message_ids_are_unique_and_well_formed(db: Database) -> None:
    for _ in range(5):
        await queue_mail(db)
    ids = [row.message_id for row in await outbox_rows(db)]
    assert len(set(ids)) == 5
    assert all(i.startswith("<") and i.endswith(">") and i.count("@") == 1 for i in ids)


async def test_an_smtp_outage_loses_nothing_and_recovery_delivers_once(
    db: Database, smtp: SmtpServer
) -> None:
    # given a queued mail and a server that refuses everything for now
    await queue_mail(db)
    smtp.handler.refuse_next(1000)
    clock = Clock()

    # when the drain tries
    report = await drain(db, sender_for(smtp), clock, retry_base_seconds=60)

    # then nothing was delivered, and the row records the failure and backs off a minute
    assert report == DrainReport(failed=1)
    assert smtp.delivered == [] and smtp.handler.refused == 1
    (row,) = await outbox_rows(db)
    assert row.sent_at is None and row.attempts == 1
    assert row.last_error is not None and "451" in row.last_error
    assert row.next_attempt_at == clock.now + timedelta(seconds=60)
    assert row.locked_until is None

    # when drained again before the minute is up: not tried
    clock.advance(59)
    assert await drain(db, sender_for(smtp), clock, retry_base_seconds=60) == DrainReport()
    assert smtp.handler.refused == 1

    # when the minute has passed and it is still down: tried again, backing off twice as long
    clock.advance(1)
    assert await drain(db, sender_for(smtp), clock, retry_base_seconds=60) == DrainReport(failed=1)
    (row,) = await outbox_rows(db)
    assert (row.attempts, row.next_attempt_at) == (2, clock.now + timedelta(seconds=120))

    # when the server is back and the delay is over
    smtp.handler.refuse_next(0)
    clock.advance(120)
    assert await drain(db, sender_for(smtp), clock) == DrainReport(sent=1)
    assert await drain(db, sender_for(smtp), clock.advance(3600)) == DrainReport()

    # then it was delivered exactly once, the last error kept for the record
    assert [mail.message_id for mail in smtp.delivered] == [row.message_id]
    (row,) = await outbox_rows(db)
    assert row.sent_at is not None and row.attempts == 3 and "451" in (row.last_error or "")


async def test_an_unreachable_server_counts_as_a_failed_attempt(db: Database) -> None:
    await queue_mail(db)
    closed = SmtpSender("smtp://127.0.0.1:1", FROM, timeout_seconds=SEND_TIMEOUT)
    assert await drain(db, closed, Clock()) == DrainReport(failed=1)
    (row,) = await outbox_rows(db)
    assert row.attempts == 1 and row.sent_at is None and row.last_error


async def test_after_max_attempts_a_mail_is_kept_unsent_for_operators(
    db: Database, smtp: SmtpServer
) -> None:
    # given a mail the server keeps refusing
    await queue_mail(db)
    smtp.handler.refuse_next(1000)
    clock = Clock()

    # when the drain has tried it max_attempts times
    reports = []
    for _ in range(3):
        reports.append(await drain(db, sender_for(smtp), clock, max_attempts=3))
        clock.advance(86_400)

    # then the last try gives up, and later drains leave it alone
    assert reports == [DrainReport(failed=1), DrainReport(failed=1), DrainReport(gave_up=1)]
    assert await drain(db, sender_for(smtp), clock, max_attempts=3) == DrainReport()
    (row,) = await outbox_rows(db)
    assert (row.attempts, row.sent_at) == (3, None)
    assert row.last_error is not None and "451" in row.last_error

    # and an operator raising the limit puts it back in the queue
    smtp.handler.refuse_next(0)
    assert await drain(db, sender_for(smtp), clock, max_attempts=4) == DrainReport(sent=1)
    assert len(smtp.delivered) == 1


async def test_concurrent_drains_never_send_a_mail_twice(db: Database, smtp: SmtpServer) -> None:
    # given thirty queued mails and a server slow enough for the drains to overlap
    for n in range(30):
        await queue_mail(db, f"user{n}@example.com")
    smtp.handler.delay_seconds = 0.01
    clock = Clock()

    # when two drains (two replicas' jobs) run at once, in small batches
    reports = await asyncio.gather(
        drain(db, sender_for(smtp), clock, batch=4),
        drain(db, sender_for(smtp), clock, batch=4),
    )

    # then the server received every mail exactly once
    counts = Counter(mail.message_id for mail in smtp.delivered)
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert sum(report.sent for report in reports) == 30
    assert all(row.sent_at is not None and row.attempts == 1 for row in await outbox_rows(db))


async def test_a_claim_takes_at_most_its_batch_oldest_first(db: Database) -> None:
    # given five due mails
    for n in range(5):
        await queue_mail(db, f"user{n}@example.com")
    lease = timedelta(seconds=LEASE)

    # when two claims of two are made
    async with db.sessionmaker.begin() as session:
        first = await outbox.claim_due(session, now=utcnow(), lease=lease, batch=2, max_attempts=8)
    async with db.sessionmaker.begin() as session:
        second = await outbox.claim_due(session, now=utcnow(), lease=lease, batch=2, max_attempts=8)

    # then each took two (a plain IN (subquery) on PostgreSQL can take them all), in order
    assert [m.to_address for m in first.mails] == ["user0@example.com", "user1@example.com"]
    assert [m.to_address for m in second.mails] == ["user2@example.com", "user3@example.com"]
    assert all(mail.attempts == 1 for mail in first.mails + second.mails)


# SQLite has a single writer, so only PostgreSQL has row locks to skip.
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_an_open_claim_on_postgresql_is_skipped_not_waited_for(db: Database) -> None:
    # given four due mails
    for _ in range(4):
        await queue_mail(db)
    now = utcnow()
    lease = timedelta(seconds=LEASE)

    # when one drain has claimed two but not committed, and another claims meanwhile
    async with db.sessionmaker() as one, db.sessionmaker() as two, one.begin():
        first = await outbox.claim_due(one, now=now, lease=lease, batch=2, max_attempts=8)
        async with two.begin():
            # (without SKIP LOCKED this would wait for the first transaction)
            second = await asyncio.wait_for(
                outbox.claim_due(two, now=now, lease=lease, batch=4, max_attempts=8), PATIENCE
            )

    # then they hold different mails, all four between them
    first_ids = {mail.id for mail in first.mails}
    second_ids = {mail.id for mail in second.mails}
    assert len(first_ids) == 2 and len(second_ids) == 2
    assert first_ids | second_ids == {row.id for row in await outbox_rows(db)}


async def test_a_drain_that_dies_before_sending_leaves_the_mail_to_a_later_one(
    db: Database, smtp: SmtpServer
) -> None:
    # given a mail claimed by a drain whose process died before it sent anything
    await queue_mail(db)
    clock = Clock()
    with pytest.raises(Crash):
        await drain(db, CrashingSender(sender_for(smtp), after_accept=False), clock)
    (row,) = await outbox_rows(db)
    assert row.sent_at is None and row.locked_until is not None and row.attempts == 1

    # when another drain runs while the dead one's lease lasts: the mail is not touched
    assert await drain(db, sender_for(smtp), clock) == DrainReport()
    assert smtp.delivered == []

    # when the lease has run out
    clock.advance(LEASE + 1)
    report = await drain(db, sender_for(smtp), clock)

    # then it is delivered, once
    assert report == DrainReport(sent=1)
    assert [mail.message_id for mail in smtp.delivered] == [row.message_id]
    (row,) = await outbox_rows(db)
    assert row.sent_at is not None and row.attempts == 2


async def test_a_crash_after_the_server_accepted_resends_with_the_same_message_id(
    db: Database, smtp: SmtpServer
) -> None:
    # given a drain that died after the server accepted the mail, before marking it sent
    await queue_mail(db)
    clock = Clock()
    with pytest.raises(Crash):
        await drain(db, CrashingSender(sender_for(smtp), after_accept=True), clock)
    assert len(smtp.delivered) == 1

    # when a later drain finds the lease expired
    clock.advance(LEASE + 1)
    assert await drain(db, sender_for(smtp), clock) == DrainReport(sent=1)

    # then the mail went out again (at least once, not exactly once), as the same message:
    # same Message-ID, Date and body, so a receiver can tell it is a duplicate
    first, second = smtp.delivered
    for header in ("Message-ID", "Date", "Subject", "From", "To"):
        assert first.message[header] == second.message[header]
    assert first.message.get_content() == second.message.get_content()
    assert await drain(db, sender_for(smtp), clock.advance(3600)) == DrainReport()
    assert len(smtp.delivered) == 2


async def test_mails_the_lease_cannot_cover_are_handed_back_untried(
    db: Database, smtp: SmtpServer
) -> None:
    # given two mails claimed together, and a first send so slow (by the drain's clock)
    # that the lease left is not enough for another one
    await queue_mail(db, "first@example.com")
    await queue_mail(db, "second@example.com")
    clock = Clock()
    real = sender_for(smtp)

    class Slow:
        async def send(self, mail: OutgoingMail) -> None:
            await real.send(mail)
            clock.advance(LEASE - SEND_TIMEOUT)

    # when the drain runs
    report = await drain(db, Slow(), clock, batch=2)

    # then it sent one and handed the other back unclaimed, its attempt uncounted
    assert report == DrainReport(sent=1, released=1)
    assert [mail.rcpt_tos for mail in smtp.delivered] == [["first@example.com"]]
    released = next(row for row in await outbox_rows(db) if row.sent_at is None)
    assert (released.attempts, released.locked_until, released.claim_token) == (0, None, None)

    # and the next drain sends it at once
    assert await drain(db, sender_for(smtp), clock) == DrainReport(sent=1)
    assert len(smtp.delivered) == 2


async def test_pruning_removes_old_sent_mail_only(db: Database, smtp: SmtpServer) -> None:
    # given one mail sent, one given up on, and one still queued
    for address in ("sent@example.com", "refused@example.com", "queued@example.com"):
        await queue_mail(db, address)
    clock = Clock()
    async with db.sessionmaker.begin() as session:
        claim = await outbox.claim_due(
            session, now=clock.now, lease=timedelta(seconds=LEASE), batch=2, max_attempts=1
        )
    sent, refused = claim.mails
    async with db.sessionmaker.begin() as session:
        await outbox.mark_sent(session, sent.id, now=clock.now)
        await outbox.mark_failed(session, refused.id, claim.token, error="550", retry_at=clock.now)

    # when mail sent before a moment after that is pruned
    async with db.sessionmaker.begin() as session:
        pruned = await outbox.prune_sent(session, sent_before=clock.now + timedelta(seconds=1))

    # then only the sent one is gone
    assert pruned == 1
    remaining = {row.to_address for row in await outbox_rows(db)}
    assert remaining == {"refused@example.com", "queued@example.com"}


async def test_credentials_in_the_url_log_in(db: Database, smtp: SmtpServer) -> None:
    await queue_mail(db)
    url = f"smtp://{SMTP_LOGIN}:p%40ss%3Aw%2Frd@127.0.0.1:{smtp.port}?starttls=false"
    assert SMTP_PASSWORD == "p@ss:w/rd"
    assert await drain(db, sender_for(smtp, url), Clock()) == DrainReport(sent=1)
    assert [mail.login for mail in smtp.delivered] == [SMTP_LOGIN]


async def test_wrong_credentials_fail_the_attempt(db: Database, smtp: SmtpServer) -> None:
    await queue_mail(db)
    url = f"smtp://{SMTP_LOGIN}:wrong@127.0.0.1:{smtp.port}"
    assert await drain(db, sender_for(smtp, url), Clock()) == DrainReport(failed=1)
    assert smtp.delivered == []


async def test_a_subject_written_with_line_breaks_cannot_add_headers_or_recipients(
    db: Database, smtp: SmtpServer
) -> None:
    # given a subject trying to add a Bcc header and end the headers early
    await queue_mail(db, "ann@example.com", "Hi\r\nBcc: victim@example.com\r\n\r\nInjected")
    # when it is sent
    assert await drain(db, sender_for(smtp), Clock()) == DrainReport(sent=1)
    # then the server saw one recipient, one subject line and no extra header
    (delivered,) = smtp.delivered
    assert delivered.rcpt_tos == ["ann@example.com"]
    assert delivered.message["Subject"] == "Hi Bcc: victim@example.com Injected"
    assert delivered.message["Bcc"] is None
    assert delivered.message.get_content() == "Body line\n"


async def test_without_smtp_url_the_drain_does_nothing_and_says_so_once(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given queued mail and no SMTP_URL
    await queue_mail(db)
    monkeypatch.setattr("domain.email.drain._unconfigured_logged", False)
    job = drain_job(db.sessionmaker, make_settings(tmp_path, db.url, smtp_url=None))

    # when the job runs three times
    with caplog.at_level(logging.WARNING, logger="domain.email.drain"):
        reports = [await job() for _ in range(3)]

    # then nothing was claimed or counted, and it was logged once
    assert reports == [DrainReport()] * 3
    (row,) = await outbox_rows(db)
    assert (row.attempts, row.locked_until, row.sent_at) == (0, None, None)
    assert [r.getMessage() for r in caplog.records if "SMTP_URL" in r.getMessage()] == [
        "SMTP_URL is not set: outgoing mail stays queued in email_outbox"
    ]


async def test_the_job_sends_with_the_configured_url_and_sender(
    db: Database, smtp: SmtpServer, tmp_path: Path
) -> None:
    await queue_mail(db)
    settings = make_settings(
        tmp_path, db.url, smtp_url=smtp.url, email_from="Team ragql <team@example.org>"
    )
    assert await drain_job(db.sessionmaker, settings)() == DrainReport(sent=1)
    (delivered,) = smtp.delivered
    assert delivered.mail_from == "team@example.org"
    assert delivered.message["From"] == "Team ragql <team@example.org>"


def test_a_lease_no_longer_than_the_send_timeout_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, email_lease_seconds=30, smtp_timeout_seconds=30)
    with pytest.raises(ValueError, match="EMAIL_LEASE_SECONDS"):
        drain_job(None, settings)  # type: ignore[arg-type]
