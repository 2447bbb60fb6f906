"""Token counting in the default embedder's own tokens, offline and cheap.

The tokenizer is WordLlama's (`l2_supercat`: Llama 2's 32,000-piece SentencePiece BPE as a
Hugging Face `tokenizers` file), read from the installed wordllama package's folder, as
domain/embeddings/wordllama.py reads it: nothing is ever downloaded.

Counting is done piece by piece, and is exact. BPE only ever joins symbols into pieces of
its vocabulary, so a position that no vocabulary piece spans is never crossed by a token:
the text on either side of it is tokenized as if it stood alone. No piece of this
vocabulary contains a newline, nor a space (`▁`) that follows something other than a
space (tests/domain/ingestion/test_chunking.py checks both), so a text splits into units
at newlines and before every run of spaces, and its count is the sum of its units'
counts. Units recur (words, mostly), so each distinct one is encoded once and remembered.

That is what makes the chunker cheap: it asks for the size of many overlapping candidate
chunks of one text. `TokenCounter.sizer(text)` counts the units of the whole text once,
then answers for any piece of it from running sums, encoding only the partial units at
its two ends.

By the same argument a text's token ids are its units' ids one after the other:
`TokenCounter.ids` gives the chunks' ids to the embedder, which then need not tokenize
the text a second time (tokenizing is most of WordLlama's work).
"""

from __future__ import annotations

import importlib.util
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from functools import cached_property, lru_cache
from itertools import accumulate, pairwise
from pathlib import Path

from tokenizers import Tokenizer

# The configuration whose tokenizer ships in the wordllama wheel (DEFAULT_CONFIG in
# domain/embeddings/wordllama.py; a test keeps the two equal). Not imported from there:
# the parsing child counts tokens and should not import numpy or wordllama to do it.
TOKENIZER_CONFIG = "l2_supercat"

# A newline alone, or a run of spaces with what follows up to the next space or newline
# (a trailing run of spaces alone): consecutive, they cover the whole text. A `▁` in the
# text is the same symbol as a space to the tokenizer.
_UNIT = re.compile(r"\n|[ ▁]*[^ ▁\n]+|[ ▁]+")
# Longer units (text without spaces: CJK, long identifiers) are cut further, between any
# two characters that no vocabulary piece holds side by side.
_LONG_UNIT = 64
# Units remembered per process; the memo is emptied when it grows past this.
_MEMO_LIMIT = 200_000


def tokenizer_path() -> Path:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wordllama package is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder / "tokenizers" / f"{TOKENIZER_CONFIG}_tokenizer_config.json"


