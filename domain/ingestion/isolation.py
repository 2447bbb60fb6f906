"""Parsing in child processes: a hostile file can hang or bloat a child, not the server.

Each child is a fresh interpreter started with exec (`python -m
domain.ingestion.worker_entry`), never a fork: the server runs LanceDB, whose threads
make a forked child deadlock, and exec also spares the child the server's memory and
its main module. Children are kept and reused, since starting one (an interpreter
importing the parsers) costs far more than parsing a small file.

A child parses one file at a time, so when a parse overruns its timeout exactly that
child is killed, and when a child dies the file it was parsing is the one to blame.
Everything here is asyncio pipes and process handles: the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import site
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from domain.ingestion import worker_protocol as protocol
from domain.ingestion.chunking import Chunk
from domain.ingestion.errors import ParseError
from domain.ingestion.limits import DEFAULT_LIMITS, ParseLimits
from domain.ingestion.section import Section

logger = logging.getLogger(__name__)
T = TypeVar("T")

CRASHED = (
    "The parser stopped unexpectedly on this file (it may be hostile, or need more "
    "memory than allowed); the file was skipped."
)
DEFAULT_MAX_WORKERS = min(4, os.cpu_count() or 1)
# A child is replaced after this many files, so leaks in parsing libraries cannot pile up.
DEFAULT_CALLS_PER_WORKER = 200
# Starting is the interpreter and the imports: seconds at worst, not part of a parse.
START_TIMEOUT_SECONDS = 60.0
# The directory holding the `domain` package, so children import this very code.
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def timed_out(timeout_seconds: float) -> str:
    return f"Parsing took longer than {timeout_seconds:g} s; the file was skipped."


def _child_environment() -> dict[str, str]:
    """The server's environment, with its source checkout first on the child's path.

    An installed copy (site-packages) is on the path already, and must not be put on
    PYTHONPATH: that would place every installed package ahead of the standard library.
    """
    environment = dict(os.environ)
    installed = {Path(folder).resolve() for folder in site.getsitepackages()}
    installed.add(Path(site.getusersitepackages()).resolve())
    if _SOURCE_ROOT not in installed:
        rest = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = str(_SOURCE_ROOT) + (os.pathsep + rest if rest else "")
    return environment


class _Worker:
    """One child process and the pipes to talk to it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.calls = 0

    @classmethod
    async def start(cls, memory_limit_bytes: int | None) -> _Worker:
        arguments = ["-m", "domain.ingestion.worker_entry", "--parent-pid", str(os.getpid())]
        if memory_limit_bytes is not None:
            arguments += ["--memory-limit", str(memory_limit_bytes)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *arguments,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=_child_environment(),
            # Its own session: a Ctrl-C meant for the server does not kill a parse
            # half-way; the server stops its children itself.
            start_new_session=True,
        )
        worker = cls(process)
        try:
            ready = await asyncio.wait_for(worker._receive(), START_TIMEOUT_SECONDS)
        except BaseException:
            await worker.kill()
            raise
        if ready != protocol.READY:
            await worker.kill()
            raise RuntimeError(f"the parsing child sent {ready!r} instead of ready")
        return worker

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def parse(self, path: Path, media_type: str, limits: ParseLimits) -> list[Section]:
        assert self.process.stdin is not None
        self.calls += 1
        self.process.stdin.write(protocol.frame(protocol.request(path, media_type, limits)))
        await self.process.stdin.drain()
        return protocol.parse_response(await self._receive())

    async def parse_chunks(
        self,
        path: Path,
        media_type: str,
        limits: ParseLimits,
        chunking: tuple[int, int],
        token_ids: bool,
    ) -> list[Chunk]:
        assert self.process.stdin is not None
        self.calls += 1
        request = protocol.request(path, media_type, limits, chunking, token_ids=token_ids)
        self.process.stdin.write(protocol.frame(request))
        await self.process.stdin.drain()
        chunks: list[Chunk] = []
        more = True
        while more:  # frame by frame: each decode is short, the loop runs in between
            part, more = protocol.parse_chunk_frame(await self._receive())
            chunks.extend(part)
        return chunks

    async def _receive(self) -> Any:
        assert self.process.stdout is not None
        prefix = await self.process.stdout.readexactly(protocol.LENGTH_BYTES)
        body = await self.process.stdout.readexactly(protocol.body_length(prefix))
        return protocol.decode(body)

    async def close(self) -> None:
        """Lets an idle child finish: end of input is its signal to exit."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()

    async def kill(self) -> None:
        if self.alive:
            self.process.kill()
        await self.process.wait()


class ParserPool:
    """Up to `max_workers` parsing children, reused across calls."""

    def __init__(
        self,
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
        memory_limit_bytes: int | None = None,
        calls_per_worker: int = DEFAULT_CALLS_PER_WORKER,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.memory_limit_bytes = memory_limit_bytes
        self._calls_per_worker = calls_per_worker
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def parse(
        self,
        path: Path,
        media_type: str,
        *,
        timeout_seconds: float,
        limits: ParseLimits = DEFAULT_LIMITS,
    ) -> list[Section]:
        """`parse_file` in a child process; ParseError when it fails, overruns
        `timeout_seconds` or needs more than the memory limit."""
        return await self._run(
            lambda worker: worker.parse(path, media_type, limits), path, media_type, timeout_seconds
        )

    async def parse_chunks(
        self,
        path: Path,
        media_type: str,
        *,
        timeout_seconds: float,
        max_tokens: int,
        overlap_tokens: int,
        token_ids: bool = False,
        limits: ParseLimits = DEFAULT_LIMITS,
    ) -> list[Chunk]:
        """`parse_file` then `chunk_sections`, both in a child process, under the same
        time and memory bounds as `parse`; with `token_ids`, each chunk carries its ids
        in the chunker's tokenizer."""
        chunking = (max_tokens, overlap_tokens)
        return await self._run(
            lambda worker: worker.parse_chunks(path, media_type, limits, chunking, token_ids),
            path,
            media_type,
            timeout_seconds,
        )

    async def _run(
        self,
        call: Callable[[_Worker], Awaitable[T]],
        path: Path,
        media_type: str,
        timeout_seconds: float,
    ) -> T:
        self._bind_to_running_loop()
        assert self._slots is not None
        async with self._slots:
            try:
                worker = await self._take()
            except (asyncio.IncompleteReadError, ConnectionError):
                # The child died while starting (out-of-memory killer, a kill -9).
                logger.warning("a parsing child died while starting; %s skipped", path)
                raise ParseError(CRASHED) from None
            try:
                result = await asyncio.wait_for(call(worker), timeout_seconds)
            except TimeoutError:
                await worker.kill()
                raise ParseError(timed_out(timeout_seconds)) from None
            except (asyncio.IncompleteReadError, ConnectionError):
                # The child died mid-parse: killed by the memory cap, or crashed.
                await worker.kill()
                logger.warning("the parsing child died on %s (%s)", path, media_type)
                raise ParseError(CRASHED) from None
            except ParseError:
                self._give_back(worker)
                raise
            except BaseException:
                # Cancelled (the document was deleted...) or worse: a parse left
                # running might be one that never ends, so the child goes.
                await worker.kill()
                raise
            finally:
                self._busy.discard(worker)
            self._give_back(worker)
            return result

    async def close(self) -> None:
        """Stops every child now, parsing or not (server shutdown, tests)."""
        workers = [*self._idle, *self._busy]
        self._idle.clear()
        self._busy.clear()
        for worker in workers:
            await worker.kill()

    def _bind_to_running_loop(self) -> None:
        # Pipes and semaphores belong to one event loop; tests may run several in turn.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            for worker in self._idle:
                if worker.alive:
                    worker.process.kill()
            self._idle.clear()
            self._slots = asyncio.Semaphore(self.max_workers)
            self._loop = loop

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:  # it may have been killed while idle (out-of-memory killer)
                self._busy.add(worker)
                return worker
        worker = await _Worker.start(self.memory_limit_bytes)
        self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        self._busy.discard(worker)
        if worker.calls >= self._calls_per_worker:
            # Closed in the background: the caller has its result and need not wait.
            task = asyncio.get_running_loop().create_task(worker.close())
            _background.add(task)
            task.add_done_callback(_background.discard)
        else:
            self._idle.append(worker)


