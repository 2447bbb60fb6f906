"""Hostile files through the real upload: refused with a reason, the server unharmed."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest

from domain.ingestion.parsers.pdf import ENCRYPTED, NO_TEXT
from tests.conftest import Backend
from tests.domain.ingestion.files import encrypted_pdf_bytes, pdf_bytes, write_zip_bomb_docx
from tests.graph.documents.helpers import settled, uploaded
from tests.support.client import GraphQLClient, errors, upload

NORMAL = b"# Opening hours\n\nThe library opens at nine and closes at six on weekdays.\n"
PAGES = [["Confidential figures for the board."], ["Second page of figures."]]


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A .docx whose main part inflates to 300 MB (built once: deflating takes a moment)."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.docx"
    return write_zip_bomb_docx(path, inflated_mb=300).read_bytes()


def fake_docx() -> bytes:
    """A zip named like a Word file but without the Word main part."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("docProps/app.xml", "<Properties/>")
    return out.getvalue()


async def test_a_zip_bomb_docx_fails_with_the_reason_and_the_server_stays_healthy(
    backend: Backend, client: GraphQLClient, zip_bomb: bytes
) -> None:
    # given a .docx whose main part inflates to 300 MB
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)

    # when it is uploaded and ingested
    document_id = await uploaded(client, owner, ws, "report.docx", zip_bomb)
    final = await settled(client, owner, document_id)

    # then it fails, saying why, with nothing indexed
    assert final["status"] == "FAILED"
    assert final["error"].startswith("The DOCX was refused: it would inflate to 300.0 MB")
    assert final["chunkCount"] == 0
    assert await backend.container.vectors.count(uuid.UUID(ws), uuid.UUID(document_id)) == 0
    # and the server is still healthy: it answers, and the next upload is indexed
    health = await client.http.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    after = await uploaded(client, owner, ws, "hours.md", NORMAL)
    assert (await settled(client, owner, after))["status"] == "READY"


async def test_an_encrypted_pdf_fails_with_a_readable_reason(client: GraphQLClient) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    locked = encrypted_pdf_bytes(PAGES, user_password="open sesame", owner_password="owner")

    document_id = await uploaded(client, owner, ws, "board.pdf", locked)
    final = await settled(client, owner, document_id)

    assert (final["status"], final["error"], final["chunkCount"]) == ("FAILED", ENCRYPTED, 0)


async def test_a_pdf_without_text_fails_with_a_readable_reason(client: GraphQLClient) -> None:
    # given a valid two-page PDF with nothing drawn on it (like a scan without OCR)
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)

    document_id = await uploaded(client, owner, ws, "scan.pdf", pdf_bytes([[], []]))
    final = await settled(client, owner, document_id)

    assert (final["status"], final["error"], final["chunkCount"]) == ("FAILED", NO_TEXT, 0)


async def test_a_zip_without_a_word_part_named_docx_is_refused_at_upload(
    backend: Backend, client: GraphQLClient
) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    before = await backend.container.files.keys()

    body = (await upload(client, owner.access_token, ws, "contract.docx", fake_docx())).json()

    assert errors(body) == [("UNSUPPORTED_MEDIA_TYPE", "file")]
    assert body["data"] is None
    assert await backend.container.files.keys() == before