class TokenCounter:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        self._memo: dict[str, int] = {"\n": 1}
        self._id_memo: dict[str, bytes] = {}
        self._last_units: tuple[str, list[str]] = ("", [])
        self._lock = threading.Lock()
        # What `_encoded` takes off the front of every unit's encoding: the `▁` the
        # tokenizer puts before a whole text, and the newline standing before the unit.
        self._lead = tuple(tokenizer.encode("\n", add_special_tokens=False).ids)
        if len(self._lead) != 2 or tokenizer.get_vocab_size() > 1 << 16:
            raise RuntimeError("this tokenizer does not split as domain/ingestion/tokens.py needs")

    @cached_property
    def _pairs(self) -> frozenset[str]:
        """Characters side by side in some vocabulary piece, as they may appear in the
        text (spaces become `▁` before BPE); only long units need them."""
        same = {"▁": "▁ ", " ": "▁ "}
        return frozenset(
            left + right
            for piece in self._tokenizer.get_vocab()
            for first, second in pairwise(piece)
            for left in same.get(first, first)
            for right in same.get(second, second)
        )

    def count(self, text: str) -> int:
        """Tokens in `text` as the embedder's tokenizer encodes it (no special tokens)."""
        units = self._units(text)
        if not units:
            return 0
        counts = self._counts(units)
        # The first unit is counted as if a space stood before it: the tokenizer puts
        # a `▁` in front of a whole text, as it does in front of a unit after a space.
        return self._unit(" " + units[0]) + sum(counts) - counts[0]

    def ids(self, text: str) -> bytes:
        """The token ids of `text`, exactly as the tokenizer encodes it (no special
        tokens): its units' ids, the first as if a space stood before it (see `count`).
        Unsigned 16-bit in native byte order: the vocabulary has 32,000 pieces."""
        units = self._units(text)
        if not units:
            return b""
        return self._unit_ids(" " + units[0]) + b"".join(map(self._unit_ids, units[1:]))

    def slicer(self, text: str) -> Callable[[int, int], bytes]:
        """`ids` for the piece `text[start:end]`, from the ids of the whole text's units
        joined once: the whole units in between are one slice, and only the two partial
        units at the ends are encoded (as `sizer` counts them)."""
        units = self._units(text)
        starts = list(accumulate(map(len, units), initial=0))
        known = self._id_memo
        for unit in set(units).difference(known):
            self._unit_ids(unit)  # remembered, unless too long to be worth it
        if all(map(known.__contains__, units)):  # the common case: no Python step per unit
            each = list(map(known.__getitem__, units))
        else:
            each = list(map(self._unit_ids, units))
        joined = b"".join(each)
        offsets = list(accumulate(map(len, each), initial=0))
        unit_ids = self._unit_ids

        def ids(start: int, end: int) -> bytes:
            first, stop = bisect_right(starts, start), bisect_left(starts, end)
            if first == stop:  # within one unit
                return unit_ids(" " + text[start:end])
            return (
                unit_ids(" " + text[start : starts[first]])
                + joined[offsets[first] : offsets[stop - 1]]
                + unit_ids(text[starts[stop - 1] : end])
            )

        return ids

    def sizer(self, text: str) -> Callable[[str], int]:
        """`count` for pieces of `text`, in O(log n) apart from the two partial units
        at the ends of each piece (for the splitter's callback)."""
        units = self._units(text)
        starts = list(accumulate(map(len, units), initial=0))
        totals = list(accumulate(self._counts(units), initial=0))
        unit = self._unit
        last = 0  # where the previous piece started: the next one usually does too

        def size(piece: str) -> int:
            nonlocal last
            if not piece:
                return 0
            start = last
            if not text.startswith(piece, start):
                start = text.find(piece, start)
                if start < 0:
                    start = text.find(piece)
                    if start < 0:  # not a piece of `text` after all
                        return self.count(piece)
                last = start
            end = start + len(piece)
            # The units that begin inside the piece (after its first character) are
            # first, ..., stop - 1.
            first, stop = bisect_right(starts, start), bisect_left(starts, end)
            if first == stop:  # within one unit
                return unit(" " + piece)
            return (
                unit(" " + text[start : starts[first]])  # the piece's first unit
                + totals[stop - 1]
                - totals[first]  # the whole units in between
                + unit(text[starts[stop - 1] : end])  # the last one, maybe cut short
            )

        return size

    def _units(self, text: str) -> list[str]:
        last_text, last_units = self._last_units
        if text is last_text:  # the chunker asks `sizer`, then `slicer`, of one block
            return last_units
        units = self._split_units(text)
        self._last_units = (text, units)
        return units

    def _split_units(self, text: str) -> list[str]:
        units = _UNIT.findall(text)
        if not units or max(map(len, units)) <= _LONG_UNIT:
            return units
        return [part for unit in units for part in self._cut(unit)]

    def _cut(self, unit: str) -> Iterable[str]:
        if len(unit) <= _LONG_UNIT:
            return (unit,)
        pairs = self._pairs
        cuts = [i for i in range(1, len(unit)) if unit[i - 1 : i + 1] not in pairs]
        return [unit[start:end] for start, end in pairwise([0, *cuts, len(unit)])]

    def _counts(self, units: list[str]) -> list[int]:
        with self._lock:
            memo = self._memo
            missing = set(units).difference(memo)
            if len(memo) + len(missing) > _MEMO_LIMIT:
                memo.clear()
                memo["\n"] = 1
                missing = set(units).difference(memo)
            for unit in missing:
                memo[unit] = self._encoded(unit)
            counts = list(map(memo.__getitem__, units))
            for unit in missing:
                if len(unit) > _LONG_UNIT:  # rarely seen again; not worth the memory
                    del memo[unit]
            return counts

    def _unit(self, unit: str) -> int:
        """A unit's count where it follows other text (not at the start)."""
        known = self._memo.get(unit)
        if known is None:
            known = self._encoded(unit)
            if len(unit) <= _LONG_UNIT:
                self._memo[unit] = known
        return known

    def _unit_ids(self, unit: str) -> bytes:
        """A unit's ids where it follows other text (not at the start), as `ids` gives them."""
        known = self._id_memo.get(unit)
        if known is None:
            encoded = self._tokenizer.encode("\n" + unit, add_special_tokens=False).ids
            if tuple(encoded[:2]) != self._lead:
                raise RuntimeError(f"unexpected encoding of a unit: {unit!r}")
            known = array("H", encoded[2:]).tobytes()
            if len(unit) <= _LONG_UNIT:
                with self._lock:
                    if len(self._id_memo) >= _MEMO_LIMIT:
                        self._id_memo.clear()
                    self._id_memo[unit] = known
        return known

    def _encoded(self, unit: str) -> int:
        # The tokenizer puts a `▁` in front of a whole text. Behind a newline (never part
        # of a longer piece) the unit is tokenized as it is mid-text; the `▁` and the
        # newline are the two tokens taken off.
        return len(self._tokenizer.encode("\n" + unit, add_special_tokens=False)) - 2


@lru_cache(maxsize=1)
def counter() -> TokenCounter:
    """The process's counter; the tokenizer file (1.8 MB) is read once."""
    return TokenCounter(Tokenizer.from_file(str(tokenizer_path())))


def count_tokens(text: str) -> int:
    """Tokens in `text` with surrounding whitespace trimmed, as the chunker counts them."""
    return counter().count(text.strip())
