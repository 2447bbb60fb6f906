"""Several replicas on PostgreSQL and Redis: work moves freely between them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from domain.vectors.factory import build_vector_store
from tests.conftest import make_settings
from tests.graph.documents.test_upload import REFUNDS, settled, uploaded
from tests.scale.replicas import Cluster, Replica, cluster_environment
from tests.support.chat import ask, new_session, read_stream
from tests.support.client import GraphQLClient
from tests.support.fake_openai import FakeOpenAI, Reply, tokens
from tests.support.postgres import ADMIN_DSN, create_database, drop_database
from tests.support.redis import require_redis

CANCEL = "mutation C($id: ID!) { cancelGeneration(messageId: $id) { status content } }"
VIEWER = "query { viewer { id } }"


@dataclass
class Setup:
    cluster: Cluster
    fake: FakeOpenAI
    a: Replica
    b: Replica
    database_url: str
    data_dir: Path


@pytest.fixture(scope="module")
async def setup(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Setup]:
    await require_redis()
    database_url = await create_database()
    data_dir = tmp_path_factory.mktemp("shared-data")
    try:
        async with FakeOpenAI(default=Reply(tokens=tokens(20), tokens_per_second=200)) as fake:
            environment = cluster_environment(
                data_dir=data_dir,
                database_url=database_url,
                redis_prefix=f"ragql-test-{uuid.uuid4().hex[:8]}",
                model_url=fake.base_url,
            )
            cluster = Cluster(environment, tmp_path_factory.mktemp("logs"))
            try:
                # Started together: migrations must run once, not race.
                a, b = await asyncio.gather(
                    asyncio.to_thread(cluster.start, "a"), asyncio.to_thread(cluster.start, "b")
                )
                yield Setup(cluster, fake, a, b, database_url, data_dir)
            finally:
                await asyncio.to_thread(cluster.stop)
    finally:
        await drop_database(database_url)


async def test_sign_in_on_one_replica_and_work_on_another(setup: Setup) -> None:
    on_a, on_b = GraphQLClient(setup.a.address), GraphQLClient(setup.b.address)
    user = await on_a.register("traveller")
    data = await on_b.data(VIEWER, token=user.access_token)
    assert data == {"viewer": {"id": user.user_id}}
    workspace_id = await on_b.create_workspace(user)
    members = await on_a.data(
        "query W($id: ID!) { workspace(id: $id) { name } }", {"id": workspace_id}, user.access_token
    )
    assert members == {"workspace": {"name": "Research"}}
    await on_a.close()
    await on_b.close()


async def test_an_upload_is_ingested_once_with_no_duplicate_chunks(setup: Setup) -> None:
    on_a, on_b = GraphQLClient(setup.a.address), GraphQLClient(setup.b.address)
    user = await on_a.register("uploader")
    ws = await on_a.create_workspace(user)
    documents = [
        await uploaded(on_a, user, ws, f"doc{i}.md", REFUNDS + f"\n\nCopy {i}.\n".encode())
        for i in range(4)
    ]
    finals = [await settled(on_b, user, document_id) for document_id in documents]
    assert [f["status"] for f in finals] == ["READY"] * 4
    # each document was claimed exactly once (attempts) and its vectors are not doubled
    connection = await asyncpg.connect(setup.database_url.replace("+asyncpg", ""))
    try:
        attempts = await connection.fetch(
            "SELECT attempts FROM workspace_documents WHERE workspace_id = $1", uuid.UUID(ws)
        )
    finally:
        await connection.close()
    assert sorted(row["attempts"] for row in attempts) == [1, 1, 1, 1]
    # and the shared vector store holds exactly chunkCount vectors per document
    store = build_vector_store(
        make_settings(setup.data_dir, setup.database_url), 256, "wordllama:l2_supercat:256"
    )
    try:
        counts = [
            await store.count(uuid.UUID(ws), uuid.UUID(document_id)) for document_id in documents
        ]
    finally:
        await store.close()
    assert counts == [f["chunkCount"] for f in finals]
    await on_a.close()
    await on_b.close()


async def test_an_answer_written_on_a_streams_whole_from_b(setup: Setup) -> None:
    on_a = GraphQLClient(setup.a.address)
    user = await on_a.register("asker")
    ws = await on_a.create_workspace(user)
    session_id = await new_session(on_a, user, ws)
    setup.fake.enqueue(Reply(tokens=tokens(60), tokens_per_second=100))
    sent = await ask(on_a, user, session_id, "tell me everything")
    frames = await read_stream(setup.b.address, user.access_token, sent["assistantMessage"]["id"])
    final = frames[-1]["message"]
    assert final["status"] == "COMPLETE"
    assert "".join(f["delta"] for f in frames) == final["content"] == "".join(tokens(60))
    await on_a.close()


async def test_cancel_on_b_stops_the_model_call_on_a(setup: Setup) -> None:
    on_a, on_b = GraphQLClient(setup.a.address), GraphQLClient(setup.b.address)
    user = await on_a.register("canceller")
    ws = await on_a.create_workspace(user)
    session_id = await new_session(on_a, user, ws)
    setup.fake.reset()
    setup.fake.enqueue(Reply(tokens=tokens(2000), tokens_per_second=50))
    sent = await ask(on_a, user, session_id, "a long story please")
    await setup.fake.wait_requests(1, guard_seconds=30)
    data = await on_b.data(CANCEL, {"id": sent["assistantMessage"]["id"]}, user.access_token)
    await setup.fake.wait_went_away(guard_seconds=30)
    assert data["cancelGeneration"]["status"] == "CANCELLED"
    await on_a.close()
    await on_b.close()


async def test_a_killed_writer_leaves_a_failed_answer_and_its_readers_told(setup: Setup) -> None:
    # given a third replica writing a slow answer, and a reader on B
    doomed = await asyncio.to_thread(setup.cluster.start, "doomed")
    on_doomed = GraphQLClient(doomed.address)
    user = await on_doomed.register("victim")
    ws = await on_doomed.create_workspace(user)
    session_id = await new_session(on_doomed, user, ws)
    setup.fake.reset()
    setup.fake.enqueue(Reply(tokens=tokens(2000), tokens_per_second=20))
    sent = await ask(on_doomed, user, session_id, "slowly")
    message_id = sent["assistantMessage"]["id"]
    await setup.fake.wait_requests(1, guard_seconds=30)
    reader = asyncio.create_task(read_stream(setup.b.address, user.access_token, message_id))
    await asyncio.sleep(0.5)
    # when the writer is killed
    await on_doomed.close()
    doomed.kill()
    # then the recovery job on a surviving replica settles it, and the reader hears
    frames = await asyncio.wait_for(reader, 60)
    final = frames[-1]["message"]
    assert frames[-1]["done"] is True
    assert final["status"] == "FAILED"
    assert final["error"]


async def test_postgres_connections_dropping_cost_a_moment_not_the_process(setup: Setup) -> None:
    on_a = GraphQLClient(setup.a.address)
    user = await on_a.register("resilient")
    # when every server connection to the database is cut (as a PostgreSQL restart does)
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        name = setup.database_url.rsplit("/", 1)[1]
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()
    # then requests work again at once or after a brief error, on both replicas
    for replica in (setup.a, setup.b):
        client = GraphQLClient(replica.address)
        for _ in range(50):
            body = await client.execute(VIEWER, token=user.access_token)
            if "errors" not in body:
                break
            await asyncio.sleep(0.2)
        assert body == {"data": {"viewer": {"id": user.user_id}}}
        assert replica.process.poll() is None
        await client.close()
    await on_a.close()
