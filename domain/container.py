"""The composition root: builds every long-lived part from settings, once per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.auth.passwords import PasswordHasher
from domain.auth.service import AuthService
from domain.auth.throttle import LoginThrottle
from domain.auth.tokens import TokenIssuer
from domain.chat.cancellation import CancelSignals, InProcessCancelSignals, RedisCancelSignals
from domain.chat.generation import ChatGenerator, GenerationSettings
from domain.db.engine import create_engine, create_sessionmaker
from domain.documents.indexing import IngestionLimits
from domain.documents.reembed import Reembedder
from domain.documents.worker import IngestionWorker
from domain.embeddings.factory import build_embedder
from domain.embeddings.port import Embedder
from domain.embeddings.registry import embedder_named
from domain.events.memory import InProcessEventBus
from domain.events.port import EventBus
from domain.events.redis_bus import RedisEventBus
from domain.files.local import LocalFileStore
from domain.files.port import FileStore
from domain.ingestion.isolation import close_parser_pools
from domain.jobs.catalog import build_jobs
from domain.jobs.scheduler import JobScheduler
from domain.llm.factory import build_llm
from domain.llm.port import LLM
from domain.settings import Settings
from domain.streams.memory import InProcessMessageStreams
from domain.streams.port import MessageStreams
from domain.streams.redis_streams import RedisMessageStreams
from domain.vectors.factory import build_vector_store
from domain.vectors.port import VectorStore
from domain.workspaces.models import Workspace

logger = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tokens: TokenIssuer
    auth: AuthService
    bus: EventBus
    files: FileStore
    embedder: Embedder
    vectors: VectorStore
    ingestion: IngestionWorker
    llm: LLM
    streams: MessageStreams
    generator: ChatGenerator
    cancels: CancelSignals
    scheduler: JobScheduler
    _stores: dict[str, VectorStore] = field(default_factory=dict)
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Container:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)
        tokens = TokenIssuer(
            settings.signing_secret(),
            access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
        hasher = PasswordHasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            min_length=settings.password_min_length,
            max_length=settings.password_max_length,
        )
        throttle = LoginThrottle(
            attempts=settings.login_attempts_per_window,
            window_seconds=settings.login_window_seconds,
        )
        sessionmaker = create_sessionmaker(engine)
        bus, streams, cancels = _messaging(settings)
        files = LocalFileStore(settings.data_dir / "files")
        embedder = build_embedder(settings)
        vectors = build_vector_store(settings, embedder.dimension, embedder.name)
        ingestion = IngestionWorker(
            sessionmaker, files, embedder, vectors, bus, _ingestion_limits(settings)
        )
        llm = build_llm(settings)
        container = cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            tokens=tokens,
            auth=AuthService(hasher, tokens, throttle),
            bus=bus,
            files=files,
            embedder=embedder,
            vectors=vectors,
            ingestion=ingestion,
            llm=llm,
            streams=streams,
            generator=None,  # type: ignore[arg-type]  # needs the container's search_backend
            cancels=cancels,
            scheduler=JobScheduler(
                sessionmaker,
                build_jobs(
                    sessionmaker=sessionmaker,
                    vectors=vectors,
                    files=files,
                    bus=bus,
                    streams=streams,
                    settings=settings,
                ),
            ),
        )
        container.generator = ChatGenerator(
            sessionmaker,
            llm,
            streams,
            container.search_backend,
            GenerationSettings(
                default_model=settings.chat_model,
                prompt_budget_tokens=settings.chat_prompt_budget_tokens,
                save_every_seconds=settings.chat_save_every_seconds,
                heartbeat_every_seconds=settings.message_heartbeat_seconds,
            ),
        )
        # Cancel requests from any replica reach this process's generations.
        cancels.listen(container.generator.cancel)
        return container

    def start_background(self) -> None:
        """Starts in-process workers; the app's lifespan calls it."""
        self.ingestion.start(self.settings.ingestion_workers)
        if self.settings.ingestion_workers and not self._background:
            self._background.append(asyncio.create_task(self._reembed_forever()))
        if self.settings.enable_background_jobs:
            self.scheduler.start()

    def open_store(self, embedder_name: str, dimension: int) -> VectorStore:
        """The vector store of one embedder (each has its own table or collection)."""
        if embedder_name == self.embedder.name:
            return self.vectors
        if embedder_name not in self._stores:
            self._stores[embedder_name] = build_vector_store(
                self.settings, dimension, embedder_name
            )
        return self._stores[embedder_name]

    def search_backend(self, workspace: Workspace) -> tuple[Embedder | None, VectorStore]:
        """What answers searches in `workspace`: the embedder that made its vectors and
        their store. None for the embedder means it cannot be built here, so only full
        text can be searched until re-embedding completes."""
        if workspace.embedder is None or workspace.embedder == self.embedder.name:
            return self.embedder, self.vectors
        store = self.open_store(workspace.embedder, workspace.embedding_dimension or 0)
        return embedder_named(workspace.embedder, self.settings, self.embedder), store

    def reembedder(self) -> Reembedder:
        return Reembedder(
            self.sessionmaker,
            self.files,
            self.embedder,
            self.vectors,
            self.open_store,
            _ingestion_limits(self.settings),
        )

    async def _reembed_forever(self) -> None:
        reembedder = self.reembedder()
        while True:
            try:
                await reembedder.run_once()
            except Exception:
                logger.exception("re-embedding pass failed; trying again later")
            await asyncio.sleep(self.settings.reembed_interval_seconds)

    def wake_ingestion(self) -> None:
        self.ingestion.wake()

    async def database_ready(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def vectors_ready(self) -> bool:
        try:
            return await self.vectors.ping()
        except Exception:
            return False

    async def close(self) -> None:
        await self.scheduler.shutdown()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.generator.stop()
        await self.cancels.close()
        await self.ingestion.stop()
        await close_parser_pools()
        await self.llm.aclose()
        for store in [self.vectors, *self._stores.values()]:
            await store.close()
        close_embedder = getattr(self.embedder, "close", None)
        if close_embedder is not None:
            await close_embedder()
        for closable in (self.streams, self.bus):
            close = getattr(closable, "close", None)
            if close is not None:
                await close()
        await self.engine.dispose()


def _ingestion_limits(settings: Settings) -> IngestionLimits:
    return IngestionLimits(
        lease=timedelta(seconds=settings.ingestion_lease_seconds),
        poll_seconds=settings.ingestion_poll_seconds,
        max_attempts=settings.ingestion_max_attempts,
        retry_base_seconds=settings.ingestion_retry_base_seconds,
        parse_timeout_seconds=settings.parse_timeout_seconds,
        parse_memory_limit_bytes=settings.parse_memory_limit_bytes,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap_tokens=settings.chunk_overlap_tokens,
        embed_batch_size=settings.embed_batch_size,
    )


def _messaging(settings: Settings) -> tuple[EventBus, MessageStreams, CancelSignals]:
    """In-process by default; through Redis when REDIS_URL is set (several replicas)."""
    if not settings.redis_url:
        return (
            InProcessEventBus(),
            InProcessMessageStreams(retention_seconds=settings.stream_retention_seconds),
            InProcessCancelSignals(),
        )
    bus = RedisEventBus(settings.redis_url, prefix=settings.redis_prefix)
    streams = RedisMessageStreams(
        settings.redis_url,
        prefix=settings.redis_prefix,
        retention_seconds=settings.stream_retention_seconds,
        active_ttl_seconds=settings.redis_stream_active_ttl_seconds,
        max_len=settings.redis_stream_max_len,
    )
    cancels = RedisCancelSignals(
        bus, settings.redis_url, timeout_seconds=settings.redis_cancel_timeout_seconds
    )
    return bus, streams, cancels
