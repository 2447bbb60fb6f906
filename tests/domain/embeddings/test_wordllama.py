"""WordLlama: offline from its own wheel, normalised vectors, and meaning over words."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from domain.embeddings.port import EmbeddingRejected, TokenIdEmbedder
from domain.embeddings.wordllama import WordLlamaEmbedder, package_dir, require_shipped
from domain.ingestion.tokens import TOKENIZER_CONFIG, counter

ROOT = Path(__file__).resolve().parents[3]

OFFLINE_SCRIPT = """
import asyncio, json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network use during an offline load")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from domain.embeddings.wordllama import WordLlamaEmbedder

vectors = asyncio.run(WordLlamaEmbedder().embed(["offline works"]))
print(json.dumps({"shape": list(vectors.shape)}))
"""


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    model = WordLlamaEmbedder()
    model.load()
    return model


def test_loads_offline_from_the_package_alone(tmp_path: Path) -> None:
    # given a process with no network, an empty home (so no ~/.cache) and HF offline
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "HF_HOME": str(home / "hf"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }

    # when it loads the model and embeds
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then it worked, and wrote no cache anywhere
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"shape": [1, 256]}
    assert list(home.iterdir()) == []


def test_the_files_it_needs_ship_inside_the_wheel() -> None:
    assert (package_dir() / "weights" / "l2_supercat_256.safetensors").is_file()
    assert (package_dir() / "tokenizers" / "l2_supercat_tokenizer_config.json").is_file()
    require_shipped("l2_supercat")
    with pytest.raises(ValueError, match="not shipped"):
        require_shipped("l3_supercat")


async def test_paraphrases_rank_above_unrelated_text(embedder: WordLlamaEmbedder) -> None:
    # given a question and candidates sharing no word with it
    query, answer, unrelated = await embedder.embed(
        [
            "money back policy",
            "refunds are processed within 14 days",
            "the train leaves the station at noon",
        ]
    )
    # then the paraphrase is nearer than the unrelated sentence
    assert float(query @ answer) > float(query @ unrelated) + 0.1


async def test_vectors_are_float32_unit_rows_of_the_dimension(embedder: WordLlamaEmbedder) -> None:
    texts = ["one", "two words", "a much longer sentence about many things " * 20]
    vectors = await embedder.embed(texts)
    assert embedder.name == "wordllama:l2_supercat:256"
    assert embedder.dimension == 256
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 256)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # and each row belongs to its own text, in order
    again = await embedder.embed(texts[::-1])
    assert np.allclose(again[::-1], vectors, atol=1e-6)


async def test_same_vectors_as_wordllama_itself(embedder: WordLlamaEmbedder) -> None:
    from wordllama import WordLlama

    texts = ["refunds are processed within 14 days", "Ünïcödé and emoji 🎉", "x " * 3000]
    reference = WordLlama.load(cache_dir=package_dir(), disable_download=True)
    expected = reference.embed(texts, norm=True)
    assert np.allclose(await embedder.embed(texts), expected, atol=1e-5)


@pytest.mark.parametrize("dimension", [256, 64])
async def test_token_ids_give_exactly_the_vectors_of_the_texts(dimension: int) -> None:
    # given texts and their ids as the chunker's tokenizer makes them
    embedder = WordLlamaEmbedder(dimension=dimension)
    texts = ["Refunds take five days.", "  spaced\n\nout  ", "東京都の天気は晴れです。", "ok"]
    ids = [counter().ids(text) for text in texts]
    # when both are embedded
    from_texts = await embedder.embed(texts)
    from_ids = await embedder.embed_token_ids(ids)
    # then the rows are identical, and the embedder says whose tokens it takes
    assert np.array_equal(from_texts, from_ids)
    assert embedder.tokenizer_config == TOKENIZER_CONFIG
    assert isinstance(embedder, TokenIdEmbedder)
    assert (await embedder.embed_token_ids([])).shape == (0, dimension)


async def test_truncated_dimensions(embedder: WordLlamaEmbedder) -> None:
    small = WordLlamaEmbedder(dimension=64)
    [vector] = await small.embed(["money back policy"])
    assert small.name == "wordllama:l2_supercat:64"
    assert vector.shape == (64,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError):
        WordLlamaEmbedder(dimension=100)


async def test_empty_input_and_blank_text(embedder: WordLlamaEmbedder) -> None:
    assert (await embedder.embed([])).shape == (0, 256)
    with pytest.raises(EmbeddingRejected):
        await embedder.embed(["fine", "   "])
    with pytest.raises(TypeError):
        await embedder.embed("a string is not a list of texts")


async def test_a_very_long_text_is_embedded_in_bounded_blocks(embedder: WordLlamaEmbedder) -> None:
    [vector] = await embedder.embed(["word " * 200_000])
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


async def test_the_work_runs_off_the_event_loop_thread(
    embedder: WordLlamaEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    original = embedder.embed_sync

    def spy(texts: list[str]) -> np.ndarray:
        threads.append(threading.get_ident())
        return original(texts)

    monkeypatch.setattr(embedder, "embed_sync", spy)
    await embedder.embed(["hello"])
    assert threads and threads[0] != threading.get_ident()


def test_importing_wordllama_leaves_the_root_logger_alone(tmp_path: Path) -> None:
    script = (
        "import logging\n"
        "from domain.embeddings.wordllama import package_dir\n"
        "package_dir()\n"
        "root = logging.getLogger()\n"
        "print(len(root.handlers), root.level)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["0", str(30)]  # no handler added, still WARNING
