"""CSV: each row as "header: value" lines, so a chunk of rows still says what each
value means; rows are paragraphs, so chunks break between rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from domain.ingestion.decoding import decode_document
from domain.ingestion.errors import ParseError
from domain.ingestion.limits import ParseLimits
from domain.ingestion.section import Section

_SNIFF_CHARS = 16 * 1024
_DELIMITERS = ",;\t|"


def parse_csv(path: Path, limits: ParseLimits) -> list[Section]:
    text = decode_document(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
    try:
        header = next(reader, None)
        if header is None:
            return []
        names = [name.strip() or f"column {index}" for index, name in enumerate(header, 1)]
        rows: list[str] = []
        for number, row in enumerate(reader, start=1):
            if number > limits.max_csv_rows:
                raise ParseError(
                    f"The CSV has more than {limits.max_csv_rows:,} rows; "
                    "split it into smaller files."
                )
            rendered = _render(names, row)
            if rendered:
                rows.append(rendered)
    except csv.Error as error:
        raise ParseError(f"The CSV could not be read: {error}.") from error
    # A header without rows still has words worth finding.
    return [Section(text="\n\n".join(rows) if rows else ", ".join(names))]


def _render(names: list[str], row: list[str]) -> str:
    lines = []
    for index, value in enumerate(row):
        value = value.strip()
        if value:
            name = names[index] if index < len(names) else f"column {index + 1}"
            lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel  # the sniffer gives up on one-column files; commas it is
