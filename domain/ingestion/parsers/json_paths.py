"""JSON (and JSON Lines): one "path: value" line per scalar, one paragraph per
top-level entry, so a chunk keeps whole records together with their keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from domain.ingestion.decoding import decode_document
from domain.ingestion.errors import ParseError
from domain.ingestion.limits import ParseLimits
from domain.ingestion.section import Section


def parse_json(path: Path, limits: ParseLimits) -> list[Section]:
    text = decode_document(path.read_bytes())
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError as error:
        if error.msg != "Extra data":
            raise ParseError(_invalid(error)) from error
        documents = _json_lines(text)
    paragraphs = [
        "\n".join(_flatten(value, prefix))
        for index, document in enumerate(documents)
        for value, prefix in _entries(document, f"[{index}]" if len(documents) > 1 else "")
    ]
    return [Section(text="\n\n".join(paragraph for paragraph in paragraphs if paragraph))]


def _json_lines(text: str) -> list[object]:
    """One value per line: the usual shape of exports and logs saved as .json."""
    values = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ParseError(f"The JSON is not valid: {error.msg} on line {number}.") from error
    return values


def _entries(value: object, prefix: str) -> Iterator[tuple[object, str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield child, _join(prefix, str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield child, f"{prefix}[{index}]"
    else:
        yield value, prefix


def _flatten(value: object, prefix: str) -> Iterator[str]:
    # An explicit stack: deep nesting must not hit Python's recursion limit here.
    stack = [(value, prefix)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict | list):
            stack.extend(reversed(list(_entries(node, path))))
            continue
        rendered = _scalar(node)
        if rendered:
            yield f"{path}: {rendered}" if path else rendered


def _scalar(value: object) -> str:
    if value is None:
        return ""  # no information worth a line
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value)  # true/false and numbers as JSON writes them


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _invalid(error: json.JSONDecodeError) -> str:
    return f"The JSON is not valid: {error.msg} at line {error.lineno}, column {error.colno}."
