"""Only canonical UUID text ever reaches a filter expression."""

from __future__ import annotations

import uuid

import pytest

from domain.vectors.identifiers import InvalidIdentifier, chunk_key, uuid_text


def test_uuids_and_canonical_strings_pass_as_canonical_text() -> None:
    value = uuid.uuid4()
    assert uuid_text(value) == str(value)
    assert uuid_text(str(value)) == str(value)
    assert uuid_text(str(value).upper()) == str(value)


@pytest.mark.parametrize(
    "bad",
    [
        "{12345678-1234-5678-1234-567812345678}",
        "urn:uuid:12345678-1234-5678-1234-567812345678",
        "12345678123456781234567812345678",
        "12345678-1234-5678-1234-56781234567'",
        "' OR 1=1 --",
        12345678,
        None,
        b"12345678-1234-5678-1234-567812345678",
    ],
)
def test_anything_else_is_refused(bad: object) -> None:
    with pytest.raises(InvalidIdentifier):
        uuid_text(bad)


def test_chunk_ids_are_non_empty_printable_text() -> None:
    assert chunk_key("doc:1") == "doc:1"
    for bad in ("", "x\n", "a" * 513, 5):
        with pytest.raises(InvalidIdentifier):
            chunk_key(bad)
