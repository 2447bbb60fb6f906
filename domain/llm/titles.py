"""Session titles: the trimmed first question, or a model's suggestion cleaned up."""

from __future__ import annotations

import re

MAX_TITLE_CHARS = 60
UNTITLED = "New chat"
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"
_LABEL = re.compile(r"^\s*(title|session title)\s*:\s*", re.IGNORECASE)


def fallback_title(question: str, limit: int = MAX_TITLE_CHARS) -> str:
    """The question on one line, cut at a word boundary to at most `limit` characters."""
    text = " ".join(question.split())
    if not text:
        return UNTITLED
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def clean_title(suggestion: str | None, question: str, limit: int = MAX_TITLE_CHARS) -> str:
    """A model's title made presentable; the question's fallback when it is unusable."""
    if not suggestion:
        return fallback_title(question, limit)
    lines = [line for line in suggestion.splitlines() if line.strip()]
    if not lines:
        return fallback_title(question, limit)
    text = _LABEL.sub("", lines[0]).strip().strip(_QUOTES).strip().rstrip(".")
    text = text.replace("**", "").replace("#", "").strip()
    if not text:
        return fallback_title(question, limit)
    return fallback_title(text, limit)
