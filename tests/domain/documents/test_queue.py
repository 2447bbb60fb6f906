"""The documents table as the ingestion queue, on real SQLite and PostgreSQL: claim order,
leases, retry delays, fencing by claim token, and concurrent claimers."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.documents import queue
from domain.documents.models import DocumentStatus, WorkspaceDocument
from domain.embeddings.wordllama import WordLlamaEmbedder
from domain.users.models import User
from domain.workspaces.models import Workspace
from tests.support.databases import migrated_database

LEASE = timedelta(seconds=60)
EXPIRED = timedelta(seconds=-1)  # a lease that has already run out when it is granted
EMBEDDER = WordLlamaEmbedder()  # only its name and dimension are recorded; nothing is loaded
# A guard against a claimer blocked on a lock, never an assertion about speed.
PATIENCE = 10


@dataclass
class Database:
    dialect: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    workspace_id: uuid.UUID


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    async with migrated_database(request.param, tmp_path_factory, "queue") as db:
        async with db.sessionmaker.begin() as session:
            workspace = Workspace(name="Queue")
            session.add_all([User(email="q@example.com", display_name="Q", password_hash="x")])
            session.add(workspace)
            await session.flush()
            workspace_id = workspace.id
        yield Database(db.dialect, db.engine, db.sessionmaker, workspace_id)


@pytest.fixture
async def db(database: Database) -> Database:
    """The module's database with an empty queue."""
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(WorkspaceDocument))
    return database


async def add(
    db: Database, name: str, status: DocumentStatus = DocumentStatus.PENDING
) -> uuid.UUID:
    async with db.sessionmaker.begin() as session:
        document = WorkspaceDocument(
            workspace_id=db.workspace_id,
            filename=name,
            content_type="text/plain",
            size_bytes=10,
            sha256=hashlib.sha256(name.encode()).hexdigest(),
            storage_key=uuid.uuid4().hex,
            status=status,
        )
        session.add(document)
    return document.id


async def claim(db: Database, lease: timedelta = LEASE) -> queue.Claim | None:
    async with db.sessionmaker.begin() as session:
        return await queue.claim_next(session, lease=lease)


async def row(db: Database, document_id: uuid.UUID) -> WorkspaceDocument:
    async with db.sessionmaker() as session:
        found = await queue.current(session, document_id)
    assert found is not None
    return found


async def test_claims_take_the_oldest_pending_document_first(db: Database) -> None:
    # given documents that are done or failed, then three pending ones, oldest first
    await add(db, "ready.txt", DocumentStatus.READY)
    await add(db, "failed.txt", DocumentStatus.FAILED)
    oldest, middle, newest = [await add(db, f"{n}.txt") for n in ("a", "b", "c")]

    # when the queue is claimed from until it is empty
    claims = [await claim(db) for _ in range(4)]

    # then the pending ones come out oldest first, then nothing; finished ones never
    assert [c.document_id if c else None for c in claims] == [oldest, middle, newest, None]
    first = claims[0]
    assert first is not None
    assert (first.workspace_id, first.filename, first.attempts) == (db.workspace_id, "a.txt", 1)
    claimed = await row(db, oldest)
    assert claimed.status is DocumentStatus.PROCESSING
    assert claimed.claim_token == first.token
    assert claimed.lease_expires_at is not None


async def test_a_live_lease_is_not_reclaimed_and_an_expired_one_is(db: Database) -> None:
    # given a document held under a live lease
    live = await add(db, "live.txt")
    held = await claim(db)
    assert held is not None and held.document_id == live
    # then nobody else can take it
    assert await claim(db) is None

    # given a document whose holder's lease ran out (the holder crashed)
    crashed = await add(db, "crashed.txt")
    lost = await claim(db, lease=EXPIRED)
    assert lost is not None and lost.document_id == crashed

    # when the queue is claimed from again
    again = await claim(db)

    # then the expired one is taken over, with a new token and one more attempt
    assert again is not None and again.document_id == crashed
    assert again.token != lost.token
    assert again.attempts == lost.attempts + 1 == 2
    assert (await row(db, crashed)).claim_token == again.token
    # and the live one is still its holder's
    assert (await row(db, live)).claim_token == held.token


