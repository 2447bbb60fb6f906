"""A sentence-transformers model from a local directory (optional extra
`sentence-transformers`). Never downloads: the path must exist and is opened with
`local_files_only=True`; the model is read once, when the embedder is built."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from domain.embeddings.rows import empty, require_text, unit_rows


class SentenceTransformerEmbedder:
    def __init__(
        self, model_path: str | Path, *, batch_size: int = 32, device: str = "cpu"
    ) -> None:
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise ValueError(
                f"EMBEDDING_MODEL must be a local model directory for sentence-transformers; "
                f"{str(path)!r} is not one (models are never downloaded)."
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise ValueError(
                "EMBEDDER=sentence-transformers needs the extra: "
                "pip install 'ragql[sentence-transformers]'"
            ) from error
        self._model: Any = SentenceTransformer(str(path), device=device, local_files_only=True)
        # Renamed across versions; either answers the pooled output's width.
        reader = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension", None
        )
        dimension = reader() if reader is not None else None
        if not isinstance(dimension, int):
            raise ValueError(f"The model at {str(path)!r} does not report its dimension.")
        self._dimension = dimension
        self._name = f"sentence-transformers:{path.name}:{dimension}"
        self._batch_size = batch_size
        # One forward pass at a time: torch already uses every core for one.
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        checked = require_text(texts)
        if not checked:
            return empty(self._dimension)
        return await asyncio.to_thread(self._embed_sync, checked)

    def _embed_sync(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            matrix = self._model.encode(
                texts,
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return unit_rows(matrix, self._dimension)
