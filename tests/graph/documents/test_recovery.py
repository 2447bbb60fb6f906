"""Restart recovery: `ragql serve` killed with SIGKILL in the middle of a document, then
started again on the same DATA_DIR, finishes it with exactly one vector per chunk."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.db.engine import create_engine, create_sessionmaker
from domain.documents import queue
from domain.documents.models import DocumentStatus
from domain.embeddings.factory import build_embedder
from domain.settings import Settings
from domain.vectors.factory import build_vector_store
from domain.vectors.port import VectorStore
from tests.support.client import GraphQLClient, SignedIn, upload
from tests.support.postgres import create_database, drop_database
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = "query D($id: ID!) { document(id: $id) { id status error chunkCount } }"
# Hang guards for a broken server, never assertions about speed.
START_PATIENCE = 60.0
INGEST_PATIENCE = 120.0
POLL = 0.02
LEASE_SECONDS = "2"
WORDS = [
    "invoice",
    "shipment",
    "warehouse",
    "refund",
    "customer",
    "carrier",
    "parcel",
    "pallet",
    "order",
    "delivery",
    "return",
    "policy",
    "window",
    "receipt",
    "payment",
    "card",
    "bank",
    "transfer",
    "ledger",
    "audit",
    "quarter",
    "forecast",
    "budget",
    "supplier",
    "contract",
    "clause",
    "notice",
    "period",
    "renewal",
    "insurance",
    "claim",
    "damage",
    "inspection",
    "report",
    "manager",
    "approval",
    "signature",
    "archive",
    "record",
    "compliance",
]


def large_text(size: int) -> bytes:
    """Deterministic prose of `size` bytes, in paragraphs, so it chunks like a real file."""
    rng = random.Random(20261124)  # noqa: S311 - test data, not secrecy
    paragraphs: list[str] = []
    total = 0
    while total < size:
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
            for _ in range(rng.randint(3, 7))
        ]
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs).encode()[:size]


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """None: the SQLite file under DATA_DIR (the embedded default)."""
    if request.param == "sqlite":
        yield None
        return
    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)


def environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "JWT_", "ENV"))}
    env.update(
        DATA_DIR=str(data_dir),
        ARGON2_MEMORY_KIB="1024",
        ARGON2_TIME_COST="1",
        INGESTION_LEASE_SECONDS=LEASE_SECONDS,
        INGESTION_POLL_SECONDS="0.2",
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m graph.cli serve` on a free port; stopped with SIGTERM if still running."""
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "graph.cli", "serve", "--port", str(port)],
            env=env,
            cwd=str(ROOT),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def server_output(log: Path) -> str:
    return log.read_text(errors="replace")


async def until_ready(process: subprocess.Popen[bytes], address: str, log: Path) -> None:
    async with asyncio.timeout(START_PATIENCE), httpx.AsyncClient() as http:
        while True:
            assert process.poll() is None, server_output(log)
            try:
                if (await http.get(f"http://{address}/readyz", timeout=1)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def status_of(client: GraphQLClient, user: SignedIn, document_id: str) -> dict[str, Any]:
    data = await client.data(DOCUMENT, {"id": document_id}, user.access_token)
    return dict(data["document"])


def store_for(settings: Settings) -> VectorStore:
    """The LanceDB store the server writes, opened here as the server opens it."""
    embedder = build_embedder(settings)  # for its name and dimension; no model is loaded
    return build_vector_store(settings, embedder.dimension, embedder.name)


async def test_a_server_killed_mid_document_finishes_it_after_restart(
    tmp_path: Path, database_url: str | None
) -> None:
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    env = environment(data_dir, database_url)
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=database_url)
    body = large_text(2 * 1024 * 1024)

    # given a server ingesting a 2 MB document, part of whose vectors are written
    with serving(env, log) as (process, address):
        await until_ready(process, address, log)
        client = GraphQLClient(address)
        try:
            owner = await client.register("owner")
            ws = await client.create_workspace(owner)
            # (reading the store from here is safe: LanceDB readers never block its writer)
            watcher = store_for(settings)
            response = (await upload(client, owner.access_token, ws, "ledger.txt", body)).json()
            assert "errors" not in response, response
            document_id = response["data"]["uploadDocument"]["id"]
            workspace, document = uuid.UUID(ws), uuid.UUID(document_id)
            async with asyncio.timeout(INGEST_PATIENCE):
                while (state := await status_of(client, owner, document_id))["status"] != (
                    "PROCESSING"
                ):
                    assert state["status"] == "PENDING", state
                    await asyncio.sleep(POLL)
                while True:  # until part of its vectors are written
                    if await watcher.count(workspace, document) > 0:
                        break
                    await asyncio.sleep(POLL)
            # (had it finished meanwhile, the check after the kill would say so)
            await watcher.close()

            # when it is killed without a chance to clean up
            process.kill()
            process.wait()
        finally:
            await client.close()

    # then it was killed mid-document: still PROCESSING under the dead worker's lease
    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            killed = await queue.current(session, document)
        assert killed is not None
        assert (killed.status, killed.attempts) == (DocumentStatus.PROCESSING, 1)
    finally:
        await engine.dispose()
    partial = store_for(settings)
    written_before_kill = await partial.count(workspace, document)
    await partial.close()
    assert written_before_kill > 0

    # when the server starts again on the same DATA_DIR
    with serving(env, log) as (process, address):
        await until_ready(process, address, log)
        client = GraphQLClient(address)
        try:
            # then, once the dead lease expires, the document is taken up again and READY
            async with asyncio.timeout(INGEST_PATIENCE):
                while True:
                    final = await status_of(client, owner, document_id)
                    if final["status"] in {"READY", "FAILED"}:
                        break
                    await asyncio.sleep(POLL * 5)
        finally:
            await client.close()
        process.terminate()
        # uvicorn stops gracefully, then re-raises the signal it caught
        assert process.wait(timeout=30) in {0, -signal.SIGTERM}, server_output(log)
    assert (final["status"], final["error"]) == ("READY", None)
    assert final["chunkCount"] >= written_before_kill

    # and, the server stopped, the store holds exactly one vector per chunk: no duplicates
    store = store_for(settings)
    try:
        assert await store.count(workspace, document) == final["chunkCount"]
        assert await store.document_ids(workspace) == {document}
    finally:
        await store.close()
