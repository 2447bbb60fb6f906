"""Retrieval quality: top-1 and recall@5 for vector-only, BM25-only and hybrid search.

    /work/venv/bin/python bench/retrieval_eval.py            # about 5 seconds
    /work/venv/bin/python bench/retrieval_eval.py --check    # only the question checker
    /work/venv/bin/python bench/retrieval_eval.py --misses   # also list every miss
    /work/venv/bin/python bench/retrieval_eval.py --json out.json

The data is in ``bench/eval/``: ``corpus/`` holds short original Markdown documents and
``questions.json`` two sets of questions, each naming the document that answers it:

* ``paraphrase``: the question shares no content word with the sentence that answers it
  ("How hot should the stove be?" for "Preheat the oven to 250 °C ..."), so BM25 has no
  word of the answer to match and only meaning can find it;
* ``keyword``: the question carries a rare term (an error code, a part number, a name)
  that occurs in exactly one document, the case where meaning alone has little to hold.

The checker (``check_questions``) keeps the set honest: every paraphrase's answer
sentence must occur verbatim in its document and share no content word with the question
(lower-cased, a small stop-word list removed, light suffix stemming, and words counted as
shared when one stem is a prefix of the other, so "long"/"longer" and "protect"/
"protection" are caught); every keyword term must occur in the question and in exactly
one document, the expected one. Any violation is reported and the evaluation refuses to
run (exit status 2). It also reports, for information, how many paraphrases share some
word with their document *elsewhere* than in the answer sentence: BM25 can use those, so
the scores of the paraphrases sharing nothing with their document are printed apart.
LanceDB's BM25 drops only a short stop-word list, so it can still match words the checker
treats as function words ("once", "where"); that subset shows how little that buys.

Ingestion follows the server's own path, in process and without the database: the file
type from ``detect_file_media_type``, sections from ``parse_file`` (in process; the
server parses in a child process, with the same function), chunks from
``chunk_sections`` with the default ``chunk_tokens``/``chunk_overlap_tokens`` settings,
vectors from ``build_embedder`` (WordLlama, the offline default), stored with the
worker's chunk ids and heading paths in LanceDB from ``build_vector_store`` under a
temporary ``DATA_DIR``, then ``optimize``d so the BM25 index covers every row. The
questions go through ``domain.retrieval.search.search`` with a workspace built in memory
(top_k 5, similarity threshold 0), once per mode.

Scoring is at document level on what a user would get: the 5 passages ``search`` returns
(``limit=5``). Top-1 counts a question when the first passage comes from the expected
document; recall@5 when any of the 5 does. Markdown sections are never merged into one
chunk, so documents have several chunks and the 5 passages cover 1 to 5 documents.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from domain.embeddings.factory import build_embedder  # noqa: E402
from domain.embeddings.port import Embedder  # noqa: E402
from domain.ingestion.chunking import Chunk, chunk_sections  # noqa: E402
from domain.ingestion.detect import detect_file_media_type  # noqa: E402
from domain.ingestion.parsing import parse_file  # noqa: E402
from domain.retrieval.search import SearchMode, search  # noqa: E402
from domain.settings import Settings  # noqa: E402
from domain.vectors.factory import build_vector_store  # noqa: E402
from domain.vectors.port import ChunkRecord, VectorStore  # noqa: E402
from domain.workspaces.access import WorkspaceAccess  # noqa: E402
from domain.workspaces.models import Workspace, WorkspaceRole  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parent / "eval"
CORPUS_DIR = EVAL_DIR / "corpus"
QUESTIONS_FILE = EVAL_DIR / "questions.json"
PARAPHRASE = "paraphrase"
KEYWORD = "keyword"
SETS = (PARAPHRASE, KEYWORD)
MODES = (SearchMode.VECTOR, SearchMode.TEXT, SearchMode.HYBRID)
MODE_LABELS = {SearchMode.VECTOR: "vector", SearchMode.TEXT: "bm25", SearchMode.HYBRID: "hybrid"}
K = 5
DOCUMENT_NAMESPACE = uuid.UUID("5a1c1e0e-7d0b-4c1e-9a57-2f1f3c0e0a11")

# Function words only: nouns, verbs (auxiliaries aside), adjectives and most adverbs count
# as content, so the check errs on the strict side.
_STOPWORD_TEXT = """
    a an the and or but nor if then than so as of to in on at by for with from into onto
    about above below over under up down out off through during before after until while
    against among around along behind beside beyond toward towards near
    between within without across per via again once
    i me my mine myself we us our ours you your yours he him his she her hers it its they
    them their theirs this that these those there here someone something somewhere anyone
    anything everyone everything nobody nothing whoever whatever one ones
    what which who whom whose when where why how
    is are was were be been being am do does did doing done have has had having
    will would shall should can could may might must
    not no never very too also just only still ever even much many more most less least
    some any all each every both either neither such other another same own enough
    don doesn didn won wouldn can't cannot isn aren wasn weren haven hasn shouldn
    t s ll re ve d m
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+")
_SPACE = re.compile(r"\s+")
MIN_PREFIX = 4  # a stem this long that starts another word's stem counts as the same word
# Irregular forms suffix stripping cannot join to their base word.
IRREGULAR = {
    "paid": "pay",
    "daily": "day",
    "kept": "keep",
    "sent": "send",
    "lost": "lose",
    "written": "write",
    "wrote": "write",
    "made": "make",
    "went": "go",
    "gone": "go",
    "told": "tell",
    "bought": "buy",
    "brought": "bring",
    "held": "hold",
    "left": "leave",
    "felt": "feel",
    "found": "find",
    "chose": "choose",
    "chosen": "choose",
    "worn": "wear",
    "ran": "run",
    "began": "begin",
    "begun": "begin",
    "taken": "take",
    "took": "take",
    "given": "give",
    "gave": "give",
    "got": "get",
    "gotten": "get",
    "said": "say",
    "children": "child",
    "people": "person",
    "men": "man",
    "women": "woman",
    "better": "good",
    "best": "good",
    "worse": "bad",
    "worst": "bad",
    "ate": "eat",
    "eaten": "eat",
}


