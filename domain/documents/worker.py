"""The ingestion worker: claims documents, parses, chunks, embeds and indexes them.

Runs in every process that serves (bounded by INGESTION_WORKERS tasks). Parsing happens
in a separate process and embedding in threads, so the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.documents import queue
from domain.documents.indexing import IngestionLimits, StoredDocument, index_document
from domain.documents.queue import Claim
from domain.embeddings.port import Embedder, EmbeddingRejected, EmbeddingUnavailable
from domain.events.port import EventBus, document_topic
from domain.files.port import FileStore
from domain.ingestion.errors import ParseError
from domain.vectors.port import VectorStore

logger = logging.getLogger(__name__)
UNEXPECTED = "Ingestion failed unexpectedly; the server log has the details."


class IngestionWorker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        files: FileStore,
        embedder: Embedder,
        vectors: VectorStore,
        bus: EventBus,
        limits: IngestionLimits,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._files = files
        self._embedder = embedder
        self._vectors = vectors
        self._bus = bus
        self.limits = limits
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, concurrency: int) -> None:
        if self._tasks:
            return
        for index in range(concurrency):
            self._tasks.append(asyncio.create_task(self._loop(), name=f"ingestion-{index}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def wake(self) -> None:
        """Called after an upload commits, so work starts without waiting for the poll."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("ingestion loop error; retrying after the poll interval")
                worked = False
            if not worked:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.limits.poll_seconds)

    async def run_once(self) -> bool:
        """Claims and processes one document; False when there was nothing to do."""
        async with self._sessionmaker.begin() as session:
            claim = await queue.claim_next(session, lease=self.limits.lease)
        if claim is None:
            return False
        await self._notify(claim)
        await self._process(claim)
        return True

    async def _process(self, claim: Claim) -> None:
        ingest = asyncio.create_task(self._ingest(claim))
        heartbeat = asyncio.create_task(self._keep_lease(claim, ingest))
        try:
            chunk_count = await ingest
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                # Shutting down: hand the document back at once instead of waiting a lease.
                ingest.cancel()
                await asyncio.shield(self._settle(queue.retry_later, claim, delay=timedelta(0)))
                raise
            logger.info("document %s was taken from this worker; stopping", claim.document_id)
        except ParseError as error:
            await self._settle(queue.fail, claim, error=str(error))
        except EmbeddingUnavailable as error:
            await self._embedding_unavailable(claim, error)
        except EmbeddingRejected as error:
            # Permanent (a 400, a wrong dimension...): sending it again cannot help.
            logger.warning("embedding refused for %s: %s", claim.document_id, error)
            await self._settle(queue.fail, claim, error=str(error))
        except Exception:
            logger.exception("ingestion of %s failed", claim.document_id)
            await self._settle(queue.fail, claim, error=UNEXPECTED)
        else:
            done = await self._settle(
                queue.complete, claim, chunk_count=chunk_count, embedder=self._embedder
            )
            if not done:
                await self._discard_if_deleted(claim)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _embedding_unavailable(self, claim: Claim, error: Exception) -> None:
        # Transient: back off and retry; a bad file, by contrast, fails at once.
        if claim.attempts >= self.limits.max_attempts:
            message = f"The embedding service failed {claim.attempts} times: {error}"
            await self._settle(queue.fail, claim, error=message)
            return
        base = self.limits.retry_base_seconds
        delay = timedelta(seconds=min(300.0, base * 2 ** (claim.attempts - 1)))
        logger.warning("embedding unavailable for %s; retry in %s", claim.document_id, delay)
        await self._settle(queue.retry_later, claim, delay=delay)

    async def _ingest(self, claim: Claim) -> int:
        document = StoredDocument(
            claim.workspace_id, claim.document_id, claim.storage_key, claim.media_type
        )
        return await index_document(
            document,
            files=self._files,
            embedder=self._embedder,
            vectors=self._vectors,
            limits=self.limits,
        )

    async def _keep_lease(self, claim: Claim, worker: asyncio.Task[int]) -> None:
        """Renews the lease; when it was taken over (expired and reclaimed, reindexed,
        deleted) the ingestion is cancelled so it writes nothing more."""
        interval = self.limits.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            async with self._sessionmaker.begin() as session:
                held = await queue.renew(session, claim, lease=self.limits.lease)
            if not held:
                worker.cancel()
                return

    async def _settle(
        self, change: Callable[..., Awaitable[bool]], claim: Claim, **values: object
    ) -> bool:
        async with self._sessionmaker.begin() as session:
            held = await change(session, claim, **values)
        if held:
            await self._notify(claim)
        return held

    async def _discard_if_deleted(self, claim: Claim) -> None:
        async with self._sessionmaker() as session:
            document = await queue.current(session, claim.document_id)
        if document is None:
            # Deleted while we indexed it: the vectors we wrote belong to nothing.
            await self._vectors.delete_document(claim.workspace_id, claim.document_id)

    async def _notify(self, claim: Claim) -> None:
        await self._bus.publish(
            document_topic(claim.workspace_id), {"document_id": str(claim.document_id)}
        )
