"""The recovery job on real SQLite and PostgreSQL: expired ingestion leases go back to
PENDING with an event, abandoned answers become FAILED with their partial text and
their subscribers receive the final event; running it twice changes nothing more."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from domain.chat.models import ChatMessage, MessageRole, MessageStatus
from domain.chat.recovery import WRITER_STOPPED, fail_abandoned_messages
from domain.documents import queue
from domain.documents.maintenance import reclaim_expired_leases
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.events.memory import InProcessEventBus
from domain.events.port import document_topic
from domain.files.local import LocalFileStore
from domain.jobs.catalog import RECOVERY, build_jobs
from domain.jobs.models import JobOutcome
from domain.jobs.scheduler import JobScheduler
from domain.streams.memory import InProcessMessageStreams
from domain.streams.port import StreamBatch
from domain.vectors.factory import build_vector_store
from tests.conftest import make_settings
from tests.domain.jobs.conftest import (
    PATIENCE,
    Database,
    add_chat,
    add_document,
    add_message,
    document,
    message,
)

STALE = timedelta(seconds=30)


@pytest.fixture
async def db(database: Database) -> Database:
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(WorkspaceDocument))
        await session.execute(delete(ChatMessage))
    return database


async def read_all(streams: InProcessMessageStreams, message_id: uuid.UUID) -> list[StreamBatch]:
    return [batch async for batch in streams.read(message_id)]


# --- ingestion leases ----------------------------------------------------------------------


async def test_expired_leases_go_back_to_pending_and_are_announced(db: Database) -> None:
    # given a document whose worker died holding it, one being worked on, and one
    # waiting out a retry delay
    now = datetime.now(UTC)
    bus = InProcessEventBus()
    dead_token = uuid.uuid4()
    abandoned = await add_document(
        db,
        "abandoned.txt",
        status=DocumentStatus.PROCESSING,
        lease_expires_at=now - timedelta(seconds=5),
        claim_token=dead_token,
    )
    busy = await add_document(
        db,
        "busy.txt",
        status=DocumentStatus.PROCESSING,
        lease_expires_at=now + timedelta(minutes=5),
        claim_token=uuid.uuid4(),
    )
    waiting = await add_document(
        db, "waiting.txt", status=DocumentStatus.PENDING, lease_expires_at=now - timedelta(1)
    )
    events: list[dict[str, object]] = []

    async def listen() -> None:
        async for event in bus.subscribe(document_topic(db.workspace_id)):
            events.append(event)

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0)  # the listener subscribes
    assert bus.subscriber_count(document_topic(db.workspace_id)) == 1

    # when recovery runs
    reclaimed = await reclaim_expired_leases(db.sessionmaker, bus)

    # then only the abandoned one is PENDING again, unclaimed, and subscribers heard of it
    assert reclaimed == [abandoned.id]
    found = await document(db, abandoned.id)
    assert found is not None
    assert (found.status, found.lease_expires_at, found.claim_token) == (
        DocumentStatus.PENDING,
        None,
        None,
    )
    busy_now = await document(db, busy.id)
    assert busy_now is not None and busy_now.status is DocumentStatus.PROCESSING
    waiting_now = await document(db, waiting.id)
    assert waiting_now is not None and waiting_now.status is DocumentStatus.PENDING
    await asyncio.sleep(0)
    assert events == [{"document_id": str(abandoned.id)}]
    # and the dead worker, should it wake up, can no longer write
    stale_claim = queue.Claim(abandoned.id, db.workspace_id, dead_token, "k", "text/plain", "a", 1)
    async with db.sessionmaker.begin() as session:
        assert await queue.renew(session, stale_claim, lease=timedelta(minutes=1)) is False
    # and any worker can claim it now
    async with db.sessionmaker.begin() as session:
        claim = await queue.claim_next(session, lease=timedelta(minutes=1))
    assert claim is not None and claim.document_id == abandoned.id

    # when recovery runs again
    assert await reclaim_expired_leases(db.sessionmaker, bus) == []
    listener.cancel()


# --- abandoned answers ---------------------------------------------------------------------


async def test_an_abandoned_answer_fails_with_its_text_and_its_readers_are_told(
    db: Database,
) -> None:
    # given an answer whose writer stopped beating a minute ago, mid-stream, with a
    # reader following its stream
    now = datetime.now(UTC)
    chat = await add_chat(db)
    streams = InProcessMessageStreams()
    dead = await add_message(
        db,
        chat,
        content="The first half of",
        created_at=now - timedelta(minutes=2),
        heartbeat_at=now - timedelta(minutes=1),
    )
    await streams.open(dead)
    await streams.append(dead, "The first half of")
    await streams.append(dead, " an answer")
    reader = asyncio.create_task(read_all(streams, dead))

    # when recovery runs
    settled = await fail_abandoned_messages(db.sessionmaker, streams, stale_after=STALE)

    # then the answer is FAILED, keeping the text saved so far, saying why
    assert settled == [dead]
    found = await message(db, dead)
    assert found.status is MessageStatus.FAILED
    assert found.content == "The first half of"
    assert found.error == WRITER_STOPPED
    # and the reader received every delta, then the final event
    batches = await asyncio.wait_for(reader, PATIENCE)
    assert "".join(batch.text for batch in batches) == "The first half of an answer"
    assert batches[-1].done is True
    # and a reader arriving later is told at once
    late = await asyncio.wait_for(read_all(streams, dead), PATIENCE)
    assert late[-1].done is True

    # when recovery runs again, nothing changes
    assert await fail_abandoned_messages(db.sessionmaker, streams, stale_after=STALE) == []
    assert (await message(db, dead)).updated_at == found.updated_at


async def test_only_open_answers_whose_heartbeat_stopped_are_failed(db: Database) -> None:
    # given answers of every kind
    now = datetime.now(UTC)
    old = now - timedelta(minutes=5)
    chat = await add_chat(db)
    streams = InProcessMessageStreams()
    beating = await add_message(db, chat, created_at=old, heartbeat_at=now)
    never_beat = await add_message(db, chat, status=MessageStatus.PENDING, created_at=old)
    just_sent = await add_message(db, chat, created_at=now)
    finished = {
        status: await add_message(db, chat, status=status, content="done", created_at=old)
        for status in (MessageStatus.COMPLETE, MessageStatus.CANCELLED, MessageStatus.FAILED)
    }
    question = await add_message(
        db, chat, role=MessageRole.USER, status=MessageStatus.COMPLETE, created_at=old
    )

    # when recovery runs
    settled = await fail_abandoned_messages(db.sessionmaker, streams, stale_after=STALE)

    # then only the open answer that never beat, and is old, is settled
    assert settled == [never_beat]
    assert (await message(db, never_beat)).status is MessageStatus.FAILED
    assert (await message(db, beating)).status is MessageStatus.STREAMING
    assert (await message(db, just_sent)).status is MessageStatus.STREAMING
    for status, message_id in finished.items():
        kept = await message(db, message_id)
        assert (kept.status, kept.content) == (status, "done")
        assert kept.error is None
    assert (await message(db, question)).status is MessageStatus.COMPLETE


# --- the job, as scheduled -----------------------------------------------------------------


async def test_the_recovery_job_does_both_and_is_recorded(db: Database, tmp_path: Path) -> None:
    # given one abandoned document and one abandoned answer
    now = datetime.now(UTC)
    abandoned = await add_document(
        db,
        "abandoned.txt",
        status=DocumentStatus.PROCESSING,
        lease_expires_at=now - timedelta(seconds=1),
        claim_token=uuid.uuid4(),
    )
    chat = await add_chat(db)
    answer = await add_message(db, chat, content="partial", created_at=now - timedelta(hours=1))
    settings = make_settings(tmp_path, db.url)
    streams = InProcessMessageStreams()
    vectors = build_vector_store(settings, 8, "test:recovery")
    jobs = build_jobs(
        sessionmaker=db.sessionmaker,
        vectors=vectors,
        files=LocalFileStore(tmp_path / "files"),
        bus=InProcessEventBus(),
        streams=streams,
        settings=settings,
    )
    scheduler = JobScheduler(db.sessionmaker, jobs)

    # when the recovery job's tick runs
    result = await scheduler.run_due_now(RECOVERY)

    # then both were recovered, and the run says so
    assert result.outcome is JobOutcome.OK
    assert result.value == {"leases_reclaimed": 1, "answers_failed": 1}
    found = await document(db, abandoned.id)
    assert found is not None and found.status is DocumentStatus.PENDING
    assert (await message(db, answer)).status is MessageStatus.FAILED
    assert not streams.is_active(answer)
    # and the next tick finds nothing to do
    again = await scheduler.run_due_now(
        RECOVERY, now=datetime.now(UTC) + timedelta(seconds=settings.recovery_interval_seconds)
    )
    assert again.value == {"leases_reclaimed": 0, "answers_failed": 0}
    await vectors.close()


def test_a_stale_limit_too_close_to_the_heartbeat_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, message_heartbeat_seconds=10, message_stale_seconds=15)
    with pytest.raises(ValueError, match="MESSAGE_STALE_SECONDS"):
        build_jobs(
            sessionmaker=None,  # type: ignore[arg-type]
            vectors=None,  # type: ignore[arg-type]
            files=None,  # type: ignore[arg-type]
            bus=None,  # type: ignore[arg-type]
            streams=None,  # type: ignore[arg-type]
            settings=settings,
        )