def stem(word: str) -> str:
    """A deliberately crude English stemmer: enough to see "refunds"/"refunded"/"refund"
    as one word; `related` catches the derivations it leaves apart."""
    if any(ch.isdigit() for ch in word):
        return word
    word = IRREGULAR.get(word, word)
    for suffix, replacement in (("sses", "ss"), ("ies", "y"), ("ied", "y")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            word = word[: -len(suffix)] + replacement
            break
    else:
        for suffix in ("ingly", "edly", "ing", "ed", "ly", "es", "s"):
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]  # stopp -> stop, planned -> plan
    return word


def content_words(text: str) -> dict[str, str]:
    """Stem -> first surface form, for the content words of `text`."""
    words: dict[str, str] = {}
    for token in _WORD.findall(text.lower().replace("'", "").replace("\u2019", "")):
        if len(token) < 2 or token in STOPWORDS:
            continue
        words.setdefault(stem(token), token)
    return words


def related(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= MIN_PREFIX and long_.startswith(short)


def shared_words(question: str, passage: str) -> list[str]:
    """Content words the two texts share, as "question word~passage word"."""
    theirs = content_words(passage)
    shared = []
    for mine, surface in content_words(question).items():
        for other, other_surface in theirs.items():
            if related(mine, other):
                shared.append(f"{surface}~{other_surface}")
                break
    return shared


@dataclass(frozen=True)
class Question:
    id: str
    set: str
    document: str
    question: str
    answer: str | None = None  # paraphrase: the sentence that answers it, verbatim
    terms: tuple[str, ...] = ()  # keyword: the rare terms it shares with its document


@dataclass
class Check:
    id: str
    set: str
    sentence_overlap: list[str]  # must be empty for a paraphrase
    document_overlap: list[str]  # for information: what BM25 could still match
    problems: list[str]


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    raw = json.loads(path.read_text(encoding="utf-8"))["questions"]
    return [
        Question(
            id=item["id"],
            set=item["set"],
            document=item["document"],
            question=item["question"],
            answer=item.get("answer"),
            terms=tuple(item.get("terms", ())),
        )
        for item in raw
    ]


def load_corpus(corpus_dir: Path = CORPUS_DIR) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(corpus_dir.glob("*.md"))}


def _normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def check_questions(questions: Sequence[Question], corpus: dict[str, str]) -> list[Check]:
    checks: list[Check] = []
    seen: set[str] = set()
    for q in questions:
        problems: list[str] = []
        if q.id in seen:
            problems.append("duplicate id")
        seen.add(q.id)
        text = corpus.get(q.document)
        if text is None:
            checks.append(Check(q.id, q.set, [], [], [f"no document {q.document}"]))
            continue
        sentence_overlap: list[str] = []
        if q.set == PARAPHRASE:
            if not q.answer:
                problems.append("a paraphrase needs its answer sentence")
            elif _normalise(q.answer) not in _normalise(text):
                problems.append("the answer sentence is not in the document")
            else:
                sentence_overlap = shared_words(q.question, q.answer)
                if sentence_overlap:
                    problems.append(
                        "shares content words with its answer: " + ", ".join(sentence_overlap)
                    )
        elif q.set == KEYWORD:
            if not q.terms:
                problems.append("a keyword question needs its rare terms")
            for term in q.terms:
                needle = term.lower()
                if needle not in q.question.lower():
                    problems.append(f"term {term!r} is not in the question")
                holders = sorted(name for name, body in corpus.items() if needle in body.lower())
                if holders != [q.document]:
                    problems.append(f"term {term!r} occurs in {holders or 'no document'}")
        else:
            problems.append(f"unknown set {q.set!r}")
        checks.append(
            Check(q.id, q.set, sentence_overlap, shared_words(q.question, text), problems)
        )
    return checks


