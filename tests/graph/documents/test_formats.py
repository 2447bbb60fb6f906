"""PDF, DOCX and markdown uploads end READY, and their hits cite pages and headings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.domain.ingestion.files import pdf_bytes, write_docx
from tests.graph.documents.helpers import settled, uploaded
from tests.support.client import GraphQLClient, SignedIn

SEARCH = """
query Search($ws: ID!, $q: String!) {
  workspace(id: $ws) { search(query: $q, limit: 5) { documentId chunk page heading snippet } }
}
"""
PAGES = [
    ["Quarterly report.", "Revenue grew by eleven percent over the quarter."],
    ["Hiring.", "The engineering team welcomed four new colleagues in Lisbon."],
    ["Outlook.", "Next quarter the warehouse in Rotterdam doubles its capacity."],
]
MARKDOWN = (
    b"# Travel policy\n\nBook trains when the journey is under four hours.\n\n"
    b"## Expenses\n\nReceipts are submitted within thirty days through the portal.\n"
)


async def top_hit(client: GraphQLClient, user: SignedIn, ws: str, query: str) -> dict[str, Any]:
    data = await client.data(SEARCH, {"ws": ws, "q": query}, user.access_token)
    hits = data["workspace"]["search"]
    assert hits, f"nothing found for {query!r}"
    return dict(hits[0])


async def test_a_multi_page_pdf_is_ready_and_its_hits_carry_their_page(
    client: GraphQLClient,
) -> None:
    # given a three-page PDF with a text layer
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    document_id = await uploaded(client, owner, ws, "report.pdf", pdf_bytes(PAGES))

    # when it is ingested
    final = await settled(client, owner, document_id)

    # then it is READY with a passage per page at least
    assert (final["status"], final["error"]) == ("READY", None)
    assert final["chunkCount"] >= len(PAGES)
    # and each page's words are found on that page
    for page, query in [
        (1, "revenue grew"),
        (2, "engineering colleagues Lisbon"),
        (3, "Rotterdam"),
    ]:
        hit = await top_hit(client, owner, ws, query)
        assert (hit["documentId"], hit["page"], hit["heading"]) == (document_id, page, None)
        assert PAGES[page - 1][1] in hit["snippet"].replace("\n", " ")


async def test_a_docx_is_ready_and_its_hits_carry_their_heading_path(
    client: GraphQLClient, tmp_path: Path
) -> None:
    # given a Word handbook with a title and nested headings
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    body = write_docx(tmp_path / "handbook.docx").read_bytes()
    document_id = await uploaded(client, owner, ws, "handbook.docx", body)

    # when it is ingested
    final = await settled(client, owner, document_id)

    # then it is READY, and hits name the headings above them (a DOCX has no pages)
    assert (final["status"], final["error"]) == ("READY", None)
    holidays = await top_hit(client, owner, ws, "paid holiday days")
    assert holidays["documentId"] == document_id
    assert holidays["page"] is None
    assert holidays["heading"] == "Employee Handbook > Leave > Holidays"
    assert "twenty-five days of paid holiday" in holidays["snippet"]
    sick = await top_hit(client, owner, ws, "tell your manager")
    assert sick["heading"] == "Employee Handbook > Leave > Sick leave"


async def test_markdown_hits_carry_their_heading_path(client: GraphQLClient) -> None:
    owner = await client.register("owner")
    ws = await client.create_workspace(owner)
    document_id = await uploaded(client, owner, ws, "travel.md", MARKDOWN)

    final = await settled(client, owner, document_id)

    assert (final["status"], final["error"]) == ("READY", None)
    hit = await top_hit(client, owner, ws, "receipts portal")
    assert (hit["documentId"], hit["page"]) == (document_id, None)
    assert hit["heading"] == "Travel policy > Expenses"
