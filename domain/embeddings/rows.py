"""Checks and normalisation every embedder applies to its input and output."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from domain.embeddings.port import EmbeddingRejected


def require_text(texts: Sequence[str]) -> list[str]:
    """The texts as a list; a non-string or blank text has no meaningful vector."""
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not a single string")
    checked = list(texts)
    for index, text in enumerate(checked):
        if not isinstance(text, str):
            raise TypeError(f"text {index} is a {type(text).__name__}, not a str")
        if not text.strip():
            raise EmbeddingRejected(f"Text {index} is blank; blank text cannot be embedded.")
    return checked


def unit_rows(matrix: np.ndarray, dimension: int) -> np.ndarray:
    """float32 rows scaled to unit L2 norm; a zero or non-finite row is refused."""
    rows = np.asarray(matrix, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != dimension:
        raise EmbeddingRejected(
            f"The model returned vectors of shape {rows.shape}; expected (n, {dimension})."
        )
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise EmbeddingRejected("The model returned a zero or non-finite vector.")
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


def empty(dimension: int) -> np.ndarray:
    return np.zeros((0, dimension), dtype=np.float32)
