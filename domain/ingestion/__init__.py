"""From a stored file to chunks: type detection, parsing, isolation and chunking.

Modules, each with one job:
- detect: which supported type a file is, from its bytes and its name;
- parsing: `parse_file`, the one entry point to the per-format parsers in `parsers/`;
- isolation: runs `parse_file` in child processes with a time and memory bound;
- chunking: token-counted, structure-aware chunks (and `count_tokens`);
- tokens: counting in the default embedder's tokens, exact and cheap.

Nothing is re-exported here on purpose: the parsing child process imports this package,
and keeping it empty keeps the child's start-up (and address space) small.
"""
