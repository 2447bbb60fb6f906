"""DOCX: headings give heading paths, tables are read, zip bombs are refused before
anything is inflated."""

from __future__ import annotations

import time
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE

from domain.ingestion.detect import DOCX
from domain.ingestion.limits import ParseLimits
from domain.ingestion.parsing import ParseError, parse_file
from tests.domain.ingestion.files import MB, write_docx, write_zip_bomb_docx


def test_headings_paragraphs_and_tables_are_read_in_order(tmp_path: Path) -> None:
    # given a handbook with a title, nested headings, paragraphs and a table
    path = write_docx(tmp_path / "handbook.docx")
    # when it is parsed
    sections = parse_file(path, DOCX)
    # then each section carries its heading path, and the table's text is there
    assert [(section.heading_path, section.text) for section in sections] == [
        (("Employee Handbook",), "Employee Handbook"),
        (
            ("Employee Handbook", "Introduction"),
            "Introduction\nWelcome to the company. Read this handbook first.",
        ),
        (("Employee Handbook", "Leave"), "Leave"),
        (
            ("Employee Handbook", "Leave", "Holidays"),
            "Holidays\nEveryone gets twenty-five days of paid holiday.\n\n"
            "Country | Days\nFrance | 30",
        ),
        (
            ("Employee Handbook", "Leave", "Sick leave"),
            "Sick leave\nTell your manager on the first day.",
        ),
    ]
    assert all(section.page is None for section in sections)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    # given a .docx whose document part inflates to 300 MB of zeros
    path = write_zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=300)
    assert path.stat().st_size < 2 * MB
    # when it is parsed
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ParseError) as caught:
            parse_file(path, DOCX)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then it is refused, quickly and without inflating anything
    assert "refused: it would inflate to 300.0 MB" in caught.value.message
    assert time.perf_counter() - started < 1.0
    assert peak < 5 * MB


def test_a_docx_over_the_configured_inflation_cap_is_refused(tmp_path: Path) -> None:
    # given an ordinary DOCX and a cap below its inflated size
    path = write_docx(tmp_path / "handbook.docx")
    limits = ParseLimits(max_inflated_bytes=10_000, inflation_floor_bytes=0)
    # when it is parsed
    # then it is refused with the sizes
    with pytest.raises(ParseError, match=r"refused: it would inflate to .* MB"):
        parse_file(path, DOCX, limits=limits)


def test_a_docx_with_a_suspicious_part_ratio_is_refused(tmp_path: Path) -> None:
    # given a DOCX small in total but with one part compressing 1000:1
    path = write_zip_bomb_docx(tmp_path / "small-bomb.docx", inflated_mb=2)
    # when it is parsed with a total cap it fits under
    limits = ParseLimits(max_inflated_bytes=100 * MB, inflation_floor_bytes=100 * MB)
    # then the ratio alone is enough to refuse it
    with pytest.raises(ParseError, match=r"refused: it would inflate to 2.0 MB.*zip bomb"):
        parse_file(path, DOCX, limits=limits)


def test_a_zip_that_is_not_a_word_document_is_refused(tmp_path: Path) -> None:
    # given a zip named .docx without the Word parts
    path = tmp_path / "fake.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not Word")
    # when it is parsed
    # then the user is told it is not a Word document
    with pytest.raises(ParseError, match="not a Word document"):
        parse_file(path, DOCX)


def test_a_corrupt_docx_is_refused(tmp_path: Path) -> None:
    # given the first half of a real DOCX
    real = write_docx(tmp_path / "real.docx").read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(real[: len(real) // 2])
    # when it is parsed
    # then the zip is reported as invalid
    with pytest.raises(ParseError, match="not a valid zip package"):
        parse_file(path, DOCX)


def test_an_empty_docx_has_no_text(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    docx.Document().save(str(path))
    with pytest.raises(ParseError, match=r"^The file has no text\.$"):
        parse_file(path, DOCX)


def test_custom_styles_based_on_a_heading_are_headings(tmp_path: Path) -> None:
    # given a DOCX whose chapters use a custom style based on Heading 1
    document = docx.Document()
    chapter = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = document.styles["Heading 1"]
    document.add_paragraph("Getting started", style="Chapter")
    document.add_paragraph("First steps.")
    document.add_paragraph("Going further", style="Chapter")
    document.add_paragraph("Next steps.")
    path = tmp_path / "styled.docx"
    document.save(str(path))
    # when it is parsed
    sections = parse_file(path, DOCX)
    # then the custom style cuts sections like Heading 1 would
    assert [(section.heading_path, section.text) for section in sections] == [
        (("Getting started",), "Getting started\nFirst steps."),
        (("Going further",), "Going further\nNext steps."),
    ]
