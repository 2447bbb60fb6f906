"""Parsing runs in child processes: overruns are killed, memory is capped, a dying
child fails only its own file, and the event loop keeps running meanwhile."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from domain.ingestion.chunking import chunk_sections
from domain.ingestion.detect import APPLICATION_PDF, DOCX, TEXT_PLAIN
from domain.ingestion.isolation import (
    CRASHED,
    ParserPool,
    close_parser_pools,
    parse_in_subprocess,
)
from domain.ingestion.parsing import ParseError, parse_file
from tests.domain.ingestion.files import MB, pdf_bytes, write_docx, write_zip_bomb_docx

# Children read /proc to be found; the isolation itself is POSIX-wide.
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


@pytest.fixture(scope="module")
def slow_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PDF of 1,500 text pages: several seconds of pypdf work."""
    path = tmp_path_factory.mktemp("pdf") / "slow.pdf"
    lines = [f"Line {line} of this page, with a few more words." for line in range(30)]
    path.write_bytes(pdf_bytes([lines] * 1500))
    return path


@pytest.fixture
def small_text(tmp_path: Path) -> Path:
    path = tmp_path / "small.txt"
    path.write_text("A small file parses quickly.")
    return path


@pytest.fixture
async def pool() -> AsyncIterator[ParserPool]:
    pool = ParserPool(max_workers=2)
    yield pool
    await pool.close()


