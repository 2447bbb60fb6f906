"""The one failure parsing reports; its message is shown to the user as is."""

from __future__ import annotations


class ParseError(Exception):
    """A file that cannot be turned into text; `message` says why, in plain words."""

    def __init__(self, message: str) -> None:
        # Only `message` goes into args, so the error pickles back from a child process.
        super().__init__(message)
        self.message = message
