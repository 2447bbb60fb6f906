"""Chunks are sized and overlapped in tokens, follow the text's structure and keep
their section's page and heading path."""

from __future__ import annotations

import itertools
import os
import random
import re
import shutil
import subprocess
import sys
from array import array
from dataclasses import replace
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from domain.embeddings import wordllama
from domain.ingestion.chunking import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_OVERLAP_TOKENS,
    Chunk,
    chunk_sections,
    count_tokens,
)
from domain.ingestion.section import Section
from domain.ingestion.tokens import TOKENIZER_CONFIG, counter, tokenizer_path
from domain.settings import Settings

ROOT = Path(__file__).resolve().parents[3]

WORDS = (
    "refund", "policy", "money", "back", "processed", "within", "days", "account",
    "invoice", "customer", "order", "shipping", "delivery", "warranty", "return",
    "item", "store", "credit", "card", "payment", "support",
)  # fmt: skip


def paragraphs(count: int, seed: int = 7) -> str:
    rng = random.Random(seed)  # noqa: S311 - reproducible test text, not secrets
    return "\n\n".join(
        " ".join(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18))).capitalize() + "."
            for _ in range(rng.randint(2, 6))
        )
        for _ in range(count)
    )


def test_chunks_respect_the_token_budget() -> None:
    # given one long section of many paragraphs
    section = Section(text=paragraphs(80), page=None, heading_path=())
    # when it is chunked at 100 tokens with 20 of overlap
    chunks = chunk_sections([section], max_tokens=100, overlap_tokens=20)
    # then every chunk fits the budget, and the whole text is covered in order
    assert len(chunks) > 10
    assert all(0 < count_tokens(chunk.text) <= 100 for chunk in chunks)
    assert chunks[0].text.startswith(section.text[:50])
    assert chunks[-1].text.endswith(section.text[-50:])


def test_neighbours_overlap_by_whole_sentences_within_the_overlap_budget() -> None:
    # given one long paragraph (so chunks are cut between sentences) of sentences of at
    # most 27 tokens
    section = Section(text=paragraphs(40).replace("\n\n", " "))
    # when chunked at 125 tokens with 30 of overlap
    chunks = chunk_sections([section], max_tokens=125, overlap_tokens=30)
    # then each chunk starts with the end of the previous one, at most 30 tokens of it
    shared = [_overlap(left.text, right.text) for left, right in itertools.pairwise(chunks)]
    assert all(words > 0 for words in shared)
    for left, words in zip(chunks, shared, strict=False):
        repeated = " ".join(left.text.split()[-words:])
        assert repeated[0].isupper() and repeated.endswith(".")  # whole sentences
        assert count_tokens(repeated) <= 30


def test_short_paragraphs_are_repeated_whole_as_overlap() -> None:
    # given paragraphs of about ten tokens
    text = "\n\n".join(f"Paragraph {index} has a few words in it." for index in range(30))
    # when chunked with room for two of them as overlap
    chunks = chunk_sections([Section(text=text)], max_tokens=60, overlap_tokens=25)
    # then neighbours share whole paragraphs
    for left, right in itertools.pairwise(chunks):
        first = right.text.split("\n\n")[0]
        assert first in left.text.split("\n\n")


def test_without_overlap_chunks_do_not_repeat_text() -> None:
    section = Section(text=paragraphs(40), page=None, heading_path=())
    chunks = chunk_sections([section], max_tokens=80, overlap_tokens=0)
    assert " ".join(" ".join(chunk.text.split()) for chunk in chunks) == " ".join(
        section.text.split()
    )


def test_chunks_break_at_paragraphs_when_they_fit() -> None:
    # given short paragraphs, each far below the budget
    text = "\n\n".join(f"Paragraph {index} has a few words in it." for index in range(30))
    # when chunked
    chunks = chunk_sections([Section(text=text)], max_tokens=50, overlap_tokens=0)
    # then no paragraph is cut in the middle
    for chunk in chunks:
        for part in chunk.text.split("\n\n"):
            assert part.startswith("Paragraph ") and part.endswith("in it.")