# Strong references to retiring children's close tasks, so they are not collected early.
_background: set[asyncio.Task[None]] = set()
# One pool per memory limit, created on first use and shared by every caller.
_pools: dict[int | None, ParserPool] = {}


async def parse_in_subprocess(
    path: Path,
    media_type: str,
    *,
    timeout_seconds: float,
    memory_limit_bytes: int | None,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> list[Section]:
    """`parse_file` in a pooled child process bounded in time and address space."""
    pool = _pools.get(memory_limit_bytes)
    if pool is None:
        pool = _pools[memory_limit_bytes] = ParserPool(memory_limit_bytes=memory_limit_bytes)
    return await pool.parse(path, media_type, timeout_seconds=timeout_seconds, limits=limits)


async def parse_and_chunk_in_subprocess(
    path: Path,
    media_type: str,
    *,
    timeout_seconds: float,
    memory_limit_bytes: int | None,
    max_tokens: int,
    overlap_tokens: int,
    token_ids: bool = False,
    limits: ParseLimits = DEFAULT_LIMITS,
) -> list[Chunk]:
    """`parse_file` and `chunk_sections` in a pooled child process, bounded in time and
    address space; the chunks come back a frame at a time, with their token ids in the
    chunker's tokenizer when `token_ids`."""
    pool = _pools.get(memory_limit_bytes)
    if pool is None:
        pool = _pools[memory_limit_bytes] = ParserPool(memory_limit_bytes=memory_limit_bytes)
    return await pool.parse_chunks(
        path,
        media_type,
        timeout_seconds=timeout_seconds,
        max_tokens=max_tokens,
        overlap_tokens=overlap_tokens,
        token_ids=token_ids,
        limits=limits,
    )


async def close_parser_pools() -> None:
    """Stops every parsing child; call on server shutdown."""
    pools = list(_pools.values())
    _pools.clear()
    for pool in pools:
        await pool.close()
