"""Live document status changes in a workspace."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from domain.documents.service import get_visible_document
from domain.errors import NotFound
from domain.events.port import document_topic
from domain.workspaces.access import authorize
from graph.context import Info
from graph.documents.types import WorkspaceDocument
from graph.ids import parse_id


@strawberry.type
class DocumentSubscriptions:
    @strawberry.subscription(
        description="Each document of the workspace whose ingestion state changes, as it changes."
    )
    async def document_events(
        self,
        info: Info,
        workspace_id: Annotated[strawberry.ID, strawberry.argument(description="The workspace.")],
    ) -> AsyncGenerator[WorkspaceDocument, None]:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(workspace_id, "Workspace", "workspaceId")
        container = info.context.container
        async with container.sessionmaker() as session:
            access = await authorize(session, parsed, viewer_id)
        events = container.bus.subscribe(document_topic(access.workspace_id))
        try:
            async for event in events:
                # Re-read with the membership check: a member removed mid-stream stops seeing.
                async with container.sessionmaker() as session:
                    try:
                        document = await get_visible_document(
                            session, document_id=uuid.UUID(event["document_id"]), user_id=viewer_id
                        )
                    except NotFound:
                        await authorize(session, access.workspace_id, viewer_id)
                        continue
                yield WorkspaceDocument.from_model(document)
        finally:
            await events.aclose()  # type: ignore[attr-defined]
