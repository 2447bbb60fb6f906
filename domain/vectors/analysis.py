"""Text analysis for BM25 where the engine has none: Chroma's own BM25 tokenizer
(lower case, punctuation dropped, English stop words removed, Snowball stemming),
the one its BM25 sparse embedding function uses, with the stemmer memoised."""

from __future__ import annotations

from functools import lru_cache

from chromadb.utils.embedding_functions.schemas.bm25_tokenizer import (
    DEFAULT_CHROMA_BM25_STOPWORDS,
    Bm25Tokenizer,
    get_english_stemmer,
)

MAX_TOKEN_LENGTH = 40
MAX_QUERY_TERMS = 32


class _CachedStemmer:
    def __init__(self) -> None:
        self.stem = lru_cache(maxsize=200_000)(get_english_stemmer().stem)


_tokenizer = Bm25Tokenizer(_CachedStemmer(), DEFAULT_CHROMA_BM25_STOPWORDS, MAX_TOKEN_LENGTH)


def tokens(text: str) -> list[str]:
    return _tokenizer.tokenize(text)


def query_terms(text: str) -> list[str]:
    """Distinct analysed terms of a query, in order, at most MAX_QUERY_TERMS."""
    return list(dict.fromkeys(tokens(text)))[:MAX_QUERY_TERMS]


def indexed_form(text: str) -> str:
    """The analysed tokens, space-separated and space-padded, so that a substring
    search for " term " matches exactly one whole analysed token."""
    return f" {' '.join(tokens(text))} "
