"""An OpenAI-compatible embedding endpoint that fails: transient failures send the
document back to PENDING and it is retried with backoff; a refusal fails it at once.

The endpoint is a real HTTP server on loopback; each server here makes one request per
try (EMBEDDING_MAX_ATTEMPTS=1) and backs off briefly (INGESTION_RETRY_BASE_SECONDS).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from domain.documents.models import DocumentStatus
from tests.graph.documents.helpers import (
    PATIENCE_SECONDS,
    POLL_SECONDS,
    EmbeddingsEndpoint,
    Server,
    dedicated_server,
    document_row,
    embeddings_endpoint,
    settled,
    uploaded,
)
from tests.support.client import GraphQLClient, SignedIn

POLICY = (
    b"# Refunds\n\nRefunds are processed within 14 days of the return arriving at the "
    b"warehouse.\n\n# Shipping\n\nParcels leave the depot every weekday at noon.\n"
)
UNAVAILABLE = "The embedding service answered 503: Error code: 503 - the model is loading"
REJECTED = "The embedding service answered 400: Error code: 400 - input is too long"


@dataclass
class Setup:
    endpoint: EmbeddingsEndpoint
    server: Server
    graphql: GraphQLClient
    owner: SignedIn
    workspace_id: str


@asynccontextmanager
async def setup(tmp_path: Path, **overrides: object) -> AsyncIterator[Setup]:
    """A server embedding through a loopback endpoint, and an owner with a workspace."""
    async with (
        embeddings_endpoint() as endpoint,
        dedicated_server(tmp_path, **endpoint.settings(**overrides)) as server,
    ):
        graphql = GraphQLClient(server.address)
        try:
            owner = await graphql.register("owner")
            workspace_id = await graphql.create_workspace(owner)
            yield Setup(endpoint, server, graphql, owner, workspace_id)
        finally:
            await graphql.close()


async def test_while_the_endpoint_is_down_the_document_waits_then_ends_ready(
    tmp_path: Path,
) -> None:
    async with setup(tmp_path, ingestion_retry_base_seconds=0.2, ingestion_max_attempts=20) as s:
        # given an embedding endpoint answering 503
        s.endpoint.mode = "unavailable"

        # when a file is uploaded
        document_id = await uploaded(s.graphql, s.owner, s.workspace_id, "policy.md", POLICY)

        # then it goes back to PENDING after each failed try, never FAILED, attempts growing
        seen: list[tuple[DocumentStatus, int]] = []
        async with asyncio.timeout(PATIENCE_SECONDS):
            while True:
                row = await document_row(s.server.container, document_id)
                seen.append((row.status, row.attempts))
                assert row.status is not DocumentStatus.FAILED, row.error
                if row.status is DocumentStatus.PENDING and row.attempts >= 2:
                    break
                await asyncio.sleep(POLL_SECONDS / 5)
        assert (DocumentStatus.PENDING, 1) in seen
        assert row.error is None and row.chunk_count == 0
        assert s.endpoint.requests == ["unavailable", "unavailable"]

        # and when the endpoint recovers, the next try makes it READY
        s.endpoint.mode = "ok"
        final = await settled(s.graphql, s.owner, document_id)
        assert (final["status"], final["error"]) == ("READY", None)
        row = await document_row(s.server.container, document_id)
        assert row.attempts == 3
        assert s.endpoint.requests[:3] == ["unavailable", "unavailable", "ok"]
        vectors = s.server.container.vectors
        count = await vectors.count(uuid.UUID(s.workspace_id), uuid.UUID(document_id))
        assert count == final["chunkCount"] >= 1


async def test_an_endpoint_down_for_every_try_fails_the_document_with_the_reason(
    tmp_path: Path,
) -> None:
    async with setup(tmp_path, ingestion_retry_base_seconds=0.05, ingestion_max_attempts=2) as s:
        # given an endpoint that stays down
        s.endpoint.mode = "unavailable"

        # when a file is uploaded
        document_id = await uploaded(s.graphql, s.owner, s.workspace_id, "policy.md", POLICY)
        final = await settled(s.graphql, s.owner, document_id)

        # then after INGESTION_MAX_ATTEMPTS tries it fails, saying why
        assert final["status"] == "FAILED"
        assert final["error"] == f"The embedding service failed 2 times: {UNAVAILABLE}"
        assert s.endpoint.requests == ["unavailable", "unavailable"]


async def test_a_refused_request_fails_the_document_at_once_with_the_reason(
    tmp_path: Path,
) -> None:
    async with setup(tmp_path, ingestion_retry_base_seconds=0.05, ingestion_max_attempts=5) as s:
        # given an endpoint that refuses the request (HTTP 400: sending it again cannot help)
        s.endpoint.mode = "rejected"

        # when a file is uploaded
        document_id = await uploaded(s.graphql, s.owner, s.workspace_id, "policy.md", POLICY)
        final = await settled(s.graphql, s.owner, document_id)

        # then it fails after one request, with the service's reason, not a masked one
        assert (final["status"], final["error"], final["chunkCount"]) == ("FAILED", REJECTED, 0)
        assert s.endpoint.requests == ["rejected"]
        assert (await document_row(s.server.container, document_id)).attempts == 1
