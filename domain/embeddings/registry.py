"""Rebuilding an embedder from the name a workspace recorded, when this process can.

Used while a workspace still has vectors from a previous EMBEDDER: queries must be
embedded by the model that made those vectors until re-embedding has finished.
"""

from __future__ import annotations

from domain.embeddings.port import Embedder
from domain.settings import Settings


def embedder_named(name: str, settings: Settings, current: Embedder) -> Embedder | None:
    """The embedder called `name`, or None when it cannot be built here (search then
    falls back to full text until the workspace is re-embedded)."""
    if name == current.name:
        return current
    kind, _, rest = name.partition(":")
    config, _, dimension = rest.rpartition(":")
    if not dimension.isdigit():
        return None
    try:
        if kind == "wordllama":
            from domain.embeddings.wordllama import WordLlamaEmbedder

            return WordLlamaEmbedder(config, int(dimension))
        if kind == "openai":
            from domain.embeddings.openai import OpenAIEmbedder

            key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            return OpenAIEmbedder(
                model=config,
                dimension=int(dimension),
                base_url=settings.openai_base_url,
                api_key=key,
            )
    except (ValueError, ImportError):
        return None
    return None