def test_ordinals_are_contiguous_and_sections_keep_their_place() -> None:
    # given sections from two pages and two headings
    sections = [
        Section(text=paragraphs(10, seed=1), page=1, heading_path=("Guide", "Install")),
        Section(text="A short one.", page=2, heading_path=("Guide", "Use")),
        Section(text=paragraphs(10, seed=2), page=3, heading_path=()),
    ]
    # when chunked
    chunks = chunk_sections(sections, max_tokens=60, overlap_tokens=10)
    # then ordinals run 0..n-1 and every chunk keeps its section's page and headings
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    by_page = {chunk.page: chunk.heading_path for chunk in chunks}
    assert by_page == {1: ("Guide", "Install"), 2: ("Guide", "Use"), 3: ()}
    assert [chunk.page for chunk in chunks] == sorted(chunk.page or 0 for chunk in chunks)
    assert Chunk("A short one.", chunks[[c.page for c in chunks].index(2)].ordinal, 2,
                 ("Guide", "Use")) in chunks  # fmt: skip


def test_a_huge_section_is_chunked_within_budget() -> None:
    # given one section far longer than the internal block size, with a paragraph
    # longer than a block and CJK text (several tokens per character)
    text = paragraphs(600) + "\n\n" + "word " * 20_000 + "\n\n" + "東京都の天気は晴れです。" * 200
    chunks = chunk_sections([Section(text=text)], max_tokens=400, overlap_tokens=60)
    assert all(count_tokens(chunk.text) <= 400 for chunk in chunks)
    assert chunks[-1].text.endswith("晴れです。")


def test_blank_sections_give_no_chunks() -> None:
    assert chunk_sections([Section(text="  \n\n ")]) == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_impossible_sizes_are_rejected(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_sections([Section(text="x")], max_tokens=max_tokens, overlap_tokens=overlap)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("   ", 0),
        ("Hello world.", 3),  # "▁Hello", "▁world", "."
        ("  Hello world.  ", 3),  # trimmed, as chunks are
        ("The quick brown fox jumps over the lazy dog.", 12),  # "▁fo" "x", "▁j" "umps"
        ("internationalization", 2),  # "▁international" + "ization"
        ("東京", 3),  # "▁", "東", "京"
    ],
)
def test_count_tokens_counts_in_the_embedders_llama_tokens(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_count_tokens_of_a_long_text_is_additive_over_repeats() -> None:
    sentence = "The quick brown fox jumps over the lazy dog."
    # each repeat adds " The quick ... dog." = 12 tokens
    assert count_tokens(" ".join([sentence] * 200)) == 2400


def test_the_embedders_tokenizer_is_the_one_counted() -> None:
    # then the counter reads the tokenizer of WordLlama's default configuration, on disk
    assert TOKENIZER_CONFIG == wordllama.DEFAULT_CONFIG
    assert tokenizer_path().is_file()


def test_no_vocabulary_piece_spans_a_newline_or_the_start_of_a_space_run() -> None:
    # Counting unit by unit is exact only because BPE never joins across these points.
    # given the shipped tokenizer's vocabulary
    vocabulary = Tokenizer.from_file(str(tokenizer_path())).get_vocab()
    assert len(vocabulary) == 32_000
    # then no piece holds a newline, or a space after anything but a space
    assert not [piece for piece in vocabulary if "\n" in piece]
    assert not [piece for piece in vocabulary if re.search("[^▁]▁", piece)]


# Spaces in runs, newlines, tabs, carriage returns, a literal "▁", non-breaking spaces,
# accents, CJK (some characters only as bytes), emoji, digits, long runs without spaces.
PIECES = (
    "a", "bc", "XYZ", " ", "  ", "\n", "\n\n", "\t", "\r\n", ".", ",", "!?", "'s", "-", "_",
    "0", "1234", "▁", "\u00a0", "\u3000", "e\u0301", "Ünïcödé", "ﬁ", "東京", "晴れです。",
    "😀", "internationalization", "http://x.y/z?q=1&r=2", "a" * 80, "東京都の天気" * 15,
)  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_counts_of_any_piece_of_a_text_are_the_tokenizers_own(seed: int) -> None:
    tokenizer = Tokenizer.from_file(str(tokenizer_path()))
    rng = random.Random(seed)  # noqa: S311 - reproducible test text, not secrets
    for _ in range(40):
        # given a text of awkward pieces
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 300)))
        size = counter().sizer(text)
        # when the whole text and pieces of it (as the splitter asks) are counted
        pieces = [text]
        for _ in range(30):
            start = rng.randrange(len(text))
            pieces.append(text[start : rng.randrange(start, len(text) + 1)])
        # then each count is what the tokenizer encodes, without special tokens
        for piece in pieces:
            expected = len(tokenizer.encode(piece, add_special_tokens=False))
            assert size(piece) == counter().count(piece) == expected, piece


