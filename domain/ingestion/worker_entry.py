"""The parsing child: `python -m domain.ingestion.worker_entry --parent-pid PID
[--memory-limit BYTES]`.

Started by isolation.py with exec (never fork), it caps its own address space, says it
is ready, then answers parse requests read from stdin, one at a time, until stdin
closes. Replies go to the original stdout; anything a library prints is sent to
stderr instead so it cannot corrupt the replies.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import BinaryIO

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
BACKGROUND_NICENESS = 10


def main() -> None:
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--parent-pid", type=int, required=True)
    arguments.add_argument("--memory-limit", type=int, default=None)
    options = arguments.parse_args()
    _die_with_parent(options.parent_pid)
    _yield_to_the_server()
    # Before importing the parsers, so the limit covers everything they allocate.
    if options.memory_limit is not None:
        _limit_address_space(options.memory_limit)
    replies = _private_stdout()
    # Library warnings (pypdf reports every oddity it repairs) reach the server's
    # stderr, marked with the child they come from.
    logging.basicConfig(
        level=logging.WARNING, format="parsing child %(process)d: %(name)s: %(message)s"
    )

    from domain.ingestion import worker_protocol as protocol
    from domain.ingestion.chunking import chunk_sections
    from domain.ingestion.parsing import TOO_MUCH_MEMORY, ParseError, parse_file

    _send(replies, protocol.frame(protocol.READY))
    while (message := protocol.read_frame(sys.stdin.buffer)) is not None:
        try:
            path, media_type, limits = protocol.parse_request(message)
            chunking = protocol.chunking_of(message)
            sections = parse_file(path, media_type, limits=limits)
            if chunking is None:
                reply = protocol.frame(protocol.success(sections))
            else:
                # Chunking here rather than in the server: it is CPU work that holds
                # the GIL, which the server's event loop and embedding threads need.
                max_tokens, overlap_tokens = chunking
                chunks = chunk_sections(
                    sections,
                    max_tokens=max_tokens,
                    overlap_tokens=overlap_tokens,
                    token_ids=protocol.wants_token_ids(message),
                )
                reply = b"".join(map(protocol.frame, protocol.chunk_frames(chunks)))
        except ParseError as error:
            reply = protocol.frame(protocol.failure(error.message))
        except MemoryError:
            # Encoding a huge result can fail too; what was allocated for it is free now.
            reply = protocol.frame(protocol.failure(TOO_MUCH_MEMORY))
        _send(replies, reply)


def _yield_to_the_server() -> None:
    """Parsing and chunking are background CPU work: at a lower priority, the server's
    event loop gets a CPU first when the machine is busy (measured in
    bench/loop_stall.py: without it the loop waited up to hundreds of ms for a CPU)."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(BACKGROUND_NICENESS)


def _limit_address_space(limit_bytes: int) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def _private_stdout() -> BinaryIO:
    """A handle on the real stdout for replies; fd 1 and sys.stdout now go to stderr."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return replies


def _send(replies: BinaryIO, data: bytes) -> None:
    replies.write(data)
    replies.flush()


def _die_with_parent(parent_pid: int) -> None:
    """On Linux the kernel kills this child when the server dies, even mid-parse (an
    idle child also exits on its own when stdin closes). No watcher thread: each
    thread reserves address space that the memory cap would count."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)  # the server died before prctl took effect


if __name__ == "__main__":
    main()
