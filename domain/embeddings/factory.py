"""Builds the embedder the settings name (EMBEDDER, EMBEDDING_MODEL, OPENAI_*)."""

from __future__ import annotations

from typing import Any

from domain.embeddings.backoff import Backoff
from domain.embeddings.port import Embedder
from domain.settings import Settings

EMBEDDERS = ("wordllama", "openai", "sentence-transformers")


def build_embedder(settings: Settings) -> Embedder:
    kind = settings.embedder.strip().lower()
    dimension = settings.embedding_dimension
    if kind == "wordllama":
        from domain.embeddings.wordllama import (
            DEFAULT_CONFIG,
            SHIPPED_DIMENSION,
            WordLlamaEmbedder,
            require_shipped,
        )

        config = settings.embedding_model or DEFAULT_CONFIG
        require_shipped(config)
        return WordLlamaEmbedder(config, dimension or SHIPPED_DIMENSION)
    if kind == "openai":
        from domain.embeddings.openai import DEFAULT_MODEL, OpenAIEmbedder

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIEmbedder(
            model=settings.embedding_model or DEFAULT_MODEL,
            dimension=dimension,
            base_url=settings.openai_base_url,
            api_key=key,
            batch_size=_optional(settings, "embedding_batch_size", 64),
            timeout_seconds=_optional(settings, "embedding_timeout_seconds", 30.0),
            backoff=Backoff(attempts=_optional(settings, "embedding_max_attempts", 5)),
        )
    if kind == "sentence-transformers":
        from domain.embeddings.sentence_transformers import SentenceTransformerEmbedder

        if not settings.embedding_model:
            raise ValueError("EMBEDDER=sentence-transformers needs EMBEDDING_MODEL=<local path>.")
        return SentenceTransformerEmbedder(settings.embedding_model)
    raise ValueError(f"Unknown EMBEDDER {settings.embedder!r}; expected one of {EMBEDDERS}.")


def _optional(settings: Settings, name: str, default: Any) -> Any:
    # Settings this package proposes; read with defaults until settings.py declares them.
    value = getattr(settings, name, None)
    return default if value is None else value
