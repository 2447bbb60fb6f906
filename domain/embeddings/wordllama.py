"""WordLlama: static token embeddings averaged per text; numpy only, fully offline.

The weights and the tokenizer ship inside the wheel. `WordLlama.load` looks for the
weights in the package and for the tokenizer in `<cache_dir>/tokenizers/`, so the
package's own folder is passed as the cache and downloads are disabled: nothing is
ever fetched, and a missing file is an error instead of a silent download.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from domain.embeddings.port import EmbeddingRejected
from domain.embeddings.rows import empty, require_text, unit_rows

DEFAULT_CONFIG = "l2_supercat"
SHIPPED_DIMENSION = 256  # the only weights inside the wheel: l2_supercat_256.safetensors
TRUNCATED_DIMENSIONS = (64, 128, 256)  # Matryoshka prefixes of the shipped weights
# Texts per tokenizer call (the tokenizer runs them in parallel), and token vectors
# gathered at once (x dimension x 4 bytes).
TEXTS_PER_BATCH = 256
TOKENS_PER_BLOCK = 16_384


def package_dir() -> Path:
    """The installed wordllama package: its own weights/ and tokenizers/ folders."""
    location = _wordllama().__file__
    if location is None:
        raise RuntimeError("the wordllama package has no location on disk")
    return Path(location).resolve().parent


def _wordllama() -> ModuleType:
    # wordllama.inference calls logging.basicConfig(level=INFO) when imported, which
    # would configure the application's root logger behind its back: undo that.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    import wordllama

    if root.handlers != handlers:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return wordllama


class WordLlamaEmbedder:
    def __init__(self, config: str = DEFAULT_CONFIG, dimension: int = SHIPPED_DIMENSION) -> None:
        if dimension not in TRUNCATED_DIMENSIONS:
            raise ValueError(f"WordLlama dimension must be one of {TRUNCATED_DIMENSIONS}")
        self._config = config
        self._dimension = dimension
        self._lock = threading.Lock()
        self._matrix: np.ndarray | None = None
        self._tokenizer: Any = None

    @property
    def name(self) -> str:
        return f"wordllama:{self._config}:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        checked = require_text(texts)
        if not checked:
            return empty(self._dimension)
        return await asyncio.to_thread(self.embed_sync, checked)

    def load(self) -> None:
        """Reads the weights once (about 16 MB); later calls return at once."""
        with self._lock:
            if self._matrix is not None:
                return
            model = _wordllama().WordLlama.load(
                self._config,
                cache_dir=package_dir(),
                dim=SHIPPED_DIMENSION,
                trunc_dim=None if self._dimension == SHIPPED_DIMENSION else self._dimension,
                disable_download=True,
            )
            tokenizer = model.tokenizer
            # Pooling is done here per text, so no padding; no truncation either, as
            # WordLlama averages every token of the text.
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self._tokenizer = tokenizer
            self._matrix = np.ascontiguousarray(model.embedding, dtype=np.float32)

    def embed_sync(self, texts: list[str]) -> np.ndarray:
        """The blocking part: tokenize, average token vectors, normalise."""
        self.load()
        assert self._matrix is not None
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(texts), TEXTS_PER_BATCH):
            batch = texts[start : start + TEXTS_PER_BATCH]
            out[start : start + len(batch)] = self._mean_vectors(batch)
        return unit_rows(out, self._dimension)

    @property
    def tokenizer_config(self) -> str:
        """Whose tokens `embed_token_ids` takes (domain/ingestion/tokens.py counts in them)."""
        return self._config

    async def embed_token_ids(self, token_ids: Sequence[bytes]) -> np.ndarray:
        """`embed` for texts already tokenized: each item the unsigned 16-bit ids of one
        text (domain/ingestion/tokens.py), giving exactly the rows `embed` gives."""
        if not token_ids:
            return empty(self._dimension)
        return await asyncio.to_thread(self.embed_token_ids_sync, list(token_ids))

    def embed_token_ids_sync(self, token_ids: list[bytes]) -> np.ndarray:
        self.load()
        ids = [np.frombuffer(raw, dtype=np.uint16) for raw in token_ids]
        return unit_rows(self._sums(ids), self._dimension)

    def _mean_vectors(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        return self._sums([np.asarray(encoding.ids, dtype=np.int64) for encoding in encodings])

    def _sums(self, texts_ids: list[np.ndarray]) -> np.ndarray:
        matrix = self._matrix
        assert matrix is not None
        sums = np.empty((len(texts_ids), self._dimension), dtype=np.float32)
        last_id = matrix.shape[0] - 1
        for row, text_ids in enumerate(texts_ids):
            if text_ids.size == 0:
                raise EmbeddingRejected(f"Text {row} has no tokens to embed.")
            ids = np.clip(text_ids, 0, last_id)
            # Gathered in blocks: memory stays bounded however long one text is.
            sums[row] = sum(
                (
                    matrix[ids[start : start + TOKENS_PER_BLOCK]].sum(axis=0)
                    for start in range(0, ids.size, TOKENS_PER_BLOCK)
                ),
                start=np.zeros(self._dimension, dtype=np.float32),
            )
        # The mean points where the sum points; unit_rows normalises either.
        return sums


def require_shipped(config: str) -> None:
    """Only configurations whose files are inside the wheel can load without a download."""
    root = package_dir()
    weights = root / "weights" / f"{config}_{SHIPPED_DIMENSION}.safetensors"
    tokenizer = root / "tokenizers" / f"{config}_tokenizer_config.json"
    if not (weights.is_file() and tokenizer.is_file()):
        raise ValueError(
            f"WordLlama configuration {config!r} is not shipped in the installed wheel "
            f"(looked for {weights.name} and {tokenizer.name}); use {DEFAULT_CONFIG!r}."
        )
