"""Refuses a zip that would inflate too far, by reading only its directory.

The declared sizes are what `zipfile` trusts: it never returns more than a member's
declared size (and fails the CRC if the data disagrees), so checking them bounds the
memory any later reader of the archive can use.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from domain.ingestion.errors import ParseError
from domain.ingestion.limits import MB, ParseLimits

NOT_A_ZIP = "The DOCX could not be read: it is not a valid zip package."


def check_zip(path: Path, limits: ParseLimits) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ParseError(NOT_A_ZIP) from error
    if len(members) > limits.max_zip_members:
        raise ParseError(
            f"The DOCX was refused: it holds {len(members):,} parts "
            f"(at most {limits.max_zip_members:,} are allowed)."
        )
    inflated = sum(member.file_size for member in members)
    allowed = _allowed_inflated_bytes(path.stat().st_size, limits)
    if inflated > allowed:
        raise ParseError(
            f"The DOCX was refused: it would inflate to {_mb(inflated)} "
            f"(at most {_mb(allowed)} are allowed for this file)."
        )
    for member in members:
        if member.file_size > limits.member_ratio_floor_bytes and (
            member.file_size > limits.max_member_ratio * max(member.compress_size, 1)
        ):
            raise ParseError(
                f"The DOCX was refused: it would inflate to {_mb(inflated)}, "
                f"part {member.filename!r} alone from {_mb(member.compress_size)} to "
                f"{_mb(member.file_size)} (a zip bomb?)."
            )


def _allowed_inflated_bytes(file_size: int, limits: ParseLimits) -> int:
    by_ratio = max(int(limits.max_inflation_ratio * file_size), limits.inflation_floor_bytes)
    return min(by_ratio, limits.max_inflated_bytes)


def _mb(size: int) -> str:
    return f"{size / MB:,.1f} MB"
