"""Token counting with the cl100k_base encoding compiled into semantic-text-splitter.

tiktoken downloads its encodings at run time; semantic-text-splitter's Rust tiktoken
ships them inside the wheel, so counting works offline. The wheel exposes the
encoding only through a splitter, so a count is found by bisection: a text fits one
chunk of capacity n exactly when it has at most n tokens.
"""

from __future__ import annotations

from functools import lru_cache

from semantic_text_splitter import TextSplitter

# Any model name mapping to cl100k_base (the GPT-3.5/4 encoding) selects the same tokens.
TOKENIZER_MODEL = "gpt-3.5-turbo"


def splitter(capacity: int, overlap: int = 0) -> TextSplitter:
    """A token-capacity splitter; the encoding is loaded once, building one is cheap."""
    return TextSplitter.from_tiktoken_model(TOKENIZER_MODEL, capacity, overlap=overlap)


@lru_cache(maxsize=4096)
def count_tokens(text: str) -> int:
    """Tokens in `text` with surrounding whitespace trimmed, as the chunker counts them."""
    text = text.strip()
    if not text:
        return 0
    # Every token is at least one byte, so the byte length bounds the count.
    low, high = 1, len(text.encode("utf-8"))
    while low < high:
        middle = (low + high) // 2
        if len(splitter(middle).chunks(text)) <= 1:
            high = middle
        else:
            low = middle + 1
    return low
