"""An answerer that needs no model: it quotes the best retrieved passages, with citations.

It reads the passages from `context` (never by parsing the prompt), keeps the retrieval
order, and from each of the first `max_passages` takes the sentences that share the
most words with the question (in their original order), followed by the passage's
marker, "[1]". The answer streams word by word, yielding to the event loop between
words, so the rest of the system sees it exactly as it would see a model. With no
passages it says it found nothing relevant.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Sequence

from domain.llm.port import ChatTurn, ContextPassage, Delta, LLMEvent, TokenUsage, Usage
from domain.llm.titles import fallback_title

MODEL_NAME = "extractive"
INTRODUCTION = "Here is what the documents say:"
NOTHING_FOUND = "I could not find anything relevant to your question in this workspace's documents."
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_WORD = re.compile(r"\w+")
_PIECE = re.compile(r"\s*\S+")
# Words too common to say what a sentence is about.
STOPWORDS = frozenset(
    """a an and are as at be but by can could do does did for from had has have how i if
    in into is it its me my no not of on or our so than that the their them then there
    these they this to was we were what when where which who whom why will with would you
    your about please tell explain show give""".split()  # noqa: SIM905
)


class ExtractiveAnswerer:
    def __init__(
        self, *, max_passages: int = 3, sentences_per_passage: int = 2, max_words: int = 80
    ) -> None:
        if max_passages < 1 or sentences_per_passage < 1 or max_words < 1:
            raise ValueError("limits must be positive")
        self._max_passages = max_passages
        self._sentences = sentences_per_passage
        self._max_words = max_words

    @property
    def name(self) -> str:
        return MODEL_NAME

    async def stream(
        self,
        turns: Sequence[ChatTurn],
        *,
        context: Sequence[ContextPassage] = (),
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[LLMEvent, None]:
        del model, temperature  # nothing to choose or sample
        answer = self.answer(question_of(turns), context)
        pieces = _PIECE.findall(answer)
        finish_reason = "stop"
        if max_tokens is not None and len(pieces) > max_tokens:
            pieces, finish_reason = pieces[: max(max_tokens, 0)], "length"
        for piece in pieces:
            yield Delta(piece)
            await asyncio.sleep(0)
        prompt = sum(count_words(turn.content) for turn in turns)
        prompt += sum(count_words(passage.text) for passage in context)
        usage = TokenUsage(prompt_tokens=prompt, completion_tokens=len(pieces))
        yield Usage(usage=usage, model=MODEL_NAME, finish_reason=finish_reason)

    def answer(self, question: str, context: Sequence[ContextPassage]) -> str:
        """The whole answer at once (what `stream` sends, piece by piece)."""
        wanted = keywords(question)
        quotes = [
            f"{self._excerpt(passage.text, wanted)} [{passage.marker.strip().strip('[]')}]"
            for passage in context
            if passage.text.strip()
        ][: self._max_passages]
        if not quotes:
            return NOTHING_FOUND
        return INTRODUCTION + "\n\n" + "\n\n".join(quotes)

    def _excerpt(self, text: str, wanted: set[str]) -> str:
        sentences = [" ".join(part.split()) for part in _SENTENCE_END.split(text)]
        sentences = [sentence for sentence in sentences if sentence]
        scores = [len(wanted & keywords(sentence)) for sentence in sentences]
        ranked = sorted(range(len(sentences)), key=lambda index: (-scores[index], index))
        chosen = sorted(ranked[: self._sentences])
        words = " ".join(sentences[index] for index in chosen).split()
        if len(words) > self._max_words:
            return " ".join(words[: self._max_words]) + " …"
        return " ".join(words)

    async def title(self, question: str, *, model: str | None = None) -> str:
        return fallback_title(question)

    async def aclose(self) -> None:
        return None


def question_of(turns: Sequence[ChatTurn]) -> str:
    """The last user turn: the question being answered."""
    for turn in reversed(turns):
        if turn.role == "user":
            return turn.content
    return ""


def keywords(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if word not in STOPWORDS}


def count_words(text: str) -> int:
    return len(text.split())
