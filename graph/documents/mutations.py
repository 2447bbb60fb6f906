"""Upload, delete and reindex documents (EDITOR and OWNER)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from domain.documents import service
from domain.errors import DomainError, UnsupportedMediaType
from domain.events.port import document_topic
from domain.ingestion.detect import detect_file_media_type
from domain.workspaces.access import authorize
from domain.workspaces.models import WorkspaceRole
from graph.context import Info
from graph.documents.types import WorkspaceDocument
from graph.ids import parse_id

READ_SIZE = 1024 * 1024
DocumentIdArg = Annotated[strawberry.ID, strawberry.argument(description="The document.")]


async def _read(upload: Upload) -> AsyncIterator[bytes]:
    while chunk := await upload.read(READ_SIZE):  # type: ignore[attr-defined]
        yield chunk


@strawberry.type
class DocumentMutations:
    @strawberry.mutation(
        description="Upload a file (GraphQL multipart request). It is stored, recorded as "
        "PENDING and ingested in the background; watch `documentEvents`."
    )
    async def upload_document(
        self,
        info: Info,
        workspace_id: Annotated[strawberry.ID, strawberry.argument(description="The workspace.")],
        file: Annotated[Upload, strawberry.argument(description="The file (multipart).")],
    ) -> WorkspaceDocument:
        viewer_id = info.context.viewer_id()
        parsed = parse_id(workspace_id, "Workspace", "workspaceId")
        container = info.context.container
        # Refuse before storing a byte: the role check is cheap, the upload is not.
        async with container.sessionmaker() as session:
            await authorize(session, parsed, viewer_id, WorkspaceRole.EDITOR)
        filename = str(getattr(file, "filename", None) or "upload")
        stored = await container.files.save(
            _read(file), max_bytes=container.settings.max_upload_bytes
        )
        try:
            media_type = await asyncio.to_thread(
                detect_file_media_type, container.files.local_path(stored.key), filename
            )
            if media_type is None:
                raise UnsupportedMediaType(
                    "This file type is not supported: upload txt, md, html, pdf, docx, csv "
                    "or json.",
                    field="file",
                )
            async with container.sessionmaker.begin() as session:
                document = await service.register_upload(
                    session,
                    workspace_id=parsed,
                    user_id=viewer_id,
                    filename=filename,
                    media_type=media_type,
                    stored=stored,
                )
        except BaseException:
            await container.files.delete(stored.key)  # nothing stays behind a refusal
            raise
        await container.bus.publish(
            document_topic(document.workspace_id), {"document_id": str(document.id)}
        )
        container.wake_ingestion()
        return WorkspaceDocument.from_model(document)

    @strawberry.mutation(
        description="Delete a document with its file and every indexed passage. Returns its id."
    )
    async def delete_document(self, info: Info, id: DocumentIdArg) -> strawberry.ID:
        viewer_id = info.context.viewer_id()
        document_id = parse_id(id, "Document")
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            document = await service.delete_document(
                session, document_id=document_id, user_id=viewer_id
            )
        # After commit; if either step fails, the maintenance job removes the leftovers.
        with contextlib.suppress(DomainError):
            await container.vectors.delete_document(document.workspace_id, document.id)
        await container.files.delete(document.storage_key)
        return strawberry.ID(str(document.id))

    @strawberry.mutation(description="Parse and index a document again from its stored file.")
    async def reindex_document(self, info: Info, id: DocumentIdArg) -> WorkspaceDocument:
        viewer_id = info.context.viewer_id()
        document_id = parse_id(id, "Document")
        container = info.context.container
        async with container.sessionmaker.begin() as session:
            document = await service.reindex_document(
                session, document_id=document_id, user_id=viewer_id
            )
        await container.bus.publish(
            document_topic(document.workspace_id), {"document_id": str(document.id)}
        )
        container.wake_ingestion()
        return WorkspaceDocument.from_model(document)
