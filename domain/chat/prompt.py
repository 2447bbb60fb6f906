"""The prompt for one answer, within a token budget: instructions, sources, history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.chat.models import ChatMessage, MessageRole
from domain.llm.port import ChatTurn, ContextPassage, Role
from domain.retrieval.search import Passage

BASE_INSTRUCTIONS = (
    "You answer questions using the numbered sources below. Cite the sources you use "
    "with their markers, like [1]. If the sources do not contain the answer, say so "
    "plainly instead of guessing."
)


def estimate_tokens(text: str) -> int:
    # About four characters per token for English with BPE tokenizers; rounded up and
    # padded per message, so the estimate errs on the side of a shorter prompt.
    return len(text) // 4 + 4


@dataclass(frozen=True, slots=True)
class Prompt:
    turns: list[ChatTurn]
    context: list[ContextPassage]
    cited: list[Passage]


def source_label(passage: Passage, filenames: dict[object, str]) -> str:
    hit = passage.hit
    label = filenames.get(hit.document_id, "document")
    if hit.page is not None:
        label += f", page {hit.page}"
    if hit.heading:
        label += f", {hit.heading}"
    return label


def build_prompt(
    *,
    question: str,
    passages: Sequence[Passage],
    filenames: dict[object, str],
    history: Sequence[ChatMessage],
    system_prompt: str | None,
    budget_tokens: int,
) -> Prompt:
    """Sources first (they are why we are here), then as much history as still fits,
    newest first; the question always goes in."""
    remaining = budget_tokens - estimate_tokens(BASE_INSTRUCTIONS) - estimate_tokens(question)
    if system_prompt:
        remaining -= estimate_tokens(system_prompt)
    context: list[ContextPassage] = []
    cited: list[Passage] = []
    for passage in passages:
        marker = str(len(context) + 1)
        source = source_label(passage, filenames)
        block = f"[{marker}] ({source})\n{passage.hit.text}"
        cost = estimate_tokens(block)
        if cost > remaining:
            break
        remaining -= cost
        context.append(ContextPassage(marker=marker, text=passage.hit.text, source=source))
        cited.append(passage)
    earlier: list[ChatTurn] = []
    for message in history:  # newest first
        cost = estimate_tokens(message.content)
        if cost > remaining:
            break
        remaining -= cost
        role: Role = "user" if message.role is MessageRole.USER else "assistant"
        earlier.append(ChatTurn(role=role, content=message.content))
    earlier.reverse()
    system = "\n\n".join(
        part
        for part in (
            system_prompt,
            BASE_INSTRUCTIONS,
            "Sources:\n\n" + "\n\n".join(f"[{c.marker}] ({c.source})\n{c.text}" for c in context)
            if context
            else "Sources: none were found for this question.",
        )
        if part
    )
    turns = [ChatTurn(role="system", content=system), *earlier]
    turns.append(ChatTurn(role="user", content=question))
    return Prompt(turns=turns, context=context, cited=cited)
