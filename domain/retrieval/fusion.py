"""Fusing the vector and BM25 rankings: reciprocal rank fusion, gated by literal terms.

Plain reciprocal rank fusion (RRF; Cormack et al., 2009) scores a passage
sum(1 / (k + rank)) over the rankings that hold it. With k = 60 the score barely depends
on the rank, so it mostly counts how many rankings hold a passage: a passage that the
vectors put 10th and BM25 matched on a common word ("get", "back", "long") outscores the
vectors' first passage. BM25 returns such matches for nearly every question, and then it
outvotes the ranker that understood the question.

BM25 knows something the vectors do not only when the question holds a literal term:
an identifier, a code, a number or a name (E42, SKU-7731, MAX_RETRIES, extension 2210,
"Ms Okafor"), which an embedding smears into its neighbours and an exact match pins
down. So `hybrid_fusion` lets BM25 vote only for the passages that contain one of the
query's literal terms (`literal_terms`, `literal_matcher`):

* those passages and the vector ranking are fused by plain RRF, BM25 ranking them among
  themselves, each ranker with weight 1;
* BM25's other matches do not vote. They are kept after every fused passage, in BM25
  order and with score 0, so that a query the vectors answer badly or not at all (the
  similarity threshold dropped every vector match, or there are no vectors) still gets
  the passages that share its words.

A question without a literal term is thus ranked by the vectors alone, and one with a
literal term by RRF over the vectors and the passages holding it. The parameters are
RRF's k (the usual 60) and what counts as literal. The test is made on the text of the
question and of the passage, never on engine scores, so it behaves the same with every
store (LanceDB's BM25 and the one computed for Chroma score on different scales) and
whatever the size of the workspace.

Giving BM25's other matches a smaller vote instead (weighted RRF, or a convex mix of
normalised scores) was measured with bench/retrieval_eval.py and rejected: most
settings cost questions worded unlike their answer (at k = 60 a weight of 0.25 took
paraphrase top-1 from 0.52 to 0.32), and the few that did not gained at most two of 63
questions, in a narrow band of k and weight that would not carry to other data. A score
threshold cannot replace the literal test either: in a small workspace an ordinary word
found in one chunk scores as high as a part number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
# The constant from Cormack et al. (2009); it damps the weight of the very top ranks.
RRF_K = 60
# A literal term is at least this long: a lone digit or letter occurs everywhere.
MIN_LITERAL_CHARS = 2

# A token: a run of word characters, possibly joined by inner punctuation, as in
# BR-5530, v2.1, example.com or ops@example.com.
_TOKEN = re.compile(r"\w+(?:[-./:@#]\w+)*")
# Text the user quoted is meant literally.
_QUOTED = re.compile(r'"[^"]+"|\u201c[^\u201d]+\u201d|`[^`]+`')
_SENTENCE_END = frozenset(".!?:;\n")


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], k: int = RRF_K
) -> list[tuple[K, float]]:
    """Keys by sum(1 / (k + rank)) over the rankings, best first; ties keep the order
    in which the keys were first met (earlier rankings first)."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def literal_terms(query: str) -> list[str]:
    """The tokens of `query` to match literally, in order, without repeats.

    A token of at least two characters is literal when it holds a digit (E17, 4357,
    HR-114) or an underscore (QUOTA_EXCEEDED), or stands within double quotes or
    backticks. If the query has lower-case letters (it is not written in capitals
    throughout), so is a token with a capital after its first character (NW-Corp,
    TravelDesk, VPN) and a capitalised token that does not start a sentence (a name:
    "Who is Daniel Mensah?" gives Daniel and Mensah, not Who)."""
    quoted = [(match.start(), match.end()) for match in _QUOTED.finditer(query)]
    cased = any(ch.islower() for ch in query)
    found: dict[str, None] = {}
    for match in _TOKEN.finditer(query):
        token = match.group(0)
        if len(token) < MIN_LITERAL_CHARS:
            continue
        literal = (
            any(ch.isdigit() for ch in token)
            or "_" in token
            or any(start <= match.start() and match.end() <= end for start, end in quoted)
            or (
                cased
                and (
                    any(ch.isupper() for ch in token[1:])
                    or (token[0].isupper() and not _starts_sentence(query, match.start()))
                )
            )
        )
        if literal:
            found.setdefault(token, None)
    return list(found)


def _starts_sentence(text: str, start: int) -> bool:
    """Whether only non-word characters stand between a sentence end (or the start of
    `text`) and position `start`."""
    for index in range(start - 1, -1, -1):
        ch = text[index]
        if ch in _SENTENCE_END:
            return True
        if ch.isalnum() or ch == "_":
            return False
    return True


def literal_matcher(terms: Sequence[str]) -> Callable[[str], bool]:
    """Whether a text contains one of `terms` as a whole token, ignoring case."""
    if not terms:
        return lambda text: False
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    return lambda text: pattern.search(text) is not None


def hybrid_fusion(
    vector: Sequence[K],
    text: Sequence[K],
    literal: Collection[K],
    k: int = RRF_K,
) -> list[tuple[K, float]]:
    """Fuses the vector ranking and the BM25 ranking `text`, best first, with scores.

    BM25 votes, in RRF with the vectors, only for its passages in `literal` (those
    holding a literal term of the query), ranked among themselves; its other passages
    follow every fused one, in BM25 order, with score 0.0. Ties among fused passages go
    to the vector ranking. Either ranking may be empty: with no vectors the result is
    the literal passages, then the rest of BM25's."""
    fused = reciprocal_rank_fusion(
        [vector, [key for key in text if key in literal]],
        k=k,
    )
    placed = {key for key, _ in fused}
    return fused + [(key, 0.0) for key in dict.fromkeys(text) if key not in placed]