def parsing_children() -> list[int]:
    """Process ids of this process's live parsing children."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, parent = fields[0], int(fields[1])
        if parent == os.getpid() and state != "Z" and b"domain.ingestion.worker_entry" in command:
            pids.append(int(entry.name))
    return pids


async def first_child() -> int:
    """The parsing child once it exists (a started parse spawns it)."""
    for _ in range(500):
        children = parsing_children()
        if children:
            return children[0]
        await asyncio.sleep(0.02)
    raise AssertionError("no parsing child started within 10 s")


async def test_sections_come_back_from_the_child(pool: ParserPool, tmp_path: Path) -> None:
    # given a DOCX
    path = write_docx(tmp_path / "handbook.docx")
    # when it is parsed in a child process
    sections = await pool.parse(path, DOCX, timeout_seconds=30)
    # then the result is what parsing in this process gives
    assert sections == parse_file(path, DOCX)


@pytest.mark.parametrize("token_ids", [True, False])
async def test_chunks_come_back_with_token_ids_when_asked(
    pool: ParserPool, tmp_path: Path, token_ids: bool
) -> None:
    # given a DOCX
    path = write_docx(tmp_path / "handbook.docx")
    # when it is parsed and chunked in a child process, asking for token ids or not
    chunks = await pool.parse_chunks(
        path, DOCX, timeout_seconds=30, max_tokens=60, overlap_tokens=10, token_ids=token_ids
    )
    # then the chunks are those made in this process, with the ids only when asked
    local = chunk_sections(
        parse_file(path, DOCX), max_tokens=60, overlap_tokens=10, token_ids=token_ids
    )
    assert chunks == local
    assert all(chunk.token_ids for chunk in chunks) is token_ids


async def test_parse_errors_come_back_readable(pool: ParserPool, tmp_path: Path) -> None:
    # given hostile files: garbage named .pdf and a zip bomb named .docx
    garbage = tmp_path / "x.pdf"
    garbage.write_bytes(os.urandom(4096))
    bomb = write_zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=50)
    # when they are parsed in a child process
    # then each fails with its reason
    with pytest.raises(ParseError, match="PDF could not be read"):
        await pool.parse(garbage, APPLICATION_PDF, timeout_seconds=30)
    with pytest.raises(ParseError, match=r"refused: it would inflate to 50\.0 MB"):
        await pool.parse(bomb, DOCX, timeout_seconds=30)


async def test_children_are_reused(pool: ParserPool, small_text: Path) -> None:
    # given a warm pool
    await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)
    started = time.perf_counter()
    # when many small files are parsed one after another
    for _ in range(50):
        await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)
    # then no child is started per file (starting one takes a good part of a second)
    assert (time.perf_counter() - started) / 50 < 0.05
    assert len(parsing_children()) == 1


async def test_a_parse_that_overruns_is_stopped(
    pool: ParserPool, slow_pdf: Path, small_text: Path
) -> None:
    # given a PDF that takes seconds to parse and a timeout far below that
    await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)  # children started
    started = time.perf_counter()
    # when it is parsed
    with pytest.raises(ParseError) as caught:
        await pool.parse(slow_pdf, APPLICATION_PDF, timeout_seconds=0.2)
    # then it stops at the timeout with a readable reason, and its child is gone
    assert caught.value.message == "Parsing took longer than 0.2 s; the file was skipped."
    assert time.perf_counter() - started < 1.5
    assert parsing_children() == []
    # and the next file parses normally
    assert await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)


async def test_an_overrun_does_not_disturb_a_parallel_parse(
    pool: ParserPool, slow_pdf: Path, tmp_path: Path
) -> None:
    # given a slow PDF and an ordinary DOCX parsed at the same time
    docx_path = write_docx(tmp_path / "handbook.docx")
    slow = pool.parse(slow_pdf, APPLICATION_PDF, timeout_seconds=0.3)
    normal = pool.parse(docx_path, DOCX, timeout_seconds=30)
    # when the PDF overruns
    results = await asyncio.gather(slow, normal, return_exceptions=True)
    # then only the PDF fails
    assert isinstance(results[0], ParseError)
    assert results[1] == parse_file(docx_path, DOCX)


async def test_memory_is_capped(tmp_path: Path, small_text: Path) -> None:
    # given children capped at 128 MB and a file whose text alone needs more
    pool = ParserPool(max_workers=1, memory_limit_bytes=128 * MB)
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as file:
        file.truncate(100 * MB)  # sparse: costs no disk
    try:
        # when it is parsed
        # then it fails with a readable reason instead of eating the server's memory
        with pytest.raises(ParseError, match="needs more memory"):
            await pool.parse(huge, TEXT_PLAIN, timeout_seconds=30)
        # and the pool goes on working
        assert await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)
    finally:
        await pool.close()


async def test_a_child_that_dies_fails_only_its_file(
    pool: ParserPool, slow_pdf: Path, small_text: Path
) -> None:
    # given a slow parse under way
    parsing = asyncio.create_task(pool.parse(slow_pdf, APPLICATION_PDF, timeout_seconds=30))
    child = await first_child()
    await asyncio.sleep(0.3)
    # when its child dies (as under the kernel's out-of-memory killer)
    os.kill(child, signal.SIGKILL)
    # then that file fails with a readable reason
    with pytest.raises(ParseError) as caught:
        await parsing
    assert caught.value.message == CRASHED
    # and the next file parses in a new child
    assert await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)


async def test_cancelling_a_parse_kills_its_child(pool: ParserPool, slow_pdf: Path) -> None:
    # given a slow parse under way
    parsing = asyncio.create_task(pool.parse(slow_pdf, APPLICATION_PDF, timeout_seconds=30))
    await first_child()
    # when the caller gives up on it (the document was deleted meanwhile)
    parsing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await parsing
    # then the child does not go on parsing
    assert parsing_children() == []


async def test_the_event_loop_keeps_running_during_a_parse(
    pool: ParserPool, slow_pdf: Path
) -> None:
    # given a parse that keeps a child busy
    parsing = asyncio.create_task(pool.parse(slow_pdf, APPLICATION_PDF, timeout_seconds=1.0))
    # when the loop is sampled meanwhile
    longest = 0.0
    last = time.perf_counter()
    while not parsing.done():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    with pytest.raises(ParseError):
        await parsing
    # then it never stalled (the bound is loose for busy CI machines)
    assert longest < 0.1


async def test_the_shared_pools_parse_and_close(small_text: Path) -> None:
    # when a file is parsed through the module-level entry point
    sections = await parse_in_subprocess(
        small_text, TEXT_PLAIN, timeout_seconds=30, memory_limit_bytes=1024 * MB
    )
    # then its sections come back, and closing stops every child
    assert [section.text for section in sections] == ["A small file parses quickly."]
    await close_parser_pools()
    assert parsing_children() == []


async def test_children_are_replaced_after_their_quota_of_files(small_text: Path) -> None:
    # given a pool whose children parse at most three files each
    pool = ParserPool(max_workers=1, calls_per_worker=3)
    try:
        await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)
        first = parsing_children()
        # when a fourth file is parsed
        for _ in range(3):
            await pool.parse(small_text, TEXT_PLAIN, timeout_seconds=30)
        # then a new child parsed it (the old one exits on its own)
        second = [pid for pid in parsing_children() if pid not in first]
        assert len(second) == 1
    finally:
        await pool.close()
