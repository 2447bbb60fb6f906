"""Real files for the ingestion tests, built here so nothing is downloaded."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
from pypdf import PdfReader, PdfWriter

MB = 1024 * 1024


def pdf_bytes(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF: one page per entry, each line drawn in Helvetica.

    Written by hand (pypdf cannot lay out text): catalog, page tree, one font, then a
    page and a content stream per page, with a correct cross-reference table.
    """
    page_count = len(pages)
    first_page = 4  # objects 1-3: catalog, page tree, font
    kids = " ".join(f"{first_page + 2 * index} 0 R" for index in range(page_count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {page_count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for index, lines in enumerate(pages):
        content_number = first_page + 2 * index + 1
        objects.append(
            (
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_number} 0 R >>"
            ).encode()
        )
        drawn = " T* ".join(f"({_pdf_string(line)}) Tj" for line in lines)
        stream = f"BT /F1 12 Tf 14 TL 72 720 Td {drawn} ET".encode() if lines else b""
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _pdf_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def encrypted_pdf_bytes(
    pages: list[list[str]], *, user_password: str, owner_password: str
) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(pages))))
    # RC4 needs no optional crypto library, unlike AES.
    writer.encrypt(user_password, owner_password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write_docx(path: Path) -> Path:
    """Title > Introduction (with a paragraph) > Details (a paragraph and a table)."""
    document = docx.Document()
    document.add_heading("Employee Handbook", 0)
    document.add_heading("Introduction", 1)
    document.add_paragraph("Welcome to the company. Read this handbook first.")
    document.add_heading("Leave", 1)
    document.add_heading("Holidays", 2)
    document.add_paragraph("Everyone gets twenty-five days of paid holiday.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Country"
    table.cell(0, 1).text = "Days"
    table.cell(1, 0).text = "France"
    table.cell(1, 1).text = "30"
    document.add_heading("Sick leave", 2)
    document.add_paragraph("Tell your manager on the first day.")
    document.save(str(path))
    return path


def write_zip_bomb_docx(path: Path, *, inflated_mb: int = 300) -> Path:
    """A .docx whose word/document.xml inflates to `inflated_mb` MB of zeros, written
    in 1 MB pieces so building it never holds more than that in memory."""
    block = b"\0" * MB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(inflated_mb):
                member.write(block)
    return path


# The start of a 64-bit Linux executable, padded like a real header.
ELF_HEAD = (
    b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 100
)
