"""build_embedder: EMBEDDER picks the adapter; bad configurations fail at start-up."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from domain.embeddings.factory import build_embedder
from domain.embeddings.openai import OpenAIEmbedder
from domain.embeddings.wordllama import WordLlamaEmbedder
from domain.settings import Settings


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "EMBEDDER", "EMBEDDING_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_wordllama_is_the_default(tmp_path: Path) -> None:
    embedder = build_embedder(settings(tmp_path))
    assert isinstance(embedder, WordLlamaEmbedder)
    assert (embedder.name, embedder.dimension) == ("wordllama:l2_supercat:256", 256)


def test_wordllama_refuses_a_configuration_it_would_have_to_download(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not shipped"):
        build_embedder(settings(tmp_path, embedding_model="l3_supercat"))


def test_openai_compatible(tmp_path: Path) -> None:
    embedder = build_embedder(
        settings(
            tmp_path,
            embedder="openai",
            embedding_model="nomic-embed-text",
            openai_base_url="http://127.0.0.1:11434/v1",
        )
    )
    assert isinstance(embedder, OpenAIEmbedder)
    assert embedder.name == "openai:nomic-embed-text:768"


def test_openai_needs_a_key_for_the_public_api(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        build_embedder(settings(tmp_path, embedder="openai"))
    embedder = build_embedder(settings(tmp_path, embedder="openai", openai_api_key="sk-x"))
    assert embedder.dimension == 1536


def test_sentence_transformers_needs_a_local_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="EMBEDDING_MODEL"):
        build_embedder(settings(tmp_path, embedder="sentence-transformers"))
    with pytest.raises(ValueError, match="never downloaded"):
        build_embedder(
            settings(
                tmp_path,
                embedder="sentence-transformers",
                embedding_model="sentence-transformers/all-MiniLM-L6-v2",
            )
        )


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None,
    reason="the extra is installed; this checks the message without it",
)
def test_sentence_transformers_without_the_extra_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"ragql\[sentence-transformers\]"):
        build_embedder(
            settings(tmp_path, embedder="sentence-transformers", embedding_model=str(tmp_path))
        )


def test_unknown_embedder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown EMBEDDER"):
        build_embedder(settings(tmp_path, embedder="word2vec"))


def test_embedding_dimension_setting(tmp_path: Path) -> None:
    wordllama = build_embedder(settings(tmp_path, embedding_dimension=128))
    assert wordllama.name == "wordllama:l2_supercat:128"
    served = build_embedder(
        settings(
            tmp_path,
            embedder="openai",
            embedding_model="my-own-model",
            embedding_dimension=384,
            openai_base_url="http://127.0.0.1:8080/v1",
        )
    )
    assert served.name == "openai:my-own-model:384"
