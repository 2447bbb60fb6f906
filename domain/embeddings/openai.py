"""Any OpenAI-compatible `/embeddings` endpoint: OpenAI, vLLM, Ollama, TEI, LiteLLM...

Texts go out in batches; transient failures (no connection, timeout, 408, 409, 429,
5xx) are retried with backoff and end as `EmbeddingUnavailable`, so the ingestion
worker can try the document again later; anything else the server refuses (400, 401,
404, 422...) is `EmbeddingRejected` at once, since sending it again cannot help.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import numpy as np
from openai import APIConnectionError, APIStatusError, AsyncOpenAI, OpenAIError

from domain.embeddings.backoff import Backoff
from domain.embeddings.port import EmbeddingRejected, EmbeddingUnavailable
from domain.embeddings.rows import empty, require_text, unit_rows

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "text-embedding-3-small"
# Dimensions of well-known models, so no setting is needed for them.
KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    "bge-m3": 1024,
}
TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
MAX_BATCH = 2048  # OpenAI's limit on inputs per request


class OpenAIEmbedder:
    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        dimension: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_seconds: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        resolved = dimension or KNOWN_DIMENSIONS.get(model)
        if resolved is None:
            raise ValueError(
                f"The dimension of embedding model {model!r} is not known; set EMBEDDING_DIMENSION."
            )
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        if not api_key:
            if base_url is None:
                raise ValueError("OPENAI_API_KEY is required to use api.openai.com.")
            api_key = "unused"  # self-hosted servers usually ignore it; the SDK wants one
        self._model = model
        self._dimension = resolved
        self._batch_size = batch_size
        self._backoff = backoff or Backoff()
        # Retries are ours (classified, logged, counted), so the SDK's are off.
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0
        )

    @property
    def name(self) -> str:
        return f"openai:{self._model}:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        checked = require_text(texts)
        if not checked:
            return empty(self._dimension)
        parts = [
            await self._embed_batch(checked[start : start + self._batch_size])
            for start in range(0, len(checked), self._batch_size)
        ]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    async def close(self) -> None:
        await self._client.close()

    async def _embed_batch(self, texts: list[str]) -> np.ndarray:
        failures = 0
        while True:
            try:
                return await self._request(texts)
            except EmbeddingUnavailable as error:
                failures += 1
                if failures >= self._backoff.attempts:
                    raise
                delay = self._backoff.delay(failures, error.retry_after)
                logger.warning(
                    "embedding request failed (%s); attempt %d of %d in %.2fs",
                    error,
                    failures + 1,
                    self._backoff.attempts,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _request(self, texts: list[str]) -> np.ndarray:
        try:
            response = await self._client.embeddings.create(
                model=self._model, input=texts, encoding_format="float"
            )
        except APIConnectionError as error:  # includes timeouts
            raise EmbeddingUnavailable(f"The embedding service is unreachable: {error}") from error
        except APIStatusError as error:
            raise classify(error) from error
        except OpenAIError as error:  # a body that is not an embeddings response
            raise EmbeddingRejected(f"The embedding service answered oddly: {error}") from error
        items = sorted(response.data, key=lambda item: item.index)
        if len(items) != len(texts):
            raise EmbeddingRejected(
                f"The embedding service returned {len(items)} vectors for {len(texts)} texts."
            )
        matrix = np.asarray([item.embedding for item in items], dtype=np.float32)
        if matrix.shape != (len(texts), self._dimension):
            raise EmbeddingRejected(
                f"Model {self._model!r} returned vectors of dimension {matrix.shape[-1]}; "
                f"expected {self._dimension} (check EMBEDDING_DIMENSION)."
            )
        return unit_rows(matrix, self._dimension)


def classify(error: APIStatusError) -> EmbeddingUnavailable | EmbeddingRejected:
    status = error.status_code
    message = f"The embedding service answered {status}: {error.message}"
    if status >= 500 or status in TRANSIENT_STATUS:
        retry_after = parse_retry_after(error.response.headers.get("retry-after"))
        return EmbeddingUnavailable(message, retry_after=retry_after)
    return EmbeddingRejected(message)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds; the HTTP-date form is ignored (exponential backoff applies)."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
