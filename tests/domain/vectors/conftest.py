"""Every vector store adapter, for the one contract suite: LanceDB in a temp dir, Chroma
embedded in a temp dir, and Chroma as the client of a real `chroma run` server."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from domain.vectors.lancedb_store import LanceDBStore
from domain.vectors.port import VectorStore
from tests.support.server import free_port

DIMENSION = 8
ADAPTERS = ("lancedb", "chroma-embedded", "chroma-server")
SERVER_START_SECONDS = 60.0


def require_chroma() -> None:
    """Chroma is an optional extra: skipped loudly without it, but never under CI."""
    if importlib.util.find_spec("chromadb") is not None:
        return
    reason = "chromadb is not installed (pip install -e '.[chroma]'): Chroma adapters NOT TESTED"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def chroma_executable() -> str:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if found is None:
        pytest.fail("chromadb is installed but its `chroma` command is not on the PATH")
    return found


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `chroma run` server on a free loopback port, for the whole session."""
    require_chroma()
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (data / "server.log").open("wb")
    command = [chroma_executable(), "run", "--path", str(data / "db"), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"chroma run exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma run did not answer its heartbeat in time; see {log.name}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def build_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> VectorStore:
    # A fresh embedder name per test: its own table or collection, even on a shared server.
    embedder = f"test:{uuid.uuid4().hex[:12]}"
    if kind == "lancedb":
        return LanceDBStore(tmp_path / "lancedb", dimension=DIMENSION, embedder_name=embedder)
    require_chroma()
    from domain.vectors.chroma_store import ChromaStore

    if kind == "chroma-embedded":
        return ChromaStore(path=tmp_path / "chroma", dimension=DIMENSION, embedder_name=embedder)
    url: str = request.getfixturevalue("chroma_server")
    return ChromaStore(url=url, dimension=DIMENSION, embedder_name=embedder)


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    built = build_store(request.param, tmp_path, request)
    try:
        yield built
    finally:
        await built.close()
