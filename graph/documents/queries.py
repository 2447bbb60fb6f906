"""Reading one document."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.documents.service import get_visible_document
from graph.context import Info
from graph.documents.types import WorkspaceDocument
from graph.ids import parse_id


@strawberry.type
class DocumentQueries:
    @strawberry.field(description="A document in a workspace you are a member of.")
    async def document(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The document.")],
    ) -> WorkspaceDocument | None:
        viewer_id = info.context.viewer_id()
        document_id = parse_id(id, "Document")
        async with info.context.container.sessionmaker() as session:
            document = await get_visible_document(
                session, document_id=document_id, user_id=viewer_id
            )
        return WorkspaceDocument.from_model(document)