def settings_for(data_dir: Path) -> Settings:
    """The defaults that matter here, whatever the environment or a .env file says."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        embedder="wordllama",
        embedding_model=None,
        vector_store="lancedb",
        lancedb_uri=None,
    )


def _chunks(path: Path, settings: Settings) -> list[Chunk]:
    media_type = detect_file_media_type(path, path.name)
    if media_type is None:
        raise ValueError(f"{path.name}: unsupported file")
    return chunk_sections(
        parse_file(path, media_type),
        max_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    )


async def ingest(
    corpus_dir: Path,
    settings: Settings,
    embedder: Embedder,
    store: VectorStore,
    workspace_id: uuid.UUID,
) -> tuple[dict[uuid.UUID, str], int]:
    """Indexes every document as the ingestion worker does; returns id -> file name and
    the number of chunks."""
    names: dict[uuid.UUID, str] = {}
    total = 0
    paths = await asyncio.to_thread(lambda: sorted(corpus_dir.glob("*.md")))
    for path in paths:
        chunks = await asyncio.to_thread(_chunks, path, settings)
        document_id = uuid.uuid5(DOCUMENT_NAMESPACE, path.name)
        names[document_id] = path.name
        vectors = await embedder.embed([chunk.text for chunk in chunks])
        await store.add(
            [
                ChunkRecord(
                    chunk_id=f"{document_id}:{chunk.ordinal}",
                    workspace_id=workspace_id,
                    document_id=document_id,
                    ordinal=chunk.ordinal,
                    page=chunk.page,
                    heading=" > ".join(chunk.heading_path),
                    text=chunk.text,
                    vector=vector,
                )
                for chunk, vector in zip(chunks, vectors, strict=True)
            ]
        )
        total += len(chunks)
    await store.optimize()
    return names, total


@dataclass
class Outcome:
    id: str
    set: str
    mode: str
    expected: str
    documents: list[str]  # distinct documents of the returned passages, best first
    passages: int

    @property
    def top1(self) -> bool:
        return bool(self.documents) and self.documents[0] == self.expected

    @property
    def recall(self) -> bool:
        return self.expected in self.documents


@dataclass
class Score:
    questions: int
    top1: float
    recall: float
    empty: int  # questions for which the mode returned no passage at all


@dataclass
class Report:
    documents: int
    chunks: int
    k: int
    seconds: float
    scores: dict[str, dict[str, Score]] = field(default_factory=dict)  # mode -> set -> score
    outcomes: list[Outcome] = field(default_factory=list)

    def score(self, mode: SearchMode | str, set_name: str) -> Score:
        return self.scores[MODE_LABELS.get(SearchMode(mode), str(mode))][set_name]


def _score(outcomes: Iterable[Outcome]) -> Score:
    items = list(outcomes)
    n = len(items)
    if n == 0:
        return Score(0, 0.0, 0.0, 0)
    return Score(
        questions=n,
        top1=sum(o.top1 for o in items) / n,
        recall=sum(o.recall for o in items) / n,
        empty=sum(o.passages == 0 for o in items),
    )


async def evaluate(
    questions: Sequence[Question],
    *,
    corpus_dir: Path = CORPUS_DIR,
    data_dir: Path,
    k: int = K,
    modes: Sequence[SearchMode] = MODES,
) -> Report:
    started = time.perf_counter()
    settings = settings_for(data_dir)
    embedder = build_embedder(settings)
    store = build_vector_store(settings, embedder.dimension, embedder.name)
    workspace = Workspace(id=uuid.uuid4(), name="retrieval-eval", top_k=k, similarity_threshold=0.0)
    access = WorkspaceAccess(workspace=workspace, user_id=uuid.uuid4(), role=WorkspaceRole.VIEWER)
    try:
        names, chunk_count = await ingest(corpus_dir, settings, embedder, store, workspace.id)
        outcomes: list[Outcome] = []
        for q in questions:
            for mode in modes:
                passages = await search(
                    access, q.question, embedder=embedder, vectors=store, limit=k, mode=mode
                )
                documents: list[str] = []
                for passage in passages:
                    name = names[passage.hit.document_id]
                    if name not in documents:
                        documents.append(name)
                outcomes.append(
                    Outcome(q.id, q.set, MODE_LABELS[mode], q.document, documents, len(passages))
                )
    finally:
        await store.close()
    report = Report(
        documents=len(names), chunks=chunk_count, k=k, seconds=time.perf_counter() - started
    )
    for mode in modes:
        label = MODE_LABELS[mode]
        report.scores[label] = {
            set_name: _score(o for o in outcomes if o.mode == label and o.set == set_name)
            for set_name in SETS
        }
    report.outcomes = outcomes
    return report


def format_checks(checks: Sequence[Check]) -> str:
    bad = [c for c in checks if c.problems]
    paraphrases = [c for c in checks if c.set == PARAPHRASE]
    keywords = [c for c in checks if c.set == KEYWORD]
    clean_docs = sum(not c.document_overlap for c in paraphrases)
    lines = [
        f"checker: {len(paraphrases)} paraphrase questions, "
        f"{sum(bool(c.sentence_overlap) for c in paraphrases)} share a content word with "
        f"their answer sentence; {len(paraphrases) - clean_docs} share one with the rest of "
        f"their document (BM25 can use those), {clean_docs} with nothing in it; "
        f"{len(keywords)} keyword questions",
    ]
    lines += [f"  REFUSED {c.id}: {'; '.join(c.problems)}" for c in bad]
    return "\n".join(lines)


def format_table(report: Report) -> str:
    header = (
        f"{'mode':<8} | {'paraphrase top-1':>16} {'recall@' + str(report.k):>9} | "
        f"{'keyword top-1':>13} {'recall@' + str(report.k):>9}"
    )
    lines = [header, "-" * len(header)]
    for label, by_set in report.scores.items():
        p, kw = by_set[PARAPHRASE], by_set[KEYWORD]
        lines.append(
            f"{label:<8} | {p.top1:>16.2f} {p.recall:>9.2f} | {kw.top1:>13.2f} {kw.recall:>9.2f}"
        )
    counts = next(iter(report.scores.values()))
    lines.append(
        f"({counts[PARAPHRASE].questions} paraphrase and {counts[KEYWORD].questions} keyword "
        f"questions; {report.documents} documents, {report.chunks} chunks; chance top-1 "
        f"about {1 / max(report.documents, 1):.2f})"
    )
    empties = {label: by_set[PARAPHRASE].empty for label, by_set in report.scores.items()}
    if any(empties.values()):
        lines.append(
            "paraphrases with no passage at all: "
            + ", ".join(f"{label} {n}" for label, n in empties.items())
        )
    return "\n".join(lines)


def subset_line(report: Report, ids: set[str], title: str) -> str:
    parts = []
    for label in report.scores:
        score = _score(o for o in report.outcomes if o.mode == label and o.id in ids)
        parts.append(f"{label} {score.top1:.2f}/{score.recall:.2f}")
    return f"{title} (n={len(ids)}), top-1/recall@{report.k}: " + ", ".join(parts)


def strict_ids(checks: Sequence[Check]) -> set[str]:
    """Paraphrases that share no content word with anything in their document."""
    return {c.id for c in checks if c.set == PARAPHRASE and not c.document_overlap}


def format_misses(report: Report) -> str:
    lines = []
    for o in report.outcomes:
        if not o.top1:
            mark = "miss" if not o.recall else "late"
            lines.append(
                f"  {mark} {o.mode:<6} {o.id} expected {o.expected}, got {o.documents or '-'}"
            )
    return "\n".join(lines)


def summary_line(report: Report) -> str:
    parts = []
    for set_name in SETS:
        for label, by_set in report.scores.items():
            score = by_set[set_name]
            parts.append(f"{set_name}/{label} {score.top1:.2f}/{score.recall:.2f}")
    return (
        f"retrieval-eval (top-1/recall@{report.k}): "
        + ", ".join(parts)
        + f" [{report.seconds:.1f}s]"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only check the questions")
    parser.add_argument("--misses", action="store_true", help="list the questions missed")
    parser.add_argument("--json", type=Path, help="write the full report as JSON here")
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE, help="questions file")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="folder of .md files")
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)
    corpus = load_corpus(args.corpus)
    checks = check_questions(questions, corpus)
    print(format_checks(checks))
    if any(c.problems for c in checks):
        print("refusing to evaluate: fix or drop the questions above")
        return 2
    if args.check:
        return 0
    with tempfile.TemporaryDirectory(prefix="ragql-eval-") as tmp:
        report = asyncio.run(evaluate(questions, corpus_dir=args.corpus, data_dir=Path(tmp)))
    print()
    print(format_table(report))
    print(
        subset_line(
            report, strict_ids(checks), "paraphrases sharing no content word with their document"
        )
    )
    if args.misses:
        print(format_misses(report))
    if args.json:
        payload = asdict(report)
        payload["checks"] = [asdict(c) for c in checks]
        args.json.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(summary_line(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
