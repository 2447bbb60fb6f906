"""txt, md, html, csv and json become sections with their heading paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.ingestion.detect import (
    APPLICATION_JSON,
    TEXT_CSV,
    TEXT_HTML,
    TEXT_MARKDOWN,
    TEXT_PLAIN,
)
from domain.ingestion.limits import ParseLimits
from domain.ingestion.parsing import NO_TEXT, ParseError, Section, parse_file


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_plain_text_is_one_section_with_normalised_newlines(tmp_path: Path) -> None:
    # given a text file with Windows newlines and a NUL that slipped in
    path = write(tmp_path, "a.txt", b"First line\r\nSecond\x00 line\r\n")
    # when it is parsed
    sections = parse_file(path, TEXT_PLAIN)
    # then it is one clean section with no page and no headings
    assert sections == [Section(text="First line\nSecond line", page=None, heading_path=())]


@pytest.mark.parametrize(
    ("media_type", "content"),
    [
        (TEXT_PLAIN, ""),
        (TEXT_PLAIN, " \n\t\n "),
        (TEXT_MARKDOWN, "\n\n"),
        (TEXT_HTML, "<html><head><title>T</title></head><body><script>x()</script></body>"),
        (TEXT_CSV, ""),
        (APPLICATION_JSON, '{"a": null, "b": [], "c": ""}'),
    ],
)
def test_a_file_without_text_is_refused(tmp_path: Path, media_type: str, content: str) -> None:
    # given a file that is empty, blank or has no visible text
    path = write(tmp_path, "empty", content)
    # when it is parsed
    # then the user is told there is no text
    with pytest.raises(ParseError, match=r"^The file has no text\.$"):
        parse_file(path, media_type)
    assert NO_TEXT == "The file has no text."


def test_markdown_headings_give_heading_paths(tmp_path: Path) -> None:
    # given Markdown with ATX and setext headings, a code block and front matter
    path = write(
        tmp_path,
        "guide.md",
        "---\ntitle: Guide\n---\n"
        "Intro before any heading.\n\n"
        "# Install\n\nRun the installer.\n\n"
        "## On Linux ##\n\nUse the package.\n\n"
        "```sh\n# not a heading\napt install x\n```\n\n"
        "## On macOS\n\nUse brew.\n\n"
        "Usage\n=====\n\nCall it.\n\n"
        "Options\n-------\n\n- a list item\n---\n",
    )
    # when it is parsed
    sections = parse_file(path, TEXT_MARKDOWN)
    # then each section carries the headings above it
    paths = [section.heading_path for section in sections]
    assert paths == [
        (),
        ("Install",),
        ("Install", "On Linux"),
        ("Install", "On macOS"),
        ("Usage",),
        ("Usage", "Options"),
    ]
    assert sections[0].text.startswith("---\ntitle: Guide\n---")
    assert "# not a heading" in sections[2].text
    assert sections[3].text == "On macOS\n\nUse brew."


def test_html_keeps_only_visible_text_with_heading_paths(tmp_path: Path) -> None:
    # given a page with scripts, styles, hidden parts, comments and headings
    path = write(
        tmp_path,
        "page.html",
        """<!doctype html><html><head><title>Tab title</title>
        <style>body { color: red }</style><script>var secret = 1;</script></head>
        <body><noscript>Enable JS</noscript><template><p>Template</p></template>
        <!-- a comment -->
        <p>Opening <b>bold</b> words.</p>
        <h1>Refunds</h1><p>Refunds take <i>five</i> days.</p>
        <div hidden>Hidden text</div><div style="display: none">Also hidden</div>
        <h2>Exceptions</h2><ul><li>Sale items</li><li>Gift cards</li></ul>
        <table><tr><th>Item</th><th>Days</th></tr><tr><td>Shoes</td><td>30</td></tr></table>
        <script>document.write("injected")</script>
        <h1>Contact</h1><p>Mail us.</p></body></html>""",
    )
    # when it is parsed
    sections = parse_file(path, TEXT_HTML)
    # then only what a reader sees is kept, cut at the headings
    text = "\n".join(section.text for section in sections)
    for invisible in ("Tab title", "color", "secret", "Enable JS", "Template", "comment",
                      "Hidden text", "Also hidden", "injected"):  # fmt: skip
        assert invisible not in text
    assert [section.heading_path for section in sections] == [
        (),
        ("Refunds",),
        ("Refunds", "Exceptions"),
        ("Contact",),
    ]
    assert sections[0].text == "Opening bold words."
    assert sections[1].text == "Refunds\nRefunds take five days."
    assert "Sale items\n\nGift cards" in sections[2].text
    assert "Item | Days\n\nShoes | 30" in sections[2].text


def test_deeply_nested_html_does_not_exhaust_recursion(tmp_path: Path) -> None:
    # given a hostile page nested 5,000 levels deep
    path = write(tmp_path, "deep.html", "<div>" * 5000 + "bottom" + "</div>" * 5000)
    # when it is parsed
    sections = parse_file(path, TEXT_HTML)
    # then the text is found (or the file refused cleanly), never a RecursionError
    assert "bottom" in sections[0].text


def test_csv_rows_become_header_value_lines(tmp_path: Path) -> None:
    # given a semicolon-separated file with a quoted field and a short row
    path = write(tmp_path, "people.csv", 'name;city;note\nAda;London;"likes; semicolons"\nAlan;;\n')
    # when it is parsed
    sections = parse_file(path, TEXT_CSV)
    # then each row is a paragraph naming each value's column
    assert sections == [
        Section(
            text="name: Ada\ncity: London\nnote: likes; semicolons\n\nname: Alan",
            page=None,
            heading_path=(),
        )
    ]


def test_csv_row_count_is_bounded(tmp_path: Path) -> None:
    # given more rows than the limit allows
    path = write(tmp_path, "big.csv", "n\n" + "\n".join(str(i) for i in range(20)) + "\n")
    # when it is parsed with a limit of 10 rows
    # then it is refused with the reason
    with pytest.raises(ParseError, match="more than 10 rows"):
        parse_file(path, TEXT_CSV, limits=ParseLimits(max_csv_rows=10))


def test_json_is_flattened_into_path_value_lines(tmp_path: Path) -> None:
    # given nested JSON
    data = {
        "company": {"name": "Acme", "founded": 1999, "public": False},
        "offices": [{"city": "Paris", "staff": 12}, {"city": "Oslo", "note": None}],
    }
    path = write(tmp_path, "data.json", json.dumps(data))
    # when it is parsed
    [section] = parse_file(path, APPLICATION_JSON)
    # then each scalar is a line with its path, each top-level entry a paragraph
    assert section.text == (
        "company.name: Acme\ncompany.founded: 1999\ncompany.public: false\n\n"
        "offices[0].city: Paris\noffices[0].staff: 12\noffices[1].city: Oslo"
    )


def test_json_lines_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "events.json", '{"event": "login"}\n{"event": "logout"}\n')
    [section] = parse_file(path, APPLICATION_JSON)
    assert section.text == "[0].event: login\n\n[1].event: logout"


def test_deeply_nested_json_is_refused_cleanly(tmp_path: Path) -> None:
    # given JSON nested deeper than the parser can follow
    path = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    # when it is parsed
    # then the user gets a readable reason, not a RecursionError
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_file(path, APPLICATION_JSON)


def test_invalid_json_says_where(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{"a": 1,\n "b": }')
    with pytest.raises(ParseError, match=r"The JSON is not valid: .* line 2, column 7"):
        parse_file(path, APPLICATION_JSON)


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.txt", "café au lait".encode("latin-1"))
    with pytest.raises(ParseError, match="not UTF-8 text"):
        parse_file(path, TEXT_PLAIN)


def test_an_unknown_media_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.bin", b"anything")
    with pytest.raises(ParseError, match="not supported"):
        parse_file(path, "application/octet-stream")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_text_with_a_byte_order_mark_is_decoded(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "bom.txt", "Grüße aus Köln".encode(encoding))
    assert [section.text for section in parse_file(path, TEXT_PLAIN)] == ["Grüße aus Köln"]
