"""The retrieval evaluation (bench/retrieval_eval.py): its data stays honest and it runs.

Scores are not asserted against targets: they move with the embedder, the chunk size and
the fusion, and the benchmark exists to report them. What is asserted holds whatever the
tuning: the paraphrase set shares no content word with its answers (and the checker
would notice if it did), every figure is a fraction, and on questions built around a
term found in one document only, adding BM25 to the vectors never loses that document.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from domain.retrieval.search import SearchMode

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    # Loaded from its path: bench/ is scripts, not a package, and a stray `bench` module
    # elsewhere on sys.path must not shadow it.
    name = "ragql_bench_retrieval_eval"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "retrieval_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


ev = _load()


def test_the_paraphrase_set_shares_no_content_word_with_its_answers() -> None:
    # given the shipped questions and corpus
    questions = ev.load_questions()
    checks = ev.check_questions(questions, ev.load_corpus())
    # then none is refused, and no paraphrase shares a content word with its answer
    assert [(c.id, c.problems) for c in checks if c.problems] == []
    paraphrases = [c for c in checks if c.set == ev.PARAPHRASE]
    assert paraphrases and all(c.sentence_overlap == [] for c in paraphrases)
    assert sum(c.set == ev.KEYWORD for c in checks) >= 10


def test_the_checker_refuses_overlap_and_shared_rare_terms() -> None:
    # given a corpus and questions that break each rule
    corpus = {
        "a.md": "# Refunds\n\nRefunds are processed within 14 days. Flights longer than 8 hours.",
        "b.md": "Part ZX-9 is sold separately. Part ZX-9 again.",
        "c.md": "ZX-9 appears here too.",
    }
    questions = [
        ev.Question(
            "same",
            ev.PARAPHRASE,
            "a.md",
            "When is my refund processed?",
            answer="Refunds are processed within 14 days.",
        ),
        ev.Question(
            "prefix",
            ev.PARAPHRASE,
            "a.md",
            "Can I upgrade on long trips?",
            answer="Flights longer than 8 hours.",
        ),
        ev.Question("absent", ev.PARAPHRASE, "a.md", "Money back?", answer="Not in it."),
        ev.Question(
            "clean",
            ev.PARAPHRASE,
            "a.md",
            "How soon is money returned?",
            answer="Refunds are processed within 14 days.",
        ),
        ev.Question("shared", ev.KEYWORD, "b.md", "Where is ZX-9?", terms=("ZX-9",)),
        ev.Question("missing", ev.PARAPHRASE, "z.md", "Anything?", answer="x"),
    ]
    # when checked
    problems = {c.id: c.problems for c in ev.check_questions(questions, corpus)}
    # then every broken question is refused, with the reason, and the clean one passes
    assert "refund~refunds" in problems["same"][0] and "processed~processed" in problems["same"][0]
    assert "long~longer" in problems["prefix"][0]
    assert problems["absent"] == ["the answer sentence is not in the document"]
    assert problems["clean"] == []
    assert problems["shared"] == ["term 'ZX-9' occurs in ['b.md', 'c.md']"]
    assert problems["missing"] == ["no document z.md"]


def test_stemming_joins_inflections_and_keeps_different_words_apart() -> None:
    assert ev.shared_words("refunded payments", "Refunds are paid")
    assert ev.shared_words("It was paid", "We pay monthly") == ["paid~pay"]
    assert ev.shared_words("How hot should the stove be?", "Preheat the oven to 250 °C") == []
    assert ev.shared_words("What is it for?", "This is it") == []  # function words only


@pytest.fixture(scope="module")
async def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, int]]:
    # A small run: every keyword question and every third paraphrase, whole corpus.
    questions = ev.load_questions()
    paraphrases = [q for q in questions if q.set == ev.PARAPHRASE][::3]
    keywords = [q for q in questions if q.set == ev.KEYWORD]
    data_dir = tmp_path_factory.mktemp("retrieval-eval")
    report = await ev.evaluate([*paraphrases, *keywords], data_dir=data_dir)
    return report, {ev.PARAPHRASE: len(paraphrases), ev.KEYWORD: len(keywords)}


def test_the_script_refuses_to_evaluate_a_dishonest_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a questions file with a paraphrase that repeats its answer's words
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("Refunds are processed within 14 days.\n")
    questions = tmp_path / "questions.json"
    bad = {
        "id": "p1",
        "set": "paraphrase",
        "document": "a.md",
        "question": "How long do refunds take?",
        "answer": "Refunds are processed within 14 days.",
    }
    questions.write_text(json.dumps({"questions": [bad]}))
    # when the script runs on it
    status = ev.main(["--questions", str(questions), "--corpus", str(corpus)])
    # then it names the question and exits 2 before measuring anything
    assert status == 2
    out = capsys.readouterr().out
    assert "REFUSED p1" in out and "refunds~refunds" in out and "refusing" in out


async def test_every_mode_and_set_gets_fractions(run: tuple[Any, dict[str, int]]) -> None:
    report, counts = run
    # then each mode scored each set over all its questions, with figures in [0, 1]
    assert set(report.scores) == {"vector", "bm25", "hybrid"}
    assert report.documents == len(ev.load_corpus())
    assert report.chunks > report.documents  # Markdown sections are chunked apart
    for by_set in report.scores.values():
        for set_name, score in by_set.items():
            assert score.questions == counts[set_name]
            assert 0.0 <= score.top1 <= score.recall <= 1.0
    # and no question got more than k passages' worth of documents
    assert all(len(o.documents) <= report.k for o in report.outcomes)
    assert "hybrid" in ev.format_table(report) and "retrieval-eval" in ev.summary_line(report)


async def test_hybrid_keeps_what_either_ranker_finds_by_a_rare_term(
    run: tuple[Any, dict[str, int]],
) -> None:
    report, _ = run
    # given questions built around a term that occurs in their document only
    found = {(o.mode, o.id): o for o in report.outcomes if o.set == ev.KEYWORD}
    ids = sorted({key[1] for key in found})
    by_vector = {i for i in ids if found["vector", i].recall}
    first_by_bm25 = {i for i in ids if found["bm25", i].top1}
    by_hybrid = {i for i in ids if found["hybrid", i].recall}
    # then hybrid's top 5 hold every document the vectors had in theirs and every
    # document BM25 ranked first. RRF keeps a chunk one ranker puts first in the fused
    # top 5 unless five others beat it by appearing in both lists; this is a property of
    # this fixed, deterministic data rather than a theorem of RRF, and it is why hybrid
    # is the default: a fusion change that drops either ranker's best makes it fail.
    assert by_vector <= by_hybrid
    assert first_by_bm25 <= by_hybrid
    # and so hybrid recall@5 on the keyword set is at least vector-only recall@5
    hybrid = report.score(SearchMode.HYBRID, ev.KEYWORD)
    vector = report.score(SearchMode.VECTOR, ev.KEYWORD)
    assert hybrid.recall >= vector.recall
