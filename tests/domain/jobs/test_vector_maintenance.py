"""Vector maintenance against a real LanceDB (in a temp dir) and real SQLite/PostgreSQL:
the chunks of deleted documents and of deleted workspaces go, the rest stays
searchable, and running it twice is harmless."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete

from domain.documents.maintenance import maintain_vectors, remove_orphan_vectors
from domain.documents.models import WorkspaceDocument
from domain.events.memory import InProcessEventBus
from domain.files.local import LocalFileStore
from domain.jobs.catalog import VECTOR_MAINTENANCE, build_jobs
from domain.jobs.models import JobOutcome
from domain.jobs.scheduler import JobScheduler
from domain.streams.memory import InProcessMessageStreams
from domain.vectors.factory import build_vector_store
from domain.vectors.port import ChunkRecord, VectorStore
from domain.workspaces.models import Workspace
from tests.conftest import make_settings
from tests.domain.jobs.conftest import Database, add_document

DIMENSION = 8


@pytest.fixture
async def db(database: Database) -> Database:
    async with database.sessionmaker.begin() as session:
        await session.execute(delete(WorkspaceDocument))
    return database


@pytest.fixture
async def vectors(tmp_path: Path) -> AsyncIterator[VectorStore]:
    store = build_vector_store(make_settings(tmp_path), DIMENSION, f"test:{uuid.uuid4().hex[:8]}")
    try:
        yield store
    finally:
        await store.close()


def chunks(
    workspace: uuid.UUID, document: uuid.UUID, text: str, count: int = 3
) -> list[ChunkRecord]:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[0] = 1.0
    return [
        ChunkRecord(
            chunk_id=f"{document}:{i}",
            workspace_id=workspace,
            document_id=document,
            ordinal=i,
            page=None,
            heading="",
            text=f"{text} part {i}",
            vector=vector,
        )
        for i in range(count)
    ]


async def test_vectors_of_deleted_documents_and_workspaces_are_removed(
    db: Database, vectors: VectorStore
) -> None:
    # given a live document, a deleted document in a live workspace, and the documents
    # of a workspace that was deleted (its rows went with it, its vectors did not)
    kept = await add_document(db, "kept.txt")
    deleted_document = uuid.uuid4()
    async with db.sessionmaker.begin() as session:
        doomed_workspace = Workspace(name="Doomed")
        session.add(doomed_workspace)
    doomed_document = await add_document(db, "doomed.txt", workspace_id=doomed_workspace.id)
    await vectors.add(chunks(db.workspace_id, kept.id, "refund policy"))
    await vectors.add(chunks(db.workspace_id, deleted_document, "shipping times"))
    await vectors.add(chunks(doomed_workspace.id, doomed_document.id, "warranty terms"))
    async with db.sessionmaker.begin() as session:
        await session.execute(delete(Workspace).where(Workspace.id == doomed_workspace.id))

    # when maintenance runs
    report = await maintain_vectors(db.sessionmaker, vectors)

    # then only the live document's chunks remain, still searchable after compaction
    assert report.orphan_documents == 2 and report.optimized
    assert await vectors.document_ids() == {kept.id}
    assert await vectors.workspace_ids() == {db.workspace_id}
    assert await vectors.count(db.workspace_id, kept.id) == 3
    hits = await vectors.text_search(db.workspace_id, "refund", limit=10)
    assert {hit.document_id for hit in hits} == {kept.id}
    assert await vectors.text_search(doomed_workspace.id, "warranty", limit=10) == []

    # when it runs again, nothing more goes
    assert await remove_orphan_vectors(db.sessionmaker, vectors) == 0
    assert await vectors.count(db.workspace_id, kept.id) == 3


async def test_a_store_with_nothing_to_do_is_left_alone(db: Database, vectors: VectorStore) -> None:
    kept = await add_document(db, "kept.txt")
    await vectors.add(chunks(db.workspace_id, kept.id, "refund policy"))
    assert await remove_orphan_vectors(db.sessionmaker, vectors) == 0
    assert await vectors.count(db.workspace_id) == 3


async def test_the_maintenance_job_runs_through_the_scheduler(
    db: Database, vectors: VectorStore, tmp_path: Path
) -> None:
    # given an orphan in the store
    await vectors.add(chunks(db.workspace_id, uuid.uuid4(), "orphan"))
    settings = make_settings(tmp_path, db.url)
    jobs = build_jobs(
        sessionmaker=db.sessionmaker,
        vectors=vectors,
        files=LocalFileStore(tmp_path / "files"),
        bus=InProcessEventBus(),
        streams=InProcessMessageStreams(),
        settings=settings,
    )

    # when its tick runs
    result = await JobScheduler(db.sessionmaker, jobs).run_due_now(VECTOR_MAINTENANCE)

    # then it was removed and the run recorded as ok
    assert result.outcome is JobOutcome.OK
    assert await vectors.count(db.workspace_id) == 0