async def test_retry_later_is_not_claimable_before_its_delay(db: Database) -> None:
    # given a claimed document handed back for a minute (the embedder was down)
    waiting = await add(db, "waiting.txt")
    first = await claim(db)
    assert first is not None
    async with db.sessionmaker.begin() as session:
        assert await queue.retry_later(session, first, delay=timedelta(seconds=60))

    # then it is PENDING again, without a holder, and nobody may claim it yet
    document = await row(db, waiting)
    assert (document.status, document.claim_token) == (DocumentStatus.PENDING, None)
    assert await claim(db) is None

    # and once handed back with no delay, the next claim takes it, counting the attempt
    second_holder = await add(db, "other.txt")
    other = await claim(db)
    assert other is not None and other.document_id == second_holder
    async with db.sessionmaker.begin() as session:
        assert await queue.retry_later(session, other, delay=timedelta(0))
    retried = await claim(db)
    assert retried is not None and retried.document_id == second_holder
    assert retried.attempts == 2
    assert await claim(db) is None  # the minute-long delay still holds


async def test_a_stale_claim_can_change_nothing(db: Database) -> None:
    # given a document whose first holder lost it to a second one
    document_id = await add(db, "contested.txt")
    stale = await claim(db, lease=EXPIRED)
    current = await claim(db)
    assert stale is not None and current is not None
    assert stale.document_id == current.document_id == document_id
    before = await row(db, document_id)

    # when the first holder tries to finish, fail, hand back or renew it
    async with db.sessionmaker.begin() as session:
        results = [
            await queue.complete(session, stale, chunk_count=7, embedder=EMBEDDER),
            await queue.fail(session, stale, error="too late"),
            await queue.retry_later(session, stale, delay=timedelta(0)),
            await queue.renew(session, stale, lease=LEASE),
        ]

    # then every write is refused and the row is exactly as the current holder left it
    assert results == [False, False, False, False]
    after = await row(db, document_id)
    fields = ("status", "chunk_count", "error", "claim_token", "lease_expires_at", "attempts")
    assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]
    assert after.status is DocumentStatus.PROCESSING and after.claim_token == current.token

    # and the current holder still can
    async with db.sessionmaker.begin() as session:
        assert await queue.complete(session, current, chunk_count=3, embedder=EMBEDDER)
    done = await row(db, document_id)
    assert (done.status, done.chunk_count, done.claim_token) == (DocumentStatus.READY, 3, None)


async def test_failing_records_the_reason_and_ends_the_claim(db: Database) -> None:
    document_id = await add(db, "broken.txt")
    held = await claim(db)
    assert held is not None

    async with db.sessionmaker.begin() as session:
        assert await queue.fail(session, held, error="The PDF is encrypted.")

    failed = await row(db, document_id)
    assert (failed.status, failed.error, failed.claim_token, failed.lease_expires_at) == (
        DocumentStatus.FAILED,
        "The PDF is encrypted.",
        None,
        None,
    )
    assert await claim(db) is None


async def test_many_concurrent_claimers_never_share_a_document(db: Database) -> None:
    # given twenty pending documents and eight workers claiming at once
    documents = {await add(db, f"doc-{n}.txt") for n in range(20)}
    claimed: list[uuid.UUID] = []

    async def worker() -> None:
        while (taken := await claim(db)) is not None:
            claimed.append(taken.document_id)
            await asyncio.sleep(0)

    # when they drain the queue
    async with asyncio.timeout(PATIENCE * 3):
        await asyncio.gather(*(worker() for _ in range(8)))

    # then each document was claimed exactly once
    assert sorted(claimed) == sorted(documents)


# SQLite has a single writer, so only PostgreSQL has row locks to skip.
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_open_claims_on_postgresql_skip_each_others_locked_rows(db: Database) -> None:
    # given two pending documents
    first, second = await add(db, "one.txt"), await add(db, "two.txt")

    # when one session has claimed but not yet committed, and a second session claims
    async with db.sessionmaker() as one, db.sessionmaker() as two, one.begin():
        a = await queue.claim_next(one, lease=LEASE)
        async with two.begin():
            # (without SKIP LOCKED this would wait on the first session's row lock)
            b = await asyncio.wait_for(queue.claim_next(two, lease=LEASE), PATIENCE)

    # then they took different documents, the oldest going to the first
    assert a is not None and b is not None
    assert (a.document_id, b.document_id) == (first, second)
    assert (await row(db, first)).claim_token == a.token
    assert (await row(db, second)).claim_token == b.token
