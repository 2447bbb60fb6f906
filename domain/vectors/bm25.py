"""Okapi BM25 over a candidate set, with collection statistics supplied by the caller.

Used where the engine has no BM25 of its own (local Chroma). Same formula and defaults
as Lucene and Lance: idf = ln(1 + (N - df + 0.5) / (df + 0.5)), k1 = 1.2, b = 0.75.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

K1 = 1.2
B = 0.75


@dataclass(frozen=True, slots=True)
class Corpus:
    documents: int  # N: documents in the collection searched (one workspace)
    average_length: float  # avgdl, in analysed tokens
    frequencies: Mapping[str, int]  # df: documents containing each query term


def idf(corpus: Corpus, term: str) -> float:
    df = min(corpus.frequencies.get(term, 0), corpus.documents)
    return math.log(1.0 + (corpus.documents - df + 0.5) / (df + 0.5))


def score(terms: Sequence[str], tokens: Sequence[str], corpus: Corpus) -> float:
    """BM25 of one document (its analysed tokens) for the analysed query terms."""
    length = len(tokens)
    if not length:
        return 0.0
    norm = K1 * (1.0 - B + B * length / max(corpus.average_length, 1e-9))
    total = 0.0
    for term in dict.fromkeys(terms):
        tf = tokens.count(term)
        if tf:
            total += idf(corpus, term) * tf * (K1 + 1.0) / (tf + norm)
    return total
