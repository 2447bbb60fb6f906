"""Builds the vector store the settings name (VECTOR_STORE, LANCEDB_URI, CHROMA_URL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.settings import Settings
from domain.vectors.port import VectorStore


def build_vector_store(settings: Settings, dimension: int, embedder_name: str) -> VectorStore:
    """The store for one embedder's vectors; each embedder gets its own table or
    collection, so a store for the next embedder can fill while this one serves."""
    if settings.vector_store == "lancedb":
        from domain.vectors.lancedb_store import LanceDBStore

        consistency = _optional(settings, "lancedb_read_consistency_seconds", 0.0)
        return LanceDBStore(
            settings.lancedb_uri or settings.data_dir / "lancedb",
            dimension=dimension,
            embedder_name=embedder_name,
            read_consistency_interval=(
                None if consistency < 0 else timedelta(seconds=float(consistency))
            ),
            cleanup_older_than=timedelta(
                seconds=_optional(settings, "lancedb_cleanup_older_than_seconds", 3600)
            ),
        )
    if settings.vector_store == "chroma":
        try:
            from domain.vectors.chroma_store import ChromaStore
        except ImportError as error:
            raise ValueError(
                "VECTOR_STORE=chroma needs the extra: pip install 'ragql[chroma]'"
            ) from error
        if settings.chroma_url:
            return ChromaStore(
                url=settings.chroma_url, dimension=dimension, embedder_name=embedder_name
            )
        return ChromaStore(
            path=settings.data_dir / "chroma", dimension=dimension, embedder_name=embedder_name
        )
    raise ValueError(f"Unknown VECTOR_STORE {settings.vector_store!r}")


def _optional(settings: Settings, name: str, default: Any) -> Any:
    # Settings this package proposes; read with defaults until settings.py declares them.
    value = getattr(settings, name, None)
    return default if value is None else value
