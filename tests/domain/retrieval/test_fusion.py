"""The fusion rule: RRF over the vectors and the BM25 passages that hold a literal term."""

from __future__ import annotations

import pytest

from domain.retrieval.fusion import (
    RRF_K,
    hybrid_fusion,
    literal_matcher,
    literal_terms,
    reciprocal_rank_fusion,
)


def rrf(*ranks: int) -> float:
    return sum(1.0 / (RRF_K + rank) for rank in ranks)


def keys(fused: list[tuple[str, float]]) -> list[str]:
    return [key for key, _ in fused]


# reciprocal_rank_fusion


def test_rrf_sums_one_over_k_plus_rank() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "d"]])
    assert fused == [
        ("c", pytest.approx(rrf(3, 1))),
        ("a", pytest.approx(rrf(1))),
        ("b", pytest.approx(rrf(2))),
        ("d", pytest.approx(rrf(2))),
    ]


def test_rrf_ties_keep_the_order_first_met() -> None:
    assert keys(reciprocal_rank_fusion([["a"], ["x"]])) == ["a", "x"]
    assert reciprocal_rank_fusion([[], []]) == []


# hybrid_fusion


def test_a_common_word_match_does_not_outvote_the_vectors_first() -> None:
    # given the vectors' ranking, and BM25 matching the vectors' 10th passage and a
    # passage they did not find, both on common words (no literal term)
    vector = list("abcdefghij")
    text = ["j", "x"]
    # when fused
    fused = hybrid_fusion(vector, text, literal=set())
    # then the vectors' order stands, and BM25's own match follows with score 0
    assert keys(fused) == [*vector, "x"]
    assert fused[0] == ("a", pytest.approx(rrf(1)))
    assert fused[9] == ("j", pytest.approx(rrf(10)))
    assert fused[10] == ("x", 0.0)
    # where plain RRF would have put j, found by both, first
    assert keys(reciprocal_rank_fusion([vector, text]))[0] == "j"


def test_a_passage_holding_a_literal_term_is_fused_by_rrf() -> None:
    # given BM25 ranking first a common-word match, then the passage with the code,
    # which the vectors put third
    vector = ["a", "b", "c"]
    text = ["noise", "c"]
    # when fused with c known to hold the literal term
    fused = hybrid_fusion(vector, text, literal={"c"})
    # then c is ranked 1st among the literal passages, and both votes lift it to the top
    assert fused == [
        ("c", pytest.approx(rrf(3, 1))),
        ("a", pytest.approx(rrf(1))),
        ("b", pytest.approx(rrf(2))),
        ("noise", 0.0),
    ]


def test_a_literal_passage_the_vectors_missed_ties_with_their_first() -> None:
    # given the literal passage found by BM25 alone, behind a common-word match
    fused = hybrid_fusion(["a", "b"], ["noise", "x"], literal={"x"})
    # then it scores as the vectors' first (ties go to the vectors) and beats their second
    assert fused == [
        ("a", pytest.approx(rrf(1))),
        ("x", pytest.approx(rrf(1))),
        ("b", pytest.approx(rrf(2))),
        ("noise", 0.0),
    ]


def test_several_literal_passages_keep_bm25_order_among_themselves() -> None:
    fused = hybrid_fusion(["a"], ["p", "n1", "q", "n2"], literal={"p", "q"})
    assert keys(fused) == ["a", "p", "q", "n1", "n2"]
    assert fused[2] == ("q", pytest.approx(rrf(2)))


def test_without_vectors_literal_passages_come_first_then_bm25_order() -> None:
    fused = hybrid_fusion([], ["n1", "p", "n2"], literal={"p"})
    assert fused == [("p", pytest.approx(rrf(1))), ("n1", 0.0), ("n2", 0.0)]


def test_one_ranker_alone_keeps_its_order() -> None:
    # the vectors alone (VECTOR mode, or BM25 found nothing)
    assert hybrid_fusion(["a", "b"], [], literal=set()) == [
        ("a", pytest.approx(rrf(1))),
        ("b", pytest.approx(rrf(2))),
    ]
    # BM25 alone, every passage voting (TEXT mode)
    text = ["n1", "n2", "n3"]
    assert hybrid_fusion([], text, literal=set(text)) == reciprocal_rank_fusion([text])
    # nothing at all
    assert hybrid_fusion([], [], literal=set()) == []


def test_scores_never_increase_down_the_list() -> None:
    fused = hybrid_fusion(["a", "b", "c"], ["x", "c", "y", "z"], literal={"y"})
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)
    # c is not literal: BM25's vote for it does not count
    assert keys(fused) == ["a", "y", "b", "c", "x", "z"]


# literal_terms


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What does E17 mean?", ["E17"]),
        ("Where can I order BR-5530?", ["BR-5530"]),
        ("Who answers 4357?", ["4357"]),
        ("What triggers QUOTA_EXCEEDED?", ["QUOTA_EXCEEDED"]),
        ("Who may join NW-Corp?", ["NW-Corp"]),
        ("What is TravelDesk?", ["TravelDesk"]),
        ("How do I reach the VPN?", ["VPN"]),
        ("Who is Daniel Mensah?", ["Daniel", "Mensah"]),
        # words that start a sentence are not names; "I" is too short
        ("Where is it? Ask Lena. Then I go", ["Lena"]),
        ("Is leave kept until next January?", ["January"]),
        # quoted text is meant literally, in any case
        ('what does "keyward" mean', ["keyward"]),
        ("what does `retry after` do", ["retry", "after"]),
        # ordinary words, hyphenated or not, are not literal
        ("How long until I see my money back?", []),
        ("When will I be paid back for out-of-pocket spending?", []),
        # a query in capitals throughout: only digits and underscores count
        ("WHERE IS A3 AND MAX_RETRIES?", ["A3", "MAX_RETRIES"]),
        # a lone digit or letter is not a term; repeats are dropped
        ("Is 5 or E17 or E17 right?", ["E17"]),
        ("", []),
    ],
)
def test_literal_terms(query: str, expected: list[str]) -> None:
    assert literal_terms(query) == expected


# literal_matcher


def test_the_matcher_finds_whole_tokens_in_any_case() -> None:
    holds = literal_matcher(["E17", "br-5530"])
    assert holds("Error e17: the kettle is empty.")
    assert holds("Order part BR-5530 (descaler).")
    assert not holds("Error E170 is different.")
    assert not holds("Part XBR-5530 is another one.")
    assert not holds("Nothing here.")


def test_the_matcher_escapes_terms_and_never_matches_without_terms() -> None:
    holds = literal_matcher(["v2.1"])
    assert holds("Since v2.1, yes.") and not holds("Since v231, no.")
    assert not literal_matcher([])("anything E17")
