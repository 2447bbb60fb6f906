"""Retention on real SQLite and PostgreSQL and real files: refresh tokens expired or
revoked long enough ago, files no document refers to (past a grace period, so an
upload in progress keeps its file), and old job runs; running it twice is harmless."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from domain.auth.models import RefreshToken
from domain.auth.retention import delete_old_refresh_tokens
from domain.documents.maintenance import remove_orphan_files
from domain.documents.models import WorkspaceDocument
from domain.events.memory import InProcessEventBus
from domain.files.local import LocalFileStore
from domain.jobs.catalog import RETENTION, build_jobs
from domain.jobs.models import JobOutcome, JobRun
from domain.jobs.runs import claim_run
from domain.jobs.scheduler import JobScheduler
from domain.streams.memory import InProcessMessageStreams
from domain.vectors.factory import build_vector_store
from tests.conftest import make_settings
from tests.domain.jobs.conftest import Database, add_document

WEEK = timedelta(days=7)
GRACE = timedelta(hours=1)


@pytest.fixture
async def db(database: Database) -> Database:
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(RefreshToken))
        await session.execute(delete(WorkspaceDocument))
        await session.execute(delete(JobRun))
    return database


async def add_token(
    db: Database,
    *,
    expires_at: datetime,
    revoked_at: datetime | None = None,
    rotated_at: datetime | None = None,
) -> uuid.UUID:
    async with db.sessionmaker.begin() as session:
        token = RefreshToken(
            user_id=db.user_id,
            family_id=uuid.uuid4(),
            token_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            expires_at=expires_at,
            revoked_at=revoked_at,
            rotated_at=rotated_at,
        )
        session.add(token)
    return token.id


async def token_ids(db: Database) -> set[uuid.UUID]:
    async with db.sessionmaker() as session:
        return set(await session.scalars(select(RefreshToken.id)))


async def store_file(files: LocalFileStore, content: bytes, *, age: timedelta) -> str:
    async def body() -> AsyncIterator[bytes]:
        yield content

    stored = await files.save(body(), max_bytes=1 << 20)
    moment = time.time() - age.total_seconds()
    os.utime(files.local_path(stored.key), (moment, moment))
    return stored.key


async def test_refresh_tokens_go_a_week_after_they_expire_or_are_revoked(db: Database) -> None:
    # given tokens in every state
    now = datetime.now(UTC)
    long_ago, lately = now - timedelta(days=8), now - timedelta(days=1)
    later = now + timedelta(days=20)
    expired_long_ago = await add_token(db, expires_at=long_ago)
    expired_lately = await add_token(db, expires_at=lately)
    revoked_long_ago = await add_token(db, expires_at=later, revoked_at=long_ago)
    revoked_lately = await add_token(db, expires_at=later, revoked_at=lately)
    active = await add_token(db, expires_at=later)
    # rotated long ago but unexpired: kept, presenting it again reveals a stolen copy
    rotated = await add_token(db, expires_at=later, rotated_at=long_ago)

    # when retention runs
    removed = await delete_old_refresh_tokens(db.sessionmaker, keep_for=WEEK)

    # then only those past the week went
    assert removed == 2
    assert await token_ids(db) == {expired_lately, revoked_lately, active, rotated}
    assert {expired_long_ago, revoked_long_ago}.isdisjoint(await token_ids(db))
    # and running it again removes nothing
    assert await delete_old_refresh_tokens(db.sessionmaker, keep_for=WEEK) == 0


async def test_files_of_deleted_documents_go_and_uploads_in_progress_stay(
    db: Database, tmp_path: Path
) -> None:
    # given an old file with its document, an old file whose document was deleted,
    # and a fresh file whose upload has not committed its row yet
    files = LocalFileStore(tmp_path / "files")
    referenced = await store_file(files, b"kept", age=timedelta(days=3))
    await add_document(db, "kept.txt", storage_key=referenced)
    orphaned = await store_file(files, b"orphan", age=timedelta(days=3))
    uploading = await store_file(files, b"uploading", age=timedelta(seconds=5))

    # when retention runs
    removed = await remove_orphan_files(db.sessionmaker, files, grace=GRACE)

    # then only the deleted document's file went
    assert removed == 1
    assert await files.keys() == {referenced, uploading}
    assert not files.local_path(orphaned).exists()
    # and running it again removes nothing
    assert await remove_orphan_files(db.sessionmaker, files, grace=GRACE) == 0
    # and an empty store is fine
    assert (
        await remove_orphan_files(db.sessionmaker, LocalFileStore(tmp_path / "empty"), grace=GRACE)
        == 0
    )


async def test_the_retention_job_does_all_three_and_is_recorded(
    db: Database, tmp_path: Path
) -> None:
    # given an old token, an orphaned file and a run recorded long ago
    now = datetime.now(UTC)
    await add_token(db, expires_at=now - timedelta(days=30))
    settings = make_settings(tmp_path, db.url)
    files = LocalFileStore(tmp_path / "files")
    await store_file(files, b"orphan", age=timedelta(days=1))
    async with db.sessionmaker.begin() as session:
        assert await claim_run(session, "recovery", now - timedelta(days=30), "gone:1")
    vectors = build_vector_store(settings, 8, "test:retention")
    jobs = build_jobs(
        sessionmaker=db.sessionmaker,
        vectors=vectors,
        files=files,
        bus=InProcessEventBus(),
        streams=InProcessMessageStreams(),
        settings=settings,
    )
    scheduler = JobScheduler(db.sessionmaker, jobs)

    # when its tick runs
    result = await scheduler.run_due_now(RETENTION)

    # then each step did its part, and only this run is left on record
    assert result.outcome is JobOutcome.OK
    assert result.value == {"refresh_tokens": 1, "orphan_files": 1, "sent_mail": 0, "job_runs": 1}
    assert await files.keys() == set()
    async with db.sessionmaker() as session:
        assert list(await session.scalars(select(JobRun.job))) == [RETENTION]
    await vectors.close()


async def test_a_failing_step_fails_the_run_but_the_others_still_run(
    db: Database, tmp_path: Path
) -> None:
    # given an old token, and a file store that cannot list its files
    await add_token(db, expires_at=datetime.now(UTC) - timedelta(days=30))

    class BrokenFiles(LocalFileStore):
        async def keys(self) -> set[str]:
            raise OSError("the volume is gone")

    settings = make_settings(tmp_path, db.url)
    vectors = build_vector_store(settings, 8, "test:retention-broken")
    jobs = build_jobs(
        sessionmaker=db.sessionmaker,
        vectors=vectors,
        files=BrokenFiles(tmp_path / "files"),
        bus=InProcessEventBus(),
        streams=InProcessMessageStreams(),
        settings=settings,
    )

    # when the retention tick runs
    result = await JobScheduler(db.sessionmaker, jobs).run_due_now(RETENTION)

    # then the run failed naming the step, and the other steps did their work
    assert result.outcome is JobOutcome.FAILED
    assert result.error == "JobStepsFailed: orphan_files: OSError: the volume is gone"
    assert await token_ids(db) == set()
    async with db.sessionmaker() as session:
        [run] = list(await session.scalars(select(JobRun)))
    assert (run.outcome, run.error) == (JobOutcome.FAILED, result.error)
    await vectors.close()
