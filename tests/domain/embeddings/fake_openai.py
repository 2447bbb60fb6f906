"""A real OpenAI-compatible `/v1/embeddings` endpoint on loopback, scriptable to fail."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support.server import running_server

DIMENSION = 8


def vector_for(text: str, dimension: int = DIMENSION) -> np.ndarray:
    """Deterministic, not normalised (the adapter must normalise)."""
    digest = hashlib.sha256(text.encode()).digest()
    return np.frombuffer(digest[: dimension * 4], dtype=np.uint32).astype(np.float64) / 2**31


@dataclass
class Script:
    """Status codes to answer before succeeding; then vectors of `dimension`."""

    failures: list[int] = field(default_factory=list)
    retry_after: str | None = None
    delay_seconds: float = 0.0
    dimension: int = DIMENSION
    requests: list[list[str]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)


def create_app(script: Script) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        script.requests.append(texts)
        script.models.append(body["model"])
        script.authorization.append(request.headers.get("authorization"))
        if script.delay_seconds:
            await asyncio.sleep(script.delay_seconds)
        if script.failures:
            status = script.failures.pop(0)
            headers = {"retry-after": script.retry_after} if script.retry_after else None
            error = {"message": f"scripted {status}", "type": "test", "code": str(status)}
            return JSONResponse({"error": error}, status_code=status, headers=headers)
        assert body.get("encoding_format") == "float"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": vector_for(text, script.dimension).tolist(),
            }
            for index, text in reversed(list(enumerate(texts)))  # order by index, not position
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": usage}
        )

    return app


@asynccontextmanager
async def fake_openai(script: Script) -> AsyncIterator[str]:
    """Yields the base URL ("http://127.0.0.1:<port>/v1")."""
    async with running_server(create_app(script)) as address:
        yield f"http://{address}/v1"
