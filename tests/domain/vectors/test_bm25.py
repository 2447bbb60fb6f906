"""The BM25 formula used where the engine has none."""

from __future__ import annotations

import math

import pytest

from domain.vectors import bm25


def test_score_matches_the_okapi_formula() -> None:
    corpus = bm25.Corpus(documents=10, average_length=4.0, frequencies={"cat": 2, "dog": 5})
    tokens = ["cat", "cat", "sat", "mat", "dog", "log"]
    idf_cat = math.log(1 + (10 - 2 + 0.5) / (2 + 0.5))
    idf_dog = math.log(1 + (10 - 5 + 0.5) / (5 + 0.5))
    norm = 1.2 * (1 - 0.75 + 0.75 * 6 / 4.0)
    expected = idf_cat * 2 * 2.2 / (2 + norm) + idf_dog * 1 * 2.2 / (1 + norm)
    assert bm25.score(["cat", "dog", "cat"], tokens, corpus) == pytest.approx(expected)


def test_rarer_terms_and_shorter_documents_score_higher() -> None:
    corpus = bm25.Corpus(documents=100, average_length=10.0, frequencies={"rare": 1, "common": 90})
    assert bm25.score(["rare"], ["rare"], corpus) > bm25.score(["common"], ["common"], corpus)
    short, long = ["rare", "x"], ["rare"] + ["x"] * 30
    assert bm25.score(["rare"], short, corpus) > bm25.score(["rare"], long, corpus)


def test_no_match_or_no_tokens_scores_zero() -> None:
    corpus = bm25.Corpus(documents=3, average_length=2.0, frequencies={})
    assert bm25.score(["absent"], ["present"], corpus) == 0.0
    assert bm25.score(["absent"], [], corpus) == 0.0
    # idf never goes negative, even for a term in every document
    every = bm25.Corpus(documents=3, average_length=1.0, frequencies={"the": 3})
    assert bm25.score(["the"], ["the"], every) > 0
