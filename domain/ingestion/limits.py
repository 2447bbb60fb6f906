"""Bounds on what a parser may do with one file, so hostile input stays cheap."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ParseLimits:
    # A DOCX is a zip: its declared inflated size may not exceed this absolute cap...
    max_inflated_bytes: int = 200 * MB
    # ...nor this multiple of the file's own size, once past `inflation_floor_bytes`
    # (small documents with very repetitive XML legitimately compress very well).
    max_inflation_ratio: float = 50.0
    inflation_floor_bytes: int = 16 * MB
    # One part inflating more than this many times its compressed size is a bomb
    # (deflate tops out near 1032:1; real Word XML stays far below 100:1).
    max_member_ratio: float = 200.0
    member_ratio_floor_bytes: int = 1 * MB
    max_zip_members: int = 10_000
    # CSV rows expand into "header: value" lines; bound how many we render.
    max_csv_rows: int = 200_000


DEFAULT_LIMITS = ParseLimits()
