"""Shared by the document tests: waiting for ingestion, dedicated servers, and a real
OpenAI-compatible embeddings endpoint on loopback that a test can hold, break or fix."""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from domain.container import Container
from domain.db.migrate import migrate
from domain.documents import queue
from domain.documents.models import WorkspaceDocument
from graph.app import create_app
from tests.conftest import make_settings
from tests.support.client import GraphQLClient, SignedIn, upload
from tests.support.server import running_server

# Hang guards for a broken server, never assertions about speed.
PATIENCE_SECONDS = 60.0
POLL_SECONDS = 0.05

DOCUMENT = "query D($id: ID!) { document(id: $id) { id status error chunkCount } }"
FINAL = frozenset({"READY", "FAILED"})


async def settled(client: GraphQLClient, user: SignedIn, document_id: str) -> dict[str, Any]:
    """The document once ingestion has ended (READY or FAILED)."""
    return await reaches(client, user, document_id, FINAL)


async def reaches(
    client: GraphQLClient, user: SignedIn, document_id: str, statuses: frozenset[str]
) -> dict[str, Any]:
    async with asyncio.timeout(PATIENCE_SECONDS):
        while True:
            data = await client.data(DOCUMENT, {"id": document_id}, user.access_token)
            if data["document"]["status"] in statuses:
                return dict(data["document"])
            await asyncio.sleep(POLL_SECONDS)


async def uploaded(
    client: GraphQLClient, user: SignedIn, workspace_id: str, name: str, body: bytes
) -> str:
    """Uploads a file that must be accepted; returns the document id."""
    payload = (await upload(client, user.access_token, workspace_id, name, body)).json()
    assert "errors" not in payload, payload
    return str(payload["data"]["uploadDocument"]["id"])


async def document_row(container: Container, document_id: str) -> WorkspaceDocument:
    async with container.sessionmaker() as session:
        row = await queue.current(session, uuid.UUID(document_id))
    assert row is not None
    return row


def stored_paths(root: Path) -> set[Path]:
    """Every file under the file store, partial uploads (.part) included."""
    return {path for path in root.rglob("*") if path.is_file()}


@dataclass
class Server:
    container: Container
    address: str
    data_dir: Path


@asynccontextmanager
async def dedicated_server(data_dir: Path, **overrides: object) -> AsyncIterator[Server]:
    """A SQLite-backed server of its own, for settings the shared backend does not have."""
    url = f"sqlite+aiosqlite:///{data_dir / 'ragql.sqlite3'}"
    await migrate(url)
    container = Container.build(make_settings(data_dir, url, **overrides))
    try:
        async with running_server(create_app(container=container)) as address:
            yield Server(container, address, data_dir)
    finally:
        await container.close()


# --- an OpenAI-compatible embeddings endpoint --------------------------------------------------

DIMENSION = 64
WORD = re.compile(r"\w+")


def word_vector(text: str, dimension: int = DIMENSION) -> list[float]:
    """A deterministic unit vector: each word adds one to a bucket chosen by its hash."""
    vector = np.zeros(dimension, dtype=np.float64)
    for word in WORD.findall(text.lower()):
        vector[int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % dimension] += 1
    if not vector.any():
        vector[0] = 1.0
    return [float(value) for value in vector / np.linalg.norm(vector)]


@dataclass
class EmbeddingsEndpoint:
    """What the endpoint answers is switched by the test: "ok", "unavailable" (503) or
    "rejected" (400). While `gate` is clear, requests wait before answering."""

    address: str = ""
    mode: str = "ok"
    requests: list[str] = field(default_factory=list)  # the mode each request met
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"http://{self.address}/v1"

    def settings(self, **overrides: object) -> dict[str, object]:
        """Server settings that embed through this endpoint, one request per try."""
        return {
            "embedder": "openai",
            "openai_base_url": self.base_url,
            "embedding_model": "hashed-words",
            "embedding_dimension": DIMENSION,
            "embedding_max_attempts": 1,
            "ingestion_poll_seconds": POLL_SECONDS,
            **overrides,
        }


def embeddings_app(endpoint: EmbeddingsEndpoint) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        await endpoint.gate.wait()
        mode = endpoint.mode
        endpoint.requests.append(mode)
        if mode == "unavailable":
            return JSONResponse(
                {"error": {"message": "the model is loading", "type": "server_error"}},
                status_code=503,
            )
        if mode == "rejected":
            return JSONResponse(
                {"error": {"message": "input is too long", "type": "invalid_request_error"}},
                status_code=400,
            )
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return JSONResponse(
            {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": index, "embedding": word_vector(text)}
                    for index, text in enumerate(texts)
                ],
                "usage": {"prompt_tokens": 0, "total_tokens": 0},
            }
        )

    return app


@asynccontextmanager
async def embeddings_endpoint() -> AsyncIterator[EmbeddingsEndpoint]:
    endpoint = EmbeddingsEndpoint()
    endpoint.gate.set()
    async with running_server(embeddings_app(endpoint)) as address:
        endpoint.address = address
        try:
            yield endpoint
        finally:
            endpoint.gate.set()  # a held request would keep the server from stopping
