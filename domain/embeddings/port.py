"""The embedding port: what ingestion and retrieval need from any embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


class EmbeddingError(Exception):
    """An embedding request failed; the subclass says whether trying again can help."""


class EmbeddingUnavailable(EmbeddingError):
    """Transient: the service is down, overloaded or slow. Retry later with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, when the service said how long


class EmbeddingRejected(EmbeddingError):
    """Permanent: the input or the configuration is wrong. Retrying the same call fails again."""


class Embedder(Protocol):
    """Turns texts into vectors of one fixed space.

    `name` identifies the vector space (model and dimension, e.g.
    "wordllama:l2_supercat:256"): vectors made under different names must never be
    compared, so stores keep them apart. `embed` returns float32 rows of shape
    (len(texts), dimension), each of unit L2 norm, in the order of `texts`. Blank texts
    are refused with `EmbeddingRejected`. CPU and network work never blocks the loop.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class TokenIdEmbedder(Protocol):
    """An embedder that also takes texts as token ids of the tokenizer it names, so a
    text the chunker has already tokenized is not tokenized again (ingestion)."""

    @property
    def tokenizer_config(self) -> str: ...

    async def embed_token_ids(self, token_ids: Sequence[bytes]) -> np.ndarray: ...
