"""Rendering, header safety, SMTP_URL parsing and the retry schedule: no server needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from domain.email.drain import backoff
from domain.email.messages import MAX_SUBJECT, document_failed, member_added, one_line
from domain.email.outbox import OutgoingMail
from domain.email.smtp import SmtpConfig, SmtpSender, parse_smtp_url

INJECTION = "report.pdf\r\nBcc: victim@example.com\r\n\r\nfake body"


def test_one_line_removes_every_kind_of_line_break_and_control_character() -> None:
    value = "a\r\nb\nc\rd\x85e\u2028f\u2029g\th\x00i\x1b[31mj   k"
    assert one_line(value) == "a b c d e f g h i [31mj k"


def test_one_line_cuts_long_values_with_an_ellipsis() -> None:
    assert one_line("x" * 50, 10) == "x" * 9 + "…"
    assert one_line("short", 10) == "short"


def test_the_document_failure_mail_names_the_file_the_workspace_and_the_reason() -> None:
    mail = document_failed(
        filename="report.pdf", workspace_name="Research", reason="The PDF is encrypted."
    )
    assert mail.subject == "Your document report.pdf could not be ingested"
    assert '"report.pdf"' in mail.body
    assert '"Research"' in mail.body
    assert "Reason: The PDF is encrypted." in mail.body


def test_the_invitation_names_the_workspace_the_role_and_who_added_you() -> None:
    mail = member_added(
        workspace_name="Research",
        role="EDITOR",
        added_by_name="Olga Owner",
        added_by_email="olga@example.com",
    )
    assert mail.subject == "You were added to workspace Research as EDITOR"
    assert mail.body.startswith(
        'Olga Owner (olga@example.com) added you to the workspace "Research" as EDITOR.'
    )


def test_user_values_cannot_add_headers_or_break_lines_of_the_mail() -> None:
    # given a file name and a workspace name that try to start new header lines
    failed = document_failed(filename=INJECTION, workspace_name="W\r\nX-Evil: 1", reason="r\nX: y")
    added = member_added(
        workspace_name=INJECTION, role="VIEWER", added_by_name="Eve\r\nBcc: x@y", added_by_email="e"
    )
    for mail in (failed, added):
        # then the subject is one line and no value adds a line to the body
        assert "\r" not in mail.subject and "\n" not in mail.subject
        assert len(mail.subject) <= MAX_SUBJECT
        lines = mail.body.splitlines()
        assert not any(line.startswith(("Bcc:", "X-Evil:", "X:", "fake body")) for line in lines)
    assert "report.pdf Bcc: victim@example.com fake body" in failed.subject


def test_a_very_long_file_name_keeps_the_subject_short_and_whole() -> None:
    mail = document_failed(filename="n" * 255 + ".pdf", workspace_name="W", reason="r")
    assert len(mail.subject) <= MAX_SUBJECT
    assert mail.subject.endswith("… could not be ingested")


def test_composed_messages_carry_the_stable_headers_and_flatten_a_hostile_subject() -> None:
    sender = SmtpSender("smtp://127.0.0.1:2525", "ragql <noreply@example.com>")
    mail = OutgoingMail(
        id=uuid.uuid4(),
        to_address="ann@example.com",
        subject="Hello\r\nBcc: victim@example.com",  # as if written to the table directly
        body_text="Body\n",
        message_id="<abc@ragql>",
        created_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        attempts=1,
    )
    message = sender.compose(mail)
    assert message["Subject"] == "Hello Bcc: victim@example.com"
    assert message["Bcc"] is None
    assert (message["From"], message["To"]) == ("ragql <noreply@example.com>", "ann@example.com")
    assert (message["Message-ID"], message["Auto-Submitted"]) == ("<abc@ragql>", "auto-generated")
    assert message["Date"] == "Tue, 24 Nov 2026 12:00:00 +0000"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpConfig("mail.example.com", None, None, None, False, None)),
        (
            "smtp://mailer:p%40ss%3Aw%2Frd@mail.example.com:587?starttls=true",
            SmtpConfig("mail.example.com", 587, "mailer", "p@ss:w/rd", False, True),
        ),
        (
            "smtp://127.0.0.1:25?starttls=false",
            SmtpConfig("127.0.0.1", 25, None, None, False, False),
        ),
        (
            "smtps://u:p@mail.example.com",
            SmtpConfig("mail.example.com", None, "u", "p", True, False),
        ),
        (
            "SMTPS://mail.example.com:2465",
            SmtpConfig("mail.example.com", 2465, None, None, True, False),
        ),
    ],
)
def test_smtp_urls(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "smtp://mail.example.com?starttls=maybe",
        "smtps://mail.example.com?starttls=true",
    ],
)
def test_bad_smtp_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP_URL"):
        parse_smtp_url(url)


def test_the_smtp_password_stays_out_of_reprs() -> None:
    config = parse_smtp_url("smtp://mailer:hunter2-secret@mail.example.com")
    assert "hunter2-secret" not in repr(config)


def test_an_email_from_without_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="EMAIL_FROM"):
        SmtpSender("smtp://127.0.0.1", "just a name")


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    delays = [backoff(n, base_seconds=60, max_seconds=3600) for n in range(1, 9)]
    assert [int(delay.total_seconds()) for delay in delays] == [
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert backoff(1, base_seconds=0, max_seconds=3600) == timedelta(0)
