"""Sections to chunks sized in tokens, split along the text's own structure.

semantic-text-splitter cuts at the largest boundary that fits (blank lines, then lines,
sentences, words) and overlaps neighbours by up to `overlap_tokens`. Sections are never
merged: each chunk keeps one page and one heading path for its citation.

Tokens are the default embedder's (WordLlama, whose tokenizer is Llama 2's), counted by
domain/ingestion/tokens.py from the tokenizer file inside the wordllama wheel: offline,
exact, and cheap. The splitter sizes many overlapping candidates per chunk (about six
times the text); counted with its built-in tiktoken (cl100k_base), that made chunking as
slow as embedding (4 MB/s). With units counted once per text and candidates sized from
running sums, it is three to four times faster (bench/README.md, ingestion). Llama 2
needs about a quarter more tokens than cl100k for the same English text, so the
defaults (500 and 75) give passages of the same length as the former 400 and 60.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from semantic_text_splitter import TextSplitter

from domain.ingestion.section import Section
from domain.ingestion.tokens import count_tokens, counter

__all__ = [
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_OVERLAP_TOKENS",
    "Chunk",
    "chunk_sections",
    "count_tokens",
]

DEFAULT_CHUNK_TOKENS = 500
DEFAULT_OVERLAP_TOKENS = 75

# The splitter slows down on very long inputs; cutting a long section at paragraph
# breaks into blocks of about this many characters first is faster and gives the same
# kind of boundary the splitter would pick. It also keeps each native call short.
_BLOCK_CHARS = 64 * 1024
_PARAGRAPH_BREAK = "\n\n"


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    ordinal: int  # 0..n-1 across the whole document, in reading order
    page: int | None
    heading_path: tuple[str, ...]
    # The text's token ids in the chunker's tokenizer (unsigned 16-bit, native order),
    # when asked for: the embedder that shares the tokenizer need not tokenize again.
    token_ids: bytes = b""


def chunk_sections(
    sections: Iterable[Section],
    *,
    max_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
    token_ids: bool = False,
) -> list[Chunk]:
    """With `token_ids`, each chunk also carries its ids in the chunker's tokenizer,
    sliced from its block's (the block is tokenized once, for sizing and ids alike)."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be at least 0 and less than max_tokens")
    tokens = counter()
    chunks: list[Chunk] = []
    for section in sections:
        for block in _blocks(section.text):
            cutter = TextSplitter.from_callback(
                tokens.sizer(block), max_tokens, overlap=overlap_tokens
            )
            pieces = [(start, text) for start, text in cutter.chunk_indices(block) if text.strip()]
            ids = tokens.slicer(block) if token_ids and pieces else None
            for start, text in pieces:
                chunks.append(
                    Chunk(
                        text,
                        len(chunks),
                        section.page,
                        section.heading_path,
                        ids(start, start + len(text)) if ids else b"",
                    )
                )
    return chunks


def _blocks(text: str) -> Iterator[str]:
    """Consecutive runs of whole paragraphs of about `_BLOCK_CHARS` (a longer paragraph
    is a block of its own)."""
    start = 0
    while len(text) - start > _BLOCK_CHARS:
        cut = text.rfind(_PARAGRAPH_BREAK, start, start + _BLOCK_CHARS)
        if cut <= start:
            cut = text.find(_PARAGRAPH_BREAK, start + _BLOCK_CHARS)
            if cut == -1:
                break
        yield text[start:cut]
        start = cut + len(_PARAGRAPH_BREAK)
    yield text[start:]
