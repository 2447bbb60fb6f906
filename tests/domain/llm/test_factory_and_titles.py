"""Which adapter the settings pick, and how titles are made presentable."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.llm.extractive import ExtractiveAnswerer
from domain.llm.factory import build_llm
from domain.llm.openai_chat import OpenAIChat
from domain.llm.titles import UNTITLED, clean_title, fallback_title
from domain.settings import Settings


def settings(tmp_path: Path, **values: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": tmp_path,
        "openai_api_key": None,
        "openai_base_url": None,
        **values,
    }
    return Settings(_env_file=None, **base)  # type: ignore[arg-type]


async def test_no_key_and_no_base_url_means_the_extractive_answerer(tmp_path: Path) -> None:
    llm = build_llm(settings(tmp_path))
    assert isinstance(llm, ExtractiveAnswerer)
    assert llm.name == "extractive"


@pytest.mark.parametrize(
    "values",
    [
        {"openai_api_key": "sk-test"},
        {"openai_base_url": "http://127.0.0.1:11434/v1"},
    ],
)
async def test_a_key_or_a_base_url_means_the_openai_adapter(
    tmp_path: Path, values: dict[str, object]
) -> None:
    llm = build_llm(settings(tmp_path, chat_model="my-model", **values))
    assert isinstance(llm, OpenAIChat)
    assert llm.name == "openai" and llm.default_model == "my-model"
    await llm.aclose()


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("  What is\n the leave policy? ", "What is the leave policy?"),
        ("", UNTITLED),
        ("   \n ", UNTITLED),
        (
            "How do I file an expense report for a trip that spanned two fiscal quarters?",
            "How do I file an expense report for a trip that spanned…",
        ),
        ("x" * 100, "x" * 59 + "…"),
    ],
)
def test_fallback_title(question: str, title: str) -> None:
    assert fallback_title(question) == title
    assert len(fallback_title(question)) <= 60


@pytest.mark.parametrize(
    ("suggestion", "title"),
    [
        ('"Expense reports."', "Expense reports"),
        ("Title: Leave policy\nsome explanation", "Leave policy"),
        ("**Leave policy**", "Leave policy"),
        ("\u201cQuarterly numbers\u201d", "Quarterly numbers"),
        (None, "the question"),
        ('""', "the question"),
        ("\n\n", "the question"),
    ],
)
def test_clean_title(suggestion: str | None, title: str) -> None:
    assert clean_title(suggestion, "the question") == title