@pytest.mark.parametrize("seed", range(4))
def test_token_ids_of_any_text_are_the_tokenizers_own(seed: int) -> None:
    tokenizer = Tokenizer.from_file(str(tokenizer_path()))
    rng = random.Random(seed)  # noqa: S311 - reproducible test text, not secrets
    for _ in range(200):
        # given a text of awkward pieces
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 300)))
        # when its ids are put together from its units
        ids = counter().ids(text)
        # then they are the tokenizer's own encoding, without special tokens
        assert list(array("H", ids)) == tokenizer.encode(text, add_special_tokens=False).ids, text


def test_chunks_carry_their_token_ids_when_asked() -> None:
    tokenizer = Tokenizer.from_file(str(tokenizer_path()))
    # given mixed text: paragraphs, runs of spaces, CJK without spaces, a long word
    text = (
        paragraphs(40).replace(". ", ".  ", 30)
        + "\n\n"
        + "東京都の天気は晴れです。" * 60
        + " "
        + "x" * 300
    )
    sections = [Section(text=text, page=3), Section(text=paragraphs(5, seed=1))]
    plain = chunk_sections(sections, max_tokens=80, overlap_tokens=15)
    assert all(chunk.token_ids == b"" for chunk in plain)

    # when the chunker is asked for ids, and when each chunk's text is tokenized alone
    sliced = chunk_sections(sections, max_tokens=80, overlap_tokens=15, token_ids=True)
    added = [replace(chunk, token_ids=counter().ids(chunk.text)) for chunk in plain]

    # then the chunks are the same but for their ids, which are the tokenizer's own
    assert [replace(chunk, token_ids=b"") for chunk in sliced] == plain
    assert sliced == added
    for chunk in sliced:
        expected = tokenizer.encode(chunk.text, add_special_tokens=False).ids
        assert list(array("H", chunk.token_ids)) == expected, chunk.text


def test_chunks_fit_the_budget_in_the_embedders_tokens() -> None:
    tokenizer = Tokenizer.from_file(str(tokenizer_path()))
    # given mixed text: paragraphs, runs of spaces, CJK without spaces
    text = paragraphs(60).replace(". ", ".  ", 50) + "\n\n" + "東京都の天気は晴れです。" * 120
    # when chunked with the defaults
    chunks = chunk_sections([Section(text=text)])
    # then every chunk holds at most 500 of the tokenizer's own tokens
    sizes = [len(tokenizer.encode(chunk.text, add_special_tokens=False)) for chunk in chunks]
    assert len(chunks) > 3
    assert max(sizes) <= DEFAULT_CHUNK_TOKENS == 500


def test_the_settings_default_to_the_chunkers_own_sizes() -> None:
    # given settings with nothing set
    settings = Settings(_env_file=None)
    # then passages are sized as the chunker sizes them by default
    assert settings.chunk_tokens == DEFAULT_CHUNK_TOKENS
    assert settings.chunk_overlap_tokens == DEFAULT_OVERLAP_TOKENS == 75


def _overlap(left: str, right: str) -> int:
    """How many words the end of `left` shares with the start of `right`."""
    left_words, right_words = left.split(), right.split()
    for size in range(min(len(left_words), len(right_words)), 0, -1):
        if left_words[-size:] == right_words[:size]:
            return size
    return 0


OFFLINE_SCRIPT = """
from domain.ingestion.chunking import chunk_sections, count_tokens
from domain.ingestion.section import Section
chunks = chunk_sections([Section(text="Offline words. " * 500)], max_tokens=50, overlap_tokens=10)
print(len(chunks), count_tokens("Hello world."))
"""


def test_chunking_works_without_network_or_caches(tmp_path: Path) -> None:
    # given a fresh interpreter with no network (its own network namespace where
    # available, else proxies that go nowhere) and empty home and cache directories
    isolate = ["unshare", "-rn"] if _can_unshare_network() else []
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOME": str(empty_home),
        "XDG_CACHE_HOME": str(empty_home / ".cache"),
        "HF_HUB_OFFLINE": "1",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    # when it chunks and counts tokens
    result = subprocess.run(
        [*isolate, sys.executable, "-c", OFFLINE_SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then it succeeds, and nothing was downloaded or cached
    assert result.returncode == 0, result.stderr
    chunk_count, tokens = result.stdout.split()
    assert int(chunk_count) > 1
    assert int(tokens) == 3
    assert list(empty_home.iterdir()) == []


def _can_unshare_network() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    return probe.returncode == 0
